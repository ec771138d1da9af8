//! Records kept for a time: what the Responses API stores (a response, its
//! input items) under its id, for `previous_response_id` and
//! `GET /v1/responses/{id}`. In memory on one node — bounded in bytes, the
//! oldest dropped first — and in Redis (`SET … PX`) for a fleet.

use std::time::{Duration, Instant};

use bytes::Bytes;
use moka::sync::Cache;
use moka::Expiry;

/// The most bytes of records one node keeps in memory.
pub const MEMORY_BYTES: u64 = 256 << 20;

/// A record and how long it lives.
#[derive(Clone)]
struct Entry {
    value: Bytes,
    ttl: Duration,
}

/// Each record expires after its own TTL.
struct OwnTtl;

impl Expiry<String, Entry> for OwnTtl {
    fn expire_after_create(&self, _key: &String, value: &Entry, _now: Instant) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// Records in this process's memory.
pub(crate) struct MemoryRecords {
    cache: Cache<String, Entry>,
}

impl MemoryRecords {
    pub fn new(max_bytes: u64) -> Self {
        let cache = Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|k: &String, e: &Entry| {
                u32::try_from(k.len() + e.value.len()).unwrap_or(u32::MAX)
            })
            .expire_after(OwnTtl)
            .build();
        Self { cache }
    }

    pub fn get(&self, key: &str) -> Option<Bytes> {
        self.cache.get(key).map(|e| e.value)
    }

    pub fn put(&self, key: &str, value: Bytes, ttl: Duration) {
        self.cache.insert(key.to_string(), Entry { value, ttl });
    }

    /// Whether there was one.
    pub fn delete(&self, key: &str) -> bool {
        self.cache.remove(key).is_some()
    }
}
