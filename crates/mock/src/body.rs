//! Response bodies: SSE framing (wire-formats §7) and NDJSON lines (Ollama),
//! pacing of stream events (`chunk_delay`, `split_events`), and bodies that
//! end early on purpose.

use std::collections::VecDeque;
use std::io;
use std::time::Duration;

use axum::body::Body;
use axum::http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use futures_util::stream::{self, StreamExt};
use serde_json::Value;

use super::state::{InFlight, Shutdown, StreamGuard};

/// Gap between the two halves of a split event.
const SPLIT_GAP: Duration = Duration::from_millis(5);
/// Pause before an intended abort, so that what was sent so far is flushed
/// to the socket first (hyper drops its unflushed buffer on a body error).
const FLUSH_GAP: Duration = Duration::from_millis(10);

/// One SSE event; `content` marks events that carry reply content (text or
/// tool-argument deltas), which is what faults count.
#[derive(Clone, Debug)]
pub(crate) struct Frame {
    pub bytes: Bytes,
    pub content: bool,
}

impl Frame {
    pub(crate) fn meta(bytes: Bytes) -> Self {
        Self {
            bytes,
            content: false,
        }
    }

    pub(crate) fn content(bytes: Bytes) -> Self {
        Self {
            bytes,
            content: true,
        }
    }
}

/// `data: <json>\n\n` (OpenAI style).
pub(crate) fn sse_data(value: &Value) -> Bytes {
    Bytes::from(format!("data: {value}\n\n"))
}

/// `event: <name>\ndata: <json>\n\n` (Anthropic style).
pub(crate) fn sse_event(name: &str, value: &Value) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {value}\n\n"))
}

/// `<json>\n`: one line of a newline-delimited JSON stream (Ollama).
pub(crate) fn ndjson_line(value: &Value) -> Bytes {
    Bytes::from(format!("{value}\n"))
}

/// How a stream body ends after its last frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Ending {
    /// Normally (HTTP/1.1 terminating chunk).
    Finish,
    /// By aborting the connection.
    Abort,
    /// Never: this frame is sent again and again, paced like the others.
    Repeat(Bytes),
}

/// Timing of stream events.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pace {
    pub delay: Duration,
    pub split: bool,
}

/// A `200 text/event-stream` response that sends `frames` one write each.
pub(crate) fn sse_response(
    frames: Vec<Bytes>,
    ending: Ending,
    pace: Pace,
    guard: InFlight,
    shutdown: Shutdown,
) -> Response {
    stream_response(frames, ending, pace, guard, shutdown, "text/event-stream")
}

/// A `200` stream of `content_type` (SSE, NDJSON, audio) that sends `frames`
/// one write each.
pub(crate) fn stream_response(
    frames: Vec<Bytes>,
    ending: Ending,
    pace: Pace,
    guard: InFlight,
    shutdown: Shutdown,
    content_type: &'static str,
) -> Response {
    let pacer = Pacer {
        frames: frames.into(),
        second_half: None,
        ending,
        pace,
        started: false,
        guard: StreamGuard::new(guard),
        shutdown,
    };
    let body = stream::unfold(pacer, |mut pacer| async move {
        let item = pacer.next().await?;
        Some((item, pacer))
    });
    let mut response = Response::new(Body::from_stream(body));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// A `200 application/json` response with a `content-length`; `in_flight`
/// ends when the body has been sent or dropped.
pub(crate) fn json_response(body: Bytes, guard: InFlight) -> Response {
    bytes_response(body, "application/json", guard)
}

/// A `200` response of `content_type` with a `content-length`.
pub(crate) fn bytes_response(body: Bytes, content_type: &'static str, guard: InFlight) -> Response {
    let len = body.len();
    with_length(guarded(stream::iter([Ok(body)]), guard), len, content_type)
}

/// Announces `body` in full but sends only its first half, then aborts the
/// connection.
pub(crate) fn truncated_json_response(body: Bytes, guard: InFlight) -> Response {
    truncated_response(body, "application/json", guard)
}

/// [`truncated_json_response`] for a body of any `content_type`.
pub(crate) fn truncated_response(
    body: Bytes,
    content_type: &'static str,
    guard: InFlight,
) -> Response {
    let len = body.len();
    let half = stream::iter([Ok(body.slice(..len / 2))]);
    let items = half.chain(stream::once(abort_after_flush()));
    with_length(guarded(items, guard), len, content_type)
}

/// A body of `items` that holds `guard` until it is dropped.
fn guarded<S>(items: S, guard: InFlight) -> Body
where
    S: futures_util::Stream<Item = io::Result<Bytes>> + Send + 'static,
{
    Body::from_stream(items.map(move |item| {
        let _keep = &guard;
        item
    }))
}

/// A response whose body fails at once: the connection closes before any
/// byte of the response is written.
pub(crate) fn abort_response() -> Response {
    let body = stream::iter([Err::<Bytes, _>(aborted())]);
    Response::new(Body::from_stream(body))
}

fn aborted() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "mock: connection dropped on purpose",
    )
}

/// Fails after [`FLUSH_GAP`].
async fn abort_after_flush() -> io::Result<Bytes> {
    tokio::time::sleep(FLUSH_GAP).await;
    Err(aborted())
}

fn with_length(body: Body, len: usize, content_type: &'static str) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
    response
}

/// Produces the body items of a stream, sleeping between events.
struct Pacer {
    frames: VecDeque<Bytes>,
    second_half: Option<Bytes>,
    ending: Ending,
    pace: Pace,
    started: bool,
    guard: StreamGuard,
    shutdown: Shutdown,
}

impl Pacer {
    /// The next write, `None` at the end; an `Err` aborts the connection.
    async fn next(&mut self) -> Option<io::Result<Bytes>> {
        if let Some(rest) = self.second_half.take() {
            return Some(self.pause(SPLIT_GAP).await.map(|()| rest));
        }
        let Some(frame) = self.frames.pop_front() else {
            return self.end().await;
        };
        if self.started {
            if let Err(e) = self.pause(self.pace.delay).await {
                return Some(Err(e));
            }
        }
        self.started = true;
        Some(Ok(self.split(frame)))
    }

    /// Returns the first half of `frame` and keeps the rest, if splitting.
    fn split(&mut self, frame: Bytes) -> Bytes {
        if !self.pace.split || frame.len() < 2 {
            return frame;
        }
        let mid = frame.len() / 2;
        self.second_half = Some(frame.slice(mid..));
        frame.slice(..mid)
    }

    async fn end(&mut self) -> Option<io::Result<Bytes>> {
        if let Ending::Repeat(frame) = &self.ending {
            let frame = frame.clone();
            return Some(self.pause(self.pace.delay).await.map(|()| frame));
        }
        self.guard.finish();
        match std::mem::replace(&mut self.ending, Ending::Finish) {
            Ending::Finish => None,
            Ending::Abort => Some(abort_after_flush().await),
            Ending::Repeat(_) => None,
        }
    }

    /// Sleeps for `delay`; fails if the server stops meanwhile.
    async fn pause(&mut self, delay: Duration) -> io::Result<()> {
        if !delay.is_zero() {
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = self.shutdown.wait() => {}
            }
        }
        if self.shutdown.is_stopped() {
            // The mock ends the stream; the client did not go away.
            self.guard.finish();
            return Err(aborted());
        }
        Ok(())
    }
}
