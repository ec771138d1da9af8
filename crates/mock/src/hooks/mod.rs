//! `POST /hooks/{name}`: a webhook receiver, for tests of the gateway's
//! budget-alert webhook. Each POST is counted
//! ([`MockServer::webhook_attempts`](crate::MockServer::webhook_attempts));
//! the first `MockConfig::webhook_failures` are answered 503 (so retries
//! can be tested), the others are recorded as a [`Hook`]
//! ([`MockServer::webhooks`](crate::MockServer::webhooks)) and answered
//! 200 `{"ok":true}`.
//!
//! Not a provider endpoint: not a hit, not in `requests()`, and
//! `api_key`, latency, faults and `error_rate` do not apply.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use serde_json::{json, Value};

use super::state::Shared;

/// One webhook POST the mock accepted (answered 200).
#[derive(Clone, Debug, PartialEq)]
pub struct Hook {
    /// The `{name}` of `/hooks/{name}`.
    pub name: String,
    /// Headers in arrival order, names lowercase.
    pub headers: Vec<(String, String)>,
    /// The body parsed as JSON; `Null` if it is not JSON.
    pub body: Value,
}

impl Hook {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What `/hooks/{name}` received.
#[derive(Debug, Default)]
pub(crate) struct Hooks {
    /// POSTs received, the refused ones included.
    attempts: AtomicUsize,
    /// The POSTs answered 200, in arrival order.
    accepted: Mutex<Vec<Hook>>,
}

impl Hooks {
    pub(crate) fn attempts(&self) -> usize {
        self.attempts.load(Ordering::SeqCst)
    }

    pub(crate) fn accepted(&self) -> Vec<Hook> {
        self.lock().clone()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Hook>> {
        self.accepted.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `POST /hooks/{name}`: 503 for the first `webhook_failures` POSTs, then
/// recorded and 200 `{"ok":true}`.
pub(crate) async fn receive(
    State(shared): State<Arc<Shared>>,
    hooks: Arc<Hooks>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let n = hooks.attempts.fetch_add(1, Ordering::SeqCst);
    if n < shared.config().webhook_failures {
        let answer = json!({"ok": false, "error": "mock webhook failure"});
        return (StatusCode::SERVICE_UNAVAILABLE, Json(answer)).into_response();
    }
    let hook = Hook {
        name,
        headers: headers
            .iter()
            .map(|(k, v)| {
                let value = String::from_utf8_lossy(v.as_bytes()).into_owned();
                (k.as_str().to_ascii_lowercase(), value)
            })
            .collect(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    };
    hooks.lock().push(hook);
    Json(json!({"ok": true})).into_response()
}

#[cfg(test)]
mod tests;
