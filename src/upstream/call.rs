//! One attempt against one provider: connect (or reuse a pooled
//! connection), send the request with an exact `Content-Length`, and wait
//! for the response header. The gateway drives the upstream call itself
//! with Pingora's connector instead of the `ProxyHttp` upstream phases,
//! because those replay at most 64 KiB of request body (see
//! `shared/notes/pingora.md` §3, §7.3).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use pingora::connectors::http::Connector;
use pingora::http::RequestHeader;
use pingora::protocols::http::client::HttpSession;
use pingora::upstreams::peer::HttpPeer;
use pingora::{Error, ErrorType};

use super::{PeerTimeouts, Upstream};
use crate::request::form::{self, Piece, Spool, PIECE};

/// The request to send: its head (shared by every request with the same
/// plan, see [`crate::provider::plans`]) and its body: bytes, or a
/// multipart form written piece by piece from its spool.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub head: Arc<RequestHead>,
    pub body: Bytes,
    pub form: Option<SpooledBody>,
    /// Headers of this one request beside the shared head's (its
    /// `traceparent` and `tracestate`), added last.
    pub extra_headers: Vec<(HeaderName, HeaderValue)>,
}

/// A body written from a spool: a multipart form re-encoded for this
/// attempt's model, or a passed-through body as the client sent it.
#[derive(Debug, Clone)]
pub struct SpooledBody {
    pub spool: Arc<Spool>,
    pub pieces: Vec<Piece>,
    pub content_type: Option<String>,
}

impl Outgoing {
    fn len(&self) -> u64 {
        match &self.form {
            Some(f) => form::length(&f.pieces),
            None => self.body.len() as u64,
        }
    }
}

/// Method, target and headers of a request (`Host` included), checked once
/// and kept in wire form, so that sending it parses and copies no strings.
#[derive(Debug, PartialEq)]
pub struct RequestHead {
    pub method: http::Method,
    /// Path and query at the upstream.
    pub target: http::Uri,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl RequestHead {
    /// A head for `upstream` (its `Host`, then `headers`, a later header
    /// replacing an earlier one of the same name). The error names the bad
    /// header, never its value (which may be a credential).
    pub fn new(
        method: http::Method,
        upstream: &Upstream,
        target: &str,
        headers: &[(String, String)],
    ) -> Result<Self, String> {
        let target = http::Uri::try_from(target)
            .map_err(|e| format!("invalid request target `{target}`: {e}"))?;
        let mut out: Vec<(HeaderName, HeaderValue)> = Vec::with_capacity(headers.len() + 1);
        let host = HeaderValue::from_str(&upstream.authority)
            .map_err(|_| format!("invalid host `{}`", upstream.authority))?;
        out.push((http::header::HOST, host));
        for (name, value) in headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("invalid header name `{name}`"))?;
            let mut value = HeaderValue::from_str(value)
                .map_err(|_| format!("invalid value for header `{name}`"))?;
            if is_secret(&name) {
                value.set_sensitive(true);
            }
            out.retain(|(n, _)| n != name);
            out.push((name, value));
        }
        Ok(Self {
            method,
            target,
            headers: out,
        })
    }
}

impl RequestHead {
    /// A copy with `extra` headers (credentials computed for one request:
    /// a signature, a token) replacing any of the same name.
    pub fn with_headers(&self, extra: Vec<(HeaderName, HeaderValue)>) -> Self {
        let mut headers = self.headers.clone();
        for (name, mut value) in extra {
            if is_secret(&name) {
                value.set_sensitive(true);
            }
            headers.retain(|(n, _)| *n != name);
            headers.push((name, value));
        }
        Self {
            method: self.method.clone(),
            target: self.target.clone(),
            headers,
        }
    }
}

