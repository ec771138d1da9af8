//! The semantic response cache: answers a prompt from the cached answer of
//! the most similar earlier prompt. The request path embeds the prompt,
//! [`SemanticCache::lookup`]s the nearest cached prompt vector in its
//! namespace and partition within the route's similarity threshold, and
//! after a provider call [`SemanticCache::insert`]s the new answer.
//!
//! Index: one usearch HNSW graph per namespace ([`index`]), cosine metric on
//! unit-length f32 vectors. usearch rather than a hand-written index: it is
//! maintained, fast, supports removal and filtered search (a neighbour of
//! another partition, or expired, never hides a match).
//!
//! Memory: entries live in a moka cache bounded by an estimate of their bytes
//! (vector, graph links, answer, keys) with per-entry expiry; an entry that
//! moka evicts or expires leaves its namespace's index, and an empty
//! namespace is dropped. Not counted: a namespace's fixed overhead (usearch's
//! per-search scratch, about 2 × cores × dims × 4 bytes), and the slots of
//! removed entries, which usearch keeps for reuse by the namespace's next
//! inserts rather than freeing until the namespace empties. Address space:
//! usearch's arena allocator maps 16 MiB (8 MiB graph, 8 MiB vectors) per
//! non-empty namespace at once; the kernel commits only the pages used, so
//! this costs resident memory in proportion to the entries, but thousands
//! of namespaces (a per-key scope with many keys) use as many GiB of address
//! space and two memory maps each (`vm.max_map_count`).
//!
//! Fleet ([`share`]): with the Redis store, each insert is also published to
//! a Redis stream (Redis 7 has no vector search, so vectors and answers are
//! shared and every node keeps its own index), and [`SemanticCache::follow`]
//! indexes what other nodes publish. Consistency is eventual: a node sees
//! another's entry within about [`share::POLL`] (100 ms); a miss meanwhile
//! costs one provider call, never a wrong answer. Answers are immutable (an
//! entry is never updated, only added, evicted or expired), and each entry
//! carries its expiry, so every node stops serving it at the same time.

mod index;
mod share;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::policy::cache::Cached;
use crate::state::StateStore;
use index::{normalise, Added, Namespace};

/// A shared entry's wire form (see [`share`]): public for the fuzz target,
/// since what the stream holds may come from any writer of that Redis.
pub use share::{decode as decode_shared, encode as encode_shared};

/// One cached answer with the prompt vector it answers.
#[derive(Debug, Clone)]
pub struct Entry {
    /// route \0 scope(key name or "*") \0 embeddings model \0 guardrail
    /// fingerprint: each namespace is its own index.
    pub namespace: String,
    /// Hash of everything in the request but the embedded text (system
    /// prompt, earlier turns, parameters): a hit must match it exactly.
    pub partition: u64,
    pub vector: Vec<f32>,
    pub answer: Arc<Cached>,
    /// Unix ms after which the entry is not served.
    pub expires_at_ms: u64,
}

/// A cached answer found by [`SemanticCache::lookup`].
#[derive(Debug, Clone)]
pub struct Hit {
    pub answer: Arc<Cached>,
    /// Cosine similarity of the cached prompt's vector to the query's.
    pub similarity: f32,
}

/// What a [`SemanticCache`] holds, for metrics and the admin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub entries: u64,
    pub bytes: u64,
}

/// Estimated bytes of one entry's graph node in usearch (32 base-level links
/// of 4 bytes, upper levels, header, key and slot lookups) and our id's meta.
const INDEX_BYTES: usize = 256;

/// Estimated fixed bytes of one entry besides its strings and vector: the
/// stored record, the answer's struct and moka's bookkeeping.
const ENTRY_BYTES: usize = 192;

/// Ids of entries, process-wide: an entry from the fleet gets a fresh one.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

type Namespaces = RwLock<HashMap<String, Arc<Namespace>>>;

/// An entry as moka holds it (the vector is in its namespace's index).
struct Stored {
    space: Arc<Namespace>,
    partition: u64,
    answer: Arc<Cached>,
    expires_at_ms: u64,
}

