//! What a backend's answers took, per model: exponentially decayed
//! averages of the time to first token and of the whole answer, which the
//! `latency` and `hybrid` route strategies rank targets by. They live on the
//! backend ([`super::backend::Backend::latency`]) and carry over a reload
//! with it, as its breaker does; a model not heard from for the route's
//! `latency_memory` is forgotten, so that a slow provider gets tried again.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Weight of the newest sample.
const ALPHA: f64 = 0.3;

/// Decayed averages of one model's latencies on one backend.
#[derive(Debug, Clone, Copy)]
struct Stats {
    ttft_ms: Option<f64>,
    total_ms: Option<f64>,
    updated: Instant,
    /// How long an observation stays meaningful.
    memory: Duration,
}

impl Stats {
    fn fresh(&self) -> bool {
        self.updated.elapsed() <= self.memory
    }
}

/// A backend's latency averages, by model.
#[derive(Debug, Default)]
pub struct ModelLatency {
    by_model: Mutex<HashMap<String, Stats>>,
}

impl ModelLatency {
    /// Records one answer of `model`: its time to first token (streams)
    /// and its total time; `memory` is how long it stays meaningful.
    pub fn observe(&self, model: &str, ttft: Option<Duration>, total: Duration, memory: Duration) {
        let mut map = self.by_model.lock().unwrap_or_else(|e| e.into_inner());
        let s = map.entry(model.to_string()).or_insert(Stats {
            ttft_ms: None,
            total_ms: None,
            updated: Instant::now(),
            memory,
        });
        let keep = |v: Option<f64>, fresh: bool| if fresh { v } else { None };
        let fresh = s.fresh();
        if let Some(t) = ttft {
            s.ttft_ms = Some(ewma(keep(s.ttft_ms, fresh), t.as_secs_f64() * 1000.0));
        }
        s.total_ms = Some(ewma(keep(s.total_ms, fresh), total.as_secs_f64() * 1000.0));
        s.updated = Instant::now();
        s.memory = memory;
    }

    /// The current averages of `model` in ms — time to first token and
    /// total — while fresh.
    pub fn current(&self, model: &str) -> (Option<f64>, Option<f64>) {
        let map = self.by_model.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(model) {
            Some(s) if s.fresh() => (s.ttft_ms, s.total_ms),
            _ => (None, None),
        }
    }
}

fn ewma(old: Option<f64>, sample: f64) -> f64 {
    old.map_or(sample, |o| o + ALPHA * (sample - o))
}

#[cfg(test)]
mod tests;