/// Headers that carry credentials, marked sensitive (never logged by `http`).
fn is_secret(name: &HeaderName) -> bool {
    name == http::header::AUTHORIZATION
        || name == http::header::PROXY_AUTHORIZATION
        || name.as_str().contains("key")
        || name.as_str().contains("token")
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
///
/// Boxed: Pingora's client session and peer take over a kilobyte, and an
/// `Incoming` lives in the futures of every stage that delivers it (the
/// state of an async fn keeps a moved-in argument and its local copy), all
/// held for as long as a stream is open.
pub struct Incoming(Box<Exchange>);

struct Exchange {
    session: HttpSession,
    peer: HttpPeer,
}

impl Incoming {
    /// The response status code.
    pub fn status(&self) -> u16 {
        self.0
            .session
            .response_header()
            .map_or(0, |h| h.status.as_u16())
    }

    /// The response headers (none before the response head).
    pub fn headers(&self) -> Option<&http::HeaderMap> {
        Some(&self.0.session.response_header()?.headers)
    }

    /// A response header value as text.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.0
            .session
            .response_header()?
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
    }

    /// Reads the next body chunk; `None` at the end.
    pub async fn read(&mut self) -> Result<Option<Bytes>, CallError> {
        let Exchange { session, peer } = &mut *self.0;
        session
            .read_response_body()
            .await
            .map_err(|e| classify(&e, "body data", peer))
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
        self.0.session.set_read_timeout(Some(idle));
    }

    /// Returns the connection to the pool if the response was read to the
    /// end. Pingora's release is a large future (over 5 KB), so it is boxed
    /// here and allocated only at the end, not reserved in the state of
    /// every caller for the whole answer.
    pub async fn release(self, connector: &Connector) {
        let Exchange { mut session, peer } = *self.0;
        if session.response_done() {
            let release =
                connector.release_http_session(session, &peer, Some(Duration::from_secs(60)));
            Box::pin(release).await;
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
        let exchanged = tokio::time::timeout(timeouts.read, exchange(&mut session, req, &peer))
            .await
            .unwrap_or_else(|_| {
                Err(CallError::Timeout {
                    stage: "response header",
                    upstream: peer.to_string(),
                })
            });
        match exchanged {
            Ok(()) => return Ok(Incoming(Box::new(Exchange { session, peer }))),
            Err(e) if reused && !matches!(e, CallError::Timeout { .. }) => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| CallError::Io("no connection".into())))
}

/// Why [`post`] got no whole answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PostError {
    /// The URL or a header cannot make a request (trying again will not help).
    #[error("{0}")]
    Invalid(String),
    /// No response header: the endpoint could not be reached or did not answer.
    #[error("{0}")]
    Call(String),
    /// The response header came, its body did not.
    #[error("HTTP {status}, body unread: {message}")]
    Unread { status: u16, message: String },
}

/// A small request of the gateway's own — a token exchange, a trace
/// export — posted to `url` through `connector` (its pool and TLS, no
/// second HTTP client), and its answer read whole, up to `max_answer`
/// bytes; the connection goes back to the pool. Each step waits at most
/// `timeout`; callers bound the whole.
pub async fn post(
    connector: &Connector,
    url: &str,
    headers: &[(String, String)],
    body: Bytes,
    timeout: Duration,
    max_answer: usize,
) -> Result<(u16, Bytes), PostError> {
    let invalid = |e: String| PostError::Invalid(format!("{url}: {e}"));
    let parsed = url::Url::parse(url).map_err(|e| invalid(e.to_string()))?;
    let origin = format!("{}://{}", parsed.scheme(), parsed.authority());
    let upstream = Upstream::parse(&origin).map_err(invalid)?;
    let target = match parsed.query() {
        Some(q) => format!("{}?{q}", parsed.path()),
        None => parsed.path().to_string(),
    };
    post_to(
        connector, &upstream, &target, headers, body, timeout, max_answer,
    )
    .await
}