/// The semantic cache of one process, shared by every route that uses it.
pub struct SemanticCache {
    /// Written into every published entry, so the follower skips our own.
    origin: u64,
    spaces: Arc<Namespaces>,
    entries: moka::sync::Cache<u64, Arc<Stored>>,
    following: AtomicBool,
}

impl std::fmt::Debug for SemanticCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SemanticCache")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl SemanticCache {
    /// In memory, bounded by about `max_bytes` (vectors, answers, keys,
    /// index overhead estimate).
    pub fn new(max_bytes: u64) -> Self {
        let spaces: Arc<Namespaces> = Arc::default();
        let on_evict = Arc::clone(&spaces);
        let entries = moka::sync::Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|_id: &u64, stored: &Arc<Stored>| weight(stored))
            .expire_after(ByDeadline)
            .eviction_listener(move |id: Arc<u64>, stored: Arc<Stored>, _cause| {
                unindex(&on_evict, &stored.space, *id);
            })
            .build();
        Self {
            origin: rand::random(),
            spaces,
            entries,
            following: AtomicBool::new(false),
        }
    }

    /// The most similar live entry in `namespace` with the same `partition`
    /// and cosine similarity >= `threshold`. `None` also for a zero vector or
    /// one of another dimension than the namespace's.
    pub fn lookup(
        &self,
        namespace: &str,
        partition: u64,
        vector: &[f32],
        threshold: f32,
    ) -> Option<Hit> {
        if threshold.is_nan() {
            return None;
        }
        let query = normalise(vector)?;
        let space = read(&self.spaces).get(namespace).cloned()?;
        if space.dims() != query.len() {
            return None;
        }
        let now = now_ms();
        // Nearest first: the first live one over the threshold is the best.
        for (id, similarity) in space.search(&query, partition, now) {
            if similarity < threshold {
                break;
            }
            // Absent: evicted since the search, or not stored yet.
            let Some(stored) = self.entries.get(&id) else {
                continue;
            };
            if stored.partition == partition && stored.expires_at_ms > now {
                return Some(Hit {
                    answer: Arc::clone(&stored.answer),
                    similarity,
                });
            }
        }
        None
    }

    /// Indexes `entry` here and, when `store` is Redis, publishes it to the
    /// fleet (errors logged at debug, never returned: the cache is best
    /// effort). An entry with a zero vector, one of another dimension than
    /// its namespace's, or already expired is skipped.
    pub async fn insert(&self, store: &StateStore, entry: Entry) {
        let Some(vector) = normalise(&entry.vector) else {
            tracing::debug!(namespace = %entry.namespace, "semantic cache: zero or non-finite vector skipped");
            return;
        };
        let entry = Entry { vector, ..entry };
        if !self.index(&entry) || store.kind() == "memory" {
            return;
        }
        if let Err(e) = store
            .semantic_publish(share::encode(self.origin, &entry))
            .await
        {
            tracing::debug!(namespace = %entry.namespace, error = %e, "semantic cache: cannot publish an entry");
        }
    }

    /// Starts following the fleet's entries through `store` (no-op for the
    /// memory store; idempotent): entries other instances publish get
    /// indexed here. The follower runs on the store's runtime, holds neither
    /// the cache nor the store, and stops once either is dropped.
    pub fn follow(self: &Arc<Self>, store: &StateStore) {
        let Some(runtime) = store.background() else {
            return;
        };
        if self.following.swap(true, Ordering::AcqRel) {
            return;
        }
        runtime.spawn(share::follow(Arc::downgrade(self), store.downgrade()));
    }

    /// Entries and bytes held (for metrics, per scrape).
    pub fn stats(&self) -> Stats {
        // Counts are kept lazily: settled first, so that a scrape right
        // after an insert or an eviction sees it.
        self.entries.run_pending_tasks();
        Stats {
            entries: self.entries.entry_count(),
            bytes: self.entries.weighted_size(),
        }
    }

    /// Indexes an entry another instance published, unless it is ours,
    /// expired or malformed.
    fn accept(&self, bytes: &[u8]) {
        let Some((origin, entry)) = share::decode(bytes) else {
            tracing::debug!(
                len = bytes.len(),
                "semantic cache: malformed shared entry skipped"
            );
            return;
        };
        if origin == self.origin {
            return;
        }
        if let Some(vector) = normalise(&entry.vector) {
            self.index(&Entry { vector, ..entry });
        }
    }

    /// Indexes `entry` (its vector normalised) under a fresh id: whether it
    /// was valid (live, of its namespace's dimension) and indexed.
    fn index(&self, entry: &Entry) -> bool {
        if entry.expires_at_ms <= now_ms() {
            return false;
        }
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        // A namespace retired meanwhile (it emptied) gets a fresh one; twice
        // in a row is all but impossible, three times gives up.
        for _ in 0..3 {
            let Some(space) = self.namespace(&entry.namespace, entry.vector.len()) else {
                return false;
            };
            let added = space.add(id, &entry.vector, entry.partition, entry.expires_at_ms);
            match added {
                Added::Yes => {
                    // After the add: an entry moka evicts at once leaves
                    // the index through the listener.
                    let stored = Stored {
                        space,
                        partition: entry.partition,
                        answer: Arc::clone(&entry.answer),
                        expires_at_ms: entry.expires_at_ms,
                    };
                    self.entries.insert(id, Arc::new(stored));
                    return true;
                }
                Added::Retired => continue,
                Added::Failed(error) => {
                    tracing::debug!(namespace = %entry.namespace, %error, "semantic cache: cannot index an entry");
                    return false;
                }
            }
        }
        false
    }

    /// The namespace `name`, made if new; `None` if its vectors have another
    /// dimension than `dims` or usearch cannot make it.
    fn namespace(&self, name: &str, dims: usize) -> Option<Arc<Namespace>> {
        let found = read(&self.spaces).get(name).cloned();
        let space = match found {
            Some(space) => space,
            None => {
                let mut spaces = self.spaces.write().unwrap_or_else(PoisonError::into_inner);
                match spaces.get(name) {
                    Some(space) => Arc::clone(space),
                    None => match Namespace::new(name, dims) {
                        Ok(space) => {
                            let space = Arc::new(space);
                            spaces.insert(name.to_owned(), Arc::clone(&space));
                            space
                        }
                        Err(error) => {
                            tracing::debug!(namespace = name, %error, "semantic cache: cannot make an index");
                            return None;
                        }
                    },
                }
            }
        };
        if space.dims() != dims {
            tracing::debug!(
                namespace = name,
                expected = space.dims(),
                got = dims,
                "semantic cache: vector of another dimension skipped"
            );
            return None;
        }
        Some(space)
    }
}

