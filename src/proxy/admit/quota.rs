//! A provider's own quota, fleet-wide: with a Redis store, each attempt
//! takes a lease on the count the instances share before it is sent, and
//! gives it back when answered; each answer's quota headers are merged into
//! that count (see [`crate::upstream::quota`] for the rule). With the memory
//! store both are no-ops: the backend's own count is all there is.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::state::StateStore;
use crate::upstream::backend::Backend;
use crate::upstream::quota::Reading;

/// A request in flight on a backend, as the whole fleet counts it, until
/// dropped (however the attempt ends). Should this instance die holding
/// it, it lapses at the request's deadline.
#[must_use = "hold it until the answer comes"]
pub struct Lease {
    store: StateStore,
    backend: String,
    id: String,
    /// What its answer said, told the fleet as the lease goes, in one step:
    /// in two the request would count twice (in flight and in the fleet's
    /// count), or not at all, for a moment.
    answer: Mutex<Option<Reading>>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        // On the store's own runtime: a drop may come from any thread, and
        // must not wait on Redis.
        let Some(runtime) = self.store.background() else {
            return;
        };
        let answer = self
            .answer
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let (store, backend, id) = (
            self.store.clone(),
            std::mem::take(&mut self.backend),
            std::mem::take(&mut self.id),
        );
        runtime.spawn(async move {
            // Failures are counted by the store; the lease lapses anyway,
            // and the next answer says it again.
            let _ = match answer {
                Some(reading) => store.quota_observe(&backend, &reading, Some(&id)).await,
                None => store.quota_release(&backend, &id).await,
            };
        });
    }
}

/// Takes a lease for a request needing `tokens` (estimated) on the fleet's
/// count of `backend`'s quota, to last until `deadline` at most. `Err`:
/// until when the backend cannot cover it. `Ok(None)`: no fleet, a backend
/// the fleet has not heard of, or Redis away or failing — the request goes
/// on (quota is advisory; a failure is counted in
/// `gateway_state_errors_total`).
pub async fn take(
    store: Option<&StateStore>,
    backend: &Backend,
    tokens: impl FnOnce() -> u64,
    deadline: Instant,
) -> Result<Option<Lease>, Instant> {
    let Some(store) = store.filter(|s| s.is_shared()) else {
        return Ok(None);
    };
    if !backend.quota.fleet_due(Instant::now()) {
        return Ok(None);
    }
    let tokens = tokens();
    let id = format!("{:016x}:{tokens}", rand::random::<u64>());
    let lasts = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_secs(1));
    let Ok(Some(take)) = store.quota_take(&backend.id, tokens, &id, lasts).await else {
        return Ok(None);
    };
    if let Some(until) = backend.quota.learn_fleet(&take, Instant::now()) {
        return Err(until);
    }
    Ok((take.taken && take.heard).then(|| Lease {
        store: store.clone(),
        backend: backend.id.clone(),
        id,
        answer: Mutex::new(None),
    }))
}

/// Tells the fleet what an answer said of `backend`'s quota, without
/// holding the answer up: with the attempt's `lease`, as the lease goes;
/// without one (the fleet had not heard of the backend), at once, in a task
/// of its own.
pub fn publish(
    store: Option<&StateStore>,
    backend: &Backend,
    reading: Reading,
    lease: Option<&Lease>,
) {
    if reading.is_empty() {
        return;
    }
    if let Some(lease) = lease {
        *lease.answer.lock().unwrap_or_else(|e| e.into_inner()) = Some(reading);
        return;
    }
    let Some(store) = store.filter(|s| s.is_shared()) else {
        return;
    };
    let (store, id) = (store.clone(), backend.id.clone());
    tokio::spawn(async move {
        // A failure is counted by the store; the next answer says it again.
        let _ = store.quota_observe(&id, &reading, None).await;
    });
}
