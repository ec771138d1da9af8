//! The Anthropic Messages dialect (wire-formats §2, §3 reversed): Anthropic
//! clients in, the OpenAI hub format inside. Requests are read and answers
//! written with the built-in adapter's wire types
//! ([`crate::adapter::anthropic::wire`]).
//!
//! In the request path:
//! 1. [`request_to_hub`] validates a Messages request like Anthropic does and
//!    turns it into an OpenAI chat request (`request.rs`, `content.rs`);
//!    [`count_tokens`] answers `count_tokens` locally (`tokens.rs`).
//! 2. The hub request is routed and sent through the provider's adapter.
//! 3. [`response_from_hub`] turns a `chat.completion` into a Messages
//!    response (`response.rs`); a stream goes chunk by chunk through a
//!    [`StreamEncoder`] (`stream.rs`) and [`write_event`].
//! 4. Failures are answered with [`error_body`] (before the first byte) or
//!    [`StreamEncoder::error`] (in-band, after it).

mod content;
mod request;
mod response;
mod stream;
mod tokens;

use serde::Serialize;
use serde_json::Value;
use serde_path_to_error::Segment;

use crate::adapter::anthropic::wire::{ErrorDetail, ErrorKind, ErrorResponse};
use crate::error::GatewayError;

pub use content::strip_extensions;
pub use request::request_to_hub;
pub use response::response_from_hub;
pub use stream::{Event, StreamEncoder};
pub use tokens::count_tokens;

/// The Anthropic error `type` for an HTTP status (wire-formats §2.4); other
/// 4xx are `invalid_request_error`, other 5xx `api_error`.
pub fn error_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        409 => "conflict_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        504 => "timeout_error",
        529 => "overloaded_error",
        400..=499 => "invalid_request_error",
        _ => "api_error",
    }
}

/// A gateway error as an Anthropic error body,
/// `{"type":"error","error":{"type","message"}}`, typed by the status the
/// error is answered with (`err.status()`).
pub fn error_body(err: &GatewayError) -> Value {
    to_json(&ErrorResponse {
        kind: ErrorKind::Error,
        error: ErrorDetail {
            kind: Some(error_type(err.status()).into()),
            message: Some(err.to_string().into()),
        },
    })
}

/// Appends one event as `event: <name>\ndata: <json>\n\n`: Anthropic's SDKs
/// dispatch on the `event:` line and ignore frames without one.
pub fn write_event(out: &mut Vec<u8>, name: &str, data: &Value) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    // Compact JSON never contains a newline, so one `data:` line suffices.
    // Written straight into `out`, not through `Display` and a `String`;
    // writing a `Value` into a `Vec` cannot fail.
    let _ = serde_json::to_writer(&mut *out, data);
    out.extend_from_slice(b"\n\n");
}

/// A wire value as JSON. The dialect writes only known variants and string
/// keys, which always serialize.
fn to_json(value: &impl Serialize) -> Value {
    serde_json::to_value(value).unwrap_or_default()
}

/// A 400 whose message starts with the offending field, as Anthropic writes
/// them (`messages.0.role: Input should be 'user' or 'assistant'`).
fn invalid(param: &str, message: impl std::fmt::Display) -> GatewayError {
    GatewayError::BadRequest {
        message: format!("{param}: {message}"),
        param: Some(param.to_string()),
    }
}

/// A request that does not read as the wire types → the 400 Anthropic
/// would answer: the field's dotted path (`messages.0.content.1.source`)
/// and a message in the API's words.
fn from_serde(err: serde_path_to_error::Error<serde_json::Error>) -> GatewayError {
    let mut path: Vec<String> = err
        .path()
        .iter()
        .filter_map(|segment| match segment {
            Segment::Seq { index } => Some(index.to_string()),
            Segment::Map { key } => Some(key.clone()),
            Segment::Enum { variant } => Some(variant.clone()),
            Segment::Unknown => None,
        })
        .collect();
    let mut message = err.inner().to_string();
    // An error inside an object read whole starts with its path there
    // (`source: missing field \`data\``).
    while let Some((inner, rest)) = message.split_once(": ").filter(|(p, _)| is_path(p)) {
        path.extend(
            inner
                .split(['.', '[', ']'])
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        );
        message = rest.to_string();
    }
    let (field, text) = explain(&message, path.last().map(String::as_str));
    path.extend(field);
    invalid(&path.join("."), text)
}

/// `source`, `content[0].text`: a path, not a sentence.
fn is_path(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']'))
}

/// A serde message → (the missing field, if that is the problem; the
/// message in Anthropic's words).
fn explain(message: &str, field: Option<&str>) -> (Option<String>, String) {
    if let Some(missing) = message
        .strip_prefix("missing field `")
        .and_then(|m| m.strip_suffix('`'))
    {
        return (Some(missing.to_string()), "Field required".to_string());
    }
    if field == Some("role") {
        return (None, "Input should be 'user' or 'assistant'".to_string());
    }
    if message.starts_with("invalid length") && message.contains(", expected struct ") {
        return (None, "Input should be a valid dictionary".to_string());
    }
    if let Some((_, expected)) = message
        .strip_prefix("invalid type: ")
        .and_then(|m| m.split_once(", expected "))
    {
        let should = match expected {
            "a string" | "a borrowed string" | "string or map" => "a valid string",
            "u64" | "u32" | "i64" | "an integer" => "a valid integer",
            "f64" | "a JSON number" => "a valid number",
            "a boolean" => "a valid boolean",
            "a sequence" => "a valid list",
            "a map" => "a valid dictionary",
            e if e.starts_with("struct ") => "a valid dictionary",
            other => other,
        };
        return (None, format!("Input should be {should}"));
    }
    if message.starts_with("invalid value: integer `-") {
        let bound = if field == Some("max_tokens") { 1 } else { 0 };
        return (
            None,
            format!("Input should be greater than or equal to {bound}"),
        );
    }
    if let Some((_, expected)) = message
        .strip_prefix("unknown variant `")
        .and_then(|m| m.split_once(", expected "))
    {
        let expected = expected.strip_prefix("one of ").unwrap_or(expected);
        return (
            None,
            format!("Input should be {}", expected.replace('`', "'")),
        );
    }
    (None, message.to_string())
}

#[cfg(test)]
mod tests;
