//! OpenAI `chat.completion.chunk`s (the hub stream) → Responses stream
//! events, one chunk at a time. Every event's `type` repeats its name, and
//! every event has a `sequence_number`, counting from 0.
//!
//! The sequence written: `response.created` and `response.in_progress` at
//! the first chunk; per output item, in arrival order,
//! `response.output_item.added` (status `in_progress`), its content events,
//! its `.done` events and `response.output_item.done`; then, at
//! [`StreamEncoder::finish`], `response.completed` (or `response.incomplete`)
//! with the whole response and usage — the hub's usage chunk comes after its
//! finish chunk.
//!
//! Items open lazily: reasoning deltas → a `reasoning` item
//! (`response.content_part.added`, `response.reasoning_text.delta`…),
//! content and refusal → a `message` item with `output_text` / `refusal`
//! parts (`response.output_text.delta`, `response.refusal.delta`…), each new
//! tool-call `index` → a `function_call` item
//! (`response.function_call_arguments.delta`…). A change of kind closes the
//! open item first. Tool calls may interleave by `index` (some servers do):
//! they stay open together until text or reasoning follows, or the end. A
//! fragment for a call that was already closed is dropped (no server is
//! known to send one).
//!
//! A stream that never sent usage gets an estimate: streamed characters / 4
//! output tokens, 0 input tokens.

use serde_json::{json, Value};

use super::new_id;
use super::output::Item;
use super::response::{finished, incomplete_reason, reasoning_text, response_object, usage, Meta};
use super::writer::{Kind, Writer};

