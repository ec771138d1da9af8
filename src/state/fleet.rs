//! The fleet store: state shared through Redis, and what happens when Redis
//! cannot be reached.
//!
//! Any failure counts in `gateway_state_errors_total{op}`. A failure to
//! reach Redis also marks the backend down (`gateway_state_backend_up` 0, one
//! warning) and starts a probe on the link's runtime that pings every
//! [`PROBE_INTERVAL`] on a fresh connection until Redis answers, then marks it
//! up (one warning) and replays pending spend. While down, operations do not wait on Redis: fail-open
//! serves them from a local [`MemoryState`] (per-instance limits), fail-closed
//! answers [`StateError::Unavailable`].
//!
//! Spend is money, so it is never dropped: increments and seeds that could
//! not reach Redis (in either mode) are kept and replayed when it is back.
//! The local counters mirror the shared totals Redis last returned, so budgets
//! served locally start from the last known spend rather than from zero.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;

use super::bucket::{self, Decision, Rate};
use super::link::{BackendError, Link, OwnedRuntime};
use super::memory::MemoryState;
use super::{FailMode, StateError};
use crate::metrics::metrics;
use crate::upstream::quota::{FleetTake, Reading};

/// How often a down backend is probed.
pub const PROBE_INTERVAL: Duration = Duration::from_millis(500);

/// The operations, as `op` metric and log labels.
#[derive(Debug, Clone, Copy)]
enum Op {
    Take,
    Adjust,
    AddSpend,
    Spend,
    SeedSpend,
    CacheGet,
    CachePut,
    RecordGet,
    RecordPut,
    RecordDelete,
    SemanticPublish,
    SemanticRead,
    QuotaTake,
    QuotaRelease,
    QuotaObserve,
}

impl Op {
    fn label(self) -> &'static str {
        match self {
            Op::Take => "take",
            Op::Adjust => "adjust",
            Op::AddSpend => "add_spend",
            Op::Spend => "spend",
            Op::SeedSpend => "seed_spend",
            Op::CacheGet => "cache_get",
            Op::CachePut => "cache_put",
            Op::RecordGet => "record_get",
            Op::RecordPut => "record_put",
            Op::RecordDelete => "record_delete",
            Op::SemanticPublish => "semantic_publish",
            Op::SemanticRead => "semantic_read",
            Op::QuotaTake => "quota_take",
            Op::QuotaRelease => "quota_release",
            Op::QuotaObserve => "quota_observe",
        }
    }
}

/// The Redis store. Dropping the last clone stops its runtime and probe.
pub(crate) struct RedisState {
    shared: Arc<Shared>,
    _runtime: OwnedRuntime,
}

/// What the probe needs too (it must not own the runtime it runs on).
struct Shared {
    link: Link,
    fail: FailMode,
    up: AtomicBool,
    probing: AtomicBool,
    local: MemoryState,
    pending: Mutex<Pending>,
}

/// Spend that has not reached Redis yet.
#[derive(Default)]
struct Pending {
    seeds: Vec<(String, f64, Duration)>,
    added: HashMap<String, (f64, Duration)>,
}

impl RedisState {
    /// Starts the link (no connection yet) and checks Redis in the background.
    pub fn new(url: &str, fail: FailMode, prefix: &str) -> Result<Self, StateError> {
        let (link, runtime) = Link::start(url, prefix)?;
        let shared = Arc::new(Shared {
            link,
            fail,
            up: AtomicBool::new(true),
            probing: AtomicBool::new(false),
            local: MemoryState::new(),
            pending: Mutex::default(),
        });
        metrics().state_backend_up.set(1);
        let first = Arc::clone(&shared);
        shared.link.handle().spawn(async move {
            if let Err(e) = first.link.ping().await {
                if e.is_unreachable() {
                    first.went_down("connect", &e);
                }
            }
        });
        Ok(Self {
            shared,
            _runtime: runtime,
        })
    }

    pub fn healthy(&self) -> bool {
        self.shared.up.load(Ordering::Acquire)
    }

    // The operations below keep the contracts documented on `StateStore`.

    pub async fn take(&self, name: &str, rate: Rate, amount: u64) -> Result<Decision, StateError> {
        let s = &self.shared;
        match s.call(Op::Take, s.link.take(name, rate, amount)).await? {
            Some((tokens, taken)) => Ok(bucket::decide(tokens, taken, rate, amount)),
            None => Ok(s.local.take(name, rate, amount)),
        }
    }

    pub async fn adjust(&self, name: &str, rate: Rate, delta: i64) -> Result<(), StateError> {
        let s = &self.shared;
        match s.call(Op::Adjust, s.link.adjust(name, rate, delta)).await? {
            Some(()) => {}
            None => s.local.adjust(name, rate, delta),
        }
        Ok(())
    }

