//! Shared state for policy: rate-limit token buckets, running spend and the
//! L2 response cache. Request handling asks it before forwarding (`take`,
//! `spend`, `cache_get`) and tells it after the response (`adjust` with the
//! actual usage, `add_spend`, `cache_put`).
//!
//! Two stores behind one [`StateStore`]:
//! - [`StateStore::memory`], for a single node ([`memory`]);
//! - [`StateStore::redis`], for a fleet: every node sees the same buckets and
//!   counters, read-modify-writes are Lua scripts on Redis' clock ([`link`]),
//!   and [`FailMode`] decides what happens while Redis is away ([`fleet`]).
//!
//! The token bucket arithmetic is in [`bucket`], shared by both.
//!
//! The semantic cache shares its entries through the store too
//! ([`StateStore::semantic_publish`], [`StateStore::semantic_read`]): a Redis
//! stream under the prefix, which every node follows on the store's runtime
//! ([`StateStore::background`]).

mod bucket;
mod fleet;
mod link;
mod memory;
mod records;
#[cfg(test)]
mod tests;

use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;

use crate::upstream::quota::{FleetTake, Reading};
pub use bucket::Decision;
use bucket::Rate;
use fleet::RedisState;
pub use fleet::PROBE_INTERVAL;
pub use link::{REDIS_OP_TIMEOUT, SEMANTIC_STREAM_LEN};
use memory::MemoryState;
use records::MemoryRecords;
pub use records::MEMORY_BYTES;

/// What the Redis store does while Redis cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailMode {
    /// Serve from per-instance local state: limits apply per gateway node
    /// instead of fleet-wide, cache lookups miss.
    Open,
    /// Answer [`StateError::Unavailable`] (callers answer 503). Spend that
    /// could not be recorded is still replayed when Redis is back.
    Closed,
}

/// Why a state operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Redis cannot be reached (refused, timed out, loading) and the store
    /// fails closed.
    #[error("state backend unavailable")]
    Unavailable,
    /// Redis answered with an error or an unexpected reply (a key of another
    /// type, a script failure) and the store fails closed.
    #[error("state backend error: {0}")]
    Backend(String),
    /// The Redis URL does not parse (the URL itself is not repeated: it may
    /// hold a password).
    #[error("invalid state backend url: {0}")]
    InvalidUrl(String),
    /// The thread that talks to Redis could not be started.
    #[error("cannot start the state backend runtime: {0}")]
    Runtime(String),
    /// An amount no store can record, such as a non-finite USD value.
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
}

/// Rate-limit buckets, spend counters and the L2 cache: in memory or shared
/// through Redis. Cheap to clone; all clones share one store.
#[derive(Clone)]
pub struct StateStore {
    inner: Arc<Inner>,
}

enum Inner {
    Memory(Box<MemoryState>, MemoryRecords),
    Redis(RedisState),
}

/// A [`StateStore`] that does not keep it open: for background work that
/// should end with the store.
#[derive(Clone, Debug)]
pub struct WeakStateStore(Weak<Inner>);

impl WeakStateStore {
    /// The store, unless every [`StateStore`] clone has been dropped.
    pub fn upgrade(&self) -> Option<StateStore> {
        self.0.upgrade().map(|inner| StateStore { inner })
    }
}

impl std::fmt::Debug for StateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateStore")
            .field("kind", &self.kind())
            .finish_non_exhaustive()
    }
}

impl StateStore {
    /// A store in this process's memory, for a single gateway node. It has no
    /// cache (the L1 cache lives with the proxy) and never fails.
    pub fn memory() -> Self {
        Self {
            inner: Arc::new(Inner::Memory(
                Box::new(MemoryState::new()),
                MemoryRecords::new(MEMORY_BYTES),
            )),
        }
    }

    /// A store shared through the Redis at `url`, with keys under `prefix`.
    /// Connects lazily on a runtime of its own, so Redis need not be up and
    /// no tokio runtime need be running; fails only on a malformed URL or if
    /// that runtime's thread cannot start.
    pub fn redis(url: &str, fail: FailMode, prefix: &str) -> Result<Self, StateError> {
        let state = RedisState::new(url, fail, prefix)?;
        Ok(Self {
            inner: Arc::new(Inner::Redis(state)),
        })
    }

