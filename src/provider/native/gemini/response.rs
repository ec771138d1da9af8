//! `transform_response`: a generateContent answer -> an OpenAI chat
//! completion, or a batchEmbedContents answer -> an OpenAI embeddings list.

use rhai::Map;
use serde_json::{json, Value};

use super::answer::{candidate_parts, ctx_is, ctx_value, finish_reason, openai_usage};
use super::answer::{response_id, EMPTY_ARRAY, EMPTY_MAP};
use super::value::{fail, J};
use crate::provider::engine::unix_time;
use crate::provider::native::NativeError;

/// `transform_response(body, ctx)`.
pub(super) fn transform_response(body: Value, ctx: &Map) -> Result<Value, NativeError> {
    let body = J::from_value(&body);
    if ctx_is(ctx, "endpoint", "embeddings") {
        return embeddings_response(&body, ctx);
    }
    let candidates = body.prop("candidates")?.or(&EMPTY_ARRAY);
    let mut choices = Vec::new();
    if candidates.len()? == 0 {
        if body
            .prop("promptFeedback")?
            .or(&EMPTY_MAP)
            .prop("blockReason")?
            .is_null()
        {
            return Err(fail("Gemini's answer has no candidates"));
        }
        // The prompt itself was blocked.
        choices.push(json!({
            "index": 0,
            "message": {"role": "assistant", "content": "", "refusal": null},
            "logprobs": null,
            "finish_reason": "content_filter",
        }));
    }
    for (i, candidate) in candidates.items()?.iter().enumerate() {
        choices.push(openai_choice(candidate, i as i64)?);
    }
    let id = response_id(&body)?;
    let created = unix_time();
    let model = match body.get("modelVersion") {
        J::Null => ctx_value(ctx, "model")?,
        model => model.to_value(),
    };
    let mut out = json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": choices,
    });
    let usage = body.get("usageMetadata");
    if let (J::Obj(_), Value::Object(map)) = (usage, &mut out) {
        map.insert("usage".into(), openai_usage(usage)?);
    }
    Ok(out)
}

/// One candidate -> one OpenAI choice.
fn openai_choice(candidate: &J, i: i64) -> Result<Value, NativeError> {
    let parts = candidate_parts(candidate)?;
    let has_calls = !parts.calls.is_empty();
    // Only tool calls: content is null, as OpenAI sends it; nothing at all: "".
    let content = match parts.text {
        Some(text) => Value::String(text),
        None if has_calls => Value::Null,
        None => Value::from(""),
    };
    let mut message = serde_json::Map::new();
    message.insert("role".into(), Value::from("assistant"));
    message.insert("content".into(), content);
    message.insert("refusal".into(), Value::Null);
    if has_calls {
        let calls = parts.calls.into_iter().map(Value::Object).collect();
        message.insert("tool_calls".into(), Value::Array(calls));
    }
    if let Some(reasoning) = parts.reasoning {
        message.insert("reasoning_content".into(), Value::String(reasoning));
    }
    let index = match candidate.get("index") {
        J::Null => Value::from(i),
        index => index.to_value(),
    };
    let finish = finish_reason(candidate.get("finishReason"), has_calls)?;
    Ok(json!({
        "index": index,
        "message": Value::Object(message),
        "logprobs": null,
        "finish_reason": finish,
    }))
}

/// batchEmbedContents (or embedContent) answer -> OpenAI list.
fn embeddings_response(body: &J, ctx: &Map) -> Result<Value, NativeError> {
    let single;
    let mut list = body.prop("embeddings")?;
    if list.is_null() {
        let embedding = body.prop("embedding")?;
        if !embedding.is_null() {
            single = J::Arr(vec![embedding.clone()]);
            list = &single;
        }
    }
    let J::Arr(items) = list else {
        return Err(fail("Gemini's answer has no embeddings"));
    };
    let base64 = ctx_is(ctx, "encoding_format", "base64");
    let mut data = Vec::with_capacity(items.len());
    for (i, e) in items.iter().enumerate() {
        let values = e.prop("values")?.or(&EMPTY_ARRAY);
        let embedding = if base64 {
            Value::String(f32_base64(values)?)
        } else {
            values.to_value()
        };
        data.push(json!({"object": "embedding", "index": i as i64, "embedding": embedding}));
    }
    let tokens = body
        .prop("usageMetadata")?
        .or(&EMPTY_MAP)
        .prop("promptTokenCount")?;
    let tokens = match tokens {
        J::Null => Value::from(0),
        t => t.to_value(),
    };
    Ok(json!({
        "object": "list",
        "data": data,
        "model": ctx_value(ctx, "model")?,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }))
}

/// The engine's `f32_base64`: little-endian f32s, base64.
fn f32_base64(values: &J) -> Result<String, NativeError> {
    let J::Arr(items) = values else {
        return Err(fail(format!(
            "Function not found: f32_base64 ({})",
            values.type_name()
        )));
    };
    let mut bytes = Vec::with_capacity(items.len() * 4);
    for (i, v) in items.iter().enumerate() {
        let x = match v {
            J::Float(f) => *f,
            J::Int(n) => *n as f64,
            _ => return Err(fail(format!("f32_base64: item {i} is not a number"))),
        };
        bytes.extend_from_slice(&(x as f32).to_le_bytes());
    }
    use base64::Engine as _;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}
