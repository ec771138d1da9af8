//! `transform_response`: an Anthropic Messages response -> an OpenAI chat
//! completion, and the usage and finish-reason mappings the stream shares.

use rhai::Map;
use serde_json::{json, Map as JsonMap, Value};

use super::rhai_value::{
    add, chatcmpl_id, ctx_value, display, empty_map, items, norm, or, prop, unix_time,
};
use super::NativeError;

/// `transform_response(body, ctx)`.
pub(super) fn transform_response(body: Value, ctx: &Map) -> Result<Value, NativeError> {
    let mut text: Option<String> = None;
    let mut reasoning: Option<String> = None;
    let mut calls = Vec::new();
    for block in items(or(prop(&body, "content")?, &Value::Null))? {
        match prop(block, "type")?.as_str() {
            Some("text") => append(&mut text, prop(block, "text")?)?,
            Some("thinking") => append(&mut reasoning, prop(block, "thinking")?)?,
            Some("tool_use") => calls.push(openai_tool_call(block)?),
            // redacted_thinking and server-tool blocks have no OpenAI form.
            _ => {}
        }
    }
    let mut message = JsonMap::new();
    message.insert("role".into(), Value::from("assistant"));
    message.insert("content".into(), text.map_or(Value::Null, Value::String));
    message.insert("refusal".into(), Value::Null);
    if !calls.is_empty() {
        message.insert("tool_calls".into(), Value::Array(calls));
    }
    if let Some(reasoning) = reasoning {
        message.insert("reasoning_content".into(), Value::String(reasoning)); // DeepSeek's convention
    }
    let id = match prop(&body, "id")? {
        Value::Null => Value::String(chatcmpl_id()),
        id => norm(id),
    };
    let model = match prop(&body, "model")? {
        Value::Null => ctx_value(ctx, "model")?,
        model => norm(model),
    };
    let finish = finish_reason(prop(&body, "stop_reason")?);
    let mut out = JsonMap::new();
    out.insert("id".into(), id);
    out.insert("object".into(), Value::from("chat.completion"));
    out.insert("created".into(), Value::from(unix_time()));
    out.insert("model".into(), model);
    out.insert(
        "choices".into(),
        json!([{ "index": 0, "message": message, "logprobs": null, "finish_reason": finish }]),
    );
    let usage = prop(&body, "usage")?;
    if usage.is_object() {
        out.insert("usage".into(), openai_usage(usage)?);
    }
    Ok(Value::Object(out))
}

/// `text = (text ?? "") + piece`.
fn append(text: &mut Option<String>, piece: &Value) -> Result<(), NativeError> {
    let text = text.get_or_insert_with(String::new);
    match piece {
        Value::String(s) => text.push_str(s),
        other => text.push_str(&display(other)?),
    }
    Ok(())
}

/// A tool_use block -> an OpenAI tool call (`arguments` is a JSON string).
fn openai_tool_call(block: &Value) -> Result<Value, NativeError> {
    let input = or(prop(block, "input")?, empty_map());
    Ok(json!({
        "id": norm(prop(block, "id")?),
        "type": "function",
        "function": { "name": norm(prop(block, "name")?), "arguments": norm(input).to_string() },
    }))
}

/// Anthropic stop_reason -> OpenAI finish_reason.
pub(super) fn finish_reason(stop_reason: &Value) -> &'static str {
    match stop_reason.as_str() {
        Some("max_tokens" | "model_context_window_exceeded") => "length",
        Some("tool_use") => "tool_calls",
        Some("refusal") => "content_filter",
        // end_turn, stop_sequence, pause_turn (server tools only), null.
        _ => "stop",
    }
}

/// Anthropic usage -> OpenAI usage. `input_tokens` excludes cached input, so
/// the prompt is input + cache writes + cache reads.
pub(super) fn openai_usage(u: &Value) -> Result<Value, NativeError> {
    let zero = Value::from(0);
    let input = or(prop(u, "input_tokens")?, &zero);
    let cache_write = norm(or(prop(u, "cache_creation_input_tokens")?, &zero));
    let cache_read = norm(or(prop(u, "cache_read_input_tokens")?, &zero));
    let output = norm(or(prop(u, "output_tokens")?, &zero));
    let prompt = add(&add(input, &cache_write)?, &cache_read)?;
    let total = add(&prompt, &output)?;
    let mut usage = JsonMap::new();
    usage.insert("prompt_tokens".into(), prompt);
    usage.insert("completion_tokens".into(), output);
    usage.insert("total_tokens".into(), total);
    usage.insert(
        "prompt_tokens_details".into(),
        json!({ "cached_tokens": cache_read, "cache_write_tokens": cache_write }),
    );
    let details = prop(u, "output_tokens_details")?;
    if details.is_object() {
        let thinking = prop(details, "thinking_tokens")?;
        if !thinking.is_null() {
            usage.insert(
                "completion_tokens_details".into(),
                json!({ "reasoning_tokens": norm(thinking) }),
            );
        }
    }
    Ok(Value::Object(usage))
}