    /// `"memory"` or `"redis"`.
    pub fn kind(&self) -> &'static str {
        match &*self.inner {
            Inner::Memory(..) => "memory",
            Inner::Redis(_) => "redis",
        }
    }

    /// Takes `amount` tokens from the bucket `bucket` if they are there. The
    /// bucket holds up to `limit` tokens and refills continuously at `limit`
    /// per `window` (RPM: `limit` 60, `window` 60 s). An `amount` over `limit`
    /// never fits: denied without `retry_after` ([`Decision::exceeds_limit`]).
    /// Fails only as [`FailMode::Closed`] says.
    pub async fn take(
        &self,
        bucket: &str,
        limit: u64,
        window: Duration,
        amount: u64,
    ) -> Result<Decision, StateError> {
        let rate = Rate::new(limit, window);
        match &*self.inner {
            Inner::Memory(m, _) => Ok(m.take(bucket, rate, amount)),
            Inner::Redis(r) => r.take(bucket, rate, amount).await,
        }
    }

    /// Reconciles `bucket` after the fact: `delta > 0` takes more (possibly
    /// into debt, which delays later takes), `delta < 0` gives back (capped
    /// at `limit`). For TPM, `take` the estimate, then adjust by actual minus
    /// estimate.
    pub async fn adjust(
        &self,
        bucket: &str,
        limit: u64,
        window: Duration,
        delta: i64,
    ) -> Result<(), StateError> {
        let rate = Rate::new(limit, window);
        match &*self.inner {
            Inner::Memory(m, _) => {
                m.adjust(bucket, rate, delta);
                Ok(())
            }
            Inner::Redis(r) => r.adjust(bucket, rate, delta).await,
        }
    }

    /// Adds `usd` to every counter at once (a counter that does not exist is
    /// created with its TTL; an existing one keeps its expiry) and returns the
    /// new totals in order. Fails on a non-finite `usd`, or as
    /// [`FailMode::Closed`] says (the amount is then replayed later).
    pub async fn add_spend(
        &self,
        counters: &[(&str, Duration)],
        usd: f64,
    ) -> Result<Vec<f64>, StateError> {
        if !usd.is_finite() {
            return Err(StateError::InvalidArgument("usd must be finite"));
        }
        if counters.is_empty() {
            return Ok(Vec::new());
        }
        match &*self.inner {
            Inner::Memory(m, _) => Ok(m.add_spend(counters, usd)),
            Inner::Redis(r) => r.add_spend(counters, usd).await,
        }
    }

    /// The counters' totals in order (0 for one that does not exist).
    pub async fn spend(&self, counters: &[&str]) -> Result<Vec<f64>, StateError> {
        if counters.is_empty() {
            return Ok(Vec::new());
        }
        match &*self.inner {
            Inner::Memory(m, _) => Ok(m.spend(counters)),
            Inner::Redis(r) => r.spend(counters).await,
        }
    }

    /// Sets `counter` to `usd` with `ttl` unless it exists (at start-up, from
    /// the durable ledger: the first node to start wins, later ones keep it).
    pub async fn seed_spend(
        &self,
        counter: &str,
        usd: f64,
        ttl: Duration,
    ) -> Result<(), StateError> {
        if !usd.is_finite() {
            return Err(StateError::InvalidArgument("usd must be finite"));
        }
        match &*self.inner {
            Inner::Memory(m, _) => {
                m.seed_spend(counter, usd, ttl);
                Ok(())
            }
            Inner::Redis(r) => r.seed_spend(counter, usd, ttl).await,
        }
    }

    /// A cached response body, if one is stored under `key`. Always `None`
    /// from the memory store and while Redis is away (fail-open). A caller
    /// should treat an error as a miss.
    pub async fn cache_get(&self, key: &str) -> Result<Option<Bytes>, StateError> {
        match &*self.inner {
            Inner::Memory(..) => Ok(None),
            Inner::Redis(r) => r.cache_get(key).await,
        }
    }

    /// Stores `value` under `key` for `ttl` (Redis store only; a zero `ttl`
    /// stores nothing).
    pub async fn cache_put(
        &self,
        key: &str,
        value: Bytes,
        ttl: Duration,
    ) -> Result<(), StateError> {
        match &*self.inner {
            Inner::Memory(..) => Ok(()),
            Inner::Redis(_) if ttl.is_zero() => Ok(()),
            Inner::Redis(r) => r.cache_put(key, value, ttl).await,
        }
    }

    /// The record stored under `key` (a stored response), if any.
    pub async fn record_get(&self, key: &str) -> Result<Option<Bytes>, StateError> {
        match &*self.inner {
            Inner::Memory(_, r) => Ok(r.get(key)),
            Inner::Redis(r) => r.record_get(key).await,
        }
    }

    /// Keeps `value` under `key` for `ttl`. With Redis away it fails, also
    /// when failing open: a record only this node kept would be missing
    /// on the rest of the fleet, so the caller says so instead.
    pub async fn record_put(
        &self,
        key: &str,
        value: Bytes,
        ttl: Duration,
    ) -> Result<(), StateError> {
        match &*self.inner {
            Inner::Memory(_, r) => {
                r.put(key, value, ttl);
                Ok(())
            }
            Inner::Redis(r) => r.record_put(key, value, ttl).await,
        }
    }

    /// Removes the record under `key`: whether there was one.
    pub async fn record_delete(&self, key: &str) -> Result<bool, StateError> {
        match &*self.inner {
            Inner::Memory(_, r) => Ok(r.delete(key)),
            Inner::Redis(r) => r.record_delete(key).await,
        }
    }

    /// Publishes an encoded semantic cache entry to the fleet: appended to
    /// the stream `{prefix}semantic`, which keeps about the newest
    /// [`SEMANTIC_STREAM_LEN`]. A no-op for the memory store.
    pub async fn semantic_publish(&self, entry: Bytes) -> Result<(), StateError> {
        match &*self.inner {
            Inner::Memory(..) => Ok(()),
            Inner::Redis(r) => r.semantic_publish(entry).await,
        }
    }

    /// Up to `count` published semantic cache entries after the stream id
    /// `after` (`"0-0"` for the start), oldest first, without waiting for
    /// new ones: each with its stream id, to read on from. Empty from the
    /// memory store and while Redis is away (fail-open).
    pub async fn semantic_read(
        &self,
        after: &str,
        count: usize,
    ) -> Result<Vec<(String, Bytes)>, StateError> {
        match &*self.inner {
            Inner::Memory(..) => Ok(Vec::new()),
            Inner::Redis(r) => r.semantic_read(after, count).await,
        }
    }

    /// Takes a request needing `tokens` (its estimate) from what the fleet
    /// knows is left of `backend`'s quota, unless that cannot cover it
    /// until its reset: the lowest count heard in the window less every
    /// instance's requests in flight (see `scripts/quota_take.lua`).
    /// Taken, it is in flight under `lease` (unique, `"id:tokens"`) until
    /// [`StateStore::quota_release`], or until `lasts` has passed (its
    /// instance may die holding it). `None` from the memory store (one node
    /// counts on its own) and while Redis is away: the provider's quota is
    /// advisory, so a caller goes on without it, whatever the fail mode.
    pub async fn quota_take(
        &self,
        backend: &str,
        tokens: u64,
        lease: &str,
        lasts: Duration,
    ) -> Result<Option<FleetTake>, StateError> {
        match &*self.inner {
            Inner::Memory(..) => Ok(None),
            Inner::Redis(r) => r.quota_take(backend, tokens, lease, lasts).await,
        }
    }

    /// Ends a lease [`StateStore::quota_take`] gave: its request is
    /// answered, or failed. A no-op for the memory store.
    pub async fn quota_release(&self, backend: &str, lease: &str) -> Result<(), StateError> {
        match &*self.inner {
            Inner::Memory(..) => Ok(()),
            Inner::Redis(r) => r.quota_release(backend, lease).await,
        }
    }

    /// Tells the fleet what an answer's headers said of `backend`'s quota
    /// (see `scripts/quota_observe.lua`), and ends the `lease` of the
    /// request it answered, if it had one, in the same step. A no-op for
    /// the memory store.
    pub async fn quota_observe(
        &self,
        backend: &str,
        reading: &Reading,
        lease: Option<&str>,
    ) -> Result<(), StateError> {
        match &*self.inner {
            Inner::Memory(..) => Ok(()),
            Inner::Redis(r) => r.quota_observe(backend, reading, lease).await,
        }
    }

    /// True when the store shares state with a fleet (Redis).
    pub fn is_shared(&self) -> bool {
        matches!(&*self.inner, Inner::Redis(_))
    }

    /// The runtime a Redis store talks to Redis on, for background work
    /// that uses the store (such as following the semantic stream); `None`
    /// for the memory store, which has nothing to follow.
    pub fn background(&self) -> Option<tokio::runtime::Handle> {
        match &*self.inner {
            Inner::Memory(..) => None,
            Inner::Redis(r) => Some(r.handle().clone()),
        }
    }

    /// A handle that does not keep the store open.
    pub fn downgrade(&self) -> WeakStateStore {
        WeakStateStore(Arc::downgrade(&self.inner))
    }

    /// False while Redis cannot be reached; always true for the memory store.
    /// A new Redis store starts out true and checks Redis in the background,
    /// so an unreachable one shows within [`REDIS_OP_TIMEOUT`].
    pub fn healthy(&self) -> bool {
        match &*self.inner {
            Inner::Memory(..) => true,
            Inner::Redis(r) => r.healthy(),
        }
    }
}
