//! The Anthropic Messages dialect (wire-formats §2, §3 reversed): Anthropic
//! clients in, the OpenAI hub format inside.
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

use serde_json::{json, Value};

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
    json!({
        "type": "error",
        "error": { "type": error_type(err.status()), "message": err.to_string() },
    })
}

/// Appends one event as `event: <name>\ndata: <json>\n\n`: Anthropic's SDKs
/// dispatch on the `event:` line and ignore frames without one.
pub fn write_event(out: &mut Vec<u8>, name: &str, data: &Value) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    // Compact JSON never contains a newline, so one `data:` line suffices.
    out.extend_from_slice(data.to_string().as_bytes());
    out.extend_from_slice(b"\n\n");
}

/// A 400 whose message starts with the offending field, as Anthropic writes
/// them (`messages.0.role: Input should be 'user' or 'assistant'`).
fn invalid(param: &str, message: impl std::fmt::Display) -> GatewayError {
    GatewayError::BadRequest {
        message: format!("{param}: {message}"),
        param: Some(param.to_string()),
    }
}

#[cfg(test)]
#[path = "anthropic_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "anthropic_content_tests.rs"]
mod content_tests;

#[cfg(test)]
#[path = "anthropic_response_tests.rs"]
mod response_tests;

#[cfg(test)]
#[path = "anthropic_stream_tests.rs"]
mod stream_tests;
