//! `GET /admin/stats`: the Prometheus registry summarised for people and
//! the dashboard — totals by route, provider, model and status class,
//! p50/p95 estimated from the histograms, cost and tokens per provider and
//! model, cache results, rejections and what is in flight.
//!
//! Counters are cumulative. Rates and recent percentiles come from the
//! difference with an older snapshot kept in [`Recent`] (about a minute
//! back); the dashboard also computes per-poll rates itself.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus::proto::{Metric, MetricFamily};
use serde_json::{json, Value};

/// Cumulative histogram buckets of one family, all its series merged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    /// `(upper bound, cumulative count)` of the finite buckets, ascending.
    pub buckets: Vec<(f64, u64)>,
    /// Every observation, the `+Inf` bucket included.
    pub count: u64,
}

impl Histogram {
    fn add(&mut self, m: &Metric) {
        let h = m.get_histogram();
        self.count += h.get_sample_count();
        for b in h.get_bucket() {
            let (le, n) = (b.upper_bound(), b.cumulative_count());
            match self.buckets.iter_mut().find(|(bound, _)| *bound == le) {
                Some((_, total)) => *total += n,
                None => self.buckets.push((le, n)),
            }
        }
        self.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    }

    /// The observations since `older` (same buckets; a reset counts as zero).
    pub fn since(&self, older: &Histogram) -> Histogram {
        let before = |le: f64| {
            older
                .buckets
                .iter()
                .find(|(b, _)| *b == le)
                .map_or(0, |(_, n)| *n)
        };
        Histogram {
            buckets: self
                .buckets
                .iter()
                .map(|&(le, n)| (le, n.saturating_sub(before(le))))
                .collect(),
            count: self.count.saturating_sub(older.count),
        }
    }

    /// The `q` quantile (0..=1) like Prometheus' `histogram_quantile`:
    /// find the bucket holding rank `q × count` and interpolate linearly
    /// within it (from 0 for the first bucket). A rank in the `+Inf` bucket
    /// gives the highest finite bound. `None` without observations.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 || !(0.0..=1.0).contains(&q) {
            return None;
        }
        let rank = q * self.count as f64;
        let (mut lower, mut below) = (0.0, 0u64);
        for &(le, cum) in &self.buckets {
            if cum as f64 >= rank {
                let inside = cum.saturating_sub(below);
                if inside == 0 {
                    return Some(le);
                }
                let lower = if le > 0.0 { lower } else { le };
                return Some(lower + (le - lower) * (rank - below as f64) / inside as f64);
            }
            (lower, below) = (le, cum);
        }
        self.buckets.last().map(|&(le, _)| le)
    }

    /// `{"p50", "p95", "count"}` in milliseconds.
    fn view_ms(&self) -> Value {
        let ms = |q| self.quantile(q).map(|s| round(s * 1000.0, 1));
        json!({"p50": ms(0.5), "p95": ms(0.95), "count": self.count})
    }
}

/// Requests answered, split by status class.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Counts {
    pub total: u64,
    /// 4xx answers.
    pub client_errors: u64,
    /// 5xx answers.
    pub server_errors: u64,
}

impl Counts {
    fn add(&mut self, status: &str, n: u64) {
        self.total += n;
        match status.as_bytes().first() {
            Some(b'4') => self.client_errors += n,
            Some(b'5') => self.server_errors += n,
            _ => {}
        }
    }

    fn errors(&self) -> u64 {
        self.client_errors + self.server_errors
    }

    fn view(&self) -> Value {
        json!({"total": self.total, "4xx": self.client_errors, "5xx": self.server_errors})
    }
}

/// Tokens and spend of one provider and model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usage {
    pub requests: Counts,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cached_tokens: u64,
    pub cost_usd: f64,
}

