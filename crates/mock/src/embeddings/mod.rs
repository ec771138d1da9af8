//! OpenAI embeddings (wire-formats §1.5): a deterministic unit vector per
//! input, as floats or as base64 of little-endian `f32`s. Models named
//! `mock-semantic-*` get the bag-of-words embedder of [`semantic`] (256
//! dimensions, or the request's `dimensions`), on which paraphrases land
//! near each other; any other model gets an 8-dimension hash of the input.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::call::Call;
use super::dialect::{openai_error, Dialect};
use super::reply::prompt_tokens;
use super::state::Shared;

mod semantic;

/// Dimensions of the hash embedding (every model but `mock-semantic-*`).
pub(crate) const DIMENSIONS: usize = 8;

/// `POST /v1/embeddings`.
pub(crate) async fn create(
    State(shared): State<Arc<Shared>>,
    request: Request,
) -> Result<Response, Response> {
    let mut call = Call::begin(&shared, request, Dialect::OpenAi).await?;
    let body: Value = serde_json::from_slice(&call.req().body)
        .map_err(|_| bad_request("We could not parse the JSON body of your request.", None))?;
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .ok_or_else(|| bad_request("you must provide a model parameter", None))?;
    let inputs = body
        .get("input")
        .and_then(inputs)
        .ok_or_else(|| bad_request("'$.input' is invalid.", Some("input")))?;
    let base64 = match body.get("encoding_format").and_then(Value::as_str) {
        None | Some("float") => false,
        Some("base64") => true,
        Some(_) => {
            return Err(bad_request(
                "'$.encoding_format' is invalid.",
                Some("encoding_format"),
            ))
        }
    };
    // `Some(dimensions)`: the bag-of-words embedder; `None`: the hash
    let semantic = if semantic::serves(model) {
        let dimensions = semantic_dimensions(&body).ok_or_else(|| {
            let (low, high) = (semantic::DIMENSIONS.start(), semantic::DIMENSIONS.end());
            bad_request(
                &format!("'$.dimensions' must be an integer from {low} to {high}."),
                Some("dimensions"),
            )
        })?;
        Some(dimensions)
    } else {
        None
    };
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, input)| {
            let vector = match semantic {
                Some(dims) => semantic::embed(&String::from_utf8_lossy(&input.key), dims),
                None => embed(&input.key).to_vec(),
            };
            let embedding = if base64 {
                json!(encode_f32s(&vector))
            } else {
                json!(vector)
            };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    let tokens: usize = inputs.iter().map(|input| input.tokens).sum();
    call.count_tokens(tokens);
    let response = json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    });
    Ok(call.json(&response))
}

/// `dimensions` of a `mock-semantic-*` request: absent or null, the
/// default; `None` unless an integer in 16..=4096 (the hash model ignores
/// it, as it always has).
fn semantic_dimensions(body: &Value) -> Option<usize> {
    match body.get("dimensions") {
        None | Some(Value::Null) => Some(semantic::DEFAULT_DIMENSIONS),
        Some(value) => value
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| semantic::DIMENSIONS.contains(n)),
    }
}

fn bad_request(message: &str, param: Option<&str>) -> Response {
    openai_error(
        StatusCode::BAD_REQUEST,
        message,
        "invalid_request_error",
        param,
        None,
    )
}

/// One input: the bytes its vector derives from and its token count.
#[derive(Debug, PartialEq, Eq)]
struct Input {
    key: Vec<u8>,
    tokens: usize,
}

impl Input {
    fn text(s: &str) -> Option<Self> {
        let tokens = prompt_tokens(s.chars().count());
        (!s.is_empty()).then(|| Input {
            key: s.as_bytes().to_vec(),
            tokens,
        })
    }

    fn token_ids(ids: &[Value]) -> Option<Self> {
        let valid = !ids.is_empty() && ids.iter().all(Value::is_u64);
        valid.then(|| Input {
            key: Value::from(ids.to_vec()).to_string().into_bytes(),
            tokens: ids.len(),
        })
    }
}

/// `input` as a string, strings, token ids, or arrays of token ids.
fn inputs(input: &Value) -> Option<Vec<Input>> {
    match input {
        Value::String(s) => Input::text(s).map(|i| vec![i]),
        Value::Array(items) if items.first().is_some_and(Value::is_u64) => {
            Input::token_ids(items).map(|i| vec![i])
        }
        Value::Array(items) if !items.is_empty() => items.iter().map(one_input).collect(),
        _ => None,
    }
}

fn one_input(item: &Value) -> Option<Input> {
    match item {
        Value::String(s) => Input::text(s),
        Value::Array(ids) => Input::token_ids(ids),
        _ => None,
    }
}

/// A unit vector derived from `key` with FNV-1a, one seed per dimension
/// (the Cohere and Ollama mocks embed with it too).
pub(crate) fn embed(key: &[u8]) -> [f32; DIMENSIONS] {
    let mut vector = [0f32; DIMENSIONS];
    for (dim, x) in (0u64..).zip(vector.iter_mut()) {
        let hash = fnv1a(key, dim);
        // In [-1, 1]; the modulo keeps the value exact in f32.
        *x = (hash % 2001) as f32 / 1000.0 - 1.0;
    }
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        vector.iter_mut().for_each(|x| *x /= norm);
    }
    vector
}

fn fnv1a(bytes: &[u8], seed: u64) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325_u64 ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// Base64 of the little-endian bytes of `values` (what the SDKs decode).
fn encode_f32s(values: &[f32]) -> String {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    base64(&bytes)
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests;
