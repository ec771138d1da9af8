//! What a provider's failure becomes for the client: an error answer's
//! body (OpenAI, Anthropic, Gemini or FastAPI shaped) mapped to a
//! [`GatewayError`] with its secrets redacted and its `retry-after` kept
//! only as seconds; a failed call; an adapter's refusal or failure.

use serde_json::Value;

use crate::adapter::AdapterError;
use crate::cloud::AuthError;
use crate::error::{redact, GatewayError};
use crate::metrics::metrics;
use crate::provider::Provider;
use crate::proxy::hostile::Hostile;
use crate::upstream::call::CallError;

/// The error code of a prompt too long for the model's context window.
pub const CONTEXT_OVERFLOW: &str = "context_length_exceeded";

/// Providers word it differently; OpenAI says `context_length_exceeded`.
fn is_context_overflow(code: Option<&str>, message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    code == Some(CONTEXT_OVERFLOW)
        || [
            "context length",
            "maximum context",
            "context window",
            "prompt is too long",
            "too many tokens",
        ]
        .iter()
        .any(|needle| m.contains(needle))
}

/// Maps an upstream error body (OpenAI, Anthropic, Gemini or FastAPI
/// shaped) to a [`GatewayError`], keeping the provider's message without
/// its secrets.
pub fn upstream_error_from(
    status: u16,
    body: &Value,
    retry_after: Option<String>,
    provider: &Provider,
) -> GatewayError {
    let err = body.get("error").unwrap_or(body);
    // Ollama and some OpenAI-compatible servers: `{"error": "text"}`.
    let message = err
        .get("message")
        .or_else(|| body.get("detail"))
        .or_else(|| err.is_string().then_some(err))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("provider `{}` answered HTTP {status}", provider.name));
    // OpenAI: `code`; Gemini: `status` (its `code` repeats the HTTP status);
    // Anthropic: `type`.
    let text = |k: &str| err.get(k).and_then(Value::as_str).map(str::to_string);
    let mut code = text("code")
        .or_else(|| text("status"))
        .or_else(|| text("type"));
    if matches!(status, 400 | 413) && is_context_overflow(code.as_deref(), &message) {
        code = Some(CONTEXT_OVERFLOW.to_string());
    }
    let status = match status {
        // Anthropic's 529 "overloaded" is a 503 to OpenAI clients.
        529 => 503,
        // Gemini answers a bad key with 400 API_KEY_INVALID.
        400 if body.to_string().contains("API_KEY_INVALID") => 401,
        s => s,
    };
    let secrets = provider.secrets();
    let message = redact(&format!("{}: {message}", provider.name), &secrets);
    // Every string of the provider's error that reaches the client is
    // redacted: a provider may echo the key it was sent in any of them.
    let code = code.map(|c| short_code(&redact(&c, &secrets)));
    let retry_after = retry_after.as_deref().and_then(retry_after_secs);
    match status {
        // The gateway's own credentials were refused: the provider's fault,
        // not the client's (whose request may succeed elsewhere).
        401 | 403 => GatewayError::ProviderAuth { status, message },
        _ => GatewayError::Upstream {
            status,
            message,
            code,
            retry_after,
        },
    }
}

/// A provider's error code as passed on: at most 100 characters.
fn short_code(code: &str) -> String {
    match code.char_indices().nth(100) {
        Some((i, _)) => code[..i].to_string(),
        None => code.to_string(),
    }
}

/// A provider's `Retry-After` as whole seconds (at most a day), when it is
/// what RFC 9110 allows — a number of seconds or an HTTP date — and never
/// the header's text itself, which a hostile provider could fill with
/// anything. Fractional seconds, which some providers send, round up.
pub fn retry_after_secs(value: &str) -> Option<String> {
    const DAY: f64 = 86_400.0;
    let value = value.trim();
    let secs = match value.parse::<f64>() {
        Ok(s) if s.is_finite() && s >= 0.0 => s,
        Ok(_) => return None,
        Err(_) => {
            let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
            let ms = at.timestamp_millis() - chrono::Utc::now().timestamp_millis();
            ms.max(0) as f64 / 1000.0
        }
    };
    Some(format!("{}", secs.min(DAY).ceil() as u64))
}

pub(super) fn call_error(e: CallError, provider: &Provider) -> GatewayError {
    let message = format!("provider `{}`: {e}", provider.name);
    let hostile = match &e {
        CallError::Timeout {
            stage: "response header",
            ..
        } => Some(Hostile::FirstByteTimeout),
        CallError::Timeout {
            stage: "body data", ..
        } => Some(Hostile::IdleTimeout),
        CallError::TooLarge(_) => Some(Hostile::BodyTooLarge),
        _ => None,
    };
    if let Some(kind) = hostile {
        kind.count(&provider.name);
    }
    match e {
        CallError::Timeout { .. } => GatewayError::UpstreamTimeout(message),
        CallError::Connect(_) | CallError::Io(_) | CallError::TooLarge(_) => {
            GatewayError::BadGateway(message)
        }
    }
}

/// An adapter's refusal (the client's fault: a 4xx, no failover) or
/// failure (a 502, counted), without the provider's secrets.
pub fn adapter_error(e: AdapterError, provider: &Provider) -> GatewayError {
    let secrets = provider.secrets();
    match e {
        AdapterError::Rejected { status, message } => GatewayError::Rejected {
            status,
            message: redact(&message, &secrets),
        },
        other => {
            metrics()
                .script_errors
                .with_label_values(&[provider.adapter.name()])
                .inc();
            let text = redact(&other.to_string(), &secrets);
            tracing::error!(provider = %provider.name, error = %text, "adapter failed");
            GatewayError::BadGateway(text)
        }
    }
}

/// Cloud credentials that could not be had: refused ones fail over like a
/// refused key (502 `provider_auth_failed` when nothing else answers),
/// the rest like a provider that could not be reached.
pub(super) fn credentials_error(e: AuthError, provider: &Provider) -> GatewayError {
    let secrets = provider.secrets();
    match e {
        AuthError::Refused(m) => GatewayError::ProviderAuth {
            status: 401,
            message: redact(&format!("provider `{}`: {m}", provider.name), &secrets),
        },
        AuthError::Unavailable(m) => GatewayError::BadGateway(redact(
            &format!("provider `{}`: credentials: {m}", provider.name),
            &secrets,
        )),
    }
}

/// A capability in words, for error messages.
pub(super) fn describe(capability: &str) -> &'static str {
    match capability {
        "embeddings" => "embeddings",
        "tools" => "tools (function calling)",
        "vision" => "images in messages",
        "json" => "JSON output (response_format)",
        "stream" => "streaming",
        "images" => "image generation and edits (/v1/images)",
        "audio" => "transcriptions and translations (/v1/audio)",
        "speech" => "speech (/v1/audio/speech)",
        "moderations" => "moderations (/v1/moderations)",
        "rerank" => "rerank (/v1/rerank)",
        "files" => "files (/v1/files)",
        "batches" => "batches (/v1/batches)",
        "passthrough" => "passed-through requests",
        _ => "this kind of request",
    }
}

#[cfg(test)]
mod tests;