    pub async fn add_spend(
        &self,
        counters: &[(&str, Duration)],
        usd: f64,
    ) -> Result<Vec<f64>, StateError> {
        let s = &self.shared;
        let failure = match s.call(Op::AddSpend, s.link.add_spend(counters, usd)).await {
            Ok(Some(totals)) => {
                for (&(name, ttl), &total) in counters.iter().zip(&totals) {
                    s.local.mirror_spend(name, total, ttl);
                }
                return Ok(totals);
            }
            Ok(None) => None,
            Err(e) => Some(e),
        };
        let local = {
            let mut pending = lock(&s.pending);
            for &(name, ttl) in counters {
                pending.added.entry(name.to_owned()).or_insert((0.0, ttl)).0 += usd;
            }
            s.local.add_spend(counters, usd)
        };
        s.flush_if_up();
        failure.map_or(Ok(local), Err)
    }

    pub async fn spend(&self, counters: &[&str]) -> Result<Vec<f64>, StateError> {
        let s = &self.shared;
        match s.call(Op::Spend, s.link.spend(counters)).await? {
            Some(totals) => Ok(totals),
            None => Ok(s.local.spend(counters)),
        }
    }

    pub async fn seed_spend(
        &self,
        counter: &str,
        usd: f64,
        ttl: Duration,
    ) -> Result<(), StateError> {
        let s = &self.shared;
        let result = s
            .call(Op::SeedSpend, s.link.seed_spend(counter, usd, ttl))
            .await;
        s.local.seed_spend(counter, usd, ttl);
        if let Ok(Some(())) = result {
            return Ok(());
        }
        lock(&s.pending).seeds.push((counter.to_owned(), usd, ttl));
        s.flush_if_up();
        result.map(|_| ())
    }

    pub async fn cache_get(&self, key: &str) -> Result<Option<Bytes>, StateError> {
        let s = &self.shared;
        Ok(s.call(Op::CacheGet, s.link.cache_get(key)).await?.flatten())
    }

    pub async fn cache_put(
        &self,
        key: &str,
        value: Bytes,
        ttl: Duration,
    ) -> Result<(), StateError> {
        let s = &self.shared;
        s.call(Op::CachePut, s.link.cache_put(key, value, ttl))
            .await?;
        Ok(())
    }
}

impl RedisState {
    pub async fn record_get(&self, key: &str) -> Result<Option<Bytes>, StateError> {
        let s = &self.shared;
        Ok(s.call(Op::RecordGet, s.link.record_get(key))
            .await?
            .flatten())
    }

    pub async fn record_put(
        &self,
        key: &str,
        value: Bytes,
        ttl: Duration,
    ) -> Result<(), StateError> {
        let s = &self.shared;
        let stored = s
            .call(Op::RecordPut, s.link.record_put(key, value, ttl))
            .await?;
        match stored {
            Some(()) => Ok(()),
            // Failing open: the record is not kept anywhere the fleet sees.
            None => Err(StateError::Unavailable),
        }
    }

    pub async fn record_delete(&self, key: &str) -> Result<bool, StateError> {
        let s = &self.shared;
        Ok(s.call(Op::RecordDelete, s.link.record_delete(key))
            .await?
            .unwrap_or(false))
    }

    pub async fn semantic_publish(&self, entry: Bytes) -> Result<(), StateError> {
        let s = &self.shared;
        s.call(Op::SemanticPublish, s.link.semantic_publish(entry))
            .await?;
        Ok(())
    }

    pub async fn semantic_read(
        &self,
        after: &str,
        count: usize,
    ) -> Result<Vec<(String, Bytes)>, StateError> {
        let s = &self.shared;
        Ok(s.call(Op::SemanticRead, s.link.semantic_read(after, count))
            .await?
            .unwrap_or_default())
    }

    pub async fn quota_take(
        &self,
        backend: &str,
        tokens: u64,
        lease: &str,
        lasts: Duration,
    ) -> Result<Option<FleetTake>, StateError> {
        let s = &self.shared;
        s.call(
            Op::QuotaTake,
            s.link.quota_take(backend, tokens, lease, lasts),
        )
        .await
    }

    pub async fn quota_release(&self, backend: &str, lease: &str) -> Result<(), StateError> {
        let s = &self.shared;
        s.call(Op::QuotaRelease, s.link.quota_release(backend, lease))
            .await?;
        Ok(())
    }

    pub async fn quota_observe(
        &self,
        backend: &str,
        reading: &Reading,
        lease: Option<&str>,
    ) -> Result<(), StateError> {
        let s = &self.shared;
        s.call(
            Op::QuotaObserve,
            s.link.quota_observe(backend, reading, lease),
        )
        .await?;
        Ok(())
    }

