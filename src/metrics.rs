//! Prometheus metrics (the default registry), named `gateway_<thing>_<unit>`
//! with low-cardinality labels, and the `/metrics` text encoder.

use std::sync::LazyLock;

use prometheus::{
    register_histogram, register_histogram_vec, register_int_counter, register_int_counter_vec,
    register_int_gauge, register_int_gauge_vec, Encoder, Histogram, HistogramVec, IntCounter,
    IntCounterVec, IntGauge, IntGaugeVec, TextEncoder,
};

/// Buckets for LLM request latencies: 5 ms to 10 min.
const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0,
    600.0,
];

/// Buckets for time to first token: 5 ms to 60 s.
const TTFT_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 60.0,
];

/// All gateway metrics.
pub struct Metrics {
    /// Requests answered, by route, provider, model and status code.
    pub requests: IntCounterVec,
    /// Whole-request duration in seconds, by route and provider.
    pub request_duration: HistogramVec,
    /// One attempt's time from sending to the provider's answer (the whole
    /// body, or a stream's first bytes), by provider and outcome.
    pub upstream_latency: HistogramVec,
    /// 1, labelled with the gateway's version.
    pub build_info: IntGaugeVec,
    /// Time to the first streamed token, by route and provider.
    pub ttft: HistogramVec,
    /// Tokens by provider, model and type (prompt, completion, cached).
    pub tokens: IntCounterVec,
    /// Spend in USD from returned usage and configured prices.
    pub cost: prometheus::CounterVec,
    /// Attempts against providers, by provider and outcome.
    pub upstream_attempts: IntCounterVec,
    /// Hostile or broken provider answers, by provider and kind (see
    /// [`crate::proxy::hostile::Hostile`]).
    pub upstream_faults: IntCounterVec,
    /// Config reloads by result (success, failure).
    pub config_reloads: IntCounterVec,
    /// The loaded config's version (value 1 on the current one).
    pub config_info: IntGaugeVec,
    /// Requests being served.
    pub in_flight: IntGauge,
    /// Streams being relayed.
    pub streams_in_flight: IntGauge,
    /// Circuit state per backend: 0 closed, 1 open, 2 half-open, 3 benched.
    pub backend_circuit: IntGaugeVec,
    /// Active health per backend: 1 healthy, 0 not.
    pub backend_healthy: IntGaugeVec,
    /// Requests in flight per backend.
    pub backend_in_flight: IntGaugeVec,
    /// What each backend's provider says is left of its quota window, by
    /// kind (requests, tokens), while the window is live.
    pub backend_quota_remaining: IntGaugeVec,
    /// Backends set aside without being asked, by provider (or
    /// `provider/backend`) and reason (quota, benched, open, rate_limited,
    /// over_budget, disabled, …).
    pub backend_skips: IntCounterVec,
    /// Hedged second attempts, by the provider of the slow first one.
    pub hedges: IntCounterVec,
    /// Requests answered by another target or backend than the first tried.
    pub failovers: IntCounterVec,
    /// Adapter script failures, by adapter and hook.
    pub script_errors: IntCounterVec,
    /// Spans the collector accepted.
    pub trace_spans_exported: IntCounter,
    /// Spans not exported, by reason (queue_full, export_failed, shutdown).
    pub trace_spans_dropped: IntCounterVec,
    /// State store operations Redis did not serve (down, timed out or
    /// erroring), by op (take, adjust, add_spend, spend, seed_spend,
    /// cache_get, cache_put).
    pub state_errors: IntCounterVec,
    /// Whether the Redis state backend is reachable: 1 up, 0 down.
    pub state_backend_up: IntGauge,
    /// Requests refused by a rate limit, by scope (key, route, provider).
    pub ratelimit_rejections: IntCounterVec,
    /// Requests refused because a key's budget is spent, by key name.
    pub budget_rejections: IntCounterVec,
    /// Requests refused because a budget is spent, by scope (gateway,
    /// route, provider, key) and the scope's name.
    pub budget_refusals: IntCounterVec,
    /// Soft budget thresholds crossed, by scope, name, period and threshold.
    pub budget_alerts: IntCounterVec,
    /// Budget webhook deliveries, by outcome (delivered, retried, failed,
    /// dropped).
    pub webhook_deliveries: IntCounterVec,
    /// Requests and answers a guardrail blocked, by guardrail and stage
    /// (request, response, chunk).
    pub guardrail_blocks: IntCounterVec,
    /// Guardrail failures (a script error, a moderation call that failed or
    /// timed out), by guardrail and what was done (open: let through;
    /// closed: refused).
    pub guardrail_errors: IntCounterVec,
    /// Response cache lookups, by result (hit, miss, bypass).
    pub cache_requests: IntCounterVec,
    /// Requests answered by joining an identical request already in flight.
    pub coalesced_requests: IntCounter,
    /// Requests answered while every provider was down, by route and kind
    /// (stale: a cached answer past its TTL; fallback: the route's fixed
    /// message).
    pub degraded_answers: IntCounterVec,
    /// Semantic cache lookups, by route and result (hit, miss, skipped:
    /// prompt too short or not text; error: the embedding call failed).
    pub semantic_lookups: IntCounterVec,
    /// Similarity of the semantic cache's hits.
    pub semantic_similarity: Histogram,
    /// Entries and bytes the semantic cache holds on this instance.
    pub semantic_entries: IntGauge,
    pub semantic_bytes: IntGauge,
    /// Client connections or requests refused at one of the client limits,
    /// by reason (see [`crate::edge::Rejection`]).
    pub client_rejections: IntCounterVec,
    /// Client connections open on the API listener.
    pub client_connections: IntGauge,
}

