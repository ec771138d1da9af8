//! Ranking a route's targets for one request: in configured order, rotated
//! per request (round-robin), or by estimated cost, observed latency,
//! configured quality, or a weighted mix of the three (each normalised
//! across the candidates, so dollars are never weighed against
//! milliseconds) plus, if weighted, what the providers say is left of their
//! quotas. The balancers then pick a backend within each target.
//! Ties keep the configured order.

use std::sync::atomic::Ordering;
use std::time::Instant;

use rand::Rng;

use super::{RoutePolicy, Target};
use crate::provider::Provider;

/// How a route orders its targets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Strategy {
    /// As listed in routes.yaml.
    Ordered,
    /// As listed, starting one target further with each request (the
    /// others stay in order behind it, for failover).
    RoundRobin,
    /// Cheapest estimated cost first (targets without prices last).
    Cost,
    /// Fastest first: time to first token for streams, total latency otherwise.
    Latency,
    /// Highest configured quality first.
    Quality,
    /// Lowest weighted sum of the normalised components.
    Hybrid(Weights),
    /// A Rhai scoring script (lowest score first); falls back to `ordered`
    /// when the script fails.
    Script,
}

/// Weights of the hybrid strategy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weights {
    pub cost: f64,
    pub latency: f64,
    pub quality: f64,
    /// Weight of the quota a target has spent (`1 - headroom`); 0 (the
    /// default) ignores quotas.
    pub headroom: f64,
}

impl Strategy {
    /// True when ranking reads the targets' [`Components`].
    pub fn scores(self) -> bool {
        !matches!(self, Self::Ordered | Self::RoundRobin)
    }

    /// Parses a route's `strategy:`; `weights` apply to `hybrid`.
    pub fn parse(s: &str, weights: Weights) -> Result<Self, String> {
        Ok(match s {
            "ordered" => Self::Ordered,
            "round-robin" => Self::RoundRobin,
            "cost" => Self::Cost,
            "latency" => Self::Latency,
            "quality" => Self::Quality,
            "hybrid" => Self::Hybrid(weights),
            "script" => Self::Script,
            other => {
                return Err(format!(
                "unknown strategy `{other}` (expected ordered, round-robin, cost, latency, quality, hybrid or script)"
            ))
            }
        })
    }

    /// The name in headers and logs.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Ordered => "ordered",
            Self::RoundRobin => "round-robin",
            Self::Cost => "cost",
            Self::Latency => "latency",
            Self::Quality => "quality",
            Self::Hybrid(_) => "hybrid",
            Self::Script => "script",
        }
    }
}

/// What ranking needs to know about a request.
#[derive(Debug, Clone, Copy)]
pub struct Demand {
    /// Estimated prompt tokens.
    pub prompt_tokens: u64,
    /// `max_tokens`, or the route's expected output.
    pub output_tokens: u64,
    pub stream: bool,
}

/// One target's score components (lower is better; `None` unknown).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Components {
    /// Estimated USD.
    pub cost: Option<f64>,
    /// Observed milliseconds.
    pub latency_ms: Option<f64>,
    /// Configured quality, 0..1 (higher is better).
    pub quality: Option<f64>,
    /// Share of their quota windows the target's backends have left, 0..1
    /// (higher is better; see [`headroom_of`]).
    pub headroom: Option<f64>,
}

/// The context window `model` lacks for `demand`, if it is configured and
/// too small (estimated prompt + output).
pub fn too_small_window(target: &Target, model: &str, demand: &Demand) -> Option<u64> {
    let window = target.provider.models.get(model)?.context_window?;
    (demand.prompt_tokens + demand.output_tokens > window).then_some(window)
}

/// The components of `target` for `demand`.
pub fn components(target: &Target, model: &str, demand: &Demand) -> Components {
    let info = target.provider.models.get(model);
    let cost = info.and_then(|m| {
        Some(
            (demand.prompt_tokens as f64 * m.input_per_mtok?
                + demand.output_tokens as f64 * m.output_per_mtok?)
                / 1e6,
        )
    });
    let (ttft, total) = latency_of(&target.provider, model);
    let latency = if demand.stream { ttft.or(total) } else { total };
    Components {
        cost,
        latency_ms: latency,
        quality: info.and_then(|m| m.quality),
        headroom: headroom_of(&target.provider),
    }
}

