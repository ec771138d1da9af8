//! The Responses stream: typed server-sent events (`event: <type>` and a
//! `data:` object with the same `type` and a `sequence_number` from 0), in
//! the documented order:
//!
//! - `response.created`, `response.in_progress` (the Response, no output);
//! - text: `response.output_item.added`, `response.content_part.added`,
//!   one `response.output_text.delta` per chunk, `response.output_text.done`,
//!   `response.content_part.done`, `response.output_item.done`;
//! - tool call: `response.output_item.added`, three
//!   `response.function_call_arguments.delta`,
//!   `response.function_call_arguments.done`, `response.output_item.done`;
//! - `response.completed` (the whole Response with its usage).
//!
//! The deltas are the content events that `chunk_delay` paces and the
//! stream faults count.

use bytes::Bytes;
use serde_json::{json, Value};

use super::{output_text, Head};
use crate::body::{sse_event, Frame};
use crate::reply::{self, argument_fragments, Reply, TOOL_ARGUMENTS};

/// Numbers the events of one stream.
#[derive(Debug, Default)]
struct Events {
    next: usize,
}

impl Events {
    /// The event `kind` with `fields`, its type and its sequence number.
    fn event(&mut self, kind: &str, fields: Value) -> Bytes {
        let data = merge(&json!({"type": kind, "sequence_number": self.next}), fields);
        self.next += 1;
        sse_event(kind, &data)
    }
}

/// Every event of the stream of `reply`.
pub(super) fn frames(head: &Head, reply: &Reply) -> Vec<Frame> {
    let mut events = Events::default();
    let opening = head.response("in_progress", Vec::new(), Value::Null);
    let mut frames = vec![
        Frame::meta(events.event("response.created", json!({"response": opening}))),
        Frame::meta(events.event("response.in_progress", json!({"response": opening}))),
        Frame::meta(events.event(
            "response.output_item.added",
            json!({"output_index": 0, "item": head.item(reply, false)}),
        )),
    ];
    match reply {
        Reply::Text { deltas } => frames.extend(text(&mut events, head, deltas)),
        Reply::Tool { .. } => frames.extend(arguments(&mut events, head)),
    }
    let item = head.item(reply, true);
    frames.push(Frame::meta(events.event(
        "response.output_item.done",
        json!({"output_index": 0, "item": item}),
    )));
    let done = head.response("completed", vec![item], head.usage());
    frames.push(Frame::meta(
        events.event("response.completed", json!({"response": done})),
    ));
    frames
}

/// The content part of the message item and its text deltas.
fn text(events: &mut Events, head: &Head, deltas: &[String]) -> Vec<Frame> {
    let at = json!({"item_id": head.message_id, "output_index": 0, "content_index": 0});
    let with = |extra: Value| merge(&at, extra);
    let full = reply::joined(deltas);
    let mut frames = vec![Frame::meta(events.event(
        "response.content_part.added",
        with(json!({"part": output_text("")})),
    ))];
    for delta in deltas {
        let fields = with(json!({"delta": delta, "logprobs": []}));
        frames.push(Frame::content(
            events.event("response.output_text.delta", fields),
        ));
    }
    let done = with(json!({"text": full, "logprobs": []}));
    frames.push(Frame::meta(events.event("response.output_text.done", done)));
    let part = with(json!({"part": output_text(&full)}));
    frames.push(Frame::meta(
        events.event("response.content_part.done", part),
    ));
    frames
}

/// The function call's arguments in three fragments, then whole.
fn arguments(events: &mut Events, head: &Head) -> Vec<Frame> {
    let at = json!({"item_id": head.function_call_id, "output_index": 0});
    let mut frames: Vec<Frame> = argument_fragments()
        .iter()
        .map(|fragment| {
            let fields = merge(&at, json!({"delta": fragment}));
            Frame::content(events.event("response.function_call_arguments.delta", fields))
        })
        .collect();
    let done = merge(&at, json!({"arguments": TOOL_ARGUMENTS}));
    frames.push(Frame::meta(
        events.event("response.function_call_arguments.done", done),
    ));
    frames
}

/// `base` with the fields of `extra` added.
fn merge(base: &Value, extra: Value) -> Value {
    let mut out = base.clone();
    if let (Some(out), Value::Object(extra)) = (out.as_object_mut(), extra) {
        out.extend(extra);
    }
    out
}