/// The registry's figures at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub requests: Counts,
    pub by_route: BTreeMap<String, Counts>,
    /// By `(provider, model)`; requests refused before routing have both empty.
    pub by_model: BTreeMap<(String, String), Usage>,
    pub latency: Histogram,
    pub ttft: Histogram,
    /// Cache lookups by result (hit, miss, bypass).
    pub cache: BTreeMap<String, u64>,
    pub coalesced: u64,
    /// Rate-limit refusals by scope (key, route, provider).
    pub rate_limited: BTreeMap<String, u64>,
    pub budget_refused: u64,
    /// Upstream attempts by outcome, all providers together.
    pub attempts: BTreeMap<String, u64>,
    pub failovers: u64,
    pub hedges: u64,
    pub in_flight: i64,
    pub streams_in_flight: i64,
}

fn label<'a>(m: &'a Metric, name: &str) -> &'a str {
    m.get_label()
        .iter()
        .find(|l| l.name() == name)
        .map_or("", |l| l.value())
}

fn counter(m: &Metric) -> f64 {
    m.get_counter().value()
}

fn int(m: &Metric) -> u64 {
    counter(m).max(0.0) as u64
}

impl Snapshot {
    /// Sums the gateway's families (others are ignored).
    pub fn from_families(families: &[MetricFamily]) -> Snapshot {
        let mut s = Snapshot::default();
        for f in families {
            for m in f.get_metric() {
                s.add(f.name(), m);
            }
        }
        s
    }

    fn add(&mut self, family: &str, m: &Metric) {
        let model_key = || {
            (
                label(m, "provider").to_string(),
                label(m, "model").to_string(),
            )
        };
        let bump = |map: &mut BTreeMap<String, u64>, key: &str| {
            *map.entry(key.to_string()).or_default() += int(m);
        };
        match family {
            "gateway_requests_total" => {
                let (status, n) = (label(m, "status"), int(m));
                self.requests.add(status, n);
                let route = label(m, "route").to_string();
                self.by_route.entry(route).or_default().add(status, n);
                let usage = self.by_model.entry(model_key()).or_default();
                usage.requests.add(status, n);
            }
            "gateway_tokens_total" => {
                let usage = self.by_model.entry(model_key()).or_default();
                match label(m, "type") {
                    "prompt" => usage.prompt_tokens += int(m),
                    "completion" => usage.completion_tokens += int(m),
                    "cached" => usage.cached_tokens += int(m),
                    _ => {}
                }
            }
            "gateway_cost_usd_total" => {
                self.by_model.entry(model_key()).or_default().cost_usd += counter(m);
            }
            "gateway_request_duration_seconds" => self.latency.add(m),
            "gateway_time_to_first_token_seconds" => self.ttft.add(m),
            "gateway_cache_requests_total" => bump(&mut self.cache, label(m, "result")),
            "gateway_coalesced_requests_total" => self.coalesced += int(m),
            "gateway_ratelimit_rejections_total" => bump(&mut self.rate_limited, label(m, "scope")),
            "gateway_budget_rejections_total" => self.budget_refused += int(m),
            "gateway_upstream_attempts_total" => bump(&mut self.attempts, label(m, "outcome")),
            "gateway_failovers_total" => self.failovers += int(m),
            "gateway_hedges_total" => self.hedges += int(m),
            "gateway_requests_in_flight" => self.in_flight = m.get_gauge().value() as i64,
            "gateway_streams_in_flight" => self.streams_in_flight = m.get_gauge().value() as i64,
            _ => {}
        }
    }

    /// Spend over every provider and model.
    pub fn cost_usd(&self) -> f64 {
        self.by_model.values().map(|u| u.cost_usd).sum()
    }

