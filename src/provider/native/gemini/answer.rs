//! What the script's response and stream hooks share: reading a
//! candidate's parts, tool-call ids, finish reasons and usage
//! (`read_parts`, `openai_call_id`, `finish_reason`, `openai_usage`,
//! `response_id` in the script).

use rhai::{Dynamic, Map};
use serde_json::{json, Value};

use super::value::{add, fail, J};
use crate::provider::engine::random_id;
use crate::provider::native::NativeError;

/// `[]`, for `?? []`.
pub(super) static EMPTY_ARRAY: J<'static> = J::Arr(Vec::new());
/// `#{}`, for `?? #{}`.
pub(super) static EMPTY_MAP: J<'static> = J::Obj(Vec::new());

/// A candidate's parts: `#{ text, reasoning, calls }`.
pub(super) struct Parts {
    pub(super) text: Option<String>,
    pub(super) reasoning: Option<String>,
    /// OpenAI tool calls, in order.
    pub(super) calls: Vec<serde_json::Map<String, Value>>,
}

/// `read_parts((candidate.content ?? #{}).parts ?? [])`.
pub(super) fn candidate_parts(candidate: &J) -> Result<Parts, NativeError> {
    let content = candidate.prop("content")?.or(&EMPTY_MAP);
    read_parts(content.prop("parts")?.or(&EMPTY_ARRAY))
}

/// Gemini parts -> text, thought text and tool calls; other parts dropped.
pub(super) fn read_parts(parts: &J) -> Result<Parts, NativeError> {
    let mut out = Parts {
        text: None,
        reasoning: None,
        calls: Vec::new(),
    };
    for part in parts.items()? {
        let call = part.prop("functionCall")?;
        if let J::Obj(_) = call {
            out.calls.push(openai_tool_call(part, call)?);
        } else if let J::Str(text) = part.prop("text")? {
            let into = if matches!(part.prop("thought")?, J::Bool(true)) {
                &mut out.reasoning
            } else {
                &mut out.text
            };
            into.get_or_insert_with(String::new).push_str(text);
        }
    }
    Ok(out)
}

/// A functionCall part -> an OpenAI tool call (`arguments` a JSON string).
fn openai_tool_call(part: &J, call: &J) -> Result<serde_json::Map<String, Value>, NativeError> {
    let id = openai_call_id(part, call)?;
    let arguments = call.get("args").or(&EMPTY_MAP).to_value().to_string();
    let mut out = serde_json::Map::new();
    out.insert("id".into(), Value::String(id));
    out.insert("type".into(), Value::String("function".into()));
    out.insert(
        "function".into(),
        json!({"name": call.get("name").to_value(), "arguments": arguments}),
    );
    Ok(out)
}

/// Gemini's call id or a minted `call_<hex>`, plus `.ts.<signature>`.
fn openai_call_id(part: &J, call: &J) -> Result<String, NativeError> {
    let mut id = match call.get("id") {
        J::Str(id) if !id.is_empty() => id.to_string(),
        _ => {
            let mut minted = String::from("call_");
            minted.push_str(&random_id());
            minted
        }
    };
    if let J::Str(signature) = part.prop("thoughtSignature")? {
        if !signature.is_empty() {
            id.push_str(".ts.");
            id.push_str(signature);
        }
    }
    Ok(id)
}

/// `chatcmpl-<responseId>`, or a random id when Gemini sent none.
pub(super) fn response_id(body: &J) -> Result<String, NativeError> {
    let mut out = String::from("chatcmpl-");
    match body.prop("responseId")? {
        J::Str(id) if !id.is_empty() => out.push_str(id),
        _ => out.push_str(&random_id()),
    }
    Ok(out)
}

/// Gemini finishReason -> OpenAI finish_reason.
pub(super) fn finish_reason(reason: &J, has_calls: bool) -> Result<&'static str, NativeError> {
    let reason = match reason {
        J::Null => "STOP",
        J::Str(s) => s.as_ref(),
        other => {
            return Err(fail(format!(
                "Function not found: starts_with ({}, string)",
                other.type_name()
            )))
        }
    };
    Ok(match reason {
        "STOP" if has_calls => "tool_calls",
        "STOP" => "stop",
        r if r.starts_with("IMAGE_") => "content_filter",
        "MAX_TOKENS" => "length",
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" => "content_filter",
        _ => "stop",
    })
}

/// The usageMetadata fields [`openai_usage`] reads.
pub(super) const USAGE_FIELDS: [&str; 6] = [
    "promptTokenCount",
    "toolUsePromptTokenCount",
    "thoughtsTokenCount",
    "candidatesTokenCount",
    "totalTokenCount",
    "cachedContentTokenCount",
];

/// Gemini usageMetadata (a map) -> OpenAI usage, with the script's
/// arithmetic on whatever the fields hold.
pub(super) fn openai_usage(u: &J) -> Result<Value, NativeError> {
    let zero = J::Int(0);
    let count = |name: &str| u.get(name).or(&zero);
    let prompt = add(count("promptTokenCount"), count("toolUsePromptTokenCount"))?;
    let thoughts = count("thoughtsTokenCount");
    let completion = add(count("candidatesTokenCount"), thoughts)?;
    let total = match u.get("totalTokenCount") {
        J::Null => add(&prompt, &completion)?.to_value(),
        total => total.to_value(),
    };
    Ok(json!({
        "prompt_tokens": prompt.to_value(),
        "completion_tokens": completion.to_value(),
        "total_tokens": total,
        "prompt_tokens_details": {"cached_tokens": count("cachedContentTokenCount").to_value()},
        "completion_tokens_details": {"reasoning_tokens": thoughts.to_value()},
    }))
}

/// `ctx.<name> == text`.
pub(super) fn ctx_is(ctx: &Map, name: &str, text: &str) -> bool {
    ctx.get(name)
        .and_then(|v| {
            v.read_lock::<rhai::ImmutableString>()
                .map(|s| s.as_str() == text)
        })
        .unwrap_or(false)
}

/// `ctx.<name>` as the JSON it becomes in an output.
pub(super) fn ctx_value(ctx: &Map, name: &str) -> Result<Value, NativeError> {
    match ctx.get(name) {
        None => Ok(Value::Null),
        Some(v) => to_json(v),
    }
}

/// A Rhai value as JSON, as the gateway converts a script's output.
pub(super) fn to_json(v: &Dynamic) -> Result<Value, NativeError> {
    if let Some(s) = v.read_lock::<rhai::ImmutableString>() {
        return Ok(Value::String(s.to_string()));
    }
    rhai::serde::from_dynamic(v).map_err(|e| fail(e.to_string()))
}