/// The order to try `targets` in (indexes), best first. With probability
/// `explore` the first two swap, so that a provider that was slow is tried
/// again and rediscovered once it recovers.
pub fn rank(strategy: Strategy, targets: &[(&Target, Components)], explore: f64) -> Vec<usize> {
    let n = targets.len();
    let mut order: Vec<usize> = (0..n).collect();
    let score = |i: usize| -> f64 {
        let c = &targets[i].1;
        match strategy {
            Strategy::Ordered | Strategy::RoundRobin | Strategy::Script => 0.0,
            Strategy::Cost => c.cost.unwrap_or(f64::INFINITY),
            // Unknown latency is optimistic: a new target gets tried.
            Strategy::Latency => c.latency_ms.unwrap_or(0.0),
            Strategy::Quality => -c.quality.unwrap_or(f64::NEG_INFINITY),
            Strategy::Hybrid(w) => hybrid(targets, i, w),
        }
    };
    let scores: Vec<f64> = (0..n).map(score).collect();
    order.sort_by(|a, b| scores[*a].total_cmp(&scores[*b]).then(a.cmp(b)));
    if n > 1 && explore > 0.0 && rand::thread_rng().gen_bool(explore.min(1.0)) {
        order.swap(0, 1);
    }
    order
}

/// The order to try `targets` in for one request of a route with `policy`:
/// [`rank`], and for `round-robin` rotated by the route's request counter,
/// so that consecutive requests start at consecutive targets.
pub fn order(policy: &RoutePolicy, targets: &[(&Target, Components)]) -> Vec<usize> {
    let mut order = rank(policy.strategy, targets, policy.explore);
    if policy.strategy == Strategy::RoundRobin && !order.is_empty() {
        let turn = policy.rotation.fetch_add(1, Ordering::Relaxed) % order.len();
        order.rotate_left(turn);
    }
    order
}

/// The order of candidates by externally computed scores (lower first;
/// `None` = set aside), ties in configured order.
pub fn rank_by(scores: &[Option<f64>]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).filter(|i| scores[*i].is_some()).collect();
    order.sort_by(|a, b| {
        let (x, y) = (
            scores[*a].unwrap_or(f64::INFINITY),
            scores[*b].unwrap_or(f64::INFINITY),
        );
        x.total_cmp(&y).then(a.cmp(b))
    });
    order
}

/// The weighted sum of `i`'s components, each scaled to 0 (best of the
/// candidates) … 1 (worst); unknown cost or quality counts as worst,
/// unknown latency as best. Headroom is already an absolute share, so it
/// is not rescaled (two providers with 95% left must not become 0 and 1):
/// the quota spent counts, an unknown quota as untouched.
fn hybrid(targets: &[(&Target, Components)], i: usize, w: Weights) -> f64 {
    let norm = |get: &dyn Fn(&Components) -> Option<f64>, unknown: f64| -> f64 {
        let values: Vec<f64> = targets.iter().filter_map(|(_, c)| get(c)).collect();
        let (lo, hi) = values
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(*v), hi.max(*v))
            });
        match get(&targets[i].1) {
            Some(v) if hi > lo => (v - lo) / (hi - lo),
            Some(_) => 0.0,
            None => unknown,
        }
    };
    w.cost * norm(&|c| c.cost, 1.0)
        + w.latency * norm(&|c| c.latency_ms, 0.0)
        + w.quality * norm(&|c| c.quality.map(|q| -q), 1.0)
        + w.headroom * (1.0 - targets.get(i).and_then(|(_, c)| c.headroom).unwrap_or(1.0))
}

// ───────────────────────── observed latency ─────────────────────────

/// The current decayed averages of `model` on `provider` in ms — time to
/// first token and total latency — averaged over the backends that served
/// it lately (each backend keeps its own, see [`crate::upstream::latency`]).
pub fn latency_of(provider: &Provider, model: &str) -> (Option<f64>, Option<f64>) {
    let mut ttft = (0.0, 0);
    let mut total = (0.0, 0);
    for b in &provider.backend_list {
        let (t, all) = b.latency.current(model);
        if let Some(t) = t {
            ttft = (ttft.0 + t, ttft.1 + 1);
        }
        if let Some(a) = all {
            total = (total.0 + a, total.1 + 1);
        }
    }
    let mean = |(sum, n): (f64, u32)| (n > 0).then(|| sum / f64::from(n));
    (mean(ttft), mean(total))
}

// ───────────────────────── quota headroom ─────────────────────────

/// The mean headroom of `provider`'s backends whose quota is known (see
/// [`crate::upstream::quota::Snapshot::headroom`]); `None` while none has
/// announced a window with a limit.
pub fn headroom_of(provider: &Provider) -> Option<f64> {
    let now = Instant::now();
    let (sum, n) = provider
        .backend_list
        .iter()
        .filter_map(|b| b.quota.snapshot(now).headroom())
        .fold((0.0, 0u32), |(sum, n), h| (sum + h, n + 1));
    (n > 0).then(|| sum / f64::from(n))
}

#[cfg(test)]
mod tests;
