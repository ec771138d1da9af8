//! Hedging: when the first candidate has not answered within the route's
//! `hedge_after`, the next one starts too; the first success wins and the
//! other is dropped (its upstream connection closed), so the client never
//! sees two answers.

use std::time::Duration;

use super::outcome::Failure;
use super::shared::{Candidate, Shared};
use super::Started;
use crate::metrics::metrics;

/// Runs `first`; if it has not answered after `after`, runs `second` too.
/// The first success wins and the other attempt is dropped (its upstream
/// connection closed), so the client never sees two answers. Returns
/// whether `second` was started; failures of either go to `failures`,
/// except the last one, which is returned.
pub(super) async fn hedged<'t>(
    shared: &Shared<'_>,
    first: &Candidate<'t>,
    second: &Candidate<'t>,
    after: Duration,
    failures: &mut Vec<Failure>,
) -> (Result<Started<'t>, Failure>, bool) {
    let a = shared.start(first);
    tokio::pin!(a);
    tokio::select! {
        biased;
        r = &mut a => return (r, false),
        _ = tokio::time::sleep(after) => {}
    }
    metrics()
        .hedges
        .with_label_values(&[&first.target.provider.name])
        .inc();
    let b = shared.hedge(second);
    tokio::pin!(b);
    let (mut a_done, mut b_done) = (false, false);
    loop {
        let r = tokio::select! {
            r = &mut a, if !a_done => { a_done = true; r }
            r = &mut b, if !b_done => { b_done = true; r }
        };
        match r {
            Ok(s) => return (Ok(s), true),
            Err(f) if a_done && b_done => return (Err(f), true),
            Err(f) => failures.push(f),
        }
    }
}
