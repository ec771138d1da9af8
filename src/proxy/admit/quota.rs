//! A provider's own quota, fleet-wide: with a Redis store, each attempt
//! takes its request from the count the instances share before it is sent,
//! and each answer's quota headers are merged into that count (see
//! [`crate::upstream::quota`] for the consistency this gives). With the
//! memory store both are no-ops: the backend's own count is all there is.

use std::time::Instant;

use crate::state::StateStore;
use crate::upstream::backend::Backend;
use crate::upstream::quota::Reading;

/// Takes the request (`tokens` estimated) from the fleet's count of
/// `backend`'s quota: until when the backend cannot cover it, if it
/// cannot. Redis away or failing: `None`, and the request goes on (quota
/// is advisory; the failure is counted in `gateway_state_errors_total`).
pub async fn take(
    store: Option<&StateStore>,
    backend: &Backend,
    tokens: impl FnOnce() -> u64,
) -> Option<Instant> {
    let store = store.filter(|s| s.is_shared())?;
    if !backend.quota.fleet_due(Instant::now()) {
        return None;
    }
    let take = store.quota_take(&backend.id, tokens()).await.ok()??;
    backend.quota.learn_fleet(&take, Instant::now())
}

/// Tells the fleet what an answer said of `backend`'s quota, without
/// holding the answer up (a task of its own).
pub fn publish(store: Option<&StateStore>, backend: &Backend, reading: Reading) {
    let Some(store) = store.filter(|s| s.is_shared() && !reading.is_empty()) else {
        return;
    };
    let (store, id) = (store.clone(), backend.id.clone());
    tokio::spawn(async move {
        // A failure is counted by the store; the next answer says it again.
        let _ = store.quota_observe(&id, &reading).await;
    });
}
