//! OpenAI `chat.completion.chunk`s (the hub stream) → Anthropic stream
//! events (wire-formats §2.3; §3.3 mirrored), one chunk at a time, built as
//! the adapter's wire [`StreamEvent`]s.
//!
//! The sequence written: `message_start` and a `ping` at the first chunk;
//! per content block `content_block_start`, `content_block_delta`s,
//! `content_block_stop`; then, at [`StreamEncoder::finish`], `message_delta`
//! (stop reason and cumulative usage — the hub's usage chunk comes after its
//! finish chunk) and `message_stop`.
//!
//! Blocks open lazily in arrival order, so a block's `index` is its place in
//! the final `content` array: reasoning → `thinking`, content → `text`, each
//! new tool-call `index` → `tool_use` (argument fragments →
//! `input_json_delta`). A change of kind closes the open block. A fragment
//! for a tool call whose block was already closed (servers that interleave
//! calls) still goes to that block's index, which the SDKs accumulate.
//!
//! `message_start` carries zero input tokens: OpenAI reports usage only at
//! the end, so the real counts arrive in `message_delta` (cumulative values
//! that the SDKs copy over). A stream that never sent usage gets an
//! estimated `output_tokens` (streamed characters / 4).

use std::borrow::Cow;

use serde_json::{json, Value};

use super::response::{message_id, reasoning_text, stop_reason, tool_use_id, usage};
use super::to_json;
use crate::adapter::anthropic::wire::stream::{
    ContentBlockDelta, ContentBlockStart, ContentBlockStop, ErrorEvent, InputJsonDelta,
    MessageDeltaEvent, MessageStart, TextDelta, ThinkingDelta,
};
use crate::adapter::anthropic::wire::{
    AssistantRole, BlockDelta, ContentBlock, ErrorDetail, MessageDelta, MessageKind,
    MessagesResponse, StreamEvent, TextBlock, ThinkingBlock, ToolUseBlock, Usage,
};

/// One Anthropic stream event: its name (the `event:` line) and its data,
/// whose `type` repeats the name.
pub type Event = (&'static str, Value);

/// Turns the hub chunks of one stream into Anthropic events, statefully.
#[derive(Debug)]
pub struct StreamEncoder {
    model: String,
    started: bool,
    done: bool,
    open: Option<Block>,
    next_index: usize,
    tools: Vec<ToolSlot>,
    finish_reason: Option<String>,
    usage: Option<Value>,
    streamed_chars: usize,
}

/// The content block being written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Block {
    index: usize,
    kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Thinking,
    /// A tool call, by its hub `index`.
    Tool(u64),
}

/// A hub tool call and the block it was given.
#[derive(Debug)]
struct ToolSlot {
    key: u64,
    id: String,
    block: usize,
}

impl StreamEncoder {
    /// An encoder for one stream; `model` is the model name the client asked
    /// for (the hub's dated model name is not shown).
    pub fn new(model: &str) -> Self {
        Self {
            model: model.to_string(),
            started: false,
            done: false,
            open: None,
            next_index: 0,
            tools: Vec::new(),
            finish_reason: None,
            usage: None,
            streamed_chars: 0,
        }
    }

