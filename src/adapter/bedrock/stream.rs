//! ConverseStream events (named by their `:event-type`, see
//! [`crate::transform::eventstream`]) → hub `chat.completion.chunk`s, one
//! event at a time.
//!
//! - `messageStart` → the role chunk (`{"role":"assistant","content":""}`).
//! - `contentBlockStart` of a toolUse → a tool call's opening chunk (id,
//!   name, empty arguments); its hub `index` counts tool calls (0, 1, …)
//!   where `contentBlockIndex` counts all blocks.
//! - `contentBlockDelta`: text → `content`, reasoning text →
//!   `reasoning_content`, toolUse input → the call's `arguments` fragment;
//!   empty fragments, signatures and redacted reasoning → nothing.
//! - `messageStop` → a `{}` delta with the finish reason.
//! - `metadata` (after `messageStop`) → the usage chunk (`choices: []`; the
//!   relay records it and drops it unless the client asked for it).
//! - `exception:<type>` and `error` → an in-band `{"error":{…}}` that ends
//!   the stream (no `[DONE]`); `contentBlockStop` and unknown events →
//!   nothing.
//!
//! `[DONE]` goes out when the upstream ends after `messageStop`; a stream
//! cut before it gets none (the relay reports the truncation). Data that
//! is not the event the API documents fails the stream.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::response::{chatcmpl_id, failed, finish_reason, hub_usage, unix_time};
use super::wire::stream::{
    ContentBlockDelta, ContentBlockStart, ErrorMessage, Exception, MessageStop, Metadata,
};
use crate::adapter::hub::{delta_choice, tool_calls};
use crate::adapter::{AdapterError, ChunkOut, Ctx, StreamTranslator};

/// One stream's state.
pub(super) struct Translator {
    id: String,
    model: String,
    created: i64,
    /// contentBlockIndex → hub tool-call index.
    tools: Vec<(u64, u64)>,
    /// messageStop was seen.
    stopped: bool,
    /// An error ended the stream: later events are ignored.
    errored: bool,
}

impl Translator {
    pub(super) fn new(ctx: Arc<Ctx>) -> Self {
        Self {
            id: chatcmpl_id(),
            model: ctx.model.clone(),
            created: unix_time(),
            tools: Vec::new(),
            stopped: false,
            errored: false,
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
        if self.errored {
            return Ok(());
        }
        if let Some(kind) = event.strip_prefix("exception:") {
            let message = parse::<Exception>(event, data).ok().and_then(|e| e.message);
            self.error(kind, message, out);
            return Ok(());
        }
        match event {
            "messageStart" => {
                let mut delta = Map::new();
                delta.insert("role".into(), Value::from("assistant"));
                delta.insert("content".into(), Value::from(""));
                out.push(self.chunk(delta, None));
            }
            "contentBlockStart" => self.on_block_start(parse(event, data)?, out),
            "contentBlockDelta" => self.on_block_delta(parse(event, data)?, out),
            "messageStop" => {
                let stop: MessageStop = parse(event, data)?;
                self.stopped = true;
                let finish = finish_reason(stop.stop_reason);
                out.push(self.chunk(Map::new(), Some(finish)));
            }
            "metadata" => {
                let metadata: Metadata = parse(event, data)?;
                if let Some(usage) = metadata.usage {
                    let usage = hub_usage(&usage).map_err(|e| failed("stream", e))?;
                    let mut chunk = self.envelope();
                    chunk.insert("choices".into(), Value::Array(Vec::new()));
                    chunk.insert("usage".into(), usage);
                    out.push(ChunkOut::Json(Value::Object(chunk)));
                }
            }
            "error" => {
                let error = parse::<ErrorMessage>(event, data).unwrap_or_default();
                let code = error.code.filter(|c| !c.is_empty());
                let kind = code.as_deref().unwrap_or("error").to_string();
                self.error(&kind, error.message.filter(|m| !m.is_empty()), out);
            }
            // contentBlockStop, and events this version does not know.
            _ => {}
        }
        Ok(())
    }

    /// After messageStop: `[DONE]`. Otherwise nothing: the relay reports
    /// the truncation.
    fn finish(&mut self, out: &mut Vec<ChunkOut>) -> Result<(), AdapterError> {
        if self.stopped && !self.errored {
            out.push(ChunkOut::Raw("[DONE]".to_string()));
        }
        Ok(())
    }
}

/// `data` read as the payload of `event` (all of it).
fn parse<T: DeserializeOwned>(event: &str, data: &str) -> Result<T, AdapterError> {
    serde_json::from_str(data).map_err(|e| failed("stream", format_args!("{event} event: {e}")))
}

impl Translator {
    /// One chunk with a single choice.
    fn chunk(&self, delta: Map<String, Value>, finish: Option<&'static str>) -> ChunkOut {
        let mut chunk = self.envelope();
        chunk.insert(
            "choices".into(),
            Value::Array(vec![delta_choice(delta, finish)]),
        );
        ChunkOut::Json(Value::Object(chunk))
    }

