//! `transform_chunk` and `finish_stream`: Anthropic stream events -> OpenAI
//! chunks, with the script's `this` as [`AnthropicStream`].
//!
//! The events of a long answer are nearly all `content_block_delta`s; they
//! are read into borrowed structs ([`Fast`]). Any event that does not fit
//! those (another type, a field of an unexpected type, invalid JSON) takes
//! the general path, a `serde_json::Value` read as the script reads it.

use std::collections::HashMap;

use rhai::Map;
use serde::Deserialize;
use serde_json::{json, Value};

use super::response::{finish_reason, openai_usage};
use super::rhai_value::{
    as_int, chatcmpl_id, ctx_value, display, empty_map, failed, is, norm_owned, or, prop, unix_time,
};
use super::shapes::{ObjectOnly, Text};
use super::{ChunkOut, NativeError, StreamTranslator};

/// The script's `this`.
#[derive(Debug, Default)]
pub(super) struct AnthropicStream {
    /// `this.id != ()`: message_start (or a first event) set the state.
    started: bool,
    id: Value,
    model: Value,
    created: i64,
    /// Anthropic usage so far: `message.usage ?? #{}`, any JSON value.
    usage: Value,
    /// Block index (as the script prints it) -> OpenAI tool-call index.
    tools: HashMap<String, i64>,
    tool_count: i64,
    /// The finish_reason, once message_delta said it.
    finish: Option<&'static str>,
    stopped: bool,
}

/// A `content_block_delta`, `ping` or `content_block_stop` with no field
/// besides these: nothing is skipped unread, so what parses here parses the
/// same as a `Value`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fast<'a> {
    #[serde(borrow, rename = "type", default)]
    kind: Option<Text<'a>>,
    #[serde(default)]
    index: Option<i64>,
    #[serde(borrow, default)]
    delta: Option<ObjectOnly<FastDelta<'a>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FastDelta<'a> {
    #[serde(borrow, rename = "type", default)]
    kind: Option<Text<'a>>,
    #[serde(borrow, default)]
    text: Option<Text<'a>>,
    #[serde(borrow, default)]
    thinking: Option<Text<'a>>,
    #[serde(borrow, default)]
    partial_json: Option<Text<'a>>,
}

impl StreamTranslator for AnthropicStream {
    fn event(
        &mut self,
        event: &str,
        data: &str,
        ctx: &Map,
        out: &mut Vec<ChunkOut>,
    ) -> Result<(), NativeError> {
        if let Ok(ObjectOnly(fast)) = serde_json::from_str::<ObjectOnly<Fast>>(data) {
            let kind = if event.is_empty() {
                fast.kind.as_deref()
            } else {
                Some(event)
            };
            match kind {
                Some("content_block_delta") => {
                    self.start_once(ctx)?;
                    self.fast_delta(&fast, out);
                    return Ok(());
                }
                Some("ping" | "content_block_stop") => return self.start_once(ctx),
                _ => {}
            }
        }
        let data = serde_json::from_str::<Value>(data)
            .map(norm_owned)
            .unwrap_or_else(|_| Value::String(data.to_string()));
        self.general(event, &data, ctx, out)
    }

    fn finish(&mut self, _ctx: &Map, out: &mut Vec<ChunkOut>) -> Result<(), NativeError> {
        if self.finish.is_none() || self.stopped {
            return Ok(());
        }
        self.on_message_stop(out)
    }
}

impl AnthropicStream {
    /// Any event, as the script's `transform_chunk`.
    fn general(
        &mut self,
        event: &str,
        data: &Value,
        ctx: &Map,
        out: &mut Vec<ChunkOut>,
    ) -> Result<(), NativeError> {
        // The `event:` line names the event; its JSON `type` repeats it.
        let name = Value::String(event.to_string());
        let kind = if event.is_empty() && data.is_object() {
            prop(data, "type")?
        } else {
            &name
        };
        if is(kind, "error") {
            out.push(ChunkOut::Json(stream_error(data)?));
            return Ok(());
        }
        if !data.is_object() {
            return Ok(());
        }
        if is(kind, "message_start") {
            let message = or(prop(data, "message")?, empty_map());
            self.start(message, ctx)?;
            self.chunk(json!({ "role": "assistant", "content": "" }), None, out);
            return Ok(());
        }
        self.start_once(ctx)?;
        match kind.as_str() {
            Some("content_block_start") => self.on_block_start(data, out),
            Some("content_block_delta") => self.on_block_delta(data, out),
            Some("message_delta") => self.on_message_delta(data, out),
            Some("message_stop") => self.on_message_stop(out),
            // ping, content_block_stop and unknown events carry nothing for OpenAI.
            _ => Ok(()),
        }
    }