    /// The cumulative figures as JSON (see `docs/admin-openapi.yaml`).
    pub fn view(&self) -> Value {
        let routes: Vec<Value> = self
            .by_route
            .iter()
            .map(|(route, c)| json!({"route": route, "requests": c.view()}))
            .collect();
        let models: Vec<Value> = self
            .by_model
            .iter()
            .map(|((provider, model), u)| {
                json!({
                    "provider": provider,
                    "model": model,
                    "requests": u.requests.view(),
                    "tokens": {
                        "prompt": u.prompt_tokens,
                        "completion": u.completion_tokens,
                        "cached": u.cached_tokens,
                    },
                    "cost_usd": u.cost_usd,
                })
            })
            .collect();
        let sum = |f: fn(&Usage) -> u64| self.by_model.values().map(f).sum::<u64>();
        let count = |result: &str| self.cache.get(result).copied().unwrap_or(0);
        // Lookups hit or miss exactly; of the misses, some are answered by
        // meaning: both answer without a call.
        let lookups = count("hit") + count("miss");
        let hits = count("hit") + count("semantic");
        json!({
            "requests": self.requests.view(),
            "in_flight": {"requests": self.in_flight, "streams": self.streams_in_flight},
            "latency_ms": self.latency.view_ms(),
            "ttft_ms": self.ttft.view_ms(),
            "cost_usd": self.cost_usd(),
            "tokens": {
                "prompt": sum(|u| u.prompt_tokens),
                "completion": sum(|u| u.completion_tokens),
                "cached": sum(|u| u.cached_tokens),
            },
            "cache": {
                "results": self.cache,
                "coalesced": self.coalesced,
                "hit_ratio": (lookups > 0).then(|| hits as f64 / lookups as f64),
            },
            "rejections": {
                "rate_limit": self.rate_limited,
                "budget": self.budget_refused,
            },
            "upstream": {
                "attempts": self.attempts,
                "failovers": self.failovers,
                "hedges": self.hedges,
            },
            "routes": routes,
            "models": models,
        })
    }

    /// Rates and percentiles since `older`, taken `window` earlier.
    pub fn recent_view(&self, older: &Snapshot, window: Duration) -> Value {
        let secs = window.as_secs_f64().max(f64::EPSILON);
        let requests = self.requests.total.saturating_sub(older.requests.total);
        let errors = self
            .requests
            .errors()
            .saturating_sub(older.requests.errors());
        let cost = (self.cost_usd() - older.cost_usd()).max(0.0);
        json!({
            "window_s": round(secs, 1),
            "requests": requests,
            "requests_per_s": round(requests as f64 / secs, 3),
            "error_ratio": (requests > 0).then(|| errors as f64 / requests as f64),
            "cost_usd_per_min": cost * 60.0 / secs,
            "latency_ms": self.latency.since(&older.latency).view_ms(),
            "ttft_ms": self.ttft.since(&older.ttft).view_ms(),
        })
    }
}

fn round(x: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (x * scale).round() / scale
}

/// How far back the recent figures look.
pub const WINDOW: Duration = Duration::from_secs(60);
/// The least time between two kept snapshots.
const SPACING: Duration = Duration::from_secs(1);

/// Snapshots taken at stats requests (one a second at most), kept until a
/// newer one is at least [`WINDOW`] old, and never past two windows: a few
/// dozen small structs.
#[derive(Default)]
pub struct Recent {
    ring: Mutex<VecDeque<(Instant, Arc<Snapshot>)>>,
}

impl Recent {
    /// Keeps `snap` (if the last kept one is older than a second) and
    /// returns the snapshot to compare it with: the newest at least
    /// [`WINDOW`] old, else the oldest kept; `None` if that is the same
    /// moment.
    pub fn observe(&self, now: Instant, snap: Arc<Snapshot>) -> Option<(Duration, Arc<Snapshot>)> {
        let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        let old_enough = |t: Instant| now.saturating_duration_since(t) >= WINDOW;
        while ring.len() > 1 && ring.get(1).is_some_and(|(t, _)| old_enough(*t)) {
            ring.pop_front();
        }
        // After a quiet spell (nobody asked), start afresh rather than
        // report "recent" figures over hours.
        while ring
            .front()
            .is_some_and(|(t, _)| now.saturating_duration_since(*t) > 2 * WINDOW)
        {
            ring.pop_front();
        }
        if ring
            .back()
            .is_none_or(|(t, _)| now.saturating_duration_since(*t) >= SPACING)
        {
            ring.push_back((now, snap));
        }
        let (t, base) = ring.front()?;
        let age = now.saturating_duration_since(*t);
        (age >= SPACING).then(|| (age, base.clone()))
    }
}

#[cfg(test)]
mod tests;
