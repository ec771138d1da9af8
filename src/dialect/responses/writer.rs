//! The output items of a stream and the events of their lifecycle, as
//! OpenAI streams them: `response.output_item.added`; for a message, per
//! part `response.content_part.added`, `response.output_text.delta` (or
//! `response.refusal.delta`), `response.output_text.done` (or
//! `response.refusal.done`), `response.content_part.done`; for reasoning the
//! same with `response.reasoning_text.*`; for a function call
//! `response.function_call_arguments.delta`/`.done`; for a custom tool
//! call, when it closes, `response.custom_tool_call_input.delta` (the whole
//! input, once) and `.done`; then `response.output_item.done`. The
//! [`Writer`] also numbers every event.

use std::io::Write;

use serde_json::{json, Map, Value};

use super::custom;
use super::output::{reasoning_part, Item, Part};
use super::response::{item_status, no_arguments_as_object};
use super::stream::Event;

/// What a text-like fragment is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Reasoning,
    Text,
    Refusal,
}

/// Where events go: into a list (tests, fuzzing), or straight onto the
/// wire as `event: <name>\ndata: <json>\n\n`, without building a `Value`
/// for the hot events (deltas) nor copying the response object.
pub(super) enum Out<'a> {
    Events(&'a mut Vec<Event>),
    Wire(&'a mut Vec<u8>),
}

impl Out<'_> {
    /// Event `name` number `sequence` with the fields of `data` (an object).
    fn event(&mut self, name: &'static str, sequence: u64, mut data: Value) {
        match self {
            Self::Events(events) => {
                if let Some(object) = data.as_object_mut() {
                    object.insert("type".into(), json!(name));
                    object.insert("sequence_number".into(), json!(sequence));
                }
                events.push((name, data));
            }
            Self::Wire(out) => {
                head(out, name, sequence);
                let fields = data.as_object().into_iter().flatten();
                for (key, value) in fields {
                    if key != "type" && key != "sequence_number" {
                        out.push(b',');
                        string(out, key);
                        out.push(b':');
                        let _ = serde_json::to_writer(&mut **out, value);
                    }
                }
                out.extend_from_slice(b"}\n\n");
            }
        }
    }

    /// Event `name` whose one field is `response`.
    fn response(&mut self, name: &'static str, sequence: u64, response: &Value) {
        match self {
            Self::Events(_) => {
                let data = Map::from_iter([("response".to_string(), response.clone())]);
                self.event(name, sequence, Value::Object(data));
            }
            Self::Wire(out) => {
                head(out, name, sequence);
                out.extend_from_slice(b",\"response\":");
                let _ = serde_json::to_writer(&mut **out, response);
                out.extend_from_slice(b"}\n\n");
            }
        }
    }

    /// A `.delta` event: `item_id`, `output_index`, `content_index` (not
    /// for function-call arguments), `delta`, and `logprobs: []` for output
    /// text.
    #[allow(clippy::too_many_arguments)]
    fn delta(
        &mut self,
        name: &'static str,
        sequence: u64,
        item_id: &str,
        output_index: usize,
        content_index: Option<usize>,
        text: &str,
        logprobs: bool,
    ) {
        match self {
            Self::Events(_) => {
                let mut data =
                    json!({ "item_id": item_id, "output_index": output_index, "delta": text });
                if let Some(content_index) = content_index {
                    data["content_index"] = json!(content_index);
                }
                if logprobs {
                    data["logprobs"] = json!([]);
                }
                self.event(name, sequence, data);
            }
            Self::Wire(out) => {
                head(out, name, sequence);
                out.extend_from_slice(b",\"item_id\":");
                string(out, item_id);
                let _ = write!(out, ",\"output_index\":{output_index}");
                if let Some(content_index) = content_index {
                    let _ = write!(out, ",\"content_index\":{content_index}");
                }
                out.extend_from_slice(b",\"delta\":");
                string(out, text);
                if logprobs {
                    out.extend_from_slice(b",\"logprobs\":[]");
                }
                out.extend_from_slice(b"}\n\n");
            }
        }
    }
}

/// `event: <name>\ndata: {"type":"<name>","sequence_number":<n>`; event
/// names need no escaping.
fn head(out: &mut Vec<u8>, name: &str, sequence: u64) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\ndata: {\"type\":\"");
    out.extend_from_slice(name.as_bytes());
    let _ = write!(out, "\",\"sequence_number\":{sequence}");
}

