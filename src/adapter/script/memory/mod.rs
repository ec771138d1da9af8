//! What a script hook call may hold in memory. Rhai bounds the size of each
//! string, array and map a script builds, but not their number (nor does it
//! check an array's `push`), so a script could allocate until the process is
//! killed. The gateway's global allocator is wrapped in [`CountingAlloc`],
//! which keeps, per thread, the bytes allocated minus the bytes freed; a hook
//! runs synchronously on one thread, so the growth of that count while it
//! runs is what the script holds, and the engine's progress callback stops
//! the script once it passes `server.scripts.max_memory`.
//!
//! Written by hand: the allocator-statistics crates (`stats_alloc`, `cap`)
//! count or cap the whole process, not one thread's share during a call.
//! One of the two `unsafe` places of the crate (with `edge::trim`'s call
//! into mimalloc): a `GlobalAlloc` cannot be written without it.

#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;

thread_local! {
    /// Bytes allocated minus bytes freed on this thread (it drifts with
    /// frees of other threads' memory; only differences are meaningful).
    /// Const-initialised and without `Drop`: safe to touch from the
    /// allocator, never allocates, never torn down.
    static HELD: Cell<isize> = const { Cell::new(0) };
}

fn count(delta: isize) {
    let _ = HELD.try_with(|h| h.set(h.get().wrapping_add(delta)));
}

/// This thread's running count; see [`HELD`].
pub fn held() -> isize {
    HELD.try_with(Cell::get).unwrap_or(0)
}

/// A global allocator that counts each thread's allocations into [`held`].
pub struct CountingAlloc<A>(pub A);

// SAFETY: every call is forwarded unchanged to the inner allocator; the
// only addition is a thread-local counter that never allocates.
unsafe impl<A: GlobalAlloc> GlobalAlloc for CountingAlloc<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = self.0.alloc(layout);
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = self.0.alloc_zeroed(layout);
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.0.dealloc(ptr, layout);
        count(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = self.0.realloc(ptr, layout, new_size);
        if !p.is_null() {
            count(new_size as isize - layout.size() as isize);
        }
        p
    }
}

/// Unit tests count too, so that the memory budget can be tested here.
#[cfg(test)]
#[global_allocator]
static TEST_ALLOC: CountingAlloc<std::alloc::System> = CountingAlloc(std::alloc::System);

#[cfg(test)]
mod tests;
