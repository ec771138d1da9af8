//! Messages stream events → hub `chat.completion.chunk`s, one event at a
//! time.
//!
//! - `message_start` → the role chunk (`{"role":"assistant","content":""}`);
//!   its id, model and usage are the stream's.
//! - `content_block_start` of a tool_use → a tool call's opening chunk (id,
//!   name, empty arguments); its hub `index` counts tool calls (0, 1, …)
//!   where Anthropic's counts all blocks. A text block that starts with
//!   text → a content chunk.
//! - `content_block_delta`: text → `content`, thinking →
//!   `reasoning_content`, input JSON → the call's `arguments` fragment;
//!   empty fragments and signatures → nothing.
//! - `message_delta` → a `{}` delta with the finish reason; its usage is
//!   cumulative (the largest count wins).
//! - `message_stop` → the usage chunk (`choices: []`; the relay drops it
//!   unless the client asked for it), then `[DONE]`.
//! - `error` → an in-band `{"error":{…}}`; `ping`, `content_block_stop` and
//!   unknown events → nothing.
//!
//! The event's name picks how its data is read (the data's own `type` is
//! used only for events without one). Data that is not the event the API
//! documents fails the stream.

use std::borrow::Cow;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::request::shown;
use super::response::{chatcmpl_id, failed, finish_reason, hub_usage, unix_time};
use super::wire::stream::{ContentBlockDelta, ContentBlockStart, ErrorEvent, MessageDeltaEvent};
use super::wire::{
    BlockDelta, ContentBlock, ErrorDetail, MessagesResponse, StreamEvent, Tagged, TextBlock, Usage,
};
use crate::adapter::hub::{delta_choice, tool_calls};
use crate::adapter::{AdapterError, ChunkOut, Ctx, StreamTranslator};

/// One stream's state.
pub(super) struct Translator {
    ctx: Arc<Ctx>,
    /// Set at message_start, or by the first chunk written without one.
    head: Option<Head>,
    usage: Usage,
    /// Block index → hub tool-call index.
    tools: Vec<(u64, u64)>,
    /// Tool calls opened so far.
    tool_count: u64,
    /// The finish_reason, once message_delta said it.
    finish: Option<&'static str>,
    /// message_stop was translated.
    stopped: bool,
}

/// What every chunk of the stream repeats.
struct Head {
    id: String,
    model: String,
    created: i64,
}

impl Translator {
    pub(super) fn new(ctx: Arc<Ctx>) -> Self {
        Self {
            ctx,
            head: None,
            usage: Usage::default(),
            tools: Vec::new(),
            tool_count: 0,
            finish: None,
            stopped: false,
        }
    }
}

impl StreamTranslator for Translator {
    fn event(
        &mut self,
        event: &str,
        data: &str,
        out: &mut Vec<ChunkOut>,
    ) -> Result<(), AdapterError> {
        let parsed = match event {
            // Nothing for the client; their data is not even read.
            "ping" | "content_block_stop" => return Ok(()),
            "error" => {
                out.push(ChunkOut::Json(stream_error(data)));
                return Ok(());
            }
            // Not Anthropic's, but some relays end a stream with it.
            "" if data.trim() == "[DONE]" => return Ok(()),
            "" => match read(data, |de| StreamEvent::deserialize(de)) {
                // An error event whose fields are odd is still an error.
                Err(_) if is_error_event(data) => {
                    out.push(ChunkOut::Json(stream_error(data)));
                    return Ok(());
                }
                parsed => parsed,
            },
            name => read(data, |de| StreamEvent::from_tag(name, de)),
        }
        .map_err(|e| failed("stream", format_args!("{event} event: {e}")))?;
        match parsed {
            StreamEvent::MessageStart(start) => self.on_message_start(start.message, out),
            StreamEvent::ContentBlockStart(start) => self.on_block_start(start, out),
            StreamEvent::ContentBlockDelta(delta) => self.on_block_delta(delta, out),
            StreamEvent::MessageDelta(delta) => self.on_message_delta(delta, out),
            StreamEvent::MessageStop => return self.on_message_stop(out),
            StreamEvent::Error(error) => out.push(ChunkOut::Json(hub_error(error))),
            StreamEvent::ContentBlockStop(_) | StreamEvent::Ping | StreamEvent::Unknown(_) => {}
        }
        Ok(())
    }