/// Removes an evicted or expired entry from its namespace, and drops the
/// namespace once it is empty. Runs in moka's eviction listener, on whichever
/// thread moka does its housekeeping: no namespace lock is held across a moka
/// call, so this cannot deadlock. Lock order: the map, then a namespace.
fn unindex(spaces: &Namespaces, space: &Arc<Namespace>, id: u64) {
    if !space.remove(id) {
        return;
    }
    let mut map = spaces.write().unwrap_or_else(PoisonError::into_inner);
    let current = map.get(space.name()).is_some_and(|s| Arc::ptr_eq(s, space));
    if current && space.retire_if_empty() {
        map.remove(space.name());
    }
}

fn read(spaces: &Namespaces) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<Namespace>>> {
    spaces.read().unwrap_or_else(PoisonError::into_inner)
}

/// An entry's estimated bytes, for moka's bound.
fn weight(stored: &Stored) -> u32 {
    let a = &stored.answer;
    let bytes = stored.space.dims() * 4
        + INDEX_BYTES
        + stored.space.name().len()
        + a.body.len()
        + a.model.len()
        + a.provider.len()
        + ENTRY_BYTES;
    u32::try_from(bytes).unwrap_or(u32::MAX)
}

/// Per-entry expiry: moka drops an entry (and so its index node) at its
/// deadline. Lookups also check the deadline, so an entry moka has not
/// dropped yet is never served late.
struct ByDeadline;

impl moka::Expiry<u64, Arc<Stored>> for ByDeadline {
    fn expire_after_create(
        &self,
        _id: &u64,
        stored: &Arc<Stored>,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(Duration::from_millis(
            stored.expires_at_ms.saturating_sub(now_ms()),
        ))
    }
}

/// Unix time in milliseconds (0 before 1970).
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests;
