//! Injected failures: the [`Fault`] type, its `--fault` syntax, and how a
//! fault cuts or corrupts a stream's events before they are sent.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use bytes::Bytes;

use super::body::{Ending, Frame};
use super::dialect::Dialect;
use super::hostile;

/// A failure injected into the provider endpoints (all but `/models`).
///
/// Text form (for `--fault`): `status:CODE[:RETRY_AFTER]`, `drop:N`,
/// `error:N`, `malformed`, `hang`, `context`, and the hostile ones:
/// `endless[:MS]`, `huge-event:BYTES`, `slow-header[:MS]`, `wrong-type`,
/// `late:MS`, `bad-sse[:N]`, `echo-key:CODE`. The status faults apply to
/// every endpoint; the body faults to the JSON, text and SSE bodies of
/// every endpoint (a speech body, being binary, only takes `drop`, `error`
/// — both cut it and abort —, `endless` and `wrong-type`); `slow-header`
/// and `late` to every endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answer `code` with the provider's error body (and `retry-after:
    /// SECS` if set).
    Status {
        /// HTTP status, e.g. 429, 500 or 529.
        code: u16,
        /// Seconds for the `retry-after` header.
        retry_after: Option<u64>,
    },
    /// Answer 400 with the provider's "prompt too long for the context
    /// window" error (OpenAI `context_length_exceeded`, Anthropic "prompt is
    /// too long").
    ContextOverflow,
    /// Streams: send `after` content events, then abort the TCP connection
    /// (no finish chunk, no `[DONE]` / `message_stop`). Non-stream: announce
    /// the full body length, send half of it, then abort.
    DropMidStream {
        /// Content events sent before the abort.
        after: usize,
    },
    /// Streams: after `after` content events send an in-band error (OpenAI
    /// `data: {"error":…}`, Anthropic `event: error` with `overloaded_error`)
    /// and end the stream. Non-stream: answer 500 (OpenAI) / 529 (Anthropic).
    StreamError {
        /// Content events sent before the error.
        after: usize,
    },
    /// Answer 200 with a body that is not JSON (non-stream), or insert an
    /// event whose data is not JSON after the first event (stream).
    Malformed,
    /// Accept the request and never answer (until the server stops).
    Hang,
    /// Streams: after the opening event, the first content event again
    /// every `every`, forever (until the client leaves or the server
    /// stops). Non-stream: a JSON body that never ends (a space every
    /// `every`). Text: `endless[:MS]`, 100 ms by default.
    Endless {
        /// Pause between two events (or bytes).
        every: Duration,
    },
    /// Streams: one content event of `bytes` bytes after the opening
    /// event. Non-stream: a JSON body of `bytes` bytes. Both are sent in
    /// 64 KiB pieces, without `content-length`.
    HugeEvent {
        /// Size of the event or body.
        bytes: usize,
    },
    /// Send the status line, then one header byte every `every`, never
    /// ending the header. Decided per connection: it applies to the
    /// connections accepted while it is set (a pooled connection opened
    /// before keeps being served normally). Text: `slow-header[:MS]`,
    /// 1000 ms by default.
    SlowHeader {
        /// Pause between two header bytes.
        every: Duration,
    },
    /// Answer 200 with `content-type: text/html` and an HTML page, for
    /// streams and non-streams alike.
    WrongType,
    /// Answer correctly, but only after `after`.
    Late {
        /// Delay before the response headers.
        after: Duration,
    },
    /// Streams: binary noise without `data:` lines or blank-line
    /// terminators, after `after` content events (`None`: from the
    /// start). Non-stream: the noise as a 200 `application/json` body.
    BadSse {
        /// Content events sent before the noise.
        after: Option<usize>,
    },
    /// Answer `code` with an error that repeats the credential the request
    /// carried in every field of the provider's error body and in
    /// `retry-after`: a provider leaking its key back. Text: `echo-key:CODE`.
    EchoKey {
        /// HTTP status.
        code: u16,
    },
}

/// A `--fault` value that could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid fault {0:?}: expected status:CODE[:RETRY_AFTER], drop:N, error:N, malformed, hang, context, endless[:MS], huge-event:BYTES, slow-header[:MS], wrong-type,  late:MS, bad-sse[:N] or echo-key:CODE"
)]
pub struct ParseFaultError(String);

impl FromStr for Fault {
    type Err = ParseFaultError;

