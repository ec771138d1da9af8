//! The OpenAI Responses dialect (`POST /v1/responses`, used by Codex CLI and
//! the Agents SDK): Responses clients in, the OpenAI chat hub format inside.
//! Field names and event shapes follow the official Python SDK's
//! `openai.types.responses`.
//!
//! In the request path:
//! 1. [`parse`] checks a create-response body like OpenAI does and
//!    normalizes its `input` into items with ids (`request.rs`).
//! 2. The caller loads the items of the `previous_response_id` chain (the
//!    gateway keeps the state) and builds the upstream body:
//!    [`ResponsesRequest::to_hub`] for a chat provider (items → messages in
//!    `items.rs`), or [`ResponsesRequest::to_native`] for a provider that
//!    speaks the Responses API itself. Custom (freeform) tools become
//!    function tools taking one string (`custom.rs`).
//! 3. [`response_from_hub`] turns a `chat.completion` into a Response object
//!    (`response.rs`, output items in `output.rs`); a stream goes chunk by
//!    chunk through a [`StreamEncoder`] (`stream.rs`, item events in
//!    `writer.rs`, the chunk fields it reads in `chunk.rs`): the gateway
//!    uses its `_into` methods, which write SSE bytes straight from the
//!    chunk text; `chunk`/`finish`/`error` return the same events as
//!    values, for [`write_event`], tests and fuzzing.
//!    The final Response object is what the caller stores under [`Meta::id`].
//! 4. Failures before the first byte are answered with the gateway's usual
//!    body ([`GatewayError::body`]): Responses API errors have the chat API's
//!    shape, `{"error":{"message","type","param","code"}}`. After the first
//!    byte, [`StreamEncoder::error`] writes `error` and `response.failed`.

mod chunk;
mod custom;
mod items;
mod output;
mod request;
mod response;
mod stream;
mod writer;

use serde_json::Value;

use crate::error::GatewayError;

pub use request::{parse, ResponsesRequest};
pub use response::{new_id, response_from_hub, Meta};
pub use stream::{Event, StreamEncoder};

/// Appends one event as `event: <name>\ndata: <json>\n\n`, the framing
/// OpenAI's Responses streams use (the same as Anthropic's).
pub fn write_event(out: &mut Vec<u8>, name: &str, data: &Value) {
    crate::dialect::anthropic::write_event(out, name, data);
}

/// A 400 naming `param`, with a message in OpenAI's words.
fn invalid(param: impl Into<String>, message: impl Into<String>) -> GatewayError {
    GatewayError::BadRequest {
        message: message.into(),
        param: Some(param.into()),
    }
}

/// `Missing required parameter: 'input[0].content'.`
fn missing(param: &str) -> GatewayError {
    invalid(param, format!("Missing required parameter: '{param}'."))
}

/// `Invalid type for 'model': expected a string, but got an integer instead.`
fn wrong_type(param: &str, expected: &str, got: &Value) -> GatewayError {
    invalid(
        param,
        format!(
            "Invalid type for '{param}': expected {expected}, but got {} instead.",
            json_type(got)
        ),
    )
}

/// `Invalid value: 'tool'. Supported values are: 'assistant', 'system', 'developer', and 'user'.`
fn wrong_value(param: &str, got: &str, supported: &[&str]) -> GatewayError {
    let quoted: Vec<String> = supported.iter().map(|s| format!("'{s}'")).collect();
    let list = match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{}, and {last}", rest.join(", ")),
        _ => quoted.join(""),
    };
    invalid(
        param,
        format!("Invalid value: '{got}'. Supported values are: {list}."),
    )
}

/// A JSON value's type as OpenAI's messages name it.
fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a decimal",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A field that is present and not `null`.
fn field<'a>(object: &'a Value, name: &str) -> Option<&'a Value> {
    object.get(name).filter(|v| !v.is_null())
}

#[cfg(test)]
mod tests;
