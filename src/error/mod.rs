//! The edge of every failure: one [`GatewayError`] that knows its HTTP status,
//! its OpenAI error `type`, its metric label and how to write itself as
//! `{"error":{"message","type","param","code"}}`.
//!
//! Errors from inside (config, scripts, upstream calls) are converted into a
//! `GatewayError` at the point where the request's fate is decided.

use serde_json::json;

/// A failure to answer a client request, mapped to an OpenAI-style error body.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GatewayError {
    /// The request is malformed (bad JSON, missing or invalid fields).
    #[error("{message}")]
    BadRequest {
        message: String,
        param: Option<String>,
    },
    /// The client asked for a model that no route or provider serves.
    #[error("The model `{0}` does not exist or is not served by this gateway")]
    UnknownModel(String),
    /// The path or method is not part of the API.
    #[error("{0}")]
    NotFound(String),
    /// The request body exceeds the configured limit (bytes).
    #[error("Request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// The target cannot serve what the request needs (embeddings, tools,
    /// images, JSON output…); another target of the route may.
    #[error("{0}")]
    Unsupported(String),
    /// Every candidate target is disabled or unusable.
    #[error("{0}")]
    NoUsableProvider(String),
    /// The upstream did not answer in time.
    #[error("{0}")]
    UpstreamTimeout(String),
    /// The upstream answered with an error status; 4xx are passed on, 5xx become 502.
    #[error("{message}")]
    Upstream {
        status: u16,
        message: String,
        code: Option<String>,
        retry_after: Option<String>,
    },
    /// The provider refused the gateway's own credentials (401/403): the
    /// provider's fault, not the client's; another target may succeed.
    #[error("{message}")]
    ProviderAuth { status: u16, message: String },
    /// The upstream could not be reached or sent something unusable.
    #[error("{0}")]
    BadGateway(String),
    /// An adapter script refused the request with a client-level status (4xx).
    #[error("{message}")]
    Rejected { status: u16, message: String },
    /// A bug or an unexpected internal condition.
    #[error("{0}")]
    Internal(String),
    /// No client key, or one the gateway does not know.
    #[error("{0}")]
    Unauthorized(String),
    /// The client's key may not do this: disabled, or the route or model
    /// is not among the key's allowed ones.
    #[error("{message}")]
    Forbidden { message: String, code: &'static str },
    /// Over one of the gateway's rate limits (a key's, a route's, or every
    /// target's provider limit).
    #[error("{message}")]
    RateLimited {
        message: String,
        /// Seconds, as `Retry-After` wants them.
        retry_after: String,
    },
    /// Over a key's budget.
    #[error("{0}")]
    QuotaExceeded(String),
    /// The shared state store is unreachable and `state.on_error` is `closed`.
    #[error("{0}")]
    StateUnavailable(String),
    /// The client did not send its request (head or body) in time.
    #[error("{0}")]
    ClientTimeout(String),
    /// The request head (request line and headers) exceeds the configured
    /// limit (bytes), or has more header fields than the parser takes.
    #[error("{0}")]
    HeadersTooLarge(String),
    /// The gateway is at one of its capacity limits (connections, streams);
    /// retrying shortly is safe.
    #[error("{0}")]
    Overloaded(String),
    /// A guardrail refused the request or its answer (a 4xx of its choice).
    #[error("{message}")]
    Blocked { status: u16, message: String },
    /// A guardrail failed (script error, moderation unreachable or too
    /// slow) and fails closed.
    #[error("{0}")]
    GuardrailFailed(String),
}

impl GatewayError {
    /// A 431 for a head over `limit` bytes.
    pub fn head_too_large(limit: usize) -> Self {
        Self::HeadersTooLarge(format!(
            "Request headers are larger than the limit of {limit} bytes"
        ))
    }

