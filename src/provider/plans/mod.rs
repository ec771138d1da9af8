//! Reusing what an adapter's `request(ctx)` hook decided.
//!
//! The hook's answer — method, path, headers — is a function of `ctx` in
//! every shipped script, and `ctx` takes few distinct values per provider
//! (backend, endpoint, model, stream flags). Running the hook for every
//! request (building the `ctx` map, entering Rhai, converting the answer,
//! checking the headers) was the largest single piece of a passthrough
//! request's own CPU, so the head it produces is kept per distinct `ctx`
//! and reused. A script whose head must be built anew each time (a
//! signature over the current time, say) returns `reuse: false`, and its
//! hook runs for every request.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::{Arc, RwLock};

use crate::upstream::call::RequestHead;

/// Heads kept per provider before the memo starts over: a passthrough
/// target forwards model names the client chooses, which must not grow it
/// without bound.
const CAPACITY: usize = 512;

/// What a head depends on, besides the provider (whose options and
/// headers are fixed for the life of a config).
#[derive(Debug, Hash, PartialEq, Eq, Clone, Copy)]
pub struct PlanKey<'a> {
    /// The backend's id: its credential and base URL differ.
    pub backend: &'a str,
    pub endpoint: &'static str,
    pub model: &'a str,
    pub stream: bool,
    pub include_usage: bool,
    pub encoding_format: Option<&'a str>,
}

/// An owned [`PlanKey`] with its head.
struct Entry {
    backend: Box<str>,
    endpoint: &'static str,
    model: Box<str>,
    stream: bool,
    include_usage: bool,
    encoding_format: Option<Box<str>>,
    head: Arc<RequestHead>,
}

impl Entry {
    fn key(&self) -> PlanKey<'_> {
        PlanKey {
            backend: &self.backend,
            endpoint: self.endpoint,
            model: &self.model,
            stream: self.stream,
            include_usage: self.include_usage,
            encoding_format: self.encoding_format.as_deref(),
        }
    }
}

/// A provider's reusable request heads. Lookups take a read lock and
/// allocate nothing.
#[derive(Default)]
pub struct PlanMemo {
    hasher: RandomState,
    heads: RwLock<HashMap<u64, Entry>>,
}

impl PlanMemo {
    /// The head kept for `key`, if any.
    pub fn get(&self, key: &PlanKey<'_>) -> Option<Arc<RequestHead>> {
        let hash = self.hasher.hash_one(key);
        let heads = self.heads.read().unwrap_or_else(|e| e.into_inner());
        heads
            .get(&hash)
            .filter(|e| e.key() == *key)
            .map(|e| e.head.clone())
    }

    /// Keeps `head` for `key` (replacing a colliding entry).
    pub fn put(&self, key: &PlanKey<'_>, head: Arc<RequestHead>) {
        let hash = self.hasher.hash_one(key);
        let mut heads = self.heads.write().unwrap_or_else(|e| e.into_inner());
        if heads.len() >= CAPACITY && !heads.contains_key(&hash) {
            heads.clear();
        }
        heads.insert(
            hash,
            Entry {
                backend: key.backend.into(),
                endpoint: key.endpoint,
                model: key.model.into(),
                stream: key.stream,
                include_usage: key.include_usage,
                encoding_format: key.encoding_format.map(Into::into),
                head,
            },
        );
    }

    /// Heads kept now.
    pub fn len(&self) -> usize {
        self.heads.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// True when no head is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl std::fmt::Debug for PlanMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlanMemo")
            .field("heads", &self.len())
            .finish()
    }
}

#[cfg(test)]
mod tests;
