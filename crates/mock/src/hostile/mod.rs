//! Bodies of hostile providers (the `endless`, `huge-event`, `wrong-type`
//! and `bad-sse` faults): built lazily from shared pieces, so that a
//! gigantic body costs the mock almost no memory.

use std::io;
use std::time::Duration;

use axum::body::Body;
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderValue;
use axum::response::Response;
use bytes::Bytes;
use futures_util::stream::{self, StreamExt};

use super::dialect::Dialect;
use super::state::{InFlight, Shutdown};

/// Size of the pieces a huge body is sent in.
const PIECE: usize = 64 * 1024;
/// Bytes of noise the `bad-sse` fault sends.
const NOISE_LEN: usize = 64 * 1024;

/// An HTML error page, as a CDN or captive portal answers with status 200.
const HTML_PAGE: &str = "<!DOCTYPE html>\n<html><head><title>Service unavailable</title></head>\n<body><h1>Service unavailable</h1><p>The origin is being updated.</p></body></html>\n";

/// `len` bytes of `x`, as shared pieces of at most [`PIECE`] bytes.
fn padding(len: usize) -> impl Iterator<Item = Bytes> {
    let piece = Bytes::from(vec![b'x'; PIECE]);
    let full = len / PIECE;
    let rest = len % PIECE;
    std::iter::repeat_n(piece.clone(), full).chain((rest > 0).then(|| piece.slice(..rest)))
}

/// One content event (SSE, or an NDJSON line for Ollama) of about `bytes`
/// bytes in `dialect`, in pieces.
pub(crate) fn huge_event(dialect: Dialect, bytes: usize) -> Vec<Bytes> {
    let (head, tail): (&'static [u8], &'static [u8]) = match dialect {
        Dialect::OpenAi => (
            b"data: {\"id\":\"chatcmpl-mock\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"",
            b"\"},\"finish_reason\":null}]}\n\n",
        ),
        Dialect::Responses => (
            b"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"item_id\":\"msg_mock\",\"output_index\":0,\"content_index\":0,\"delta\":\"",
            b"\",\"logprobs\":[],\"sequence_number\":0}\n\n",
        ),
        Dialect::Anthropic => (
            b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"",
            b"\"}}\n\n",
        ),
        Dialect::Cohere => (
            b"event: content-delta\ndata: {\"type\":\"content-delta\",\"index\":0,\"delta\":{\"message\":{\"content\":{\"text\":\"",
            b"\"}}}}\n\n",
        ),
        Dialect::Ollama => (
            b"{\"model\":\"mock\",\"message\":{\"role\":\"assistant\",\"content\":\"",
            b"\"},\"done\":false}\n",
        ),
        Dialect::Bedrock => {
            return crate::bedrock::eventstream::huge_event(bytes, |n| padding(n).collect());
        }
    };
    let pad = bytes.saturating_sub(head.len() + tail.len());
    std::iter::once(Bytes::from_static(head))
        .chain(padding(pad))
        .chain(std::iter::once(Bytes::from_static(tail)))
        .collect()
}

/// `json` (an object) grown to about `bytes` bytes by a leading `"huge"`
/// field, in pieces.
pub(crate) fn huge_json(json: &Bytes, bytes: usize) -> Vec<Bytes> {
    let rest = json.slice(1.min(json.len())..);
    let head = Bytes::from_static(b"{\"huge\":\"");
    let sep = Bytes::from_static(b"\",");
    let pad = bytes.saturating_sub(head.len() + sep.len() + rest.len());
    std::iter::once(head)
        .chain(padding(pad))
        .chain([sep, rest])
        .collect()
}

/// Bytes that are not server-sent events: no line ends (so no field and
/// no blank-line terminator), no `:`, mostly not UTF-8. Deterministic.
pub(crate) fn noise() -> Bytes {
    let mut x: u32 = 0x2545_F491;
    let bytes = (0..NOISE_LEN).map(|_| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        match (x >> 24) as u8 {
            b'\n' | b'\r' | b':' => b'#',
            b => b,
        }
    });
    Bytes::from(bytes.collect::<Vec<u8>>())
}

/// A `200` response sending `pieces` chunked (no `content-length`).
pub(crate) fn pieces_response(
    pieces: Vec<Bytes>,
    content_type: &'static str,
    guard: InFlight,
) -> Response {
    let body = stream::iter(pieces).map(move |piece| {
        let _keep = &guard;
        Ok::<_, io::Error>(piece)
    });
    with_type(Body::from_stream(body), content_type)
}

/// A `200 text/html` error page, whatever was asked.
pub(crate) fn html_response(guard: InFlight) -> Response {
    pieces_response(
        vec![Bytes::from_static(HTML_PAGE.as_bytes())],
        "text/html; charset=utf-8",
        guard,
    )
}

/// A `200 application/json` body that starts and never ends: a space
/// every `every` until the client leaves or the server stops.
pub(crate) fn endless_json_response(
    every: Duration,
    guard: InFlight,
    shutdown: Shutdown,
) -> Response {
    let start = Bytes::from_static(b"{\"id\":\"chatcmpl-mock\",\"choices\":[");
    let state = (Some(start), guard, shutdown);
    let body = stream::unfold(state, move |(first, guard, mut shutdown)| async move {
        if let Some(first) = first {
            return Some((Ok::<_, io::Error>(first), (None, guard, shutdown)));
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = shutdown.wait() => return None,
        }
        Some((Ok(Bytes::from_static(b" ")), (None, guard, shutdown)))
    });
    with_type(Body::from_stream(body), "application/json")
}

fn with_type(body: Body, content_type: &'static str) -> Response {
    let mut response = Response::new(body);
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

#[cfg(test)]
mod tests;
