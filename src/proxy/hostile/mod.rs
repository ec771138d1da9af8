//! Hostile or broken provider answers: what kinds the gateway recognises
//! (counted in `gateway_upstream_faults_total{provider,kind}`), and the
//! checks on a 2xx answer's start that decide — before the first byte
//! goes to the client, so that failover is still possible — whether it is
//! the JSON or the event stream that was asked for.

use crate::adapter::Framing;
use crate::error::GatewayError;
use crate::metrics::metrics;

/// A kind of provider misbehaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hostile {
    /// No complete response header within the first-byte timeout (no
    /// answer, a late one, or a header trickling in).
    FirstByteTimeout,
    /// A body or a stream's first data not complete by the deadline.
    Deadline,
    /// Silence inside a body or stream longer than the idle timeout.
    IdleTimeout,
    /// A non-streaming body over `server.max_response_size`.
    BodyTooLarge,
    /// A stream event over the event size limit.
    EventTooLarge,
    /// A 2xx body, or a stream event, that is not the JSON promised.
    InvalidJson,
    /// A stream body that is not server-sent events.
    InvalidSse,
    /// A 2xx answer whose content type is neither JSON nor an event
    /// stream, and whose body is not either.
    WrongContentType,
    /// A stream still running at its maximum duration (`timeouts.stream`).
    StreamTimeout,
}

impl Hostile {
    /// The `kind` label.
    pub fn label(self) -> &'static str {
        match self {
            Hostile::FirstByteTimeout => "first_byte_timeout",
            Hostile::Deadline => "deadline",
            Hostile::IdleTimeout => "idle_timeout",
            Hostile::BodyTooLarge => "body_too_large",
            Hostile::EventTooLarge => "event_too_large",
            Hostile::InvalidJson => "invalid_json",
            Hostile::InvalidSse => "invalid_sse",
            Hostile::WrongContentType => "wrong_content_type",
            Hostile::StreamTimeout => "stream_timeout",
        }
    }

    /// Counts one occurrence at `provider`.
    pub fn count(self, provider: &str) {
        metrics()
            .upstream_faults
            .with_label_values(&[provider, self.label()])
            .inc();
    }
}

/// Checks the start of a 2xx answer to a streaming request: it must look
/// like the stream the adapter reads (server-sent events, NDJSON, or AWS
/// event-stream frames).
/// Lenient on the content type (some OpenAI-compatible servers omit or
/// misstate it) as long as the body is events; otherwise a 502 naming what
/// came instead, counted.
pub fn check_stream_start(
    provider: &str,
    content_type: Option<&str>,
    first: Option<&[u8]>,
    framing: Framing,
) -> Result<(), GatewayError> {
    let Some(first) = first else {
        return Ok(());
    };
    let expected = match framing {
        Framing::Sse if may_be_sse(first) => return Ok(()),
        Framing::Ndjson if crate::transform::ndjson::may_be_ndjson(first) => return Ok(()),
        Framing::EventStream if crate::transform::eventstream::may_be_eventstream(first) => {
            return Ok(())
        }
        Framing::Sse => "an event stream",
        Framing::Ndjson => "newline-delimited JSON",
        Framing::EventStream => "an AWS event stream",
    };
    let streamy = |ct: &str| match framing {
        Framing::Sse => is_event_stream(ct),
        Framing::Ndjson => ct.to_ascii_lowercase().contains("ndjson"),
        Framing::EventStream => ct
            .to_ascii_lowercase()
            .contains("application/vnd.amazon.eventstream"),
    };
    let (kind, message) = match content_type {
        Some(ct) if !streamy(ct) => (
            Hostile::WrongContentType,
            format!(
                "provider `{provider}` answered a streaming request with `{}` instead of {expected}",
                short(ct)
            ),
        ),
        _ => (
            Hostile::InvalidSse,
            match framing {
                Framing::Sse => format!("provider `{provider}` sent a stream that is not server-sent events"),
                Framing::Ndjson => format!("provider `{provider}` sent a stream that is not newline-delimited JSON"),
                Framing::EventStream => format!("provider `{provider}` sent a stream that is not an AWS event stream"),
            },
        ),
    };
    kind.count(provider);
    Err(GatewayError::BadGateway(message))
}

/// The error for a 2xx non-streaming body that did not parse as JSON:
/// the content type is named when it says the body was never meant to be
/// JSON (an HTML error page, say). Counted.
pub fn not_json(
    provider: &str,
    content_type: Option<&str>,
    error: &serde_json::Error,
) -> GatewayError {
    let declared = content_type.filter(|ct| !ct.to_ascii_lowercase().contains("json"));
    let (kind, message) = match declared {
        Some(ct) => (
            Hostile::WrongContentType,
            format!(
                "provider `{provider}` returned a `{}` body that is not JSON: {error}",
                short(ct)
            ),
        ),
        None => (
            Hostile::InvalidJson,
            format!("provider `{provider}` returned a body that is not JSON: {error}"),
        ),
    };
    kind.count(provider);
    GatewayError::BadGateway(message)
}

fn is_event_stream(content_type: &str) -> bool {
    content_type
        .trim_start()
        .get(..17)
        .is_some_and(|t| t.eq_ignore_ascii_case("text/event-stream"))
}

/// A content type as shown in messages: at most 100 characters.
fn short(content_type: &str) -> &str {
    match content_type.char_indices().nth(100) {
        Some((i, _)) => &content_type[..i],
        None => content_type,
    }
}

/// Whether `first` (a body's first bytes) can start server-sent events:
/// after a BOM and blank lines, a comment or one of the four fields
/// (possibly cut by the end of the read). Other field names are legal SSE
/// but no provider sends them; noise, HTML and JSON are refused.
fn may_be_sse(first: &[u8]) -> bool {
    let b = first.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(first);
    let Some(start) = b
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t' | b'\r' | b'\n'))
    else {
        return true;
    };
    let rest = &b[start..];
    if rest.starts_with(b":") {
        return true;
    }
    [&b"data"[..], b"event", b"id", b"retry"]
        .iter()
        .any(|name| {
            if rest.len() <= name.len() {
                return name.starts_with(rest);
            }
            rest.starts_with(name) && matches!(rest[name.len()], b':' | b'\r' | b'\n')
        })
}

#[cfg(test)]
mod tests;