fn build() -> prometheus::Result<Metrics> {
    Ok(Metrics {
        requests: register_int_counter_vec!(
            "gateway_requests_total",
            "Requests answered, by route, provider, model and HTTP status",
            &["route", "provider", "model", "status"]
        )?,
        request_duration: register_histogram_vec!(
            "gateway_request_duration_seconds",
            "Time from request received to response complete",
            &["route", "provider"],
            LATENCY_BUCKETS.to_vec()
        )?,
        upstream_latency: register_histogram_vec!(
            "gateway_upstream_latency_seconds",
            "One attempt's time from sending to the provider's answer (a stream's first bytes), by provider and outcome (ok or error)",
            &["provider", "outcome"],
            LATENCY_BUCKETS.to_vec()
        )?,
        build_info: register_int_gauge_vec!(
            "gateway_build_info",
            "Always 1; the version label is the gateway's",
            &["version"]
        )?,
        ttft: register_histogram_vec!(
            "gateway_time_to_first_token_seconds",
            "Time from request received to the first streamed token sent",
            &["route", "provider"],
            TTFT_BUCKETS.to_vec()
        )?,
        tokens: register_int_counter_vec!(
            "gateway_tokens_total",
            "Tokens reported by providers, by type",
            &["provider", "model", "type"]
        )?,
        cost: prometheus::register_counter_vec!(
            "gateway_cost_usd_total",
            "Spend in USD, from the usage providers return and the prices in the config",
            &["provider", "model"]
        )?,
        upstream_attempts: register_int_counter_vec!(
            "gateway_upstream_attempts_total",
            "Attempts against providers, by outcome",
            &["provider", "outcome"]
        )?,
        upstream_faults: register_int_counter_vec!(
            "gateway_upstream_faults_total",
            "Hostile or broken provider answers (timeouts, oversized bodies or events, invalid JSON or SSE, wrong content types, endless streams), by provider and kind",
            &["provider", "kind"]
        )?,
        config_reloads: register_int_counter_vec!(
            "gateway_config_reloads_total",
            "Config reloads, by result",
            &["result"]
        )?,
        config_info: register_int_gauge_vec!(
            "gateway_config_info",
            "The loaded config version (1 on the current one)",
            &["version"]
        )?,
        in_flight: register_int_gauge!("gateway_requests_in_flight", "Requests being served")?,
        streams_in_flight: register_int_gauge!(
            "gateway_streams_in_flight",
            "Streaming responses being relayed"
        )?,
        backend_circuit: register_int_gauge_vec!(
            "gateway_backend_circuit_state",
            "Circuit breaker state per backend: 0 closed, 1 open, 2 half-open, 3 benched (Retry-After)",
            &["provider", "backend"]
        )?,
        backend_healthy: register_int_gauge_vec!(
            "gateway_backend_healthy",
            "Active health check result per backend (1 healthy)",
            &["provider", "backend"]
        )?,
        backend_in_flight: register_int_gauge_vec!(
            "gateway_backend_in_flight",
            "Requests in flight per backend (streams count until they end)",
            &["provider", "backend"]
        )?,
        backend_quota_remaining: register_int_gauge_vec!(
            "gateway_backend_quota_remaining",
            "Requests or tokens left in the backend's quota window, as its provider's last answer said (counted down since)",
            &["provider", "backend", "kind"]
        )?,
        backend_skips: register_int_counter_vec!(
            "gateway_backend_skips_total",
            "Backends set aside without being asked, by provider and reason (quota, benched, open, rate_limited, over_budget, ...)",
            &["provider", "reason"]
        )?,
        failovers: register_int_counter_vec!(
            "gateway_failovers_total",
            "Requests answered after at least one failed attempt, by route",
            &["route"]
        )?,
        hedges: register_int_counter_vec!(
            "gateway_hedges_total",
            "Hedged second attempts started because the first was slow",
            &["provider"]
        )?,
        script_errors: register_int_counter_vec!(
            "gateway_script_errors_total",
            "Adapter script failures, by adapter",
            &["adapter"]
        )?,
        trace_spans_exported: register_int_counter!(
            "gateway_trace_spans_exported_total",
            "Spans the OpenTelemetry collector accepted"
        )?,
        trace_spans_dropped: register_int_counter_vec!(
            "gateway_trace_spans_dropped_total",
            "Spans not exported, by reason (queue_full: the export queue was full; export_failed: the collector refused them or was unreachable; shutdown: unsent at exit)",
            &["reason"]
        )?,
        state_errors: register_int_counter_vec!(
            "gateway_state_errors_total",
            "State store operations Redis did not serve (unreachable, timed out or erroring), by op",
            &["op"]
        )?,
        state_backend_up: register_int_gauge!(
            "gateway_state_backend_up",
            "Whether the Redis state backend is reachable (1 up, 0 down)"
        )?,
        ratelimit_rejections: register_int_counter_vec!(
            "gateway_ratelimit_rejections_total",
            "Requests refused by a rate limit, by scope (key, route, provider)",
            &["scope"]
        )?,
        budget_rejections: register_int_counter_vec!(
            "gateway_budget_rejections_total",
            "Requests refused because the key's budget is spent, by key name",
            &["key"]
        )?,
        budget_refusals: register_int_counter_vec!(
            "gateway_budget_refusals_total",
            "Requests refused because a budget is spent, by scope (gateway, route, provider, key) and name",
            &["scope", "name"]
        )?,
        budget_alerts: register_int_counter_vec!(
            "gateway_budget_alerts_total",
            "Soft budget thresholds crossed (each fires once per period), by scope, name, period and threshold",
            &["scope", "name", "period", "threshold"]
        )?,
        webhook_deliveries: register_int_counter_vec!(
            "gateway_webhook_deliveries_total",
            "Budget webhook deliveries, by outcome (delivered, retried, failed, dropped)",
            &["outcome"]
        )?,
        guardrail_blocks: register_int_counter_vec!(
            "gateway_guardrail_blocks_total",
            "Requests and answers blocked by a guardrail, by guardrail and stage (request, response, chunk)",
            &["guardrail", "stage"]
        )?,
        guardrail_errors: register_int_counter_vec!(
            "gateway_guardrail_errors_total",
            "Guardrails that failed (script error, moderation call failed or timed out), by guardrail and action (open, closed)",
            &["guardrail", "action"]
        )?,
        cache_requests: register_int_counter_vec!(
            "gateway_cache_requests_total",
            "Response cache lookups, by result (hit, miss, bypass)",
            &["result"]
        )?,
        coalesced_requests: register_int_counter!(
            "gateway_coalesced_requests_total",
            "Requests answered by joining an identical request already in flight"
        )?,
        degraded_answers: register_int_counter_vec!(
            "gateway_degraded_answers_total",
            "Requests answered while every provider was down, by route and kind (stale, fallback)",
            &["route", "kind"]
        )?,
        semantic_lookups: register_int_counter_vec!(
            "gateway_semantic_cache_lookups_total",
            "Semantic cache lookups, by route and result (hit, miss, skipped, error)",
            &["route", "result"]
        )?,
        semantic_similarity: register_histogram!(
            "gateway_semantic_cache_similarity",
            "Cosine similarity of the semantic cache's hits",
            vec![0.8, 0.85, 0.9, 0.925, 0.95, 0.975, 0.99, 1.0]
        )?,
        semantic_entries: register_int_gauge!(
            "gateway_semantic_cache_entries",
            "Entries the semantic cache holds on this instance"
        )?,
        semantic_bytes: register_int_gauge!(
            "gateway_semantic_cache_bytes",
            "Bytes the semantic cache holds on this instance (vectors and answers)"
        )?,
        client_rejections: register_int_counter_vec!(
            "gateway_client_rejections_total",
            "Client connections or requests refused at a client limit, by reason",
            &["reason"]
        )?,
        client_connections: register_int_gauge!(
            "gateway_client_connections",
            "Client connections open on the API listener"
        )?,
    })
}

// Registration fails only on an invalid or duplicate static name: a
// programming error that every test run would catch at its first request.
#[allow(clippy::panic)]
static METRICS: LazyLock<Metrics> = LazyLock::new(|| match build() {
    Ok(m) => {
        m.build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        m
    }
    Err(e) => panic!("metrics registration failed: {e}"),
});

/// The gateway's metrics.
pub fn metrics() -> &'static Metrics {
    &METRICS
}

/// Records the version of the config now serving.
pub fn set_config_version(version: &str) {
    let m = metrics();
    m.config_info.reset();
    m.config_info.with_label_values(&[version]).set(1);
}

/// The default registry in Prometheus text format.
pub fn render() -> Vec<u8> {
    let _ = metrics();
    let mut buf = Vec::new();
    if let Err(e) = TextEncoder::new().encode(&prometheus::gather(), &mut buf) {
        tracing::error!(error = %e, "metrics encoding failed");
    }
    buf
}
