//! A Messages response → a hub `chat.completion`, and what the stream
//! shares: stop reason → finish reason, usage, ids and times.
//!
//! Text blocks are concatenated into `content` (`null` when there is
//! none), thinking blocks into `reasoning_content` (DeepSeek's
//! convention), tool_use blocks become `tool_calls` with `arguments` the
//! JSON text of `input`. Redacted thinking and server-tool blocks have no
//! hub form and are dropped.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::wire::{ContentBlock, MessagesResponse, StopReason, ToolUseBlock, Usage};
use crate::adapter::hub::message_choice;
pub(crate) use crate::adapter::hub::{chatcmpl_id, unix_time};
use crate::adapter::{AdapterError, Ctx};

/// A failure of the response or stream hook: the provider's answer is not
/// what its API documents.
pub(super) fn failed(hook: &'static str, message: impl std::fmt::Display) -> AdapterError {
    AdapterError::failed("anthropic", hook, message.to_string())
}

/// The hub answer for Messages response `body`.
pub(super) fn response(body: Value, ctx: &Ctx) -> Result<Value, AdapterError> {
    if !body.is_object() {
        return Err(failed("response", "the answer is not a JSON object"));
    }
    let answer = MessagesResponse::deserialize(body).map_err(|e| failed("response", e))?;
    let mut text: Option<String> = None;
    let mut reasoning: Option<String> = None;
    let mut calls = Vec::new();
    for block in answer.content {
        match block {
            ContentBlock::Text(block) => append(&mut text, block.text),
            ContentBlock::Thinking(block) => append(&mut reasoning, block.thinking),
            ContentBlock::ToolUse(block) => calls.push(tool_call(block)),
            _ => {}
        }
    }
    let choice = message_choice(text, reasoning, calls, finish_reason(answer.stop_reason));
    let mut out = Map::new();
    let id = answer.id.map_or_else(chatcmpl_id, Cow::into_owned);
    out.insert("id".into(), Value::String(id));
    out.insert("object".into(), Value::from("chat.completion"));
    out.insert("created".into(), Value::from(unix_time()));
    let model = answer
        .model
        .map_or_else(|| ctx.model.clone(), Cow::into_owned);
    out.insert("model".into(), Value::String(model));
    out.insert("choices".into(), Value::Array(vec![choice]));
    if let Some(usage) = answer.usage {
        out.insert(
            "usage".into(),
            hub_usage(&usage).map_err(|e| failed("response", e))?,
        );
    }
    Ok(Value::Object(out))
}

/// `text = (text ?? "") + piece`, without a copy for the first piece.
fn append(text: &mut Option<String>, piece: Cow<str>) {
    match text {
        Some(text) => text.push_str(&piece),
        None => *text = Some(piece.into_owned()),
    }
}

/// A tool_use block → a hub tool call (`arguments` is a JSON string; no
/// input is `{}`).
fn tool_call(block: ToolUseBlock) -> Value {
    let arguments = match &*block.input {
        Value::Null => "{}".to_string(),
        input => input.to_string(),
    };
    let mut function = Map::new();
    function.insert("name".into(), Value::String(block.name.into_owned()));
    function.insert("arguments".into(), Value::String(arguments));
    let mut call = Map::new();
    call.insert("id".into(), Value::String(block.id.into_owned()));
    call.insert("type".into(), Value::from("function"));
    call.insert("function".into(), Value::Object(function));
    Value::Object(call)
}

/// Anthropic `stop_reason` → hub `finish_reason`.
pub(super) fn finish_reason(stop_reason: Option<StopReason>) -> &'static str {
    match stop_reason {
        Some(StopReason::MaxTokens | StopReason::ModelContextWindowExceeded) => "length",
        Some(StopReason::ToolUse) => "tool_calls",
        Some(StopReason::Refusal) => "content_filter",
        // end_turn, stop_sequence, pause_turn (server tools only), none.
        Some(
            StopReason::EndTurn
            | StopReason::StopSequence
            | StopReason::PauseTurn
            | StopReason::Unknown,
        )
        | None => "stop",
    }
}

/// Anthropic usage → hub usage: the prompt is input + cache writes + cache
/// reads; thinking tokens are reasoning tokens. Fails on counts whose sum
/// overflows.
pub(super) fn hub_usage(u: &Usage) -> Result<Value, &'static str> {
    let input = u.input_tokens.unwrap_or(0);
    let cache_write = u.cache_creation_input_tokens.unwrap_or(0);
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
    let thinking = u.output_tokens_details.and_then(|d| d.thinking_tokens);
    if let Some(thinking) = thinking {
        let mut details = Map::new();
        details.insert("reasoning_tokens".into(), Value::from(thinking));
        usage.insert("completion_tokens_details".into(), Value::Object(details));
    }
    Ok(Value::Object(usage))
}
