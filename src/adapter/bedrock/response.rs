//! A Converse answer → a hub `chat.completion`, and what the stream
//! shares: stop reason → finish reason, usage, ids and times.
//!
//! Text blocks are concatenated into `content` (`null` when there is
//! none), reasoning text into `reasoning_content` (DeepSeek's convention,
//! as the Anthropic adapter does), toolUse blocks become `tool_calls` with
//! `arguments` the JSON text of `input`. Other blocks (redacted reasoning,
//! citations, images) have no hub form and are dropped. Converse answers
//! carry no id: one is made up.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::wire::response::ToolUse;
use super::wire::{ConverseResponse, StopReason, Usage};
use crate::adapter::hub::message_choice;
pub(crate) use crate::adapter::hub::{chatcmpl_id, unix_time};
use crate::adapter::{AdapterError, Ctx};

/// A failure of the response or stream hook: the provider's answer is not
/// what its API documents.
pub(super) fn failed(hook: &'static str, message: impl std::fmt::Display) -> AdapterError {
    AdapterError::failed(super::NAME, hook, message.to_string())
}

/// The hub answer for Converse response `body`.
pub(super) fn response(body: Value, ctx: &Ctx) -> Result<Value, AdapterError> {
    if !body.is_object() {
        return Err(failed("response", "the answer is not a JSON object"));
    }
    let answer = ConverseResponse::deserialize(body).map_err(|e| failed("response", e))?;
    let Some(message) = answer.output.message else {
        return Err(failed("response", "the answer has no output.message"));
    };
    let mut text: Option<String> = None;
    let mut reasoning: Option<String> = None;
    let mut calls = Vec::new();
    for block in message.content {
        if let Some(piece) = block.text {
            text.get_or_insert_with(String::new).push_str(&piece);
        }
        if let Some(piece) = block.reasoning_content.and_then(|r| r.reasoning_text) {
            reasoning
                .get_or_insert_with(String::new)
                .push_str(&piece.text);
        }
        if let Some(call) = block.tool_use {
            calls.push(tool_call(call));
        }
    }
    let choice = message_choice(text, reasoning, calls, finish_reason(answer.stop_reason));
    let mut out = Map::new();
    out.insert("id".into(), Value::String(chatcmpl_id()));
    out.insert("object".into(), Value::from("chat.completion"));
    out.insert("created".into(), Value::from(unix_time()));
    out.insert("model".into(), Value::String(ctx.model.clone()));
    out.insert("choices".into(), Value::Array(vec![choice]));
    if let Some(usage) = answer.usage {
        out.insert(
            "usage".into(),
            hub_usage(&usage).map_err(|e| failed("response", e))?,
        );
    }
    Ok(Value::Object(out))
}

/// A toolUse block → a hub tool call (`arguments` is a JSON string; no
/// input is `{}`).
fn tool_call(call: ToolUse) -> Value {
    let arguments = match &call.input {
        Value::Null => "{}".to_string(),
        input => input.to_string(),
    };
    let mut function = Map::new();
    function.insert("name".into(), Value::String(call.name));
    function.insert("arguments".into(), Value::String(arguments));
    let mut out = Map::new();
    out.insert("id".into(), Value::String(call.tool_use_id));
    out.insert("type".into(), Value::from("function"));
    out.insert("function".into(), Value::Object(function));
    Value::Object(out)
}

/// Converse `stopReason` → hub `finish_reason`.
pub(super) fn finish_reason(stop_reason: Option<StopReason>) -> &'static str {
    match stop_reason {
        Some(StopReason::MaxTokens | StopReason::ModelContextWindowExceeded) => "length",
        Some(StopReason::ToolUse) => "tool_calls",
        Some(StopReason::GuardrailIntervened | StopReason::ContentFiltered) => "content_filter",
        Some(StopReason::EndTurn | StopReason::StopSequence | StopReason::Unknown) | None => "stop",
    }
}

/// Converse usage → hub usage, as for Anthropic: the prompt is input +
/// cache writes + cache reads (`totalTokens` is recomputed). Fails on
/// counts whose sum overflows.
pub(super) fn hub_usage(u: &Usage) -> Result<Value, &'static str> {
    let input = u.input_tokens.unwrap_or(0);
    let cache_write = u.cache_write_input_tokens.unwrap_or(0);
    let cache_read = u.cache_read_input_tokens.unwrap_or(0);
    let output = u.output_tokens.unwrap_or(0);
    let overflow = "token counts overflow";
    let prompt = input
        .checked_add(cache_write)
        .and_then(|p| p.checked_add(cache_read))
        .ok_or(overflow)?;
    let total = prompt.checked_add(output).ok_or(overflow)?;
    let mut details = Map::new();
    details.insert("cached_tokens".into(), Value::from(cache_read));
    details.insert("cache_write_tokens".into(), Value::from(cache_write));
    let mut usage = Map::new();
    usage.insert("prompt_tokens".into(), Value::from(prompt));
    usage.insert("completion_tokens".into(), Value::from(output));
    usage.insert("total_tokens".into(), Value::from(total));
    usage.insert("prompt_tokens_details".into(), Value::Object(details));
    Ok(Value::Object(usage))
}