    /// One hub chunk in; the events it causes out (none after the stream
    /// ended). A chunk `{"error":{…}}` (an in-band hub error) becomes an
    /// [`error`](Self::error) event; values that are not objects are ignored.
    pub fn chunk(&mut self, chunk: &Value) -> Vec<Event> {
        if self.done || !chunk.is_object() {
            return Vec::new();
        }
        if let Some(error) = chunk.get("error").filter(|e| !e.is_null()) {
            let message = error.get("message").and_then(Value::as_str);
            let kind = hub_error_type(error.get("type").and_then(Value::as_str));
            return self.error(message.unwrap_or("The upstream stream failed"), kind);
        }
        let mut out = Vec::new();
        if !self.started {
            self.start(chunk.get("id"), &mut out);
        }
        if let Some(u) = chunk.get("usage").filter(|u| u.is_object()) {
            self.usage = Some(u.clone());
        }
        let choices = chunk.get("choices").and_then(Value::as_array);
        for choice in choices.into_iter().flatten() {
            // Anthropic clients never ask for n > 1: only choice 0 matters.
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

    /// The hub stream completed (`[DONE]`, or its end after a finish
    /// reason): closes the open block, then `message_delta` (stop reason,
    /// usage) and `message_stop`. Nothing after the stream ended.
    pub fn finish(&mut self) -> Vec<Event> {
        if self.done {
            return Vec::new();
        }
        let mut out = Vec::new();
        if !self.started {
            self.start(None, &mut out);
        }
        self.close(&mut out);
        let stop = stop_reason(self.finish_reason.as_deref(), !self.tools.is_empty());
        out.push(event(StreamEvent::MessageDelta(MessageDeltaEvent {
            delta: MessageDelta {
                stop_reason: Some(stop),
                stop_sequence: None,
            },
            usage: self.final_usage(),
        })));
        out.push(event(StreamEvent::MessageStop));
        self.done = true;
        out
    }

    /// The stream failed: one `error` event
    /// `{"type":"error","error":{"type": error_type, "message"}}`, after
    /// which the encoder is done (the client's SDK raises it). Open blocks
    /// are not closed: the message is incomplete and must not look whole.
    pub fn error(&mut self, message: &str, error_type: &str) -> Vec<Event> {
        if self.done {
            return Vec::new();
        }
        self.done = true;
        vec![event(StreamEvent::Error(ErrorEvent {
            error: ErrorDetail {
                kind: Some(error_type.into()),
                message: Some(message.into()),
            },
        }))]
    }

    /// `message_start` (empty content, no stop reason, zero usage until the
    /// hub reports it) and a `ping`, as Anthropic sends early.
    fn start(&mut self, id: Option<&Value>, out: &mut Vec<Event>) {
        self.started = true;
        let message = MessagesResponse {
            id: Some(message_id(id).into()),
            kind: MessageKind::Message,
            role: AssistantRole::Assistant,
            model: Some(self.model.as_str().into()),
            content: Vec::new(),
            stop_reason: None,
            stop_sequence: None,
            usage: Some(usage(None)),
        };
        out.push(event(StreamEvent::MessageStart(MessageStart { message })));
        out.push(event(StreamEvent::Ping));
    }

    fn delta(&mut self, delta: &Value, out: &mut Vec<Event>) {
        if let Some(thinking) = reasoning_text(delta) {
            self.text_like(Kind::Thinking, thinking, out);
        }
        let text = ["content", "refusal"]
            .iter()
            .filter_map(|field| delta.get(*field).and_then(Value::as_str))
            .find(|text| !text.is_empty());
        if let Some(text) = text {
            self.text_like(Kind::Text, text, out);
        }
        let calls = delta.get("tool_calls").and_then(Value::as_array);
        for call in calls.into_iter().flatten() {
            self.tool_fragment(call, out);
        }
    }

    /// A text or thinking fragment, opening its block when another kind (or
    /// none) is open.
    fn text_like(&mut self, kind: Kind, text: &str, out: &mut Vec<Event>) {
        let index = match self.open {
            Some(block) if block.kind == kind => block.index,
            _ => {
                let empty = match kind {
                    Kind::Thinking => ContentBlock::Thinking(ThinkingBlock {
                        thinking: Cow::Borrowed(""),
                        signature: Cow::Borrowed(""),
                    }),
                    _ => ContentBlock::Text(TextBlock {
                        text: Cow::Borrowed(""),
                        cache_control: None,
                    }),
                };
                self.open_block(kind, empty, out)
            }
        };
        let delta = match kind {
            Kind::Thinking => BlockDelta::ThinkingDelta(ThinkingDelta {
                thinking: text.into(),
            }),
            _ => BlockDelta::TextDelta(TextDelta { text: text.into() }),
        };
        self.streamed_chars += text.chars().count();
        out.push(block_delta(index, delta));
    }

    /// A tool-call delta: the first fragment of a new call opens a
    /// `tool_use` block with its `id` and `name`; argument text becomes
    /// `input_json_delta` (empty fragments are skipped).
    fn tool_fragment(&mut self, call: &Value, out: &mut Vec<Event>) {
        let key = self.tool_key(call);
        let index = match self.tools.iter().find(|slot| slot.key == key) {
            Some(slot) => slot.block,
            None => self.open_tool(key, call, out),
        };
        let arguments = call
            .pointer("/function/arguments")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !arguments.is_empty() {
            self.streamed_chars += arguments.chars().count();
            let delta = BlockDelta::InputJsonDelta(InputJsonDelta {
                partial_json: arguments.into(),
            });
            out.push(block_delta(index, delta));
        }
    }

    /// The hub `index` of a tool-call delta. Servers that omit it: a delta
    /// with a new `id` is a new call, anything else continues the last one.
    fn tool_key(&self, call: &Value) -> u64 {
        if let Some(index) = call.get("index").and_then(Value::as_u64) {
            return index;
        }
        let last = self.tools.last();
        let id = call
            .get("id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty());
        match (id, last) {
            (Some(id), Some(last)) if id != last.id => {
                self.tools.iter().map(|slot| slot.key).max().unwrap_or(0) + 1
            }
            (_, Some(last)) => last.key,
            (_, None) => 0,
        }
    }

    fn open_tool(&mut self, key: u64, call: &Value, out: &mut Vec<Event>) -> usize {
        let id = match call.get("id").and_then(Value::as_str) {
            Some(id) if !id.is_empty() => id.to_string(),
            _ => tool_use_id(),
        };
        let name = call
            .pointer("/function/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let block = ContentBlock::ToolUse(ToolUseBlock {
            id: id.as_str().into(),
            name: name.into(),
            input: Cow::Owned(json!({})),
            cache_control: None,
        });
        let index = self.open_block(Kind::Tool(key), block, out);
        self.tools.push(ToolSlot {
            key,
            id,
            block: index,
        });
        index
    }

    /// Closes the open block and opens `content_block` at the next index.
    fn open_block(
        &mut self,
        kind: Kind,
        content_block: ContentBlock,
        out: &mut Vec<Event>,
    ) -> usize {
        self.close(out);
        let index = self.next_index;
        self.next_index += 1;
        self.open = Some(Block { index, kind });
        out.push(event(StreamEvent::ContentBlockStart(ContentBlockStart {
            index: index as u64,
            content_block,
        })));
        index
    }

    fn close(&mut self, out: &mut Vec<Event>) {
        if let Some(block) = self.open.take() {
            out.push(event(StreamEvent::ContentBlockStop(ContentBlockStop {
                index: block.index as u64,
            })));
        }
    }

    /// `message_delta` usage: the hub's last usage, all fields (input and
    /// cache counts are first known here); without one, an estimate of
    /// `output_tokens` only.
    fn final_usage(&self) -> Usage {
        match &self.usage {
            Some(u) => usage(Some(u)),
            None => Usage {
                output_tokens: Some(self.streamed_chars.div_ceil(4) as u64),
                ..Usage::default()
            },
        }
    }
}

/// A stream event as the sink writes it: its name and its JSON (the
/// encoder writes no unknown events).
fn event(event: StreamEvent) -> Event {
    (event.known_name().unwrap_or("error"), to_json(&event))
}

fn block_delta(index: usize, delta: BlockDelta) -> Event {
    event(StreamEvent::ContentBlockDelta(ContentBlockDelta {
        index: index as u64,
        delta,
    }))
}

/// An OpenAI-style error `type` → the closest Anthropic one.
fn hub_error_type(kind: Option<&str>) -> &'static str {
    match kind {
        Some("invalid_request_error") => "invalid_request_error",
        Some("authentication_error") => "authentication_error",
        Some("permission_error") => "permission_error",
        Some("not_found_error") => "not_found_error",
        Some("rate_limit_error" | "requests" | "tokens") => "rate_limit_error",
        Some("insufficient_quota" | "billing_error") => "billing_error",
        Some("timeout_error") => "timeout_error",
        Some("overloaded_error") => "overloaded_error",
        _ => "api_error",
    }
}
