//! The single-node store: token buckets and spend counters in process
//! memory. Also the Redis store's local fallback when it fails open.
//!
//! Why hand-written buckets rather than `governor`: governor's GCRA answers
//! "may this pass now" but cannot charge after the fact nor refund, and TPM
//! limiting reserves an estimate up front, then reconciles it with the usage
//! the provider reports ([`MemoryState::adjust`]), possibly into debt.
//!
//! Memory stays bounded: a full bucket equals an absent one, so each shard
//! drops its full buckets every [`SWEEP_EVERY_MS`] (on access), and spend
//! counters past their expiry likewise. What remains is buckets still
//! refilling, at most the keys used within about one window.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::bucket::{self, BucketState, Decision, Rate};

/// Bucket map shards, to spread lock contention across worker threads.
const SHARDS: usize = 16;

/// How often (in the store's milliseconds) a shard drops forgettable entries.
const SWEEP_EVERY_MS: u64 = 10_000;

/// Token buckets and spend counters of one process.
pub(crate) struct MemoryState {
    epoch: Instant,
    hasher: RandomState,
    shards: [Mutex<Shard>; SHARDS],
    spend: Mutex<SpendMap>,
}

#[derive(Default)]
struct Shard {
    buckets: HashMap<String, Slot>,
    swept_ms: u64,
}

struct Slot {
    state: BucketState,
    rate: Rate,
}

#[derive(Default)]
struct SpendMap {
    counters: HashMap<String, Counter>,
    swept_ms: u64,
}

struct Counter {
    usd: f64,
    expires_ms: u64,
}

impl MemoryState {
    /// An empty store.
    pub fn new() -> Self {
        Self {
            epoch: Instant::now(),
            hasher: RandomState::new(),
            shards: std::array::from_fn(|_| Mutex::default()),
            spend: Mutex::default(),
        }
    }

    /// The store's clock: milliseconds since it was created (monotonic).
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Takes `amount` from `bucket` if it fits.
    pub fn take(&self, bucket: &str, rate: Rate, amount: u64) -> Decision {
        self.take_at(bucket, rate, amount, self.now_ms())
    }

    /// Charges (`delta > 0`) or refunds (`delta < 0`) `bucket`.
    pub fn adjust(&self, bucket: &str, rate: Rate, delta: i64) {
        self.adjust_at(bucket, rate, delta, self.now_ms());
    }

    /// Adds `usd` to each counter (created with its TTL if absent or
    /// expired); returns the new totals in order.
    pub fn add_spend(&self, counters: &[(&str, Duration)], usd: f64) -> Vec<f64> {
        self.add_spend_at(counters, usd, self.now_ms())
    }

    /// Current totals (0 for absent or expired counters).
    pub fn spend(&self, counters: &[&str]) -> Vec<f64> {
        self.spend_at(counters, self.now_ms())
    }

    /// Sets `counter` to `usd` unless it exists.
    pub fn seed_spend(&self, counter: &str, usd: f64, ttl: Duration) {
        self.seed_spend_at(counter, usd, ttl, self.now_ms());
    }

    /// Records the shared total Redis returned for `counter`, keeping the
    /// local expiry if there is one, so that serving from local state after
    /// Redis fails starts from the last known spend rather than zero.
    pub fn mirror_spend(&self, counter: &str, usd: f64, ttl: Duration) {
        let now_ms = self.now_ms();
        let mut map = lock(&self.spend);
        match map.counters.get_mut(counter) {
            Some(c) if c.expires_ms > now_ms => c.usd = usd,
            _ => {
                let expires_ms = now_ms.saturating_add(duration_ms(ttl));
                map.counters
                    .insert(counter.to_owned(), Counter { usd, expires_ms });
            }
        }
    }

    pub(crate) fn take_at(&self, bucket: &str, rate: Rate, amount: u64, now_ms: u64) -> Decision {
        let mut shard = self.shard(bucket);
        shard.sweep(now_ms);
        let prev = shard.buckets.get(bucket).map(|s| s.state);
        let (tokens, taken) = bucket::take(prev, rate, amount, now_ms);
        if taken {
            shard.store(bucket, rate, tokens, now_ms);
        }
        bucket::decide(tokens, taken, rate, amount)
    }