    /// A stream that ended without message_stop is complete if
    /// message_delta gave its finish reason: it is closed properly.
    /// Otherwise nothing: the relay reports the truncation.
    fn finish(&mut self, out: &mut Vec<ChunkOut>) -> Result<(), AdapterError> {
        if self.finish.is_none() || self.stopped {
            return Ok(());
        }
        self.on_message_stop(out)
    }
}

/// Whether `data` is an object of type `error`.
fn is_error_event(data: &str) -> bool {
    serde_json::from_str::<Value>(data).is_ok_and(|v| v.get("type").is_some_and(|t| t == "error"))
}

/// Reads `data` (all of it) with `read`.
fn read<'a, T>(
    data: &'a str,
    read: impl FnOnce(
        &mut serde_json::Deserializer<serde_json::de::StrRead<'a>>,
    ) -> Result<T, serde_json::Error>,
) -> Result<T, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(data);
    let value = read(&mut de)?;
    de.end()?;
    Ok(value)
}

impl Translator {
    fn head(&mut self) -> &Head {
        let ctx = &self.ctx;
        self.head.get_or_insert_with(|| Head {
            id: chatcmpl_id(),
            model: ctx.model.clone(),
            created: unix_time(),
        })
    }

    /// One chunk with a single choice.
    fn chunk(&mut self, delta: Map<String, Value>, finish: Option<&'static str>) -> ChunkOut {
        let mut chunk = self.envelope();
        chunk.insert(
            "choices".into(),
            Value::Array(vec![delta_choice(delta, finish)]),
        );
        ChunkOut::Json(Value::Object(chunk))
    }

    /// A chunk's id, object, created and model.
    fn envelope(&mut self) -> Map<String, Value> {
        let head = self.head();
        let mut chunk = Map::new();
        chunk.insert("id".into(), Value::String(head.id.clone()));
        chunk.insert("object".into(), Value::from("chat.completion.chunk"));
        chunk.insert("created".into(), Value::from(head.created));
        chunk.insert("model".into(), Value::String(head.model.clone()));
        chunk
    }

    fn on_message_start(&mut self, message: MessagesResponse, out: &mut Vec<ChunkOut>) {
        self.head = Some(Head {
            id: message.id.map_or_else(chatcmpl_id, Cow::into_owned),
            model: message
                .model
                .map_or_else(|| self.ctx.model.clone(), Cow::into_owned),
            created: unix_time(),
        });
        self.usage = message.usage.unwrap_or_default();
        self.tools.clear();
        self.tool_count = 0;
        self.finish = None;
        let mut delta = Map::new();
        delta.insert("role".into(), Value::from("assistant"));
        delta.insert("content".into(), Value::from(""));
        out.push(self.chunk(delta, None));
    }

    fn on_block_start(&mut self, start: ContentBlockStart, out: &mut Vec<ChunkOut>) {
        match start.content_block {
            ContentBlock::Text(TextBlock { text, .. }) if !text.is_empty() => {
                out.push(self.chunk(one("content", text), None));
            }
            ContentBlock::ToolUse(block) => {
                let k = self.tool_count;
                self.tool_count += 1;
                self.tools.retain(|(index, _)| *index != start.index);
                self.tools.push((start.index, k));
                let mut function = Map::new();
                function.insert("name".into(), Value::String(block.name.into_owned()));
                function.insert("arguments".into(), Value::from(""));
                let mut call = Map::new();
                call.insert("index".into(), Value::from(k));
                call.insert("id".into(), Value::String(block.id.into_owned()));
                call.insert("type".into(), Value::from("function"));
                call.insert("function".into(), Value::Object(function));
                out.push(self.chunk(tool_calls(call), None));
            }
            // Empty text, thinking, server-tool blocks.
            _ => {}
        }
    }