    /// A 400 with a message and no `param`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest {
            message: message.into(),
            param: None,
        }
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            Self::BadRequest { .. } | Self::Unsupported(_) => 400,
            Self::UnknownModel(_) | Self::NotFound(_) => 404,
            Self::PayloadTooLarge { .. } => 413,
            Self::NoUsableProvider(_) => 503,
            Self::UpstreamTimeout(_) => 504,
            Self::Upstream { status, .. } if (400..500).contains(status) => *status,
            Self::Upstream { .. } | Self::BadGateway(_) | Self::ProviderAuth { .. } => 502,
            Self::Rejected { status, .. } => *status,
            Self::Internal(_) => 500,
            Self::Unauthorized(_) => 401,
            Self::Forbidden { .. } => 403,
            Self::RateLimited { .. } | Self::QuotaExceeded(_) => 429,
            Self::StateUnavailable(_) => 503,
            Self::ClientTimeout(_) => 408,
            Self::HeadersTooLarge(_) => 431,
            Self::Overloaded(_) => 503,
            Self::Blocked { status, .. } => *status,
            Self::GuardrailFailed(_) => 503,
        }
    }

    /// The OpenAI-style `error.type` string.
    pub fn error_type(&self) -> &'static str {
        // OpenAI's own types for these, so SDKs and clients that inspect
        // them behave as with OpenAI.
        match self {
            Self::Unauthorized(_) => return "invalid_request_error",
            Self::RateLimited { .. } => return "requests",
            Self::QuotaExceeded(_) => return "insufficient_quota",
            _ => {}
        }
        match self.status() {
            400 | 404 | 408 | 409 | 413 | 422 | 431 => "invalid_request_error",
            401 => "authentication_error",
            402 | 403 => "permission_error",
            429 => "rate_limit_error",
            503 => "service_unavailable",
            504 => "timeout_error",
            500 => "internal_error",
            _ => "api_error",
        }
    }

    /// The OpenAI-style `error.code` string, when there is one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::BadRequest { .. } => Some("invalid_request"),
            Self::Unsupported(_) => Some("unsupported_by_provider"),
            Self::UnknownModel(_) => Some("model_not_found"),
            Self::NotFound(_) => Some("not_found"),
            Self::PayloadTooLarge { .. } => Some("request_too_large"),
            Self::NoUsableProvider(_) => Some("no_usable_provider"),
            Self::UpstreamTimeout(_) => Some("upstream_timeout"),
            Self::Upstream { code, .. } => code.as_deref(),
            Self::BadGateway(_) => Some("bad_gateway"),
            Self::ProviderAuth { .. } => Some("provider_auth_failed"),
            Self::Rejected { .. } => Some("rejected_by_adapter"),
            Self::Internal(_) => Some("internal_error"),
            Self::Unauthorized(_) => Some("invalid_api_key"),
            Self::Forbidden { code, .. } => Some(code),
            Self::RateLimited { .. } => Some("rate_limit_exceeded"),
            Self::QuotaExceeded(_) => Some("insufficient_quota"),
            Self::StateUnavailable(_) => Some("state_unavailable"),
            Self::ClientTimeout(_) => Some("request_timeout"),
            Self::HeadersTooLarge(_) => Some("request_headers_too_large"),
            Self::Overloaded(_) => Some("server_overloaded"),
            Self::Blocked { .. } => Some("guardrail_blocked"),
            Self::GuardrailFailed(_) => Some("guardrail_unavailable"),
        }
    }

    /// A low-cardinality label for metrics and access logs.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::BadRequest { .. } => "bad_request",
            Self::Unsupported(_) => "unsupported",
            Self::UnknownModel(_) => "unknown_model",
            Self::NotFound(_) => "not_found",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::NoUsableProvider(_) => "no_usable_provider",
            Self::UpstreamTimeout(_) => "upstream_timeout",
            Self::Upstream { .. } => "upstream_error",
            Self::BadGateway(_) => "bad_gateway",
            Self::ProviderAuth { .. } => "provider_auth",
            Self::Rejected { .. } => "rejected",
            Self::Internal(_) => "internal",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden { .. } => "forbidden",
            Self::RateLimited { .. } => "rate_limited",
            Self::QuotaExceeded(_) => "quota_exceeded",
            Self::StateUnavailable(_) => "state_unavailable",
            Self::ClientTimeout(_) => "client_timeout",
            Self::HeadersTooLarge(_) => "headers_too_large",
            Self::Overloaded(_) => "overloaded",
            Self::Blocked { .. } => "guardrail_blocked",
            Self::GuardrailFailed(_) => "guardrail_failed",
        }
    }

    /// The `Retry-After` value to send with this error, if any.
    pub fn retry_after(&self) -> Option<&str> {
        match self {
            Self::Upstream { retry_after, .. } => retry_after.as_deref(),
            Self::NoUsableProvider(_)
            | Self::StateUnavailable(_)
            | Self::Overloaded(_)
            | Self::GuardrailFailed(_) => Some("1"),
            Self::RateLimited { retry_after, .. } => Some(retry_after),
            _ => None,
        }
    }

    /// True when another target could succeed where this one failed: the
    /// failure belongs to the provider, not to the request.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Upstream { status, .. } => *status == 429 || *status >= 500 || *status == 408,
            Self::UpstreamTimeout(_)
            | Self::BadGateway(_)
            | Self::ProviderAuth { .. }
            | Self::NoUsableProvider(_)
            | Self::Unsupported(_) => true,
            Self::Internal(_) | Self::RateLimited { .. } => true,
            Self::Unauthorized(_)
            | Self::Forbidden { .. }
            | Self::QuotaExceeded(_)
            | Self::StateUnavailable(_)
            | Self::Overloaded(_) => false,
            Self::BadRequest { .. }
            | Self::UnknownModel(_)
            | Self::NotFound(_)
            | Self::PayloadTooLarge { .. }
            | Self::HeadersTooLarge(_)
            | Self::ClientTimeout(_)
            | Self::Rejected { .. }
            | Self::Blocked { .. }
            | Self::GuardrailFailed(_) => false,
        }
    }

    /// How telling this error is when several attempts failed: the answer to
    /// the client is the failure with the highest rank.
    pub fn rank(&self) -> u8 {
        match self {
            Self::Rejected { .. } | Self::BadRequest { .. } => 5,
            Self::Upstream { status, .. } if *status < 500 && *status != 429 => 5,
            Self::Upstream { status: 429, .. } | Self::RateLimited { .. } => 4,
            Self::Unauthorized(_) | Self::Forbidden { .. } | Self::QuotaExceeded(_) => 5,
            Self::StateUnavailable(_) | Self::Overloaded(_) => 1,
            Self::Upstream { .. } | Self::UpstreamTimeout(_) => 3,
            Self::ProviderAuth { .. } => 3,
            Self::BadGateway(_) | Self::Internal(_) => 2,
            Self::NoUsableProvider(_) | Self::Unsupported(_) => 1,
            Self::UnknownModel(_)
            | Self::NotFound(_)
            | Self::PayloadTooLarge { .. }
            | Self::HeadersTooLarge(_)
            | Self::ClientTimeout(_) => 0,
            Self::Blocked { .. } => 5,
            Self::GuardrailFailed(_) => 1,
        }
    }

    /// The same error with `note` appended to its message (e.g. the list
    /// of failed attempts); errors without a free-form message are kept.
    pub fn with_note(self, note: &str) -> Self {
        let add = |m: String| format!("{m} ({note})");
        match self {
            Self::NoUsableProvider(m) => Self::NoUsableProvider(add(m)),
            Self::UpstreamTimeout(m) => Self::UpstreamTimeout(add(m)),
            Self::BadGateway(m) => Self::BadGateway(add(m)),
            Self::Unsupported(m) => Self::Unsupported(add(m)),
            Self::ProviderAuth { status, message } => Self::ProviderAuth {
                status,
                message: add(message),
            },
            Self::Upstream {
                status,
                message,
                code,
                retry_after,
            } => Self::Upstream {
                status,
                message: add(message),
                code,
                retry_after,
            },
            other => other,
        }
    }

    /// The JSON body `{"error":{"message","type","param","code"}}`.
    pub fn body(&self) -> serde_json::Value {
        let param = match self {
            Self::BadRequest { param, .. } => param.clone(),
            Self::UnknownModel(_) => Some("model".to_string()),
            _ => None,
        };
        json!({
            "error": {
                "message": self.to_string(),
                "type": self.error_type(),
                "param": param,
                "code": self.code(),
            }
        })
    }
}

/// Replaces every occurrence of each secret in `text` with `***`.
///
/// Upstream error messages and script errors may echo what they were given;
/// this is applied to anything that leaves the gateway from those sources.
pub fn redact<S: AsRef<str>>(text: &str, secrets: &[S]) -> String {
    let mut out = text.to_string();
    for secret in secrets.iter().map(AsRef::as_ref).filter(|s| s.len() >= 4) {
        if out.contains(secret) {
            out = out.replace(secret, "***");
        }
    }
    out
}

#[cfg(test)]
mod tests;
