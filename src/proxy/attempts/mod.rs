//! The attempts of one request: its route's targets ranked ([`order`]),
//! each target's backends in its balancer's order, tried one after another
//! within the route's deadline and attempt budget, with jittered backoff,
//! hedged when the route says so ([`hedge`]); after a context-length error
//! only larger windows are tried. Failover happens only before the first
//! byte goes to the client; after that, errors travel in-band.

#![allow(clippy::result_large_err)]

mod attempt;
mod errors;
mod hedge;
mod order;
pub mod outcome;
mod request;
mod shared;
mod span;

use std::time::{Duration, Instant};

use rand::Rng;

pub use attempt::{Answer, Started, Winner};
pub use errors::{adapter_error, retry_after_secs, upstream_error_from, CONTEXT_OVERFLOW};
pub use outcome::{final_error, record, Failure, Outcome};
pub use shared::{Candidate, Shared};

use crate::routing::{HedgeAfter, Route, RoutePolicy};

/// Tries the route's candidates until one answers; `None` when none did
/// (`failures` says why, in order). When every backend was only cooling
/// down and the route allows it, waits once for the soonest one.
pub async fn run<'t>(
    shared: &Shared<'_>,
    route: &'t Route,
    failures: &mut Vec<Failure>,
) -> Option<Started<'t>> {
    let mut waited = false;
    let candidates = order::candidates(shared, route, failures);
    loop {
        let before = failures.len();
        if let Some(s) = try_all(shared, &candidates, failures).await {
            return Some(s);
        }
        let wait = shared.policy.wait_for_cooldown.filter(|_| !waited)?;
        let refusals = &failures[before..];
        if refusals.is_empty() || refusals.iter().any(|f| f.until.is_none()) {
            return None;
        }
        let soonest = refusals.iter().filter_map(|f| f.until).min()?;
        let now = Instant::now();
        if soonest > now + wait || soonest >= shared.deadline {
            return None;
        }
        tokio::time::sleep_until(soonest.into()).await;
        waited = true;
    }
}

/// Tries `candidates` in order within the attempt budget, with backoff,
/// hedging pairs of them when the route says so.
async fn try_all<'t>(
    shared: &Shared<'_>,
    candidates: &[Candidate<'t>],
    failures: &mut Vec<Failure>,
) -> Option<Started<'t>> {
    let policy = shared.policy;
    let mut next = 0;
    let mut sent = failures.iter().filter(|f| f.outcome.spent()).count() as u32;
    // After a context-length error, only larger windows are worth trying.
    let mut need_window: Option<u64> = None;
    while next < candidates.len() {
        if let Some(min) = need_window {
            if window(shared, &candidates[next]).is_none_or(|w| w <= min) {
                next += 1;
                continue;
            }
        }
        if sent >= policy.max_attempts || Instant::now() >= shared.deadline {
            break;
        }
        if sent > 0 && !back_off(policy, sent, shared.deadline).await {
            break;
        }
        let first = &candidates[next];
        next += 1;
        let hedge = policy
            .hedge_after
            .map(|h| hedge_delay(h, first))
            .zip(candidates.get(next));
        let (result, both) = match hedge {
            // Boxed: two attempts in flight are twice the state of one
            // (25 KB), which a route that does not hedge should not copy.
            Some((after, second)) => {
                Box::pin(hedge::hedged(shared, first, second, after, failures)).await
            }
            None => (shared.start(first).await, false),
        };
        if both {
            next += 1;
            sent += 1;
        }
        match result {
            Ok(s) => return Some(s),
            Err(f) => {
                sent += u32::from(f.outcome.spent());
                let overflow = f.error.code() == Some(CONTEXT_OVERFLOW);
                if overflow {
                    let here = window(shared, &candidates[next - 1]).unwrap_or(0);
                    need_window = Some(need_window.map_or(here, |w| w.max(here)));
                }
                let stop = !f.error.is_retryable() && !overflow;
                failures.push(f);
                if stop {
                    break;
                }
            }
        }
    }
    None
}

/// How long to give `first` before hedging it.
fn hedge_delay(h: HedgeAfter, first: &Candidate<'_>) -> Duration {
    match h {
        HedgeAfter::Fixed(d) => d,
        HedgeAfter::Percentile { p, fallback } => {
            first.backend.first_byte.percentile(p).unwrap_or(fallback)
        }
    }
}

/// The context window of a candidate's model, when the config knows it.
fn window(shared: &Shared<'_>, c: &Candidate<'_>) -> Option<u64> {
    let model = c.target.model_for(&shared.req.model);
    c.target.provider.models.get(model)?.context_window
}

/// Sleeps the jittered exponential backoff before attempt `n + 1`; false
/// when that would pass the deadline.
async fn back_off(policy: &RoutePolicy, n: u32, deadline: Instant) -> bool {
    if policy.backoff.is_zero() {
        return true;
    }
    let exp = policy
        .backoff
        .saturating_mul(1u32 << (n - 1).min(16))
        .min(policy.max_backoff);
    let delay = exp.mul_f64(rand::thread_rng().gen_range(0.5..1.0));
    if Instant::now() + delay >= deadline {
        return false;
    }
    tokio::time::sleep(delay).await;
    true
}
