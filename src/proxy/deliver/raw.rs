//! An answer relayed byte for byte: speech audio, a transcript as text or
//! subtitles (or its stream), an endpoint passed through. Each upstream
//! read is written at once, with the provider's `Content-Type`; nothing is
//! buffered. A provider that breaks off mid-answer breaks the client's
//! chunked response too (no final chunk), so a cut answer never looks
//! complete.

use std::time::Duration;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE, TRANSFER_ENCODING};
use pingora::connectors::http::Connector;
use pingora::http::ResponseHeader;
use pingora::{Error, ErrorType};
use pingora_proxy::Session;

use crate::proxy::client::client_gone;
use crate::proxy::respond::{bounded, common_headers, response_parts, set};
use crate::proxy::RequestCtx;
use crate::upstream::call::Incoming;

/// How one raw answer is relayed.
pub struct Raw {
    /// Longest wait between two upstream reads.
    pub idle_timeout: Duration,
    /// Longest life of the answer, from the request's arrival.
    pub max_duration: Duration,
}

impl Raw {
    /// Writes the head (the provider's status and content headers), then
    /// every upstream read as it comes.
    pub async fn run(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        mut incoming: Incoming,
        first: Option<Bytes>,
        connector: &Connector,
    ) -> pingora::Result<()> {
        let status = incoming.status();
        let mut parts = response_parts(status, 12)?;
        let h = &mut parts.headers;
        let content_type = incoming
            .header_str("content-type")
            .unwrap_or("application/octet-stream");
        set(h, CONTENT_TYPE, content_type)?;
        for (name, header) in [
            ("content-disposition", CONTENT_DISPOSITION),
            ("cache-control", CACHE_CONTROL),
        ] {
            if let Some(v) = incoming.header_str(name) {
                set(h, header, v)?;
            }
        }
        set(h, TRANSFER_ENCODING, "chunked")?;
        common_headers(h, ctx)?;
        ctx.status = status;
        let limit = ctx.send_timeout;
        let head = ResponseHeader::from(parts);
        bounded(limit, session.write_response_header(Box::new(head), false)).await?;
        incoming.set_idle_timeout(self.idle_timeout);
        let expires = tokio::time::Instant::from_std(ctx.started + self.max_duration);
        let mut next = first.map(|b| Ok(Some(b)));
        loop {
            let read = match next.take() {
                Some(r) => r,
                None => tokio::select! {
                    biased;
                    () = tokio::time::sleep_until(expires) => {
                        ctx.error = Some("stream_timeout");
                        return Err(cut("the answer ran past its time"));
                    }
                    r = incoming.read() => r,
                    () = client_gone(session) => {
                        ctx.error = Some("client_closed");
                        return Ok(());
                    }
                },
            };
            match read {
                Ok(Some(bytes)) => {
                    if ctx.ttft.is_none() {
                        ctx.ttft = Some(ctx.started.elapsed());
                    }
                    bounded(limit, session.write_response_body(Some(bytes), false)).await?;
                }
                Ok(None) => break,
                Err(e) => {
                    // The client's response stays without its last chunk:
                    // its HTTP client reports the answer incomplete.
                    ctx.error = Some("stream_interrupted");
                    return Err(cut(&format!("the provider's answer broke off: {e}")));
                }
            }
        }
        bounded(limit, session.write_response_body(None, true)).await?;
        incoming.release(connector).await;
        Ok(())
    }
}

fn cut(why: &str) -> Box<Error> {
    Error::explain(ErrorType::ReadError, why.to_string())
}
