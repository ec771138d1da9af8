//! The fleet's shared count of a backend's quota, in the real Redis: what
//! `quota_take.lua` and `quota_observe.lua` do.

use std::time::Duration;

use super::{node, prefix, raw};
use crate::upstream::quota::{Reading, Signal};

fn reading(requests: Option<(u64, u64)>, tokens: Option<(u64, u64)>, reset: Duration) -> Reading {
    let window = |(remaining, limit): (u64, u64)| Signal {
        limit: Some(limit),
        remaining,
        reset_in: reset,
    };
    Reading {
        requests: requests.map(window),
        tokens: tokens.map(window),
    }
}

const SECS_30: Duration = Duration::from_secs(30);

#[tokio::test]
async fn a_backend_the_fleet_never_heard_of_is_taken_from_freely() {
    let p = prefix("quota-unknown");
    let take = node(&p).quota_take("b", 100).await.unwrap().unwrap();
    assert!(take.taken);
    assert!(take.known.is_empty(), "{take:?}");
}

#[tokio::test]
async fn takes_from_two_nodes_spend_one_count_and_stop_at_zero() {
    let p = prefix("quota-shared");
    let (a, b) = (node(&p), node(&p));
    a.quota_observe("b", &reading(Some((3, 10)), None, SECS_30))
        .await
        .unwrap();
    let mut left = Vec::new();
    for store in [&a, &b, &a] {
        let take = store.quota_take("b", 1).await.unwrap().unwrap();
        assert!(take.taken, "{take:?}");
        let requests = take.known.requests.unwrap();
        assert_eq!(requests.limit, Some(10));
        assert!(requests.reset_in <= SECS_30 && requests.reset_in > Duration::from_secs(25));
        left.push(requests.remaining);
    }
    assert_eq!(left, [2, 1, 0]);
    let refused = b.quota_take("b", 1).await.unwrap().unwrap();
    assert!(!refused.taken);
    assert!(refused.short_for > Duration::from_secs(25), "{refused:?}");
    // A refusal spends nothing.
    assert_eq!(refused.known.requests.unwrap().remaining, 0);
    // The key expires a little after its window resets.
    let ttl: i64 = redis::cmd("PTTL")
        .arg(format!("{p}:quota:b"))
        .query(&mut raw())
        .unwrap();
    assert!(ttl > 29_000 && ttl <= 31_000, "{ttl}");
}

#[tokio::test]
async fn within_a_window_the_lower_count_wins_and_a_new_window_replaces_it() {
    let p = prefix("quota-merge");
    let s = node(&p);
    s.quota_observe("b", &reading(Some((5, 10)), None, SECS_30))
        .await
        .unwrap();
    // Two takes: 3 left. An answer sent before them says 4: 3 stays.
    for _ in 0..2 {
        s.quota_take("b", 1).await.unwrap().unwrap();
    }
    s.quota_observe("b", &reading(Some((4, 10)), None, SECS_30))
        .await
        .unwrap();
    let take = s.quota_take("b", 1).await.unwrap().unwrap();
    assert_eq!(take.known.requests.unwrap().remaining, 2);
    // Another client of the same key spent more: the lower count wins.
    s.quota_observe("b", &reading(Some((0, 10)), None, SECS_30))
        .await
        .unwrap();
    assert!(!s.quota_take("b", 1).await.unwrap().unwrap().taken);
    // A reset further off is a new window.
    s.quota_observe("b", &reading(Some((10, 10)), None, Duration::from_secs(60)))
        .await
        .unwrap();
    let take = s.quota_take("b", 1).await.unwrap().unwrap();
    assert!(take.taken);
    assert_eq!(take.known.requests.unwrap().remaining, 9);
}

#[tokio::test]
async fn tokens_must_cover_the_estimate_unless_no_window_could() {
    let p = prefix("quota-tokens");
    let s = node(&p);
    s.quota_observe("b", &reading(None, Some((1_000, 5_000)), SECS_30))
        .await
        .unwrap();
    let take = s.quota_take("b", 600).await.unwrap().unwrap();
    assert!(take.taken);
    assert_eq!(take.known.tokens.unwrap().remaining, 400);
    assert!(take.known.requests.is_none());
    // 600 more do not fit in the 400 left…
    assert!(!s.quota_take("b", 600).await.unwrap().unwrap().taken);
    // …and 6,000 never would: only the provider can judge that one.
    assert!(s.quota_take("b", 6_000).await.unwrap().unwrap().taken);
    assert_eq!(
        s.quota_take("b", 1)
            .await
            .unwrap()
            .unwrap()
            .known
            .tokens
            .unwrap()
            .remaining,
        0
    );
}

#[tokio::test]
async fn the_memory_store_has_no_fleet_count() {
    let s = crate::state::StateStore::memory();
    assert!(s.quota_take("b", 1).await.unwrap().is_none());
    s.quota_observe("b", &reading(Some((0, 1)), None, SECS_30))
        .await
        .unwrap();
    assert!(s.quota_take("b", 1).await.unwrap().is_none());
}
