//! When every provider is down: the request's cached answer past its TTL
//! (`x-switchyard-cache: stale`, when the route keeps them), else the
//! route's fixed fallback message (`x-switchyard-fallback: true`, when the
//! route has one), else the error. Only for failures another provider
//! could have fixed (5xx, timeouts, 429s, every backend benched): a
//! request the providers refuse as invalid still gets its error. Never
//! silent: the headers, `gateway_degraded_answers_total` and the ledger's
//! `cache` column say which happened.

use pingora_proxy::Session;
use serde_json::json;

use super::admit::Ticket;
use super::deliver;
use super::respond::write_error;
use super::RequestCtx;
use crate::error::GatewayError;
use crate::metrics::metrics;
use crate::policy::cache::Cached;
use crate::request::{ClientRequest, Endpoint};
use crate::routing::{Fallback, Route};

/// What `provider` says on a fallback answer (headers, metrics, ledger).
pub const FALLBACK_PROVIDER: &str = "fallback";

/// Answers a request whose attempts all failed with `error`.
pub async fn answer(
    session: &mut Session,
    ctx: &mut RequestCtx,
    req: &ClientRequest,
    route: &Route,
    ticket: &mut Ticket<'_>,
    error: GatewayError,
) -> pingora::Result<()> {
    if !providers_down(&error) {
        return write_error(session, ctx, &error).await;
    }
    if let Some(stale) = ticket.stale() {
        count(ctx, route, "stale", &error);
        let past = crate::policy::cache::now_ms().saturating_sub(stale.fresh_until_ms) / 1000;
        ctx.extra_headers
            .push(("x-switchyard-stale-seconds", past.to_string()));
        return deliver::cached(session, ctx, req, &stale).await;
    }
    let fallback = route.policy.fallback.as_ref();
    if let Some(f) = fallback.filter(|_| req.endpoint == Endpoint::Chat) {
        count(ctx, route, "fallback", &error);
        ctx.extra_headers
            .push(("x-switchyard-fallback", "true".into()));
        let answer = fallback_answer(f, &req.model, &ctx.request_id);
        return deliver::cached(session, ctx, req, &answer).await;
    }
    write_error(session, ctx, &error).await
}

/// Failures that another provider, or the same one later, could have
/// answered: the ones a degraded answer stands in for.
fn providers_down(error: &GatewayError) -> bool {
    error.is_retryable() && !matches!(error, GatewayError::Unsupported(_))
}

fn count(ctx: &mut RequestCtx, route: &Route, kind: &'static str, error: &GatewayError) {
    ctx.cache = Some(kind);
    metrics()
        .degraded_answers
        .with_label_values(&[&route.name, kind])
        .inc();
    tracing::warn!(
        route = %route.name,
        answered = kind,
        error = %error,
        "every provider is down: answered degraded"
    );
}

/// The route's fallback message as an OpenAI chat completion, finished
/// with `stop` and free (no usage).
fn fallback_answer(f: &Fallback, model: &str, request_id: &str) -> Cached {
    let body = json!({
        "id": format!("chatcmpl-fallback-{request_id}"),
        "object": "chat.completion",
        "created": crate::policy::cache::now_ms() / 1000,
        "model": model,
        "system_fingerprint": "switchyard-fallback",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": f.message},
            "finish_reason": "stop",
        }],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    });
    Cached {
        provider: FALLBACK_PROVIDER.into(),
        model: model.to_string(),
        body: body.to_string(),
        prompt_tokens: 0,
        completion_tokens: 0,
        fresh_until_ms: 0,
    }
}

#[cfg(test)]
mod tests;
