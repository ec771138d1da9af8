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
//! (`response.function_call_arguments.delta`…), or a `custom_tool_call` item
//! when it calls one of the request's custom tools: its arguments are
//! buffered, and its decoded `input` is written when the item closes
//! (`response.custom_tool_call_input.delta` once, then `.done`). A change
//! of kind closes the open item first. Tool calls may interleave by `index` (some servers do):
//! they stay open together until text or reasoning follows, or the end. A
//! fragment for a call that was already closed is dropped (no server is
//! known to send one).
//!
//! A stream that never sent usage gets an estimate: streamed characters / 4
//! output tokens, 0 input tokens.

use serde_json::{json, Value};

use super::chunk::{str_of, Delta, HubChunk, ToolCall};
use super::custom;
use super::new_id;
use super::output::Item;
use super::response::{incomplete_reason, response_object, usage, Meta};
use super::writer::{Kind, Out, Writer};

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
    /// The `in_progress` response the stream started with; the final one
    /// is made from it (its echoed request fields are copied once).
    base: Option<Value>,
    writer: Writer,
    /// The message or reasoning item being written.
    open_text: Option<usize>,
    tools: Vec<ToolSlot>,
    /// The names of the request's custom tools.
    custom: Vec<String>,
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
    /// An encoder for one stream; `meta` is echoed in every response object
    /// (and its request's custom tools make their calls `custom_tool_call`s).
    pub fn new(meta: Meta) -> Self {
        Self {
            custom: custom::names(&meta.request),
            meta,
            started: false,
            response: None,
            base: None,
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
        let mut events = Vec::new();
        if let Some(chunk) = HubChunk::from_value(chunk) {
            self.hub_chunk(&chunk, &mut Out::Events(&mut events));
        }
        events
    }

    /// [`chunk`](Self::chunk), written as SSE events onto `out`.
    pub fn chunk_into(&mut self, chunk: &Value, out: &mut Vec<u8>) {
        if let Some(chunk) = HubChunk::from_value(chunk) {
            self.hub_chunk(&chunk, &mut Out::Wire(out));
        }
    }

    /// [`chunk_into`](Self::chunk_into) for a chunk still in its JSON text,
    /// read without building a `Value` (text that is not JSON is ignored).
    pub fn chunk_text_into(&mut self, text: &str, out: &mut Vec<u8>) {
        match HubChunk::parse(text) {
            Some(chunk) => self.hub_chunk(&chunk, &mut Out::Wire(out)),
            // Fields of unexpected types: read as leniently as a `Value`.
            None => {
                if let Ok(value) = serde_json::from_str::<Value>(text) {
                    self.chunk_into(&value, out);
                }
            }
        }
    }

    /// The hub stream completed: closes open items, then
    /// `response.completed` (or `response.incomplete` for finish_reason
    /// length/content_filter) with the whole response and usage. Nothing
    /// after the stream ended.
    pub fn finish(&mut self) -> Vec<Event> {
        let mut events = Vec::new();
        self.finish_to(&mut Out::Events(&mut events));
        events
    }

    /// [`finish`](Self::finish), written as SSE events onto `out`.
    pub fn finish_into(&mut self, out: &mut Vec<u8>) {
        self.finish_to(&mut Out::Wire(out));
    }

    /// The stream failed in-band: an `error` event (`{type:"error", code,
    /// message, param:null, sequence_number}`) then `response.failed`
    /// (status `failed`, `error: {code, message}`; open items are not closed
    /// and show as `incomplete`). Emits created/in_progress first if nothing
    /// was sent yet. `response.error.code` is `code` when the SDK knows it
    /// (`server_error`, `rate_limit_exceeded`, `invalid_prompt`), else
    /// `server_error`. Nothing after the stream ended.
    pub fn error(&mut self, message: &str, code: &str) -> Vec<Event> {
        let mut events = Vec::new();
        self.error_to(message, code, &mut Out::Events(&mut events));
        events
    }

    /// [`error`](Self::error), written as SSE events onto `out`.
    pub fn error_into(&mut self, message: &str, code: &str, out: &mut Vec<u8>) {
        self.error_to(message, code, &mut Out::Wire(out));
    }

    fn hub_chunk(&mut self, chunk: &HubChunk<'_>, out: &mut Out<'_>) {
        if self.response.is_some() {
            return;
        }
        if let Some(error) = chunk.error() {
            let text = |name: &str| error.get(name).and_then(Value::as_str);
            let message = text("message").unwrap_or("The upstream stream failed");
            let code = text("code").or_else(|| text("type"));
            return self.error_to(message, code.unwrap_or("server_error"), out);
        }
        self.start(out);
        if let Some(u) = chunk.usage.as_deref().filter(|u| u.is_object()) {
            self.usage = Some(u.clone());
        }
        for choice in chunk.choices.iter().flatten() {
            // A response has one output: only choice 0 matters.
            if choice.index.unwrap_or(0) != 0 {
                continue;
            }
            if let Some(delta) = &choice.delta {
                self.delta(delta, out);
            }
            if let Some(reason) = str_of(&choice.finish_reason) {
                self.finish_reason = Some(reason.to_string());
            }
        }
    }

    fn finish_to(&mut self, out: &mut Out<'_>) {
        if self.response.is_some() {
            return;
        }
        self.start(out);
        let reason = incomplete_reason(self.finish_reason.as_deref());
        self.writer.close_open(reason, out);
        let output = self.writer.output("completed");
        let status = match reason {
            Some(_) => "incomplete",
            None => "completed",
        };
        let mut response = self.final_response(status, output);
        if let Some(reason) = reason {
            response["incomplete_details"] = json!({ "reason": reason });
        }
        let name = match reason {
            Some(_) => "response.incomplete",
            None => "response.completed",
        };
        self.writer.emit_response(out, name, &response);
        self.response = Some(response);
    }

    fn error_to(&mut self, message: &str, code: &str, out: &mut Out<'_>) {
        if self.response.is_some() {
            return;
        }
        self.start(out);
        let error = json!({ "code": code, "message": message, "param": null });
        self.writer.emit(out, "error", error);
        let known = ["server_error", "rate_limit_exceeded", "invalid_prompt"];
        let code = if known.contains(&code) {
            code
        } else {
            "server_error"
        };
        let output = self.writer.output("incomplete");
        let mut response = self.final_response("failed", output);
        response["error"] = json!({ "code": code, "message": message });
        self.writer.emit_response(out, "response.failed", &response);
        self.response = Some(response);
    }

    /// The final Response object (as in `response.completed`/`incomplete`/
    /// `failed`), once [`finish`](Self::finish) or [`error`](Self::error)
    /// ran; the caller stores it.
    pub fn response(&self) -> Option<&Value> {
        self.response.as_ref()
    }

    /// `response.created` and `response.in_progress`, once.
    fn start(&mut self, out: &mut Out<'_>) {
        if self.started {
            return;
        }
        self.started = true;
        let response = response_object(&self.meta, "in_progress", Vec::new(), Value::Null);
        self.writer
            .emit_response(out, "response.created", &response);
        self.writer
            .emit_response(out, "response.in_progress", &response);
    }

    fn delta(&mut self, delta: &Delta<'_>, out: &mut Out<'_>) {
        if let Some(text) = delta.reasoning_text() {
            self.text_like(Kind::Reasoning, text, out);
        }
        for (text, kind) in [
            (&delta.content, Kind::Text),
            (&delta.refusal, Kind::Refusal),
        ] {
            match str_of(text) {
                Some(text) if !text.is_empty() => self.text_like(kind, text, out),
                _ => {}
            }
        }
        for call in delta.tool_calls.iter().flatten() {
            self.tool_fragment(call, out);
        }
    }

    /// A reasoning, text or refusal fragment: a new item (after closing
    /// every open one) unless an item of its family is open.
    fn text_like(&mut self, kind: Kind, text: &str, out: &mut Out<'_>) {
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
    fn tool_fragment(&mut self, call: &ToolCall<'_>, out: &mut Out<'_>) {
        let key = self.tool_key(call);
        let index = match self.tools.iter().find(|slot| slot.key == key) {
            Some(slot) => slot.item,
            None => self.open_call(key, call, out),
        };
        match call.arguments() {
            Some(text) if !text.is_empty() && self.writer.is_open(index) => {
                self.streamed_chars += text.chars().count();
                self.writer.arguments(index, text, out);
            }
            _ => {}
        }
    }

    /// The hub `index` of a tool-call delta. Servers that omit it: a delta
    /// with a new `id` is a new call, anything else continues the last one.
    fn tool_key(&self, call: &ToolCall<'_>) -> u64 {
        if let Some(index) = call.index {
            return index;
        }
        match (call.id(), self.tools.last()) {
            (Some(id), Some(last)) if id != last.call_id => {
                self.tools.iter().map(|slot| slot.key).max().unwrap_or(0) + 1
            }
            (_, Some(last)) => last.key,
            (_, None) => 0,
        }
    }

    fn open_call(&mut self, key: u64, call: &ToolCall<'_>, out: &mut Out<'_>) -> usize {
        if let Some(open) = self.open_text.take() {
            self.writer.close(open, "completed", out);
        }
        let call_id = match call.id() {
            Some(id) => id.to_string(),
            None => new_id("call"),
        };
        let name = call.name().unwrap_or_default().to_string();
        let item = match self.custom.contains(&name) {
            true => Item::Custom {
                id: new_id("ctc"),
                call_id: call_id.clone(),
                name,
                arguments: String::new(),
            },
            false => Item::Call {
                id: new_id("fc"),
                call_id: call_id.clone(),
                name,
                arguments: String::new(),
            },
        };
        let index = self.writer.add(item, out);
        self.tools.push(ToolSlot {
            key,
            call_id,
            item: index,
        });
        index
    }

    /// The response the stream started with, now in `status` with this
    /// output and the final usage.
    fn final_response(&mut self, status: &str, output: Vec<Value>) -> Value {
        let usage = self.final_usage();
        match self.base.take() {
            Some(mut response) => {
                response["status"] = json!(status);
                response["output"] = Value::Array(output);
                response["usage"] = usage;
                response
            }
            None => response_object(&self.meta, status, output, usage),
        }
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
