//! Counting slots: how many connections or streams are open, against a
//! limit read at each admission (so a reload can change it). An atomic
//! counter rather than a semaphore because the limit is not fixed.

use std::sync::atomic::{AtomicUsize, Ordering};

/// A counter of things in use.
#[derive(Debug)]
pub struct Slots {
    used: AtomicUsize,
}

impl Slots {
    /// No slot taken.
    pub const fn new() -> Self {
        Self {
            used: AtomicUsize::new(0),
        }
    }

    /// A slot, held until dropped; `None` when `max` are taken already.
    pub fn try_take(&'static self, max: usize) -> Option<Slot> {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot { slots: self })
    }

    /// Slots taken now.
    pub fn in_use(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }
}

impl Default for Slots {
    fn default() -> Self {
        Self::new()
    }
}

/// One taken slot; given back on drop.
#[derive(Debug)]
pub struct Slot {
    slots: &'static Slots,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.slots.used.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests;