/// `text` as a JSON string; writing into a `Vec` cannot fail.
fn string(out: &mut Vec<u8>, text: &str) {
    let _ = serde_json::to_writer(&mut *out, text);
}

/// The items of one stream, by `output_index`, and the next
/// `sequence_number`.
#[derive(Debug, Default)]
pub(super) struct Writer {
    sequence: u64,
    items: Vec<Slot>,
}

#[derive(Debug)]
struct Slot {
    item: Item,
    /// `None` while open, then the status it was closed with.
    status: Option<&'static str>,
}

impl Writer {
    /// Appends event `name` with `data` (an object), adding its `type` and
    /// `sequence_number`.
    pub(super) fn emit(&mut self, out: &mut Out<'_>, name: &'static str, data: Value) {
        out.event(name, self.sequence, data);
        self.sequence += 1;
    }

    /// Appends event `name` with the one field `response`, not copied
    /// onto the wire.
    pub(super) fn emit_response(
        &mut self,
        out: &mut Out<'_>,
        name: &'static str,
        response: &Value,
    ) {
        out.response(name, self.sequence, response);
        self.sequence += 1;
    }

    /// Whether item `index` exists and is still being written.
    pub(super) fn is_open(&self, index: usize) -> bool {
        self.items.get(index).is_some_and(|s| s.status.is_none())
    }

    /// Whether item `index` is a reasoning item.
    pub(super) fn is_reasoning(&self, index: usize) -> bool {
        let slot = self.items.get(index);
        slot.is_some_and(|s| matches!(s.item, Item::Reasoning { .. }))
    }

    /// Appends `item` (empty, status `in_progress`) and announces it; a
    /// reasoning item also gets its one content part. Returns its index.
    pub(super) fn add(&mut self, item: Item, out: &mut Out<'_>) -> usize {
        let index = self.items.len();
        let data = json!({ "output_index": index, "item": item.to_json("in_progress") });
        let reasoning = matches!(item, Item::Reasoning { .. });
        self.items.push(Slot { item, status: None });
        self.emit(out, "response.output_item.added", data);
        if reasoning {
            self.part_event(
                out,
                "response.content_part.added",
                index,
                0,
                reasoning_part(""),
            );
        }
        index
    }

    /// A text fragment for open item `index`: reasoning text, or message
    /// text or refusal (opening a part of that kind when the last one is
    /// of the other kind, or there is none).
    pub(super) fn text(&mut self, index: usize, kind: Kind, text: &str, out: &mut Out<'_>) {
        let Some(slot) = self.items.get_mut(index) else {
            return;
        };
        let (name, content_index) = match (&mut slot.item, kind) {
            (Item::Reasoning { text: all, .. }, Kind::Reasoning) => {
                all.push_str(text);
                ("response.reasoning_text.delta", 0)
            }
            (Item::Message { parts, .. }, Kind::Text | Kind::Refusal) => {
                let refusal = kind == Kind::Refusal;
                if parts.last().is_none_or(|p| p.refusal != refusal) {
                    self.part_done(index, out);
                    self.open_part(index, refusal, out);
                }
                let content_index = self.append_to_part(index, text);
                match refusal {
                    true => ("response.refusal.delta", content_index),
                    false => ("response.output_text.delta", content_index),
                }
            }
            _ => return,
        };
        let Some(slot) = self.items.get(index) else {
            return;
        };
        let id = slot.item.id();
        let logprobs = kind == Kind::Text;
        out.delta(
            name,
            self.sequence,
            id,
            index,
            Some(content_index),
            text,
            logprobs,
        );
        self.sequence += 1;
    }

    /// An arguments fragment for open function call `index`; a custom
    /// tool call's are only buffered (its input is written at its end).
    pub(super) fn arguments(&mut self, index: usize, text: &str, out: &mut Out<'_>) {
        match self.items.get_mut(index).map(|s| &mut s.item) {
            Some(Item::Call { id, arguments, .. }) => {
                arguments.push_str(text);
                let name = "response.function_call_arguments.delta";
                out.delta(name, self.sequence, id, index, None, text, false);
                self.sequence += 1;
            }
            Some(Item::Custom { arguments, .. }) => arguments.push_str(text),
            _ => {}
        }
    }

    /// Closes every open item, in output order. With `reason` the response
    /// ends incomplete, and its last item is marked so.
    pub(super) fn close_open(&mut self, reason: Option<&str>, out: &mut Out<'_>) {
        let count = self.items.len();
        for index in 0..count {
            if self.is_open(index) {
                self.close(index, item_status(reason, index + 1 == count), out);
            }
        }
    }