    fn on_block_delta(&mut self, event: ContentBlockDelta, out: &mut Vec<ChunkOut>) {
        let delta = match event.delta {
            BlockDelta::TextDelta(d) if !d.text.is_empty() => one("content", d.text),
            BlockDelta::ThinkingDelta(d) if !d.thinking.is_empty() => {
                one("reasoning_content", d.thinking)
            }
            BlockDelta::InputJsonDelta(d) if !d.partial_json.is_empty() => {
                let Some(&(_, k)) = self.tools.iter().find(|(i, _)| *i == event.index) else {
                    return; // not a tool_use block
                };
                let mut function = Map::new();
                function.insert(
                    "arguments".into(),
                    Value::String(d.partial_json.into_owned()),
                );
                let mut call = Map::new();
                call.insert("index".into(), Value::from(k));
                call.insert("function".into(), Value::Object(function));
                tool_calls(call)
            }
            // Empty fragments, signature and citation deltas.
            _ => return,
        };
        out.push(self.chunk(delta, None));
    }

    fn on_message_delta(&mut self, event: MessageDeltaEvent, out: &mut Vec<ChunkOut>) {
        merge_usage(&mut self.usage, &event.usage);
        let finish = finish_reason(event.delta.stop_reason);
        self.finish = Some(finish);
        out.push(self.chunk(Map::new(), Some(finish)));
    }

    fn on_message_stop(&mut self, out: &mut Vec<ChunkOut>) -> Result<(), AdapterError> {
        self.stopped = true;
        let usage = hub_usage(&self.usage).map_err(|e| failed("stream", e))?;
        let mut chunk = self.envelope();
        chunk.insert("choices".into(), Value::Array(Vec::new()));
        chunk.insert("usage".into(), usage);
        out.push(ChunkOut::Json(Value::Object(chunk)));
        out.push(ChunkOut::Raw("[DONE]".to_string()));
        Ok(())
    }
}

/// A delta with one text field.
fn one(key: &str, text: Cow<str>) -> Map<String, Value> {
    let mut delta = Map::new();
    delta.insert(key.into(), Value::String(text.into_owned()));
    delta
}

/// Cumulative usage: each count present in `new` replaces a smaller one
/// (a lax upstream may send a zero late); new details replace old ones.
fn merge_usage(known: &mut Usage, new: &Usage) {
    fn keep_max(known: &mut Option<u64>, new: Option<u64>) {
        if let Some(new) = new {
            *known = Some(known.map_or(new, |k| k.max(new)));
        }
    }
    keep_max(&mut known.input_tokens, new.input_tokens);
    keep_max(&mut known.output_tokens, new.output_tokens);
    keep_max(
        &mut known.cache_creation_input_tokens,
        new.cache_creation_input_tokens,
    );
    keep_max(
        &mut known.cache_read_input_tokens,
        new.cache_read_input_tokens,
    );
    if new.output_tokens_details.is_some() {
        known.output_tokens_details = new.output_tokens_details;
    }
}

/// An `error` event's data → the hub's in-band error. Read leniently:
/// whatever the event holds, the client gets an error (data that is not
/// an error object is the message itself).
fn stream_error(data: &str) -> Value {
    let (kind, message) = match serde_json::from_str::<Value>(data) {
        Ok(Value::Object(event)) => {
            let error = event.get("error");
            let field = |name| error.and_then(|e| e.get(name)).filter(|v| !v.is_null());
            (
                field("type").and_then(Value::as_str).map(str::to_string),
                field("message").map(|m| shown(m).into_owned()),
            )
        }
        Ok(other) => (None, Some(shown(&other).into_owned())),
        Err(_) => (None, Some(data.to_string())),
    };
    hub_error(ErrorEvent {
        error: ErrorDetail {
            kind: kind.map(Cow::Owned),
            message: message.map(Cow::Owned),
        },
    })
}

/// `{"error":{"message","type","param":null,"code"}}`; the type is also
/// the code.
fn hub_error(event: ErrorEvent) -> Value {
    let kind = event.error.kind.unwrap_or(Cow::Borrowed("api_error"));
    let message = event.error.message.unwrap_or(Cow::Borrowed(
        "the provider reported an error during the stream",
    ));
    let mut error = Map::new();
    error.insert("message".into(), Value::String(message.into_owned()));
    error.insert("type".into(), Value::String(kind.to_string()));
    error.insert("param".into(), Value::Null);
    error.insert("code".into(), Value::String(kind.into_owned()));
    let mut out = Map::new();
    out.insert("error".into(), Value::Object(error));
    Value::Object(out)
}
