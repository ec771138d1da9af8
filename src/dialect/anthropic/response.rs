//! An OpenAI `chat.completion` (the hub answer) → an Anthropic message, and
//! the mappings the stream shares: stop reasons, usage, ids.
//!
//! - `reasoning_content` (DeepSeek's convention; `reasoning` from vLLM and
//!   OpenRouter) → a `thinking` block with an empty `signature`.
//! - `content` (or `refusal` when there is no content) → one `text` block;
//!   none when empty (Anthropic may answer `content: []` too).
//! - `tool_calls` → `tool_use` blocks with the call's own `id` (the client
//!   sends it back as `tool_use_id`, the hub needs it as `tool_call_id`).
//!   Arguments that are not a JSON object become `input: {}`: Anthropic
//!   promises an object, and the client's tool then reports the missing
//!   parameters to the model, which can retry.

use std::borrow::Cow;

use serde_json::{json, Value};

use super::to_json;
use crate::adapter::anthropic::wire::{
    AssistantRole, ContentBlock, MessageKind, MessagesResponse, OutputTokensDetails, StopReason,
    TextBlock, ThinkingBlock, ToolUseBlock, Usage,
};

/// Translates a hub `chat.completion` into an Anthropic Messages response.
/// `model` is the model name the client asked for. Never fails: missing
/// fields become empty content, `end_turn` and zero usage.
pub fn response_from_hub(body: &Value, model: &str) -> Value {
    let choice = body.pointer("/choices/0");
    let message = choice
        .and_then(|c| c.get("message"))
        .unwrap_or(&Value::Null);
    let content = content_blocks(message);
    let has_tool_use = content
        .iter()
        .any(|b| matches!(b, ContentBlock::ToolUse(_)));
    let finish = choice
        .and_then(|c| c.get("finish_reason"))
        .and_then(Value::as_str);
    to_json(&MessagesResponse {
        id: Some(message_id(body.get("id")).into()),
        kind: MessageKind::Message,
        role: AssistantRole::Assistant,
        model: Some(model.into()),
        content,
        stop_reason: Some(stop_reason(finish, has_tool_use)),
        stop_sequence: None,
        usage: Some(usage(body.get("usage"))),
    })
}

/// `finish_reason` → `stop_reason`: stop→end_turn, length→max_tokens,
/// tool_calls (and legacy function_call)→tool_use, content_filter→refusal.
/// Some OpenAI-compatible servers answer `stop` (or nothing, or a
/// non-standard value) next to tool calls: when the answer has tool calls,
/// anything but length and content_filter is `tool_use`.
pub(super) fn stop_reason(finish: Option<&str>, has_tool_use: bool) -> StopReason {
    match finish {
        Some("length") => StopReason::MaxTokens,
        Some("content_filter") => StopReason::Refusal,
        Some("tool_calls" | "function_call") => StopReason::ToolUse,
        _ if has_tool_use => StopReason::ToolUse,
        _ => StopReason::EndTurn,
    }
}

/// A `msg_…` id: the hub id when it already is one, else the hub id with
/// the prefix, else a fresh one.
pub(super) fn message_id(id: Option<&Value>) -> String {
    match id.and_then(Value::as_str) {
        Some(id) if id.starts_with("msg_") => id.to_string(),
        Some(id) if !id.is_empty() => format!("msg_{id}"),
        _ => format!("msg_{}", random_hex()),
    }
}

/// A `toolu_…` id for a tool call that came without one.
pub(super) fn tool_use_id() -> String {
    format!("toolu_{}", random_hex())
}

fn random_hex() -> String {
    format!("{:024x}", rand::random::<u128>() >> 32)
}

/// Hub `usage` → Anthropic usage. `input_tokens` counts only uncached input:
/// `prompt_tokens − cached_tokens − cache_write_tokens`; cached tokens are
/// `prompt_tokens_details.cached_tokens` (or DeepSeek's
/// `prompt_cache_hit_tokens`). Missing usage is all zeros.
pub(super) fn usage(usage: Option<&Value>) -> Usage {
    let usage = usage.unwrap_or(&Value::Null);
    let count = |pointer: &str| usage.pointer(pointer).and_then(Value::as_u64);
    let prompt = count("/prompt_tokens").unwrap_or(0);
    let cache_read = count("/prompt_tokens_details/cached_tokens")
        .or_else(|| count("/prompt_cache_hit_tokens"))
        .unwrap_or(0);
    let cache_write = count("/prompt_tokens_details/cache_write_tokens").unwrap_or(0);
    let thinking = count("/completion_tokens_details/reasoning_tokens").filter(|t| *t > 0);
    Usage {
        input_tokens: Some(
            prompt
                .saturating_sub(cache_read)
                .saturating_sub(cache_write),
        ),
        output_tokens: Some(count("/completion_tokens").unwrap_or(0)),
        cache_creation_input_tokens: Some(cache_write),
        cache_read_input_tokens: Some(cache_read),
        output_tokens_details: thinking.map(|t| OutputTokensDetails {
            thinking_tokens: Some(t),
        }),
    }
}

/// The reasoning text of a message or delta, if any.
pub(super) fn reasoning_text(message: &Value) -> Option<&str> {
    ["reasoning_content", "reasoning"]
        .iter()
        .find_map(|field| message.get(*field).and_then(Value::as_str))
        .filter(|text| !text.is_empty())
}

fn content_blocks(message: &Value) -> Vec<ContentBlock<'_>> {
    let mut blocks = Vec::new();
    if let Some(thinking) = reasoning_text(message) {
        blocks.push(ContentBlock::Thinking(ThinkingBlock {
            thinking: thinking.into(),
            signature: Cow::Borrowed(""),
        }));
    }
    let text = message_text(message);
    if !text.is_empty() {
        blocks.push(ContentBlock::Text(TextBlock {
            text: text.into(),
            cache_control: None,
        }));
    }
    let calls = message.get("tool_calls").and_then(Value::as_array);
    blocks.extend(calls.into_iter().flatten().map(tool_use_block));
    blocks
}

/// `content` as a string or text/refusal parts, else `refusal`.
fn message_text(message: &Value) -> String {
    let text = match message.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").or_else(|| p.get("refusal")))
            .filter_map(Value::as_str)
            .collect(),
        _ => String::new(),
    };
    if !text.is_empty() {
        return text;
    }
    let refusal = message.get("refusal").and_then(Value::as_str);
    refusal.unwrap_or_default().to_string()
}

fn tool_use_block(call: &Value) -> ContentBlock<'_> {
    let function = call.get("function").unwrap_or(&Value::Null);
    let id = match call.get("id").and_then(Value::as_str) {
        Some(id) if !id.is_empty() => Cow::Borrowed(id),
        _ => Cow::Owned(tool_use_id()),
    };
    let name = function
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    ContentBlock::ToolUse(ToolUseBlock {
        id,
        name: name.into(),
        input: tool_input(function.get("arguments")),
        cache_control: None,
    })
}

/// Tool-call `arguments` (a JSON string; some servers send the object) →
/// `input`; anything that is not a JSON object becomes `{}`.
fn tool_input(arguments: Option<&Value>) -> Cow<'_, Value> {
    match arguments {
        Some(Value::String(text)) => match serde_json::from_str(text) {
            Ok(object @ Value::Object(_)) => Cow::Owned(object),
            _ => Cow::Owned(json!({})),
        },
        Some(object @ Value::Object(_)) => Cow::Borrowed(object),
        _ => Cow::Owned(json!({})),
    }
}
