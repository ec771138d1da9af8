//! Request coalescing: identical concurrent requests make one upstream
//! call. The first becomes the leader and calls; the others wait for its
//! answer. If the leader fails or goes away, each waiter calls on its own
//! (an error is not shared: it may belong to one attempt's bad luck).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::cache::Cached;

type Slot = watch::Receiver<Option<Arc<Cached>>>;

/// The requests in flight, by cache key.
#[derive(Default)]
pub struct Coalescer {
    inflight: Mutex<HashMap<String, Slot>>,
}

/// A request's part in coalescing.
pub enum Role {
    /// Call upstream, then [`Leader::publish`] the answer.
    Leader(Leader),
    /// Wait for the leader with [`wait`].
    Follower(Slot),
}

/// The request that calls upstream for everyone waiting on its key.
pub struct Leader {
    key: String,
    owner: Arc<Coalescer>,
    tx: watch::Sender<Option<Arc<Cached>>>,
}

impl Coalescer {
    /// Joins the requests in flight for `key`.
    pub fn join(self: &Arc<Self>, key: &str) -> Role {
        let Ok(mut map) = self.inflight.lock() else {
            // A poisoned lock only means another request panicked: call.
            let (tx, _) = watch::channel(None);
            return Role::Leader(Leader {
                key: String::new(),
                owner: self.clone(),
                tx,
            });
        };
        if let Some(rx) = map.get(key) {
            return Role::Follower(rx.clone());
        }
        let (tx, rx) = watch::channel(None);
        map.insert(key.to_string(), rx);
        Role::Leader(Leader {
            key: key.to_string(),
            owner: self.clone(),
            tx,
        })
    }

    /// Requests in flight as leaders (for tests and the admin API).
    pub fn len(&self) -> usize {
        self.inflight.lock().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Leader {
    /// Hands the answer to every waiter.
    pub fn publish(self, answer: Arc<Cached>) {
        // Leave the map first: a request arriving now should find the
        // cache (or call), not wait on a finished leader.
        self.leave();
        let _ = self.tx.send(Some(answer));
    }

    fn leave(&self) {
        if let Ok(mut map) = self.owner.inflight.lock() {
            map.remove(&self.key);
        }
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        // Without an answer (failure, client gone): waiters see the sender
        // close and call on their own.
        self.leave();
    }
}

/// The leader's answer, or `None` when it had none to share.
pub async fn wait(mut slot: Slot) -> Option<Arc<Cached>> {
    loop {
        if let Some(answer) = slot.borrow_and_update().clone() {
            return Some(answer);
        }
        if slot.changed().await.is_err() {
            return slot.borrow().clone();
        }
    }
}

#[cfg(test)]
mod tests;
