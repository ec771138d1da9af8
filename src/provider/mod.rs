//! Providers: a named upstream with its adapter (see [`crate::adapter`]),
//! credentials and model metadata, as validated from `routes.yaml`.

pub mod models;
pub mod plans;
pub mod scorer;
pub mod usage;

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use crate::adapter::Adapter;
pub use crate::secrets::Secret;
use crate::upstream::Upstream;
pub use usage::Usage;

/// Metadata of one model a provider serves.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelInfo {
    pub input_per_mtok: Option<f64>,
    pub output_per_mtok: Option<f64>,
    pub cached_input_per_mtok: Option<f64>,
    pub quality: Option<f64>,
    pub context_window: Option<u64>,
    pub max_output_tokens: Option<u64>,
}

/// A provider ready to be called.
pub struct Provider {
    pub name: String,
    pub adapter: Arc<Adapter>,
    pub upstream: Upstream,
    pub api_key: Option<Secret>,
    /// Extra headers from routes.yaml, sent on every request.
    pub headers: Vec<(String, String)>,
    /// Its listed models, and the pricing catalog for any other.
    pub models: models::Models,
    /// `options:` (the preset's, then routes.yaml's), handed to the adapter
    /// as `ctx.options`.
    pub options: Arc<serde_json::Map<String, serde_json::Value>>,
    /// Why the provider is not used (e.g. its key variable is unset).
    pub disabled: Option<String>,
    /// What it supports: the adapter's `capabilities()` with the preset's
    /// and the config's overrides. A capability not mentioned is assumed.
    pub capabilities: std::collections::BTreeMap<String, bool>,
    /// Over the server's; under a route's.
    pub timeouts: crate::upstream::Timeouts,
    /// Its backends (at least one) behind the configured balance strategy.
    pub backends:
        std::sync::Arc<crate::upstream::balance::Balancer<crate::upstream::backend::Backend>>,
    /// The backends in configured order (for metrics and health).
    pub backend_list: Vec<std::sync::Arc<crate::upstream::backend::Backend>>,
    /// What `consistent-hash` hashes.
    pub hash_key: crate::upstream::hash_key::HashKey,
    /// Active health checks, if configured.
    pub health: Option<crate::upstream::health::HealthConfig>,
    /// Requests and tokens per minute this gateway may send it.
    pub limits: crate::limits::Limits,
    /// What this gateway may spend on it (empty: no budget).
    pub budget: crate::limits::Budget,
    /// Request heads its adapter's `request(ctx)` built, for reuse.
    pub plans: plans::PlanMemo,
    /// Cloud credentials (AWS SigV4, a Google token) added to each
    /// request once its body is built; `None` for API-key providers.
    pub auth: Option<Arc<crate::cloud::Auth>>,
    /// How it announces its own quota, beyond the built-in headers.
    pub quota: crate::upstream::quota::Rules,
}

/// The capabilities adapters and presets may declare.
pub const CAPABILITIES: &[&str] = &[
    "chat",
    "stream",
    "tools",
    "vision",
    "json",
    "embeddings",
    "reasoning",
    "responses",
    "images",
    "audio",
    "speech",
    "moderations",
    "rerank",
    "files",
    "batches",
];

/// Capabilities a provider has only when its preset or its entry says so:
/// OpenAI's other endpoints, which few OpenAI-compatible providers serve
/// (`responses`: it speaks the Responses API natively; every provider
/// serves `/v1/responses` translated from chat). Only OpenAI-format
/// providers (adapter `openai`) may turn them on.
pub const OPT_IN: &[&str] = &[
    "responses",
    "images",
    "audio",
    "speech",
    "moderations",
    "rerank",
    "files",
    "batches",
];

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provider")
            .field("name", &self.name)
            .field("adapter", &self.adapter.name())
            .field("upstream", &self.upstream.authority)
            .field("backends", &self.backends.len())
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

impl Provider {
    /// True when requests may be sent to this provider.
    pub fn is_enabled(&self) -> bool {
        self.disabled.is_none()
    }

    /// False when the provider declares it lacks `capability`, or when
    /// the capability is [`OPT_IN`] and not declared.
    pub fn supports(&self, capability: &str) -> bool {
        let default = !OPT_IN.contains(&capability);
        self.capabilities
            .get(capability)
            .copied()
            .unwrap_or(default)
    }

    /// The secrets that must never leave the gateway: keys, credential
    /// headers, and cloud credentials (the token in use among them).
    pub fn secrets(&self) -> Vec<Cow<'_, str>> {
        let mut v: Vec<Cow<'_, str>> = self
            .api_key
            .iter()
            .map(|k| Cow::Borrowed(k.expose()))
            .collect();
        v.extend(
            self.backend_list
                .iter()
                .filter_map(|b| b.api_key.as_ref().map(|k| Cow::Borrowed(k.expose()))),
        );
        v.extend(
            self.headers
                .iter()
                .filter(|(k, _)| is_credential_header(k))
                .map(|(_, v)| Cow::Borrowed(v.as_str())),
        );
        if let Some(auth) = &self.auth {
            v.extend(auth.secrets());
        }
        v
    }
}

/// Header names that carry credentials.
pub fn is_credential_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n == "authorization"
        || n.contains("auth")
        || n.contains("key")
        || n.contains("token")
        || n.contains("secret")
}

/// Sets the per-backend gauges from `providers` (at each scrape, so
/// backends removed by a reload disappear).
pub fn observe_backends<'a>(providers: impl IntoIterator<Item = &'a std::sync::Arc<Provider>>) {
    use crate::upstream::breaker::BreakerState;
    let m = crate::metrics::metrics();
    m.backend_circuit.reset();
    m.backend_healthy.reset();
    m.backend_in_flight.reset();
    m.backend_quota_remaining.reset();
    let now = std::time::Instant::now();
    for p in providers {
        for b in &p.backend_list {
            let labels = [p.name.as_str(), b.label.as_str()];
            let state = match b.breaker.state(now) {
                BreakerState::Closed => 0,
                BreakerState::Open { .. } => 1,
                BreakerState::HalfOpen => 2,
                BreakerState::Benched { .. } => 3,
            };
            m.backend_circuit.with_label_values(&labels).set(state);
            let healthy = p.backends.is_healthy(&b.id).unwrap_or(true);
            m.backend_healthy
                .with_label_values(&labels)
                .set(i64::from(healthy));
            let n = p.backends.in_flight_count(&b.id);
            m.backend_in_flight
                .with_label_values(&labels)
                .set(i64::try_from(n).unwrap_or(i64::MAX));
            let quota = b.quota.snapshot(now);
            for (kind, window) in [("requests", quota.requests), ("tokens", quota.tokens)] {
                if let Some(w) = window {
                    m.backend_quota_remaining
                        .with_label_values(&[p.name.as_str(), b.label.as_str(), kind])
                        .set(i64::try_from(w.remaining).unwrap_or(i64::MAX));
                }
            }
        }
    }
}
