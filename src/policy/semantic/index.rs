//! One namespace's nearest-neighbour index: a usearch HNSW graph (cosine
//! metric, f32 vectors) over the namespace's prompt vectors, with each id's
//! partition and expiry beside it so that a filtered search passes over what
//! this request may not be served.
//!
//! Locking: one `RwLock` per namespace. Searches share it; adds, removals and
//! growth take it alone. usearch itself allows adds beside searches, but
//! `reserve` must not overlap anything and a removal rewrites a node's key
//! without a node lock, and adds follow a provider call (rare next to
//! lookups), so exclusive writers cost nothing measurable and keep this simple.
//! A `Mutex` would serialise lookups, which are the hot path.

use std::collections::HashMap;
use std::sync::{LazyLock, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

/// Neighbours one search asks for; the caller takes the best that passes
/// its threshold.
const NEIGHBOURS: usize = 4;

/// Slots a new namespace reserves; doubled whenever they are all used
/// (usearch refuses an add beyond its reserved capacity).
const INITIAL_CAPACITY: usize = 64;

/// Searches that may run at once in one namespace: usearch keeps one scratch
/// context per concurrent search, fixed when it reserves. A search beyond
/// that fails and is answered as a miss, which costs a provider call, never
/// a wrong answer.
static CONTEXTS: LazyLock<usize> = LazyLock::new(|| {
    std::thread::available_parallelism()
        .map_or(4, |n| n.get())
        .max(4)
        * 2
});

/// The index of one namespace (route, scope, embeddings model, guardrails).
pub(super) struct Namespace {
    name: String,
    /// Fixed by the namespace's first vector.
    dims: usize,
    space: RwLock<Space>,
}

struct Space {
    index: Index,
    /// The partition and expiry of every id in `index`.
    meta: HashMap<u64, Meta>,
    /// Set, under this lock, when the namespace left the cache's map for
    /// being empty: nothing may be added to it any more, so an entry never
    /// lands where no lookup would look.
    retired: bool,
}

#[derive(Clone, Copy)]
struct Meta {
    partition: u64,
    expires_at_ms: u64,
}

/// How an add went.
pub(super) enum Added {
    Yes,
    /// The namespace was retired meanwhile: add to a fresh one.
    Retired,
    /// usearch refused (out of memory, say); the message says why.
    Failed(String),
}

impl Namespace {
    /// An empty namespace for vectors of `dims` dimensions. Fails if usearch
    /// cannot allocate the index.
    pub fn new(name: &str, dims: usize) -> Result<Self, String> {
        let options = IndexOptions {
            dimensions: dims,
            metric: MetricKind::Cos,
            quantization: ScalarKind::F32,
            // usearch's defaults: connectivity 16, expansion 128 on add and
            // 64 on search.
            connectivity: 0,
            expansion_add: 0,
            expansion_search: 0,
            multi: false,
        };
        let index = Index::new(&options).map_err(|e| e.to_string())?;
        index
            .reserve_capacity_and_threads(INITIAL_CAPACITY, *CONTEXTS)
            .map_err(|e| e.to_string())?;
        Ok(Self {
            name: name.to_owned(),
            dims,
            space: RwLock::new(Space {
                index,
                meta: HashMap::new(),
                retired: false,
            }),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn dims(&self) -> usize {
        self.dims
    }

    /// Adds `vector` (normalised, of `dims` dimensions) under `id`.
    pub fn add(&self, id: u64, vector: &[f32], partition: u64, expires_at_ms: u64) -> Added {
        let mut space = self.write();
        if space.retired {
            return Added::Retired;
        }
        let index = &space.index;
        if index.size() >= index.capacity() {
            let grown = index.capacity().max(INITIAL_CAPACITY).saturating_mul(2);
            if let Err(e) = index.reserve_capacity_and_threads(grown, *CONTEXTS) {
                return Added::Failed(e.to_string());
            }
        }
        if let Err(e) = index.add(id, vector) {
            return Added::Failed(e.to_string());
        }
        let meta = Meta {
            partition,
            expires_at_ms,
        };
        space.meta.insert(id, meta);
        Added::Yes
    }

    /// Up to [`NEIGHBOURS`] live ids of `partition` nearest to `query`
    /// (normalised, of `dims` dimensions), nearest first, with their cosine
    /// similarity. Empty if usearch fails (no free search context, say).
    pub fn search(&self, query: &[f32], partition: u64, now_ms: u64) -> Vec<(u64, f32)> {
        let space = self.read();
        if space.meta.is_empty() {
            return Vec::new();
        }
        // Called from C++ for candidate ids: must not panic (it cannot: a
        // map lookup and two comparisons).
        let allowed = |id: u64| {
            space
                .meta
                .get(&id)
                .is_some_and(|m| m.partition == partition && m.expires_at_ms > now_ms)
        };
        match space.index.filtered_search(query, NEIGHBOURS, allowed) {
            Ok(found) => found
                .keys
                .iter()
                .zip(&found.distances)
                .filter(|(_, distance)| distance.is_finite())
                .map(|(&id, &distance)| (id, (1.0 - distance).clamp(-1.0, 1.0)))
                .collect(),
            Err(e) => {
                tracing::debug!(namespace = %self.name, error = %e, "semantic cache search failed");
                Vec::new()
            }
        }
    }

    /// Removes `id`: whether the namespace is empty now.
    pub fn remove(&self, id: u64) -> bool {
        let mut space = self.write();
        if space.meta.remove(&id).is_some() {
            if let Err(e) = space.index.remove(id) {
                tracing::debug!(namespace = %self.name, error = %e, "semantic cache removal failed");
            }
        }
        space.meta.is_empty()
    }

    /// Retires the namespace if it is empty: whether it did. Call with the
    /// cache's namespace map locked for writing, and drop it from the map
    /// when this says so.
    pub fn retire_if_empty(&self) -> bool {
        let mut space = self.write();
        if space.meta.is_empty() {
            space.retired = true;
        }
        space.retired
    }

    /// Ids held (live or expired but not yet evicted).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.read().meta.len()
    }

    fn read(&self) -> RwLockReadGuard<'_, Space> {
        self.space.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Space> {
        self.space.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `vector` scaled to unit length; `None` for an empty, zero or non-finite
/// vector, which has no direction to compare.
pub(super) fn normalise(vector: &[f32]) -> Option<Vec<f32>> {
    let norm = vector
        .iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        .sqrt();
    if !(norm.is_finite() && norm > 0.0) {
        return None;
    }
    // f64 for the sum (no overflow for large f32s), f32 for the result.
    let scaled: Vec<f32> = vector
        .iter()
        .map(|&x| (f64::from(x) / norm) as f32)
        .collect();
    Some(scaled)
}
