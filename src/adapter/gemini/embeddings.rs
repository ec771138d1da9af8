//! Embeddings: an OpenAI embeddings request -> `batchEmbedContents` (one
//! request per input, in order; Gemini takes at most 100 and answers 400
//! beyond), and its answer -> an OpenAI list. `encoding_format: "base64"`
//! packs the floats as little-endian f32s; the answer does not tell the
//! format, so it is read from `ctx.encoding_format`. Gemini reports no
//! embeddings usage: it is 0 unless the answer carries usageMetadata.

use std::borrow::Cow;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};

use super::hub::{get, opt_i64, opt_str, shown};
use super::wire::{
    BatchEmbedContentsRequest, Content, ContentEmbedding, EmbedContentRequest, Part,
};
use super::{failed, model_id, Ctx};
use crate::adapter::AdapterError;

/// The `batchEmbedContents` body. Refuses (400) token-id inputs, an empty
/// input list and encoding formats other than float and base64.
pub(super) fn request(body: &Value, ctx: &Ctx) -> Result<Value, AdapterError> {
    let format = get(body, "encoding_format");
    if !format.is_null() && !matches!(format.as_str(), Some("float" | "base64")) {
        return Err(AdapterError::rejected(format!(
            "encoding_format must be 'float' or 'base64', not '{}'",
            shown(format)
        )));
    }
    let model = format!("models/{}", model_id(&ctx.model)?);
    let dimensions = opt_i64(get(body, "dimensions"), "dimensions")?;
    let task_type = opt_str(
        ctx.options.get("task_type").unwrap_or(&Value::Null),
        "options.task_type",
    )
    .map_err(|e| failed("request", e.to_string()))?;
    let requests = inputs(get(body, "input"))?
        .into_iter()
        .map(|text| EmbedContentRequest {
            model: Cow::Borrowed(&model),
            content: Content {
                role: None,
                parts: vec![Part {
                    text: Some(Cow::Borrowed(text)),
                    ..Part::default()
                }],
            },
            task_type: task_type.map(Cow::Borrowed),
            output_dimensionality: dimensions,
        })
        .collect();
    serde_json::to_value(BatchEmbedContentsRequest { requests })
        .map_err(|e| failed("request", e.to_string()))
}

/// `input` as a list of texts; token ids have no Gemini equivalent.
fn inputs(input: &Value) -> Result<Vec<&str>, AdapterError> {
    let items = match input {
        Value::String(text) => return Ok(vec![text]),
        Value::Array(items) if !items.is_empty() => items,
        _ => {
            return Err(AdapterError::rejected(
                "input must be a string or a non-empty array of strings",
            ))
        }
    };
    items
        .iter()
        .map(|item| {
            item.as_str().ok_or_else(|| {
                AdapterError::rejected("Gemini embeds text only: token-id inputs are not supported")
            })
        })
        .collect()
}

/// A `batchEmbedContents` (or `embedContent`) answer -> an OpenAI list, in
/// request order. Float vectors are moved, not copied. Fails without
/// embeddings or with values that are not numbers.
pub(super) fn response(body: Value, ctx: &Ctx) -> Result<Value, AdapterError> {
    let Value::Object(mut body) = body else {
        return Err(failed("response", "Gemini's answer is not an object"));
    };
    let list = match (body.remove("embeddings"), body.remove("embedding")) {
        (Some(Value::Array(list)), _) => list,
        (None | Some(Value::Null), Some(one)) if !one.is_null() => vec![one],
        _ => return Err(failed("response", "Gemini's answer has no embeddings")),
    };
    let tokens = prompt_tokens(&body)?;
    let base64 = ctx.encoding_format.as_deref() == Some("base64");
    let data = list
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let embedding = if base64 {
                Value::String(f32_base64(&e, i)?)
            } else {
                float_values(e, i)?
            };
            Ok(json!({"object": "embedding", "index": i, "embedding": embedding}))
        })
        .collect::<Result<Vec<_>, AdapterError>>()?;
    Ok(json!({
        "object": "list",
        "data": data,
        "model": ctx.model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }))
}

/// `usageMetadata.promptTokenCount`, 0 when absent.
fn prompt_tokens(body: &serde_json::Map<String, Value>) -> Result<u64, AdapterError> {
    let usage = body.get("usageMetadata").unwrap_or(&Value::Null);
    match get(usage, "promptTokenCount") {
        Value::Null => Ok(0),
        count => count
            .as_u64()
            .ok_or_else(|| failed("response", "usageMetadata.promptTokenCount is not a count")),
    }
}

/// Embedding `i`'s `values`, moved out of the answer.
fn float_values(mut embedding: Value, i: usize) -> Result<Value, AdapterError> {
    let not_numbers = || {
        failed(
            "response",
            format!("embedding {i} has values that are not numbers"),
        )
    };
    let Value::Object(map) = &mut embedding else {
        return Err(failed(
            "response",
            format!("embedding {i} is not an object"),
        ));
    };
    match map.remove("values") {
        None | Some(Value::Null) => Ok(Value::Array(Vec::new())),
        Some(Value::Array(values)) if values.iter().all(Value::is_number) => {
            Ok(Value::Array(values))
        }
        Some(_) => Err(not_numbers()),
    }
}

/// Embedding `i`'s values as little-endian f32s, base64-encoded.
fn f32_base64(embedding: &Value, i: usize) -> Result<String, AdapterError> {
    if !embedding.is_object() {
        return Err(failed(
            "response",
            format!("embedding {i} is not an object"),
        ));
    }
    let embedding = ContentEmbedding::deserialize(embedding)
        .map_err(|e| failed("response", format!("embedding {i}: {e}")))?;
    let mut bytes = Vec::with_capacity(embedding.values.len() * 4);
    for x in embedding.values {
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}