    /// A chunk's id, object, created and model.
    fn envelope(&self) -> Map<String, Value> {
        let mut chunk = Map::new();
        chunk.insert("id".into(), Value::String(self.id.clone()));
        chunk.insert("object".into(), Value::from("chat.completion.chunk"));
        chunk.insert("created".into(), Value::from(self.created));
        chunk.insert("model".into(), Value::String(self.model.clone()));
        chunk
    }

    fn on_block_start(&mut self, start: ContentBlockStart, out: &mut Vec<ChunkOut>) {
        let Some(tool) = start.start.tool_use else {
            return;
        };
        let k = self.tools.len() as u64;
        self.tools
            .retain(|(index, _)| *index != start.content_block_index);
        self.tools.push((start.content_block_index, k));
        let mut function = Map::new();
        function.insert("name".into(), Value::String(tool.name));
        function.insert("arguments".into(), Value::from(""));
        let mut call = Map::new();
        call.insert("index".into(), Value::from(k));
        call.insert("id".into(), Value::String(tool.tool_use_id));
        call.insert("type".into(), Value::from("function"));
        call.insert("function".into(), Value::Object(function));
        out.push(self.chunk(tool_calls(call), None));
    }

    fn on_block_delta(&mut self, event: ContentBlockDelta, out: &mut Vec<ChunkOut>) {
        let delta = event.delta;
        let mut fields = Map::new();
        if let Some(text) = delta.text.filter(|t| !t.is_empty()) {
            fields.insert("content".into(), Value::String(text));
        }
        let reasoning = delta.reasoning_content.and_then(|r| r.text);
        if let Some(text) = reasoning.filter(|t| !t.is_empty()) {
            fields.insert("reasoning_content".into(), Value::String(text));
        }
        let input = delta.tool_use.map(|t| t.input).filter(|i| !i.is_empty());
        let index = event.content_block_index;
        let tool = self
            .tools
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, k)| *k);
        if let (Some(input), Some(k)) = (input, tool) {
            let mut function = Map::new();
            function.insert("arguments".into(), Value::String(input));
            let mut call = Map::new();
            call.insert("index".into(), Value::from(k));
            call.insert("function".into(), Value::Object(function));
            fields.extend(tool_calls(call));
        }
        if !fields.is_empty() {
            out.push(self.chunk(fields, None));
        }
    }

    /// `{"error":{"message","type","param":null,"code"}}` for an exception
    /// or error of `kind`; the stream ends there.
    fn error(&mut self, kind: &str, message: Option<String>, out: &mut Vec<ChunkOut>) {
        self.errored = true;
        let message =
            message.unwrap_or_else(|| format!("Bedrock reported {kind} during the stream"));
        let mut error = Map::new();
        error.insert("message".into(), Value::String(message));
        error.insert("type".into(), Value::from(error_type(kind)));
        error.insert("param".into(), Value::Null);
        error.insert("code".into(), Value::String(kind.to_string()));
        let mut body = Map::new();
        body.insert("error".into(), Value::Object(error));
        out.push(ChunkOut::Json(Value::Object(body)));
    }
}

/// The hub error type for a Bedrock exception.
fn error_type(kind: &str) -> &'static str {
    match kind {
        "throttlingException" => "rate_limit_error",
        "validationException" => "invalid_request_error",
        "serviceUnavailableException" => "service_unavailable",
        _ => "api_error",
    }
}