    /// The `.done` events of open item `index`, then
    /// `response.output_item.done` with the item in `status`.
    pub(super) fn close(&mut self, index: usize, status: &'static str, out: &mut Out<'_>) {
        let Some(slot) = self.items.get_mut(index).filter(|s| s.status.is_none()) else {
            return;
        };
        slot.status = Some(status);
        let id = slot.item.id().to_string();
        match &mut slot.item {
            Item::Reasoning { text, .. } => {
                let text = text.clone();
                let data = json!({
                    "item_id": id, "output_index": index, "content_index": 0, "text": text,
                });
                self.emit(out, "response.reasoning_text.done", data);
                let part = reasoning_part(&text);
                self.part_event(out, "response.content_part.done", index, 0, part);
            }
            Item::Message { .. } => self.part_done(index, out),
            Item::Call { arguments, .. } => {
                *arguments = no_arguments_as_object(std::mem::take(arguments));
                let data = json!({ "item_id": id, "output_index": index, "arguments": arguments });
                self.emit(out, "response.function_call_arguments.done", data);
            }
            Item::Custom { arguments, .. } => {
                let input = custom::input(arguments);
                if !input.is_empty() {
                    let name = "response.custom_tool_call_input.delta";
                    out.delta(name, self.sequence, &id, index, None, &input, false);
                    self.sequence += 1;
                }
                let data = json!({ "item_id": id, "output_index": index, "input": input });
                self.emit(out, "response.custom_tool_call_input.done", data);
            }
        }
        if let Some(slot) = self.items.get(index) {
            let data = json!({ "output_index": index, "item": slot.item.to_json(status) });
            self.emit(out, "response.output_item.done", data);
        }
    }

    /// The output array; items still open show with `open_status`.
    pub(super) fn output(&self, open_status: &str) -> Vec<Value> {
        let items = self.items.iter();
        items
            .map(|s| s.item.to_json(s.status.unwrap_or(open_status)))
            .collect()
    }

    /// Opens a new empty part of message `index`.
    fn open_part(&mut self, index: usize, refusal: bool, out: &mut Out<'_>) {
        let part = Part {
            refusal,
            text: String::new(),
        };
        let data = part.to_json();
        let Some(Slot {
            item: Item::Message { parts, .. },
            ..
        }) = self.items.get_mut(index)
        else {
            return;
        };
        parts.push(part);
        let content_index = parts.len() - 1;
        self.part_event(
            out,
            "response.content_part.added",
            index,
            content_index,
            data,
        );
    }

    /// Appends `text` to the last part of message `index`; its index.
    fn append_to_part(&mut self, index: usize, text: &str) -> usize {
        match self.items.get_mut(index).map(|s| &mut s.item) {
            Some(Item::Message { parts, .. }) => {
                if let Some(part) = parts.last_mut() {
                    part.text.push_str(text);
                }
                parts.len().saturating_sub(1)
            }
            _ => 0,
        }
    }

    /// The `.done` events of the last part of message `index`, if any.
    fn part_done(&mut self, index: usize, out: &mut Out<'_>) {
        let Some(Slot {
            item: Item::Message { id, parts },
            ..
        }) = self.items.get(index)
        else {
            return;
        };
        let Some(part) = parts.last() else { return };
        let content_index = parts.len() - 1;
        let mut done = match part.refusal {
            true => json!({ "refusal": part.text }),
            false => json!({ "text": part.text, "logprobs": [] }),
        };
        done["item_id"] = json!(id);
        done["output_index"] = json!(index);
        done["content_index"] = json!(content_index);
        let name = match part.refusal {
            true => "response.refusal.done",
            false => "response.output_text.done",
        };
        let data = part.to_json();
        self.emit(out, name, done);
        self.part_event(
            out,
            "response.content_part.done",
            index,
            content_index,
            data,
        );
    }

    /// `response.content_part.added`/`.done` for part `content_index` of
    /// item `index`.
    fn part_event(
        &mut self,
        out: &mut Out<'_>,
        name: &'static str,
        index: usize,
        content_index: usize,
        part: Value,
    ) {
        let id = self.items.get(index).map(|s| s.item.id().to_string());
        let data = json!({
            "item_id": id, "output_index": index, "content_index": content_index, "part": part,
        });
        self.emit(out, name, data);
    }
}