    pub(crate) fn adjust_at(&self, bucket: &str, rate: Rate, delta: i64, now_ms: u64) {
        let mut shard = self.shard(bucket);
        shard.sweep(now_ms);
        let prev = shard.buckets.get(bucket).map(|s| s.state);
        let tokens = bucket::adjust(prev, rate, delta, now_ms);
        shard.store(bucket, rate, tokens, now_ms);
    }

    pub(crate) fn add_spend_at(
        &self,
        counters: &[(&str, Duration)],
        usd: f64,
        now_ms: u64,
    ) -> Vec<f64> {
        let mut map = lock(&self.spend);
        map.sweep(now_ms);
        let mut totals = Vec::with_capacity(counters.len());
        for &(name, ttl) in counters {
            let total = match map.counters.get_mut(name) {
                Some(c) if c.expires_ms > now_ms => {
                    c.usd += usd;
                    c.usd
                }
                _ => {
                    let expires_ms = now_ms.saturating_add(duration_ms(ttl));
                    map.counters
                        .insert(name.to_owned(), Counter { usd, expires_ms });
                    usd
                }
            };
            totals.push(total);
        }
        totals
    }

    pub(crate) fn spend_at(&self, counters: &[&str], now_ms: u64) -> Vec<f64> {
        let map = lock(&self.spend);
        counters
            .iter()
            .map(|name| match map.counters.get(*name) {
                Some(c) if c.expires_ms > now_ms => c.usd,
                _ => 0.0,
            })
            .collect()
    }

    pub(crate) fn seed_spend_at(&self, counter: &str, usd: f64, ttl: Duration, now_ms: u64) {
        let mut map = lock(&self.spend);
        map.sweep(now_ms);
        if !map.counters.contains_key(counter) {
            let expires_ms = now_ms.saturating_add(duration_ms(ttl));
            map.counters
                .insert(counter.to_owned(), Counter { usd, expires_ms });
        }
    }

    fn shard(&self, bucket: &str) -> MutexGuard<'_, Shard> {
        // In bounds by construction: the index is reduced modulo the array length.
        let i = (self.hasher.hash_one(bucket) % SHARDS as u64) as usize;
        lock(&self.shards[i % SHARDS])
    }

    #[cfg(test)]
    fn bucket_count(&self) -> usize {
        self.shards.iter().map(|s| lock(s).buckets.len()).sum()
    }
}

impl Shard {
    /// Keeps `tokens` for `bucket`, or forgets the bucket if it is full.
    fn store(&mut self, bucket: &str, rate: Rate, tokens: f64, now_ms: u64) {
        if tokens >= rate.limit as f64 {
            self.buckets.remove(bucket);
            return;
        }
        let state = BucketState {
            tokens,
            updated_ms: now_ms,
        };
        match self.buckets.get_mut(bucket) {
            Some(slot) => *slot = Slot { state, rate },
            None => {
                self.buckets.insert(bucket.to_owned(), Slot { state, rate });
            }
        }
    }

    /// Drops the buckets that have refilled (now equal to absent ones).
    fn sweep(&mut self, now_ms: u64) {
        if now_ms.saturating_sub(self.swept_ms) < SWEEP_EVERY_MS {
            return;
        }
        self.swept_ms = now_ms;
        self.buckets
            .retain(|_, s| bucket::refill(Some(s.state), s.rate, now_ms) < s.rate.limit as f64);
    }
}

impl SpendMap {
    /// Drops expired counters.
    fn sweep(&mut self, now_ms: u64) {
        if now_ms.saturating_sub(self.swept_ms) < SWEEP_EVERY_MS {
            return;
        }
        self.swept_ms = now_ms;
        self.counters.retain(|_, c| c.expires_ms > now_ms);
    }
}

/// Locks `m`, ignoring poisoning: every critical section leaves the maps
/// consistent, so a panic elsewhere must not take rate limiting down too.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests;
