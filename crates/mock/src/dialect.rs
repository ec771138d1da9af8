//! Provider dialects: how OpenAI (chat and Responses), Anthropic, Cohere
//! (v2) and Ollama check keys, shape error bodies (wire-formats §1.4, §2.4;
//! Cohere's `{"id","message"}`, Ollama's `{"error": "…"}`) and report
//! errors inside a stream.

use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{json, Value};

use super::bedrock::eventstream;
use super::body::{ndjson_line, sse_data, sse_event};
use super::state::RecordedRequest;

/// Which provider's wire format an endpoint speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    OpenAi,
    /// OpenAI's Responses API: OpenAI's keys and error bodies, but typed
    /// stream events (`event: response.output_text.delta`, …) that carry a
    /// `sequence_number`.
    Responses,
    Anthropic,
    /// Cohere's native v2 API (`/v2/chat`, `/v2/embed`).
    Cohere,
    /// Ollama's native API (`/api/chat`, `/api/embed`); streams are NDJSON.
    Ollama,
    /// AWS Bedrock's Converse API: SigV4 or a bearer API key, errors
    /// `{"message"}` with `x-amzn-ErrorType`, binary event streams.
    Bedrock,
}

impl Dialect {
    /// Whether `req` carries `key` the way this provider expects it
    /// (`Authorization: Bearer K` or `x-api-key: K`; a local Ollama takes no
    /// key, but ollama.com and authenticating proxies take a bearer token).
    pub(crate) fn authorized(self, req: &RecordedRequest, key: &str) -> bool {
        match self {
            Dialect::OpenAi | Dialect::Responses | Dialect::Cohere | Dialect::Ollama => {
                let bearer = req
                    .header("authorization")
                    .and_then(|v| v.strip_prefix("Bearer "));
                bearer == Some(key)
            }
            Dialect::Anthropic => req.header("x-api-key") == Some(key),
            Dialect::Bedrock => {
                req.header("authorization")
                    .and_then(|v| v.strip_prefix("Bearer "))
                    == Some(key)
            }
        }
    }

    /// The 401 this provider answers for a missing or wrong key.
    pub(crate) fn unauthorized(self) -> Response {
        match self {
            Dialect::OpenAi | Dialect::Responses => openai_error(
                StatusCode::UNAUTHORIZED,
                "Incorrect API key provided. You can find your API key in the mock's configuration.",
                "invalid_request_error",
                None,
                Some("invalid_api_key"),
            ),
            Dialect::Anthropic => anthropic_error(StatusCode::UNAUTHORIZED, "invalid x-api-key"),
            Dialect::Cohere => cohere_error(StatusCode::UNAUTHORIZED, "invalid api token"),
            Dialect::Ollama => ollama_error(StatusCode::UNAUTHORIZED, "unauthorized"),
            Dialect::Bedrock => bedrock_error(
                StatusCode::FORBIDDEN,
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            ),
        }
    }

    /// The error response for a `Fault::Status` (codes outside 100..=999
    /// become 500), with `retry-after` when given.
    pub(crate) fn status_error(self, code: u16, retry_after: Option<u64>) -> Response {
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = match self {
            Dialect::OpenAi | Dialect::Responses => openai_status_error(status),
            Dialect::Anthropic => anthropic_error(status, anthropic_message(status)),
            Dialect::Cohere => cohere_error(status, cohere_message(status)),
            Dialect::Ollama => ollama_error(status, ollama_message(status)),
            Dialect::Bedrock => bedrock_status_error(status),
        };
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }

    /// A `Fault::EchoKey` error: the credential `req` carried (or
    /// `no-key`) in every string of the error body and in `retry-after`.
    pub(crate) fn echo_key_error(self, code: u16, req: &RecordedRequest) -> Response {
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let key = req
            .header("authorization")
            .map(|v| v.strip_prefix("Bearer ").unwrap_or(v))
            .or_else(|| req.header("x-api-key"))
            .unwrap_or("no-key");
        let echo = format!("key {key} refused");
        let body = match self {
            Dialect::OpenAi | Dialect::Responses => {
                json!({ "error": openai_error_object(&echo, &echo, Some(&echo), Some(&echo)) })
            }
            Dialect::Anthropic => json!({
                "type": echo,
                "error": { "type": echo, "message": echo, "code": echo },
            }),
            Dialect::Cohere => json!({ "id": echo, "message": echo }),
            Dialect::Ollama => json!({ "error": echo }),
            Dialect::Bedrock => json!({ "message": echo }),
        };
        let mut response = json_response(status, &body);
        if let Ok(v) = HeaderValue::from_str(key) {
            response.headers_mut().insert(RETRY_AFTER, v);
        }
        response
    }

