//! A provider's backend: one endpoint (or one key of an account) with its
//! own address, credentials and circuit breaker. Breakers and balancers are
//! kept across config reloads for every backend whose identity did not
//! change, so a reload does not forget that a backend is failing.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::balance::{Balancer, Member, Strategy};
use super::breaker::{Breaker, BreakerConfig};
use super::health::Probe;
use super::latency::ModelLatency;
use super::quota::Quota;
use super::Upstream;
use crate::secrets::Secret;

/// One backend of a provider.
#[derive(Debug)]
pub struct Backend {
    /// Stable identity: provider, name, and a hash of URL and key.
    pub id: String,
    /// Name in headers and metrics (`provider/name` when a provider has several).
    pub label: String,
    pub upstream: Upstream,
    pub api_key: Option<Secret>,
    pub weight: usize,
    pub breaker: Arc<Breaker>,
    /// Headers a health probe sends (the adapter's auth headers).
    pub probe_headers: Vec<(String, String)>,
    /// Recent times to a successful answer (first bytes of a stream).
    pub first_byte: LatencyWindow,
    /// Decayed latencies of each model it served (carried over a reload).
    pub latency: Arc<ModelLatency>,
    /// The quota its answers announce (carried over a reload).
    pub quota: Arc<Quota>,
}

/// The last few hundred latencies of a backend, for percentiles.
#[derive(Debug, Default)]
pub struct LatencyWindow {
    samples: Mutex<VecDeque<Duration>>,
}

impl LatencyWindow {
    /// Samples kept.
    const CAPACITY: usize = 256;
    /// Samples needed before a percentile is trusted.
    const MIN_SAMPLES: usize = 20;

    /// Records one latency.
    pub fn record(&self, d: Duration) {
        let mut s = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        if s.len() == Self::CAPACITY {
            s.pop_front();
        }
        s.push_back(d);
    }

    /// The `p`-th percentile (0..=100) once there are enough samples.
    pub fn percentile(&self, p: f64) -> Option<Duration> {
        let mut v: Vec<Duration> = {
            let s = self.samples.lock().unwrap_or_else(|e| e.into_inner());
            if s.len() < Self::MIN_SAMPLES {
                return None;
            }
            s.iter().copied().collect()
        };
        v.sort_unstable();
        let rank = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
        v.get(rank.min(v.len() - 1)).copied()
    }
}

impl Probe for Backend {
    fn upstream(&self) -> &Upstream {
        &self.upstream
    }

    fn probe_headers(&self) -> Vec<(String, String)> {
        self.probe_headers.clone()
    }
}

/// The identity of a backend: the same provider, name, URL and key give the
/// same id (the key only as a hash).
pub fn backend_id(provider: &str, name: &str, base_url: &str, key: Option<&str>) -> String {
    let mut h = Sha256::new();
    h.update(base_url.as_bytes());
    h.update([0]);
    h.update(key.unwrap_or("").as_bytes());
    let digest: String = h
        .finalize()
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{provider}/{name}#{digest}")
}

static BREAKERS: LazyLock<Mutex<HashMap<String, Weak<Breaker>>>> = LazyLock::new(Default::default);
static LATENCIES: LazyLock<Mutex<HashMap<String, Weak<ModelLatency>>>> =
    LazyLock::new(Default::default);
static BALANCERS: LazyLock<Mutex<HashMap<String, Weak<Balancer<Backend>>>>> =
    LazyLock::new(Default::default);

/// The breaker of backend `id`: the live one if a loaded config has it
/// (reconfigured), else a new one.
pub fn breaker_for(id: &str, cfg: &BreakerConfig) -> Arc<Breaker> {
    let mut map = BREAKERS.lock().unwrap_or_else(|e| e.into_inner());
    map.retain(|_, w| w.strong_count() > 0);
    if let Some(b) = map.get(id).and_then(Weak::upgrade) {
        b.set_config(cfg.clone());
        return b;
    }
    let b = Arc::new(Breaker::new(cfg.clone()));
    map.insert(id.to_string(), Arc::downgrade(&b));
    b
}

/// The latency averages of backend `id`: the live ones if a loaded config
/// has the backend, else new (the state is on the backends; this only
/// finds it again across a reload).
pub fn latency_for(id: &str) -> Arc<ModelLatency> {
    let mut map = LATENCIES.lock().unwrap_or_else(|e| e.into_inner());
    map.retain(|_, w| w.strong_count() > 0);
    if let Some(l) = map.get(id).and_then(Weak::upgrade) {
        return l;
    }
    let l = Arc::new(ModelLatency::default());
    map.insert(id.to_string(), Arc::downgrade(&l));
    l
}

/// The balancer of `provider`: rebuilt from the live one (keeping health and
/// in-flight counts of unchanged backends) or new.
pub fn balancer_for(
    provider: &str,
    strategy: Strategy,
    members: Vec<Member<Backend>>,
) -> Arc<Balancer<Backend>> {
    let mut map = BALANCERS.lock().unwrap_or_else(|e| e.into_inner());
    map.retain(|_, w| w.strong_count() > 0);
    let b = match map.get(provider).and_then(Weak::upgrade) {
        Some(live) => Arc::new(live.rebuild(strategy, members)),
        None => Arc::new(Balancer::new(strategy, members)),
    };
    map.insert(provider.to_string(), Arc::downgrade(&b));
    b
}
