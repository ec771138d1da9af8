//! Recording a finished request: its metrics, its access log line, and,
//! for a model request, its usage ledger record.

use super::RequestCtx;
use crate::ledger::UsageRecord;
use crate::metrics::metrics;
use crate::policy::Policies;

/// Records `ctx`'s request, whatever its end; its trace goes to the
/// exporter.
pub fn finished(ctx: &mut RequestCtx, policies: &Policies) {
    let trace_id = ctx.trace.as_ref().map(|t| t.hex.as_str());
    record(ctx, trace_id);
    if let Some(ledger) = &policies.ledger {
        if !ctx.endpoint.is_empty() {
            ledger.record(usage_record(ctx, trace_id.map(str::to_string)));
        }
    }
    super::spans::finish(ctx);
}

/// A finished model request, for the usage ledger.
fn usage_record(ctx: &RequestCtx, trace_id: Option<String>) -> UsageRecord {
    let usage = ctx.usage.unwrap_or_default();
    UsageRecord {
        at_ms: crate::ledger::now_ms(),
        request_id: ctx.request_id.clone(),
        key: ctx.key.clone().unwrap_or_default(),
        route: ctx.route.clone().unwrap_or_default(),
        provider: ctx.provider.clone().unwrap_or_default(),
        model: ctx.model.clone().unwrap_or_default(),
        endpoint: ctx.endpoint.to_string(),
        status: ctx.status,
        stream: ctx.stream,
        prompt_tokens: usage.prompt,
        completion_tokens: usage.completion,
        cached_tokens: usage.cached,
        cost_usd: ctx.cost.unwrap_or(0.0),
        latency_ms: ctx.started.elapsed().as_millis() as u64,
        ttft_ms: ctx.ttft.map(|t| t.as_millis() as u64),
        attempts: ctx.attempts.len() as u32,
        cache: ctx.cache.unwrap_or("").to_string(),
        error: ctx.error.map(str::to_string),
        trace_id,
        guardrail: ctx.guardrail.clone(),
    }
}

/// Metrics and the access log line for a finished request.
fn record(ctx: &RequestCtx, trace_id: Option<&str>) {
    let m = metrics();
    let route = ctx.route.as_deref().unwrap_or("");
    let provider = ctx.provider.as_deref().unwrap_or("");
    let model = ctx.model.as_deref().unwrap_or("");
    let status = ctx.status.to_string();
    let elapsed = ctx.started.elapsed();
    if !ctx.endpoint.is_empty() {
        m.requests
            .with_label_values(&[route, provider, model, &status])
            .inc();
        m.request_duration
            .with_label_values(&[route, provider])
            .observe(elapsed.as_secs_f64());
        if let Some(t) = ctx.ttft {
            m.ttft
                .with_label_values(&[route, provider])
                .observe(t.as_secs_f64());
        }
        if let Some(c) = ctx.cost {
            m.cost.with_label_values(&[provider, model]).inc_by(c);
        }
        if let Some(u) = ctx.usage {
            for (kind, n) in [
                ("prompt", u.prompt),
                ("completion", u.completion),
                ("cached", u.cached),
            ] {
                if n > 0 {
                    m.tokens
                        .with_label_values(&[provider, model, kind])
                        .inc_by(n);
                }
            }
        }
    }
    tracing::info!(
        target: "access",
        request_id = %ctx.request_id,
        endpoint = ctx.endpoint,
        route,
        provider,
        model,
        status = ctx.status,
        stream = ctx.stream,
        attempts = %ctx.attempts_header(),
        latency_ms = elapsed.as_millis() as u64,
        ttft_ms = ctx.ttft.map(|t| t.as_millis() as u64),
        prompt_tokens = ctx.usage.map(|u| u.prompt),
        completion_tokens = ctx.usage.map(|u| u.completion),
        cost_usd = ctx.cost,
        key = ctx.key.as_deref(),
        cache = ctx.cache,
        error = ctx.error,
        guardrail = ctx.guardrail.as_deref(),
        config_version = %ctx.config_version,
        trace_id,
        "request"
    );
}