    /// The provider's error for a prompt longer than the context window.
    pub(crate) fn context_overflow(self) -> Response {
        match self {
            Dialect::OpenAi => openai_error(
                StatusCode::BAD_REQUEST,
                "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens. Please reduce the length of the messages.",
                "invalid_request_error",
                Some("messages"),
                Some("context_length_exceeded"),
            ),
            Dialect::Responses => openai_error(
                StatusCode::BAD_REQUEST,
                "Your input exceeds the context window of this model. Please adjust your input and try again.",
                "invalid_request_error",
                Some("input"),
                Some("context_length_exceeded"),
            ),
            Dialect::Anthropic => anthropic_error(
                StatusCode::BAD_REQUEST,
                "prompt is too long: 210000 tokens > 200000 maximum",
            ),
            Dialect::Cohere => cohere_error(
                StatusCode::BAD_REQUEST,
                "invalid request: too many tokens: total number of tokens in the prompt cannot exceed 256000 - received 260000. Try using a shorter prompt or a model with a larger context length.",
            ),
            Dialect::Ollama => ollama_error(
                StatusCode::BAD_REQUEST,
                "the input length exceeds the context length",
            ),
            Dialect::Bedrock => bedrock_error(
                StatusCode::BAD_REQUEST,
                "ValidationException",
                "Input is too long for requested model.",
            ),
        }
    }

    /// The status a non-stream request gets for a stream-only fault
    /// (`Fault::StreamError`): Anthropic 529 (overloaded), the others 500.
    pub(crate) fn overloaded_status(self) -> u16 {
        match self {
            Dialect::OpenAi
            | Dialect::Responses
            | Dialect::Cohere
            | Dialect::Ollama
            | Dialect::Bedrock => 500,
            Dialect::Anthropic => 529,
        }
    }

    /// The in-band error event sent after a 200 as the stream's event
    /// number `seq` (from 0) (wire-formats §1.3, §2.3; Responses sends a
    /// typed `error` event; Cohere ends the stream with a `message-end`
    /// whose delta carries the `error` and finish_reason ERROR; Ollama
    /// sends an `{"error"}` line).
    pub(crate) fn stream_error_frame(self, seq: usize) -> Bytes {
        match self {
            Dialect::OpenAi => sse_data(&json!({ "error": openai_error_object(
                SERVER_ERROR_MESSAGE, "server_error", None, None) })),
            Dialect::Responses => sse_event(
                "error",
                &json!({"type": "error", "code": "server_error",
                    "message": SERVER_ERROR_MESSAGE, "param": null, "sequence_number": seq}),
            ),
            Dialect::Anthropic => sse_event(
                "error",
                &anthropic_error_body("overloaded_error", "Overloaded"),
            ),
            Dialect::Cohere => sse_event(
                "message-end",
                &json!({"type": "message-end", "delta": {
                    "error": "internal server error, this has been reported to our developers",
                    "finish_reason": "ERROR"}}),
            ),
            Dialect::Ollama => ndjson_line(&json!({
                "error": "an error was encountered while running the model"})),
            Dialect::Bedrock => eventstream::exception(
                "modelStreamErrorException",
                "The system encountered an unexpected error during processing. Try your request again.",
            ),
        }
    }

    /// An event whose data is not JSON.
    pub(crate) fn malformed_frame(self) -> Bytes {
        match self {
            Dialect::OpenAi => Bytes::from_static(b"data: {\"id\":\"chatcmpl-mock\",\"choices\":[{\"delta\":\n\n"),
            Dialect::Responses => Bytes::from_static(
                b"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\n\n",
            ),
            Dialect::Anthropic => Bytes::from_static(
                b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":\n\n",
            ),
            Dialect::Cohere => Bytes::from_static(
                b"event: content-delta\ndata: {\"type\":\"content-delta\",\"index\":0,\"delta\":\n\n",
            ),
            Dialect::Ollama => Bytes::from_static(
                b"{\"model\":\"mock\",\"message\":{\"role\":\"assistant\",\"content\":\n",
            ),
            Dialect::Bedrock => eventstream::malformed(),
        }
    }

    /// The `content-type` of this provider's streams.
    pub(crate) fn stream_content_type(self) -> &'static str {
        match self {
            Dialect::OpenAi | Dialect::Responses | Dialect::Anthropic | Dialect::Cohere => {
                "text/event-stream"
            }
            Dialect::Ollama => "application/x-ndjson",
            Dialect::Bedrock => "application/vnd.amazon.eventstream",
        }
    }
}

const SERVER_ERROR_MESSAGE: &str =
    "The server had an error while processing your request. Sorry about that!";

/// An OpenAI error response: `{"error":{"message","type","param","code"}}`.
pub(crate) fn openai_error(
    status: StatusCode,
    message: &str,
    kind: &str,
    param: Option<&str>,
    code: Option<&str>,
) -> Response {
    let body = json!({ "error": openai_error_object(message, kind, param, code) });
    json_response(status, &body)
}