    /// Parses `status:500`, `status:429:7`, `drop:3`, `error:3`,
    /// `malformed`, `hang`, `context`, `endless:50`, `huge-event:1048576`,
    /// `slow-header:200`, `wrong-type`, `late:1500` or `bad-sse:2`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || ParseFaultError(s.to_owned());
        let mut parts = s.trim().split(':');
        let kind = parts.next().unwrap_or_default();
        let args: Vec<u64> = parts
            .map(|p| p.parse().map_err(|_| invalid()))
            .collect::<Result<_, _>>()?;
        let count = |n: u64| usize::try_from(n).map_err(|_| invalid());
        match (kind, args.as_slice()) {
            ("status", [code, rest @ ..]) if rest.len() <= 1 => Ok(Fault::Status {
                code: u16::try_from(*code).map_err(|_| invalid())?,
                retry_after: rest.first().copied(),
            }),
            ("drop", [after]) => Ok(Fault::DropMidStream {
                after: count(*after)?,
            }),
            ("error", [after]) => Ok(Fault::StreamError {
                after: count(*after)?,
            }),
            ("malformed", []) => Ok(Fault::Malformed),
            ("context", []) => Ok(Fault::ContextOverflow),
            ("hang", []) => Ok(Fault::Hang),
            ("endless", []) => Ok(Fault::Endless {
                every: Duration::from_millis(100),
            }),
            ("endless", [ms]) => Ok(Fault::Endless {
                every: Duration::from_millis(*ms),
            }),
            ("huge-event", [bytes]) => Ok(Fault::HugeEvent {
                bytes: count(*bytes)?,
            }),
            ("slow-header", []) => Ok(Fault::SlowHeader {
                every: Duration::from_secs(1),
            }),
            ("slow-header", [ms]) => Ok(Fault::SlowHeader {
                every: Duration::from_millis(*ms),
            }),
            ("wrong-type", []) => Ok(Fault::WrongType),
            ("late", [ms]) => Ok(Fault::Late {
                after: Duration::from_millis(*ms),
            }),
            ("echo-key", [code]) => Ok(Fault::EchoKey {
                code: u16::try_from(*code).map_err(|_| invalid())?,
            }),
            ("bad-sse", []) => Ok(Fault::BadSse { after: None }),
            ("bad-sse", [after]) => Ok(Fault::BadSse {
                after: Some(count(*after)?),
            }),
            _ => Err(invalid()),
        }
    }
}

impl fmt::Display for Fault {
    /// The text form accepted by [`Fault::from_str`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Status {
                code,
                retry_after: Some(secs),
            } => write!(f, "status:{code}:{secs}"),
            Fault::Status {
                code,
                retry_after: None,
            } => write!(f, "status:{code}"),
            Fault::DropMidStream { after } => write!(f, "drop:{after}"),
            Fault::StreamError { after } => write!(f, "error:{after}"),
            Fault::Malformed => f.write_str("malformed"),
            Fault::ContextOverflow => f.write_str("context"),
            Fault::Hang => f.write_str("hang"),
            Fault::Endless { every } => write!(f, "endless:{}", every.as_millis()),
            Fault::HugeEvent { bytes } => write!(f, "huge-event:{bytes}"),
            Fault::SlowHeader { every } => write!(f, "slow-header:{}", every.as_millis()),
            Fault::WrongType => f.write_str("wrong-type"),
            Fault::Late { after } => write!(f, "late:{}", after.as_millis()),
            Fault::BadSse { after: None } => f.write_str("bad-sse"),
            Fault::BadSse { after: Some(n) } => write!(f, "bad-sse:{n}"),
            Fault::EchoKey { code } => write!(f, "echo-key:{code}"),
        }
    }
}

/// Applies a stream fault to a reply's events: what to send and how to end.
/// `Status`, `Hang`, `Late`, `SlowHeader` and `WrongType` are handled
/// before a reply exists and are ignored here.
pub(crate) fn shape_stream(
    frames: Vec<Frame>,
    fault: Option<&Fault>,
    dialect: Dialect,
) -> (Vec<Bytes>, Ending) {
    match fault {
        Some(Fault::DropMidStream { after }) => (prefix(frames, *after), Ending::Abort),
        Some(Fault::StreamError { after }) => {
            let mut out = prefix(frames, *after);
            out.push(dialect.stream_error_frame(out.len()));
            (out, Ending::Finish)
        }
        Some(Fault::Malformed) => {
            let mut out = bytes_of(frames);
            out.insert(out.len().min(1), dialect.malformed_frame());
            (out, Ending::Finish)
        }
        Some(Fault::Endless { .. }) => {
            let cut = cut_point(&frames, 1);
            let mut out = bytes_of(frames);
            out.truncate(cut);
            match out.pop() {
                Some(content) if cut > 1 => (out, Ending::Repeat(content)),
                Some(only) => (vec![only.clone()], Ending::Repeat(only)),
                None => (out, Ending::Finish),
            }
        }
        Some(Fault::HugeEvent { bytes }) => {
            let mut out = bytes_of(frames);
            let at = out.len().min(1);
            out.splice(at..at, hostile::huge_event(dialect, *bytes));
            (out, Ending::Finish)
        }
        Some(Fault::BadSse { after }) => {
            let mut out = match after {
                Some(n) => prefix(frames, *n),
                None => Vec::new(),
            };
            out.push(hostile::noise());
            (out, Ending::Finish)
        }
        Some(
            Fault::Status { .. }
            | Fault::EchoKey { .. }
            | Fault::Hang
            | Fault::ContextOverflow
            | Fault::Late { .. }
            | Fault::SlowHeader { .. }
            | Fault::WrongType,
        )
        | None => (bytes_of(frames), Ending::Finish),
    }
}

/// The events up to (and including) the `after`-th content event.
fn prefix(mut frames: Vec<Frame>, after: usize) -> Vec<Bytes> {
    frames.truncate(cut_point(&frames, after));
    bytes_of(frames)
}

/// Index of the `after + 1`-th content event; if there are not that many,
/// the index just after the last one (at least 1, to keep the opening event).
fn cut_point(frames: &[Frame], after: usize) -> usize {
    let content: Vec<usize> = frames
        .iter()
        .enumerate()
        .filter(|(_, f)| f.content)
        .map(|(i, _)| i)
        .collect();
    if let Some(&i) = content.get(after) {
        return i;
    }
    content.last().map_or(0, |i| i + 1).max(1).min(frames.len())
}

fn bytes_of(frames: Vec<Frame>) -> Vec<Bytes> {
    frames.into_iter().map(|f| f.bytes).collect()
}

#[cfg(test)]
mod tests;