    /// The runtime the link runs on, for background work that uses the store.
    pub fn handle(&self) -> &tokio::runtime::Handle {
        self.shared.link.handle()
    }
}

impl Shared {
    /// Runs `fut` against Redis unless the backend is down. `Ok(None)`: serve
    /// from local state (fail-open); `Err`: fail-closed.
    async fn call<T>(
        self: &Arc<Self>,
        op: Op,
        fut: impl Future<Output = Result<T, BackendError>>,
    ) -> Result<Option<T>, StateError> {
        if !self.up.load(Ordering::Acquire) {
            return self.degraded(op, StateError::Unavailable);
        }
        match fut.await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_unreachable() => {
                self.went_down(op.label(), &e);
                self.degraded(op, StateError::Unavailable)
            }
            Err(e) => {
                tracing::warn!(op = op.label(), error = %e, "state backend error");
                self.degraded(op, StateError::Backend(e.to_string()))
            }
        }
    }

    fn degraded<T>(&self, op: Op, err: StateError) -> Result<Option<T>, StateError> {
        metrics()
            .state_errors
            .with_label_values(&[op.label()])
            .inc();
        match self.fail {
            FailMode::Open => Ok(None),
            FailMode::Closed => Err(err),
        }
    }

    /// Marks the backend down (logging the transition once) and makes sure a
    /// probe is running.
    fn went_down(self: &Arc<Self>, op: &str, err: &BackendError) {
        if self.up.swap(false, Ordering::AcqRel) {
            metrics().state_backend_up.set(0);
            match self.fail {
                FailMode::Open => tracing::warn!(
                    op,
                    error = %err,
                    "state backend unreachable, serving from local state (fail-open)"
                ),
                FailMode::Closed => tracing::warn!(
                    op,
                    error = %err,
                    "state backend unreachable, refusing what needs it (fail-closed)"
                ),
            }
        }
        if !self.probing.swap(true, Ordering::AcqRel) {
            let probe = Arc::clone(self).probe();
            self.link.handle().spawn(probe);
        }
    }

    /// Pings until Redis answers, each time on a fresh connection (the old
    /// one may be wedged without ever reporting an error, or hold a failed
    /// connect), then marks it up.
    async fn probe(self: Arc<Self>) {
        loop {
            tokio::time::sleep(PROBE_INTERVAL).await;
            self.link.renew();
            if self.link.ping().await.is_ok() {
                break;
            }
        }
        self.probing.store(false, Ordering::Release);
        {
            // Under the pending lock, so spend recorded while down is either
            // drained below or sees the backend up and flushes itself.
            let _pending = lock(&self.pending);
            if !self.up.swap(true, Ordering::AcqRel) {
                metrics().state_backend_up.set(1);
                tracing::warn!("state backend back");
            }
        }
        self.flush().await;
    }

    fn flush_if_up(self: &Arc<Self>) {
        if self.up.load(Ordering::Acquire) {
            let me = Arc::clone(self);
            self.link.handle().spawn(async move { me.flush().await });
        }
    }

    /// Replays pending spend: seeds first (SET NX), then increments. What
    /// cannot reach Redis goes back to pending; what Redis rejects is dropped.
    async fn flush(self: &Arc<Self>) {
        let Pending { seeds, added } = std::mem::take(&mut *lock(&self.pending));
        let mut seeds = seeds.into_iter();
        while let Some((name, usd, ttl)) = seeds.next() {
            if let Err(e) = self.link.seed_spend(&name, usd, ttl).await {
                if e.is_unreachable() {
                    let mut pending = lock(&self.pending);
                    pending.seeds.push((name, usd, ttl));
                    pending.seeds.extend(seeds);
                    drop(pending);
                    self.restore_added(added);
                    self.went_down("flush", &e);
                    return;
                }
                tracing::warn!(counter = %name, error = %e, "dropping spend seed");
            }
        }
        let mut added = added.into_iter();
        while let Some((name, (usd, ttl))) = added.next() {
            if let Err(e) = self.link.add_spend(&[(&name, ttl)], usd).await {
                if e.is_unreachable() {
                    self.restore_added(std::iter::once((name, (usd, ttl))).chain(added));
                    self.went_down("flush", &e);
                    return;
                }
                tracing::warn!(counter = %name, usd, error = %e, "dropping spend increment");
            }
        }
    }

    fn restore_added(&self, items: impl IntoIterator<Item = (String, (f64, Duration))>) {
        let mut pending = lock(&self.pending);
        for (name, (usd, ttl)) in items {
            pending.added.entry(name).or_insert((0.0, ttl)).0 += usd;
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
