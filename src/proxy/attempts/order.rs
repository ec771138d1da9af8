//! The order to try a route's targets in for one request: the usable ones
//! (not ruled out by [`Shared::precheck`] or a too small context window),
//! ranked by the route's strategy or its scoring script, each expanded into
//! its backends in the balancer's order.
//!
//! When the route scores (a scoring strategy or script), a target's
//! backends are then stably sorted by quota headroom, most left first, an
//! unknown quota counting as untouched: of two keys of one account, the
//! one its provider says is fuller goes first, instead of the balancer
//! spending one to the end while the other idles. With nothing known the
//! balancer's order stays as it is. A `consistent-hash` balancer keeps its
//! order, which is there for affinity (prompt caches), a `priority` one
//! too (a backup key is for when the primary fails, not for when it is
//! busier), and so do `ordered` and `round-robin` routes, which promise the
//! configured order.

use std::sync::Arc;
use std::time::Instant;

use super::outcome::{Failure, Outcome};
use super::shared::{Candidate, Shared};
use crate::error::GatewayError;
use crate::metrics::metrics;
use crate::routing::{strategy, Route, Target};
use crate::upstream::backend::Backend;
use crate::upstream::balance::Strategy as Balance;

/// Every backend of every usable target, in the order to try: targets in
/// route order, each target's backends in its balancer's order (by
/// headroom first when the route scores, see the module doc).
pub(super) fn candidates<'t>(
    shared: &Shared<'_>,
    route: &'t Route,
    failures: &mut Vec<Failure>,
) -> Vec<Candidate<'t>> {
    let scored = shared.policy.scorer.is_some() || shared.policy.strategy.scores();
    let mut usable = Vec::new();
    for target in &route.targets {
        if let Err(f) = shared.precheck(target) {
            failures.push(f);
            continue;
        }
        let model = target.model_for(&shared.req.model);
        if let Some(w) = shared.too_small_window(target, model) {
            let demand = shared.demand();
            let e = GatewayError::Unsupported(format!(
                "the request (about {} prompt + {} output tokens) does not fit `{model}`'s context window of {w} tokens",
                demand.prompt_tokens, demand.output_tokens
            ));
            failures.push(Failure::new(&target.provider.name, Outcome::Context, e));
            continue;
        }
        let components = if scored {
            strategy::components(target, model, shared.demand())
        } else {
            strategy::Components::default()
        };
        usable.push((target, components));
    }
    let order = match &shared.policy.scorer {
        Some(scorer) => scripted_order(shared, scorer, &usable),
        None => strategy::order(shared.policy, &usable),
    };
    let mut out = Vec::new();
    for target in order
        .into_iter()
        .filter_map(|i| usable.get(i).map(|(t, _)| *t))
    {
        let provider = &target.provider;
        let key = shared.hash_key(provider);
        let mut backends = provider.backends.candidates(&key, |_| true);
        let keeps_order = matches!(
            provider.backends.strategy(),
            Balance::ConsistentHash | Balance::Priority
        );
        if scored && !keeps_order {
            by_headroom(&mut backends, Instant::now());
        }
        for backend in backends {
            out.push(Candidate { target, backend });
        }
    }
    out
}

/// Sorts `backends` by quota headroom, most first, unknown as full (1.0);
/// stable, so equal ones keep the balancer's order. Each backend's
/// headroom is read once, not per comparison.
fn by_headroom(backends: &mut Vec<Arc<Backend>>, now: Instant) {
    if backends.len() < 2 {
        return;
    }
    let mut keyed: Vec<(f64, Arc<Backend>)> = backends
        .drain(..)
        .map(|b| (b.quota.snapshot(now).headroom().unwrap_or(1.0), b))
        .collect();
    keyed.sort_by(|(x, _), (y, _)| y.total_cmp(x));
    backends.extend(keyed.into_iter().map(|(_, b)| b));
}

/// The order a scoring script gives; the configured order if it fails.
fn scripted_order(
    shared: &Shared<'_>,
    scorer: &crate::provider::scorer::Scorer,
    usable: &[(&Target, strategy::Components)],
) -> Vec<usize> {
    let request = shared.script_request();
    let mut scores = Vec::with_capacity(usable.len());
    for (target, c) in usable {
        match scorer.score(shared.script_candidate(target, c), &request) {
            Ok(s) => scores.push(s),
            Err(e) => {
                metrics()
                    .script_errors
                    .with_label_values(&[&format!("scoring/{}", scorer.name())])
                    .inc();
                tracing::error!(error = %e, "scoring script failed; using the configured order");
                return (0..usable.len()).collect();
            }
        }
    }
    strategy::rank_by(&scores)
}
