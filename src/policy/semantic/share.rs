//! Sharing entries across a fleet: every insert is published to the state
//! store's stream ([`StateStore::semantic_publish`]), and every instance
//! follows that stream ([`follow`]), indexing what the others published.
//!
//! Wire format of one shared entry (version 1), integers little-endian:
//!
//! | bytes | field |
//! | --- | --- |
//! | 1 | version, 1 |
//! | 8 | origin: the publishing `SemanticCache`'s random id |
//! | 8 | `expires_at_ms` |
//! | 8 | `partition` |
//! | 4 | namespace length `n` |
//! | `n` | namespace, UTF-8 |
//! | 4 | dimensions `d` |
//! | 4·`d` | the vector, unit length, f32 |
//! | rest | the answer, [`Cached::encode`] (JSON) |
//!
//! Binary rather than JSON: a 1536-dimension vector is 6 KiB this way and
//! about three times that as JSON text, on every node's every read.

use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};

use super::{Entry, SemanticCache};
use crate::policy::cache::Cached;
use crate::state::WeakStateStore;

const VERSION: u8 = 1;

/// Longest vector a shared entry may carry (larger ones are malformed).
const MAX_DIMS: usize = 1 << 16;

/// How often the follower asks for new entries.
pub const POLL: Duration = Duration::from_millis(100);

/// Entries one read returns at most. A full batch is followed by another read
/// at once: a new instance warms up from the whole stream quickly.
const BATCH: usize = 128;

/// `entry` (its vector already normalised) as published by `origin`.
pub fn encode(origin: u64, entry: &Entry) -> Bytes {
    let answer = entry.answer.encode();
    let dims = u32::try_from(entry.vector.len()).unwrap_or(u32::MAX);
    let name = u32::try_from(entry.namespace.len()).unwrap_or(u32::MAX);
    let mut out =
        BytesMut::with_capacity(33 + entry.namespace.len() + 4 * entry.vector.len() + answer.len());
    out.put_u8(VERSION);
    out.put_u64_le(origin);
    out.put_u64_le(entry.expires_at_ms);
    out.put_u64_le(entry.partition);
    out.put_u32_le(name);
    out.put_slice(entry.namespace.as_bytes());
    out.put_u32_le(dims);
    for &x in &entry.vector {
        out.put_f32_le(x);
    }
    out.put_slice(&answer);
    out.freeze()
}

/// The origin and entry in `bytes`; `None` if they are malformed or of
/// another version.
pub fn decode(bytes: &[u8]) -> Option<(u64, Entry)> {
    let mut r = Reader(bytes);
    if r.u8()? != VERSION {
        return None;
    }
    let origin = r.u64()?;
    let expires_at_ms = r.u64()?;
    let partition = r.u64()?;
    let name_len = usize::try_from(r.u32()?).ok()?;
    let namespace = std::str::from_utf8(r.take(name_len)?).ok()?.to_owned();
    let dims = usize::try_from(r.u32()?).ok().filter(|&d| d <= MAX_DIMS)?;
    let vector = r
        .take(dims.checked_mul(4)?)?
        .chunks_exact(4)
        .map(|c| <[u8; 4]>::try_from(c).ok().map(f32::from_le_bytes))
        .collect::<Option<Vec<f32>>>()?;
    let answer = Arc::new(Cached::decode(r.0)?);
    let entry = Entry {
        namespace,
        partition,
        vector,
        answer,
        expires_at_ms,
    };
    Some((origin, entry))
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}

/// Follows the fleet's stream from its start (so a new instance warms up
/// from what is there) until `cache` or `store` is dropped, indexing every
/// live entry another instance published. Runs on the store's runtime; the
/// indexing itself (HNSW inserts, CPU-bound) runs on its blocking pool, so
/// that it never holds up the store's Redis operations.
pub(super) async fn follow(cache: Weak<SemanticCache>, store: WeakStateStore) {
    let mut after = String::from("0-0");
    loop {
        let Some(strong) = store.upgrade() else {
            return;
        };
        // While Redis is away, do not count a failed read every poll.
        let read = if strong.healthy() {
            strong.semantic_read(&after, BATCH).await
        } else {
            Ok(Vec::new())
        };
        drop(strong);
        let full = match read {
            Ok(batch) if batch.is_empty() => false,
            Ok(batch) => {
                let Some(cache) = cache.upgrade() else {
                    return;
                };
                let full = batch.len() >= BATCH;
                if let Some((last, _)) = batch.last() {
                    after.clone_from(last);
                }
                let indexed = tokio::task::spawn_blocking(move || {
                    for (_, bytes) in &batch {
                        cache.accept(bytes);
                    }
                });
                if indexed.await.is_err() {
                    return; // the runtime is shutting down
                }
                full
            }
            Err(e) => {
                tracing::debug!(error = %e, "semantic cache: cannot read the fleet's entries");
                false
            }
        };
        if !full {
            tokio::time::sleep(POLL).await;
        }
        if cache.strong_count() == 0 {
            return;
        }
    }
}
