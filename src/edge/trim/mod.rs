//! Giving memory back after a burst of connections.
//!
//! mimalloc (the binary's allocator, `src/main.rs`) keeps the pages a
//! thread freed — and the objects other threads freed into them — until
//! that thread allocates again, and only then returns them to the
//! operating system. A gateway that went quiet after 3,000 slow streams
//! closed kept 9.8× its idle RSS (210 MiB against 21) until its next
//! request; one request on each thread brought it back to 1.5×.
//!
//! So a thread that closes a connection collects its own heap
//! (`mi_collect`) when the connections open have fallen below a quarter of
//! the most it saw open since its last collection. That is a handful of
//! collections per burst — one per fourfold fall, from the peak down to
//! [`MIN_PEAK`] — and none under steady load, where mimalloc's own purging
//! keeps up. Hand-written because no crate does it: the allocator
//! exposes the call, not the policy.

use std::cell::Cell;

/// Below this many connections open, nothing is collected: what a few
/// connections leave behind is not worth the walk over the heap.
const MIN_PEAK: usize = 16;

thread_local! {
    /// The most connections seen open (by this thread) since it last collected.
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

/// A connection was accepted on this thread; `open` are open now.
pub fn opened(open: usize) {
    PEAK.with(|peak| peak.set(peak.get().max(open)));
}

/// A connection closed on this thread; `open` remain open. Collects the
/// thread's heap when they fell below a quarter of the peak.
pub fn closed(open: usize) {
    if due(open) {
        collect();
    }
}

/// Whether this thread should collect now (and, if so, restarts its peak).
fn due(open: usize) -> bool {
    PEAK.with(|peak| {
        let p = peak.get();
        if p >= MIN_PEAK && open.saturating_mul(4) < p {
            peak.set(open);
            true
        } else {
            false
        }
    })
}

// The crate's other `unsafe` place is the counting allocator
// (`adapter::script::memory`): a foreign call cannot be made without it.
#[allow(unsafe_code)]
fn collect() {
    // SAFETY: `mi_collect` only walks and releases the calling thread's
    // own mimalloc heap; it takes no pointers and is safe to call at any
    // time, also when mimalloc is not the global allocator (tests).
    unsafe { libmimalloc_sys::mi_collect(true) };
}

#[cfg(test)]
mod tests;