    /// `this.mixin(new_stream_state(message, ctx))`.
    fn start(&mut self, message: &Value, ctx: &Map) -> Result<(), NativeError> {
        let id = match prop(message, "id")? {
            Value::Null => Value::String(chatcmpl_id()),
            id => id.clone(),
        };
        let model = match prop(message, "model")? {
            Value::Null => ctx_value(ctx, "model")?,
            model => model.clone(),
        };
        let usage = or(prop(message, "usage")?, empty_map()).clone();
        self.started = true;
        self.id = id;
        self.model = model;
        self.created = unix_time();
        self.usage = usage;
        self.tools.clear();
        self.tool_count = 0;
        self.finish = None;
        Ok(())
    }

    /// No message_start before this event (never seen in practice).
    fn start_once(&mut self, ctx: &Map) -> Result<(), NativeError> {
        if self.started {
            return Ok(());
        }
        self.start(empty_map(), ctx)
    }

    /// One OpenAI chunk with a single choice.
    fn chunk(&self, delta: Value, finish: Option<&'static str>, out: &mut Vec<ChunkOut>) {
        out.push(ChunkOut::Json(json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish }],
        })));
    }

    /// A `content_block_delta` whose fields are all strings (or absent).
    fn fast_delta(&mut self, data: &Fast, out: &mut Vec<ChunkOut>) {
        let Some(ObjectOnly(delta)) = &data.delta else {
            return;
        };
        let text_chunk = |key: &str, text: &Option<Text>| match text.as_deref() {
            Some("") => None,
            text => Some(json!({ key: text })),
        };
        let delta_out = match delta.kind.as_deref() {
            Some("text_delta") => text_chunk("content", &delta.text),
            Some("thinking_delta") => text_chunk("reasoning_content", &delta.thinking),
            Some("input_json_delta") => {
                let key = data.index.map(|i| i.to_string()).unwrap_or_default();
                match (self.tools.get(&key), delta.partial_json.as_deref()) {
                    (Some(&k), Some(args)) if !args.is_empty() => Some(json!({
                        "tool_calls": [{ "index": k, "function": { "arguments": args } }],
                    })),
                    _ => None,
                }
            }
            // signature_delta, citations_delta
            _ => None,
        };
        if let Some(delta_out) = delta_out {
            self.chunk(delta_out, None, out);
        }
    }

    /// content_block_start: a tool_use block opens an OpenAI tool call. Its
    /// OpenAI index counts tool calls; Anthropic's `index` counts all blocks.
    fn on_block_start(&mut self, data: &Value, out: &mut Vec<ChunkOut>) -> Result<(), NativeError> {
        let block = or(prop(data, "content_block")?, empty_map());
        let kind = prop(block, "type")?;
        if is(kind, "text") {
            let text = prop(block, "text")?;
            if !text.is_null() && !is(text, "") {
                self.chunk(json!({ "content": text }), None, out);
                return Ok(());
            }
        }
        if !is(kind, "tool_use") {
            return Ok(()); // text (empty), thinking, server-tool blocks
        }
        let k = self.tool_count;
        self.tools.insert(display(prop(data, "index")?)?, k);
        self.tool_count = k + 1;
        let opened = json!({
            "index": k,
            "id": prop(block, "id")?,
            "type": "function",
            "function": { "name": prop(block, "name")?, "arguments": "" },
        });
        self.chunk(json!({ "tool_calls": [opened] }), None, out);
        Ok(())
    }

    /// content_block_delta: text, tool-call arguments or thinking.
    fn on_block_delta(&mut self, data: &Value, out: &mut Vec<ChunkOut>) -> Result<(), NativeError> {
        let delta = or(prop(data, "delta")?, empty_map());
        let delta_out = match prop(delta, "type")?.as_str() {
            Some("text_delta") => {
                let text = prop(delta, "text")?;
                (!is(text, "")).then(|| json!({ "content": text }))
            }
            Some("thinking_delta") => {
                let text = prop(delta, "thinking")?;
                (!is(text, "")).then(|| json!({ "reasoning_content": text }))
            }
            Some("input_json_delta") => {
                let k = self.tools.get(&display(prop(data, "index")?)?).copied();
                let args = prop(delta, "partial_json")?;
                match k {
                    Some(k) if !args.is_null() && !is(args, "") => Some(json!({
                        "tool_calls": [{ "index": k, "function": { "arguments": args } }],
                    })),
                    _ => None,
                }
            }
            // signature_delta, citations_delta
            _ => None,
        };
        if let Some(delta_out) = delta_out {
            self.chunk(delta_out, None, out);
        }
        Ok(())
    }

    /// message_delta: the stop reason, and usage that is cumulative (the
    /// latest value wins; max() guards against a zero from a lax upstream).
    fn on_message_delta(
        &mut self,
        data: &Value,
        out: &mut Vec<ChunkOut>,
    ) -> Result<(), NativeError> {
        let usage = or(prop(data, "usage")?, empty_map());
        let Value::Object(usage) = usage else {
            return Err(failed("usage.keys() of a value that is not a map"));
        };
        for (key, value) in usage {
            let Value::Object(known_usage) = &mut self.usage else {
                return Err(failed("this.usage[key] of a value that is not a map"));
            };
            let known = known_usage.get(key).and_then(as_int);
            match (as_int(value), known) {
                (Some(v), Some(k)) => {
                    known_usage.insert(key.clone(), Value::from(k.max(v)));
                }
                _ if !value.is_null() => {
                    known_usage.insert(key.clone(), value.clone());
                }
                _ => {}
            }
        }
        let stop_reason = prop(or(prop(data, "delta")?, empty_map()), "stop_reason")?;
        let finish = finish_reason(stop_reason);
        self.finish = Some(finish);
        self.chunk(json!({}), Some(finish), out);
        Ok(())
    }

    /// message_stop: the usage chunk (always sent; the gateway drops it when
    /// the client did not ask for it), then [DONE].
    fn on_message_stop(&mut self, out: &mut Vec<ChunkOut>) -> Result<(), NativeError> {
        self.stopped = true;
        let usage = openai_usage(&self.usage)?;
        out.push(ChunkOut::Json(json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [],
            "usage": usage,
        })));
        out.push(ChunkOut::Raw("[DONE]".to_string()));
        Ok(())
    }
}

