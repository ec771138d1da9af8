//! One attempt against one provider: connect (or reuse a pooled
//! connection), send the request with an exact `Content-Length`, and wait
//! for the response header. The gateway drives the upstream call itself
//! with Pingora's connector instead of the `ProxyHttp` upstream phases,
//! because those replay at most 64 KiB of request body (see
//! `shared/notes/pingora.md` §3, §7.3).

use std::time::Duration;

use bytes::Bytes;
use pingora::connectors::http::Connector;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::protocols::http::client::HttpSession;
use pingora::upstreams::peer::HttpPeer;
use pingora::{Error, ErrorType};

use super::{PeerTimeouts, Upstream};

/// The request to send.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub method: http::Method,
    /// Path and query at the upstream.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

/// Why an attempt produced no response header.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    /// The provider could not be reached.
    #[error("connect to {0}")]
    Connect(String),
    /// No answer within the configured time (`stage` says which wait).
    #[error("timed out waiting for {stage} from {upstream}")]
    Timeout {
        stage: &'static str,
        upstream: String,
    },
    /// The connection broke while sending or reading.
    #[error("{0}")]
    Io(String),
    /// The body is larger than the gateway reads (the limit in bytes).
    #[error("response body larger than {0} bytes")]
    TooLarge(usize),
}

/// A response whose header has arrived; the body is read by the caller.
pub struct Incoming {
    pub session: HttpSession,
    pub peer: HttpPeer,
    pub header: ResponseHeader,
}

impl Incoming {
    /// The response status code.
    pub fn status(&self) -> u16 {
        self.header.status.as_u16()
    }

    /// A response header value as text.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Reads the next body chunk; `None` at the end.
    pub async fn read(&mut self) -> Result<Option<Bytes>, CallError> {
        self.session
            .read_response_body()
            .await
            .map_err(|e| classify(&e, "body data", &self.peer))
    }

    /// Reads the rest of the body, failing past `limit` bytes: at once
    /// when the `content-length` says so, else before buffering more.
    pub async fn read_all(&mut self, limit: usize) -> Result<Bytes, CallError> {
        let announced = self
            .header_str("content-length")
            .and_then(|v| v.trim().parse::<u64>().ok());
        if announced.is_some_and(|n| n > limit as u64) {
            return Err(CallError::TooLarge(limit));
        }
        let mut buf = Vec::new();
        while let Some(chunk) = self.read().await? {
            if buf.len() + chunk.len() > limit {
                return Err(CallError::TooLarge(limit));
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(buf))
    }

    /// Sets the longest wait between two body reads.
    pub fn set_idle_timeout(&mut self, idle: Duration) {
        self.session.set_read_timeout(Some(idle));
    }

    /// Returns the connection to the pool if the response was read to the end.
    pub async fn release(mut self, connector: &Connector) {
        if self.session.response_done() {
            connector
                .release_http_session(self.session, &self.peer, Some(Duration::from_secs(60)))
                .await;
        }
    }
}

/// Sends `req` to `upstream` and waits for the response header.
///
/// A pooled connection that turns out to be closed is retried once on a
/// fresh connection: nothing reached the provider in that case.
pub async fn send(
    connector: &Connector,
    upstream: &Upstream,
    req: &Outgoing,
    timeouts: PeerTimeouts,
) -> Result<Incoming, CallError> {
    let addr = upstream.addr().await.map_err(CallError::Connect)?;
    let peer = upstream.peer(addr, timeouts);
    let mut last = None;
    for _ in 0..2 {
        let (mut session, reused) = connector
            .get_http_session(&peer)
            .await
            .map_err(|e| classify(&e, "connection", &peer))?;
        // Pingora's proxy copies these from the peer itself; so must we.
        session.set_read_timeout(Some(timeouts.read));
        session.set_write_timeout(Some(timeouts.write));
        // Pingora's read timeout is per read: a header trickling in byte
        // by byte would never trip it. The whole exchange gets the
        // first-byte time.
        let exchanged =
            tokio::time::timeout(timeouts.read, exchange(&mut session, upstream, req, &peer))
                .await
                .unwrap_or_else(|_| {
                    Err(CallError::Timeout {
                        stage: "response header",
                        upstream: peer.to_string(),
                    })
                });
        match exchanged {
            Ok(header) => {
                return Ok(Incoming {
                    session,
                    peer,
                    header,
                })
            }
            Err(e) if reused && !matches!(e, CallError::Timeout { .. }) => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| CallError::Io("no connection".into())))
}

async fn exchange(
    session: &mut HttpSession,
    upstream: &Upstream,
    req: &Outgoing,
    peer: &HttpPeer,
) -> Result<ResponseHeader, CallError> {
    let header = request_header(upstream, req).map_err(|e| CallError::Io(e.to_string()))?;
    let io = |e: Box<Error>| classify(&e, "response header", peer);
    session
        .write_request_header(Box::new(header))
        .await
        .map_err(io)?;
    if !req.body.is_empty() {
        session
            .write_request_body(req.body.clone(), true)
            .await
            .map_err(io)?;
    }
    session.finish_request_body().await.map_err(io)?;
    session.read_response_header().await.map_err(io)?;
    session
        .response_header()
        .cloned()
        .ok_or_else(|| CallError::Io("upstream sent no response header".into()))
}

fn request_header(upstream: &Upstream, req: &Outgoing) -> pingora::Result<RequestHeader> {
    let mut h = RequestHeader::build(
        req.method.clone(),
        req.target.as_bytes(),
        Some(req.headers.len() + 4),
    )?;
    h.insert_header("host", &upstream.authority)?;
    for (name, value) in &req.headers {
        h.insert_header(name.clone(), value.as_str())?;
    }
    if !req.body.is_empty() || req.method == http::Method::POST {
        h.insert_header("content-length", req.body.len().to_string())?;
        if h.headers.get("content-type").is_none() {
            h.insert_header("content-type", "application/json")?;
        }
    }
    // Plain bodies only: the response is parsed and rewritten.
    h.insert_header("accept-encoding", "identity")?;
    Ok(h)
}

fn classify(e: &Error, stage: &'static str, peer: &HttpPeer) -> CallError {
    let upstream = peer.to_string();
    match e.etype() {
        ErrorType::ConnectTimedout | ErrorType::TLSHandshakeTimedout => CallError::Timeout {
            stage: "connection",
            upstream,
        },
        ErrorType::ReadTimedout | ErrorType::WriteTimedout => {
            CallError::Timeout { stage, upstream }
        }
        ErrorType::ConnectRefused
        | ErrorType::ConnectNoRoute
        | ErrorType::ConnectError
        | ErrorType::TLSHandshakeFailure
        | ErrorType::InvalidCert
        | ErrorType::HandshakeError
        | ErrorType::SocketError
        | ErrorType::BindError
        | ErrorType::ConnectProxyFailure => {
            CallError::Connect(format!("{upstream}: {}", e.etype().as_str()))
        }
        _ => CallError::Io(format!("{upstream}: {e}")),
    }
}