/// One Responses stream event: its name (the `event:` line) and its data,
/// whose `type` repeats the name.
pub type Event = (&'static str, Value);

/// Turns the hub chunks of one stream into Responses events, statefully.
#[derive(Debug)]
pub struct StreamEncoder {
    meta: Meta,
    started: bool,
    /// The final response, once the stream ended.
    response: Option<Value>,
    writer: Writer,
    /// The message or reasoning item being written.
    open_text: Option<usize>,
    tools: Vec<ToolSlot>,
    finish_reason: Option<String>,
    usage: Option<Value>,
    streamed_chars: usize,
}

/// A hub tool call (by its `index`) and the item it was given.
#[derive(Debug)]
struct ToolSlot {
    key: u64,
    call_id: String,
    item: usize,
}

impl StreamEncoder {
    /// An encoder for one stream; `meta` is echoed in every response object.
    pub fn new(meta: Meta) -> Self {
        Self {
            meta,
            started: false,
            response: None,
            writer: Writer::default(),
            open_text: None,
            tools: Vec::new(),
            finish_reason: None,
            usage: None,
            streamed_chars: 0,
        }
    }

    /// Events for one hub chunk (none after the stream ended). The first
    /// call also emits `response.created` and `response.in_progress`. A
    /// chunk `{"error":{…}}` (an in-band hub error) ends the stream as
    /// [`error`](Self::error) does; values that are not objects are ignored.
    pub fn chunk(&mut self, chunk: &Value) -> Vec<Event> {
        if self.response.is_some() || !chunk.is_object() {
            return Vec::new();
        }
        if let Some(error) = chunk.get("error").filter(|e| !e.is_null()) {
            let text = |name: &str| error.get(name).and_then(Value::as_str);
            let message = text("message").unwrap_or("The upstream stream failed");
            let code = text("code").or_else(|| text("type"));
            return self.error(message, code.unwrap_or("server_error"));
        }
        let mut out = Vec::new();
        self.start(&mut out);
        if let Some(u) = chunk.get("usage").filter(|u| u.is_object()) {
            self.usage = Some(u.clone());
        }
        let choices = chunk.get("choices").and_then(Value::as_array);
        for choice in choices.into_iter().flatten() {
            // A response has one output: only choice 0 matters.
            if choice.get("index").and_then(Value::as_u64).unwrap_or(0) != 0 {
                continue;
            }
            if let Some(delta) = choice.get("delta") {
                self.delta(delta, &mut out);
            }
            if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
                self.finish_reason = Some(reason.to_string());
            }
        }
        out
    }

    /// The hub stream completed: closes open items, then
    /// `response.completed` (or `response.incomplete` for finish_reason
    /// length/content_filter) with the whole response and usage. Nothing
    /// after the stream ended.
    pub fn finish(&mut self) -> Vec<Event> {
        if self.response.is_some() {
            return Vec::new();
        }
        let mut out = Vec::new();
        self.start(&mut out);
        let reason = incomplete_reason(self.finish_reason.as_deref());
        self.writer.close_open(reason, &mut out);
        let output = self.writer.output("completed");
        let response = finished(&self.meta, reason, output, self.final_usage());
        let name = match reason {
            Some(_) => "response.incomplete",
            None => "response.completed",
        };
        self.writer
            .emit(&mut out, name, json!({ "response": response }));
        self.response = Some(response);
        out
    }

    /// The stream failed in-band: an `error` event (`{type:"error", code,
    /// message, param:null, sequence_number}`) then `response.failed`
    /// (status `failed`, `error: {code, message}`; open items are not closed
    /// and show as `incomplete`). Emits created/in_progress first if nothing
    /// was sent yet. `response.error.code` is `code` when the SDK knows it
    /// (`server_error`, `rate_limit_exceeded`, `invalid_prompt`), else
    /// `server_error`. Nothing after the stream ended.
    pub fn error(&mut self, message: &str, code: &str) -> Vec<Event> {
        if self.response.is_some() {
            return Vec::new();
        }
        let mut out = Vec::new();
        self.start(&mut out);
        let error = json!({ "code": code, "message": message, "param": null });
        self.writer.emit(&mut out, "error", error);
        let known = ["server_error", "rate_limit_exceeded", "invalid_prompt"];
        let code = if known.contains(&code) {
            code
        } else {
            "server_error"
        };
        let output = self.writer.output("incomplete");
        let mut response = response_object(&self.meta, "failed", output, self.final_usage());
        response["error"] = json!({ "code": code, "message": message });
        let data = json!({ "response": response });
        self.writer.emit(&mut out, "response.failed", data);
        self.response = Some(response);
        out
    }

    /// The final Response object (as in `response.completed`/`incomplete`/
    /// `failed`), once [`finish`](Self::finish) or [`error`](Self::error)
    /// ran; the caller stores it.
    pub fn response(&self) -> Option<&Value> {
        self.response.as_ref()
    }

    /// `response.created` and `response.in_progress`, once.
    fn start(&mut self, out: &mut Vec<Event>) {
        if self.started {
            return;
        }
        self.started = true;
        let response = response_object(&self.meta, "in_progress", Vec::new(), Value::Null);
        let data = json!({ "response": response });
        self.writer.emit(out, "response.created", data.clone());
        self.writer.emit(out, "response.in_progress", data);
    }

    fn delta(&mut self, delta: &Value, out: &mut Vec<Event>) {
        if let Some(text) = reasoning_text(delta) {
            self.text_like(Kind::Reasoning, text, out);
        }
        for (field, kind) in [("content", Kind::Text), ("refusal", Kind::Refusal)] {
            match delta.get(field).and_then(Value::as_str) {
                Some(text) if !text.is_empty() => self.text_like(kind, text, out),
                _ => {}
            }
        }
        let calls = delta.get("tool_calls").and_then(Value::as_array);
        for call in calls.into_iter().flatten() {
            self.tool_fragment(call, out);
        }
    }

    /// A reasoning, text or refusal fragment: a new item (after closing
    /// every open one) unless an item of its family is open.
    fn text_like(&mut self, kind: Kind, text: &str, out: &mut Vec<Event>) {
        self.streamed_chars += text.chars().count();
        let reasoning = kind == Kind::Reasoning;
        let index = match self.open_text {
            Some(i) if self.writer.is_reasoning(i) == reasoning => i,
            _ => {
                self.writer.close_open(None, out);
                let item = match reasoning {
                    true => Item::Reasoning {
                        id: new_id("rs"),
                        text: String::new(),
                    },
                    false => Item::Message {
                        id: new_id("msg"),
                        parts: Vec::new(),
                    },
                };
                let index = self.writer.add(item, out);
                self.open_text = Some(index);
                index
            }
        };
        self.writer.text(index, kind, text, out);
    }

    /// A tool-call delta: the first fragment of a new call (after closing an
    /// open message or reasoning item) opens a `function_call` item with its
    /// `call_id` and `name`; argument text goes to that item.
    fn tool_fragment(&mut self, call: &Value, out: &mut Vec<Event>) {
        let key = self.tool_key(call);
        let index = match self.tools.iter().find(|slot| slot.key == key) {
            Some(slot) => slot.item,
            None => self.open_call(key, call, out),
        };
        let arguments = call.pointer("/function/arguments").and_then(Value::as_str);
        match arguments {
            Some(text) if !text.is_empty() && self.writer.is_open(index) => {
                self.streamed_chars += text.chars().count();
                self.writer.arguments(index, text, out);
            }
            _ => {}
        }
    }

    /// The hub `index` of a tool-call delta. Servers that omit it: a delta
    /// with a new `id` is a new call, anything else continues the last one.
    fn tool_key(&self, call: &Value) -> u64 {
        if let Some(index) = call.get("index").and_then(Value::as_u64) {
            return index;
        }
        let id = call
            .get("id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty());
        match (id, self.tools.last()) {
            (Some(id), Some(last)) if id != last.call_id => {
                self.tools.iter().map(|slot| slot.key).max().unwrap_or(0) + 1
            }
            (_, Some(last)) => last.key,
            (_, None) => 0,
        }
    }

    fn open_call(&mut self, key: u64, call: &Value, out: &mut Vec<Event>) -> usize {
        if let Some(open) = self.open_text.take() {
            self.writer.close(open, "completed", out);
        }
        let call_id = match call.get("id").and_then(Value::as_str) {
            Some(id) if !id.is_empty() => id.to_string(),
            _ => new_id("call"),
        };
        let name = call.pointer("/function/name").and_then(Value::as_str);
        let item = Item::Call {
            id: new_id("fc"),
            call_id: call_id.clone(),
            name: name.unwrap_or_default().to_string(),
            arguments: String::new(),
        };
        let index = self.writer.add(item, out);
        self.tools.push(ToolSlot {
            key,
            call_id,
            item: index,
        });
        index
    }

    /// The hub's last usage; without one, an estimate of output tokens.
    fn final_usage(&self) -> Value {
        match &self.usage {
            Some(u) => usage(Some(u)),
            None => {
                let estimate = self.streamed_chars.div_ceil(4);
                usage(Some(&json!({ "completion_tokens": estimate })))
            }
        }
    }
}