/// An Anthropic `error` event -> an OpenAI in-band error.
fn stream_error(data: &Value) -> Result<Value, NativeError> {
    let message_only;
    let error = if data.is_object() {
        or(prop(data, "error")?, empty_map())
    } else {
        message_only = json!({ "message": display(data)? });
        &message_only
    };
    let api_error = Value::from("api_error");
    let kind = or(prop(error, "type")?, &api_error);
    let default_message = Value::from("the provider reported an error during the stream");
    let message = or(prop(error, "message")?, &default_message);
    Ok(json!({
        "error": { "message": message, "type": kind, "param": null, "code": kind },
    }))
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;

    fn fast(data: &str) -> Option<Fast<'_>> {
        serde_json::from_str::<ObjectOnly<Fast>>(data)
            .ok()
            .map(|f| f.0)
    }

    #[test]
    fn text_deltas_take_the_borrowed_path() {
        let data =
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}"#;
        let f = fast(data).expect("a plain text delta parses as Fast");
        assert!(matches!(
            f.delta
                .as_ref()
                .and_then(|d| d.0.text.as_ref())
                .map(|t| &t.0),
            Some(Cow::Borrowed("Hi"))
        ));
        assert_eq!(f.index, Some(0));
    }

    #[test]
    fn escaped_text_is_read_owned_on_the_same_path() {
        let data = r#"{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"a\n\u00e9"}}"#;
        let f = fast(data).expect("escapes parse");
        let text = f.delta.as_ref().and_then(|d| d.0.text.as_deref());
        assert_eq!(text, Some("a\n\u{e9}"));
    }

    #[test]
    fn anything_unusual_takes_the_general_path() {
        for data in [
            r#"{"type":"content_block_delta","index":0,"delta":["text_delta","Hi"]}"#,
            r#"["content_block_delta",0]"#,
            r#"{"type":"content_block_delta","index":0.0,"delta":{}}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":1}}"#,
            r#"{"type":"content_block_delta","index":0,"extra":1e400,"delta":{}}"#,
            r#"{"type":"content_block_delta","type":"ping"}"#,
        ] {
            assert!(fast(data).is_none(), "{data}");
        }
    }
}
