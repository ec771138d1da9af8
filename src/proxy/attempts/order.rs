//! The order to try a route's targets in for one request: the usable ones
//! (not ruled out by [`Shared::precheck`] or a too small context window),
//! ranked by the route's strategy or its scoring script, each expanded into
//! its backends in the balancer's order.

use super::outcome::{Failure, Outcome};
use super::shared::{Candidate, Shared};
use crate::error::GatewayError;
use crate::metrics::metrics;
use crate::routing::{strategy, Route, Target};

/// Every backend of every usable target, in the order to try: targets in
/// route order, each target's backends in its balancer's order.
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
        for backend in provider.backends.candidates(&key, |_| true) {
            out.push(Candidate { target, backend });
        }
    }
    out
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