fn openai_error_object(
    message: &str,
    kind: &str,
    param: Option<&str>,
    code: Option<&str>,
) -> Value {
    json!({ "message": message, "type": kind, "param": param, "code": code })
}

/// OpenAI's body for an injected status (429 → `requests`, 5xx → `server_error`).
fn openai_status_error(status: StatusCode) -> Response {
    match status.as_u16() {
        429 => openai_error(
            status,
            "Rate limit reached for requests (mock). Please try again later.",
            "requests",
            None,
            Some("rate_limit_exceeded"),
        ),
        401 => Dialect::OpenAi.unauthorized(),
        404 => openai_error(
            status,
            "The model does not exist or you do not have access to it.",
            "invalid_request_error",
            Some("model"),
            Some("model_not_found"),
        ),
        500..=599 => openai_error(status, SERVER_ERROR_MESSAGE, "server_error", None, None),
        _ => openai_error(status, "Mock fault.", "invalid_request_error", None, None),
    }
}

/// An Anthropic error response: `{"type":"error","error":{"type","message"}}`,
/// with the error type that matches `status`.
pub(crate) fn anthropic_error(status: StatusCode, message: &str) -> Response {
    json_response(
        status,
        &anthropic_error_body(anthropic_type(status), message),
    )
}

fn anthropic_error_body(kind: &str, message: &str) -> Value {
    json!({
        "type": "error",
        "error": { "type": kind, "message": message },
        "request_id": "req_mock",
    })
}

/// Status → Anthropic error type (wire-formats §2.4).
fn anthropic_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        409 => "conflict_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        504 => "timeout_error",
        529 => "overloaded_error",
        500..=599 => "api_error",
        _ => "invalid_request_error",
    }
}

fn anthropic_message(status: StatusCode) -> &'static str {
    match status.as_u16() {
        429 => "Number of requests has exceeded your rate limit (mock).",
        529 => "Overloaded",
        500..=599 => "Internal server error",
        _ => "Mock fault.",
    }
}

/// A Cohere error response: `{"id": "…", "message": "…"}`.
pub(crate) fn cohere_error(status: StatusCode, message: &str) -> Response {
    let body = json!({ "id": "mock-cohere-error", "message": message });
    json_response(status, &body)
}

fn cohere_message(status: StatusCode) -> &'static str {
    match status.as_u16() {
        429 => "You are past the rate limit of this API key (mock). Please wait and try again.",
        500..=599 => "internal server error, this has been reported to our developers",
        _ => "Mock fault.",
    }
}

/// A Bedrock error response: `{"message": "…"}` with the error's type in
/// `x-amzn-ErrorType` (`ValidationException`, `ThrottlingException`, …).
pub(crate) fn bedrock_error(status: StatusCode, kind: &str, message: &str) -> Response {
    let mut response = json_response(status, &json!({ "message": message }));
    if let Ok(v) = HeaderValue::from_str(kind) {
        response.headers_mut().insert("x-amzn-errortype", v);
    }
    response
}

/// Bedrock's type and message for an injected status.
fn bedrock_status_error(status: StatusCode) -> Response {
    let (kind, message) = match status.as_u16() {
        400 => ("ValidationException", "Mock fault."),
        401 => (
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ),
        403 => (
            "AccessDeniedException",
            "You don't have access to the model with the specified model ID.",
        ),
        404 => (
            "ResourceNotFoundException",
            "Could not resolve the foundation model from the provided model identifier.",
        ),
        408 => (
            "ModelTimeoutException",
            "Model has timed out in processing the request.",
        ),
        424 => ("ModelErrorException", "The model returned an error."),
        429 => (
            "ThrottlingException",
            "Too many requests, please wait before trying again.",
        ),
        503 => (
            "ServiceUnavailableException",
            "Bedrock is unable to process your request.",
        ),
        500..=599 => (
            "InternalServerException",
            "The server encountered an internal error while processing the request.",
        ),
        _ => ("ValidationException", "Mock fault."),
    };
    bedrock_error(status, kind, message)
}

/// An Ollama error response: `{"error": "…"}`.
pub(crate) fn ollama_error(status: StatusCode, message: &str) -> Response {
    json_response(status, &json!({ "error": message }))
}

fn ollama_message(status: StatusCode) -> &'static str {
    match status.as_u16() {
        404 => "model not found, try pulling it first",
        429 => "too many requests (mock)",
        500..=599 => "an error was encountered while running the model",
        _ => "Mock fault.",
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let headers = [(CONTENT_TYPE, HeaderValue::from_static("application/json"))];
    (status, headers, body.to_string()).into_response()
}
