//! Settling the attempt that answered, once its answer is whole (or its
//! stream ended): the backend's circuit breaker and latency statistics,
//! the request's cost, and the provider's token reservation. The request's
//! own admission (key, route, cache) is settled by
//! [`Ticket::settle`](super::admit::Ticket::settle).

use std::time::Instant;

use super::admit;
use super::attempts::{Shared, Winner};
use super::RequestCtx;
use crate::provider::Provider;

/// How the winning attempt's answer reached the client.
pub enum Delivered {
    /// A whole answer.
    Whole,
    /// A stream; `broke` when the provider broke it (cut, failed, too
    /// slow): that counts against its backend, and its timing is not kept.
    Stream { broke: bool },
}

/// Settles `winner` (see the module's doc).
pub async fn attempt(
    ctx: &mut RequestCtx,
    shared: &Shared<'_>,
    winner: Winner<'_>,
    how: Delivered,
) {
    let provider = &winner.target.provider;
    let (broke, first_byte) = match how {
        Delivered::Whole => (false, None),
        Delivered::Stream { broke } => (broke, Some(winner.first_byte)),
    };
    let now = Instant::now();
    if broke {
        winner.permit.failure(now);
    } else {
        winner.permit.success(now);
    }
    drop(winner.in_flight);
    if !broke {
        winner.backend.latency.observe(
            &winner.model,
            first_byte,
            winner.began.elapsed(),
            shared.policy.latency_memory,
        );
    }
    ctx.cost = cost(ctx, provider, &winner.model);
    if winner.limit.is_some() {
        let used = ctx
            .usage
            .map_or_else(|| shared.estimate(), |u| u.prompt + u.completion);
        admit::settle_provider(shared.store.as_ref(), winner.limit.as_ref(), Some(used)).await;
    }
}

/// Whether a stream that ended with `error` was broken by its provider.
pub fn broke(error: Option<&str>) -> bool {
    matches!(
        error,
        Some(
            "stream_interrupted"
                | "stream_truncated"
                | "upstream_stream_error"
                | "upstream_event_too_large"
                | "upstream_invalid_json"
                | "upstream_invalid_sse"
                | "stream_timeout"
        )
    )
}

/// The request's cost from its usage and the served model's configured prices.
fn cost(ctx: &RequestCtx, provider: &Provider, model: &str) -> Option<f64> {
    ctx.usage?.cost(provider.models.get(model)?)
}