/// [`post`] to `target` (path and query) at an upstream already parsed,
/// such as a provider's backend.
pub async fn post_to(
    connector: &Connector,
    upstream: &Upstream,
    target: &str,
    headers: &[(String, String)],
    body: Bytes,
    timeout: Duration,
    max_answer: usize,
) -> Result<(u16, Bytes), PostError> {
    let head = RequestHead::new(http::Method::POST, upstream, target, headers)
        .map_err(|e| PostError::Invalid(format!("{target}: {e}")))?;
    let outgoing = Outgoing {
        head: Arc::new(head),
        body,
        form: None,
        extra_headers: Vec::new(),
    };
    let peer = PeerTimeouts {
        connect: timeout,
        read: timeout,
        write: timeout,
    };
    let mut incoming = send(connector, upstream, &outgoing, peer)
        .await
        .map_err(|e| PostError::Call(e.to_string()))?;
    let status = incoming.status();
    let answer = incoming
        .read_all(max_answer)
        .await
        .map_err(|e| PostError::Unread {
            status,
            message: e.to_string(),
        })?;
    incoming.release(connector).await;
    Ok((status, answer))
}

async fn exchange(
    session: &mut HttpSession,
    req: &Outgoing,
    peer: &HttpPeer,
) -> Result<(), CallError> {
    let header = request_header(req);
    let io = |e: Box<Error>| classify(&e, "response header", peer);
    session
        .write_request_header(Box::new(header))
        .await
        .map_err(io)?;
    if let Some(f) = &req.form {
        write_form(session, f).await.map_err(io)?;
    } else if !req.body.is_empty() {
        session
            .write_request_body(req.body.clone(), true)
            .await
            .map_err(io)?;
    }
    session.finish_request_body().await.map_err(io)?;
    session.read_response_header().await.map_err(io)?;
    match session.response_header() {
        Some(_) => Ok(()),
        None => Err(CallError::Io("upstream sent no response header".into())),
    }
}

/// Writes a form's pieces, its files read from the spool a piece at a
/// time: never whole in memory.
async fn write_form(session: &mut HttpSession, f: &SpooledBody) -> pingora::Result<()> {
    for piece in &f.pieces {
        match piece {
            Piece::Bytes(b) => session.write_request_body(b.clone(), false).await?,
            Piece::Spooled { offset, len } => {
                let (mut at, end) = (*offset, offset + len);
                while at < end {
                    let want = PIECE.min((end - at) as usize);
                    let chunk = f.spool.read(at, want).await.map_err(|e| {
                        Error::explain(ErrorType::InternalError, format!("upload spool: {e}"))
                    })?;
                    if chunk.is_empty() {
                        return Err(Error::explain(
                            ErrorType::InternalError,
                            "upload spool ended early",
                        ));
                    }
                    at += chunk.len() as u64;
                    session.write_request_body(chunk, false).await?;
                }
            }
        }
    }
    Ok(())
}

/// Pingora's request header for `req`, built as `http` parts: without a
/// case map (HTTP/1 header names are case-insensitive), every name and
/// value copied by reference count.
fn request_header(req: &Outgoing) -> RequestHeader {
    let head = &req.head;
    let (mut parts, ()) = http::Request::new(()).into_parts();
    parts.method = head.method.clone();
    parts.uri = head.target.clone();
    let h = &mut parts.headers;
    h.reserve(head.headers.len() + 3);
    for (name, value) in head.headers.iter().chain(&req.extra_headers) {
        h.insert(name.clone(), value.clone());
    }
    let len = req.len();
    if len > 0 || head.method == http::Method::POST {
        h.insert(http::header::CONTENT_LENGTH, HeaderValue::from(len));
        let form_type = req
            .form
            .as_ref()
            .and_then(|f| f.content_type.as_deref())
            .and_then(|ct| HeaderValue::from_str(ct).ok());
        if let Some(ct) = form_type {
            h.insert(http::header::CONTENT_TYPE, ct);
        } else if !h.contains_key(http::header::CONTENT_TYPE) {
            h.insert(http::header::CONTENT_TYPE, JSON);
        }
    }
    // Plain bodies only: the response is parsed and rewritten.
    h.insert(http::header::ACCEPT_ENCODING, IDENTITY);
    RequestHeader::from(parts)
}

const JSON: HeaderValue = HeaderValue::from_static("application/json");
const IDENTITY: HeaderValue = HeaderValue::from_static("identity");

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
