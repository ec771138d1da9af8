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
const MINUTE: Duration = Duration::from_secs(60);

/// A lease id as the gateway makes them: unique, then its tokens.
fn lease(n: u32, tokens: u64) -> String {
    format!("{n:016x}:{tokens}")
}

#[tokio::test]
async fn a_backend_the_fleet_never_heard_of_is_taken_from_freely_and_not_leased() {
    let p = prefix("quota-unknown");
    let s = node(&p);
    let take = s
        .quota_take("b", 100, &lease(1, 100), MINUTE)
        .await
        .unwrap()
        .unwrap();
    assert!(take.taken && !take.heard, "{take:?}");
    assert!(take.known.is_empty(), "{take:?}");
    let leases: i64 = redis::cmd("EXISTS")
        .arg(format!("{p}:quota-leases:b"))
        .query(&mut raw())
        .unwrap();
    assert_eq!(leases, 0, "nothing to count against");
}

#[tokio::test]
async fn two_nodes_count_each_others_requests_in_flight_until_released() {
    let p = prefix("quota-shared");
    let (a, b) = (node(&p), node(&p));
    a.quota_observe("b", &reading(Some((3, 10)), None, SECS_30), None)
        .await
        .unwrap();
    let mut left = Vec::new();
    for (i, store) in [&a, &b, &a].into_iter().enumerate() {
        let take = store
            .quota_take("b", 1, &lease(i as u32, 1), MINUTE)
            .await
            .unwrap()
            .unwrap();
        assert!(take.taken && take.heard, "{take:?}");
        let requests = take.known.requests.unwrap();
        assert_eq!(requests.limit, Some(10));
        assert!(requests.reset_in <= SECS_30 && requests.reset_in > Duration::from_secs(25));
        left.push(requests.remaining);
    }
    assert_eq!(left, [2, 1, 0], "3 left, less what is in flight");
    let refused = b
        .quota_take("b", 1, &lease(9, 1), MINUTE)
        .await
        .unwrap()
        .unwrap();
    assert!(!refused.taken);
    assert!(refused.short_for > Duration::from_secs(25), "{refused:?}");
    // One never reached the provider (a refused connection): its lease
    // goes back, and with no answer to count it, its request is free again.
    a.quota_release("b", &lease(0, 1)).await.unwrap();
    let take = b
        .quota_take("b", 1, &lease(3, 1), MINUTE)
        .await
        .unwrap()
        .unwrap();
    assert!(take.taken);
    assert_eq!(take.known.requests.unwrap().remaining, 0);
    // Answered, each request's answer comes with its lease's end, in one
    // step: 3 in flight, the first answer says 2 left, so none is.
    b.quota_observe(
        "b",
        &reading(Some((2, 10)), None, SECS_30),
        Some(&lease(1, 1)),
    )
    .await
    .unwrap();
    let flying: i64 = redis::cmd("ZCARD")
        .arg(format!("{p}:quota-leases:b"))
        .query(&mut raw())
        .unwrap();
    assert_eq!(flying, 2);
    assert!(
        !a.quota_take("b", 1, &lease(4, 1), MINUTE)
            .await
            .unwrap()
            .unwrap()
            .taken
    );
    // Both keys go when their windows and leases are over.
    for (key, most) in [("quota", 91_000), ("quota-leases", 61_000)] {
        let ttl: i64 = redis::cmd("PTTL")
            .arg(format!("{p}:{key}:b"))
            .query(&mut raw())
            .unwrap();
        assert!(ttl > 50_000 && ttl <= most, "{key}: {ttl}");
    }
}

#[tokio::test]
async fn the_leases_of_a_node_that_died_lapse_at_their_deadline() {
    let p = prefix("quota-lapse");
    let s = node(&p);
    s.quota_observe("b", &reading(Some((1, 10)), None, SECS_30), None)
        .await
        .unwrap();
    // Taken and never released, as by an instance that died.
    let short = Duration::from_millis(300);
    assert!(
        s.quota_take("b", 1, &lease(1, 1), short)
            .await
            .unwrap()
            .unwrap()
            .taken
    );
    assert!(
        !s.quota_take("b", 1, &lease(2, 1), MINUTE)
            .await
            .unwrap()
            .unwrap()
            .taken
    );
    tokio::time::sleep(short + Duration::from_millis(50)).await;
    assert!(
        s.quota_take("b", 1, &lease(3, 1), MINUTE)
            .await
            .unwrap()
            .unwrap()
            .taken
    );
}

#[tokio::test]
async fn within_a_window_the_lower_count_wins_and_a_new_window_replaces_it() {
    let p = prefix("quota-merge");
    let s = node(&p);
    let take = |n: u32| {
        let s = s.clone();
        async move {
            let id = lease(n, 1);
            let take = s.quota_take("b", 1, &id, MINUTE).await.unwrap().unwrap();
            s.quota_release("b", &id).await.unwrap();
            take
        }
    };
    s.quota_observe("b", &reading(Some((5, 10)), None, SECS_30), None)
        .await
        .unwrap();
    // An answer sent earlier arrives late with a higher count: 5 stays.
    s.quota_observe("b", &reading(Some((7, 10)), None, SECS_30), None)
        .await
        .unwrap();
    assert_eq!(take(1).await.known.requests.unwrap().remaining, 4);
    // Another client of the same key spent the rest: the lower count wins.
    s.quota_observe("b", &reading(Some((0, 10)), None, SECS_30), None)
        .await
        .unwrap();
    assert!(!take(2).await.taken);
    // A reset further off is a new window.
    s.quota_observe("b", &reading(Some((10, 10)), None, MINUTE), None)
        .await
        .unwrap();
    let next = take(3).await;
    assert!(next.taken);
    assert_eq!(next.known.requests.unwrap().remaining, 9);
}

#[tokio::test]
async fn tokens_in_flight_must_leave_the_estimate_unless_no_window_could() {
    let p = prefix("quota-tokens");
    let s = node(&p);
    s.quota_observe("b", &reading(None, Some((1_000, 5_000)), SECS_30), None)
        .await
        .unwrap();
    let take = s
        .quota_take("b", 600, &lease(1, 600), MINUTE)
        .await
        .unwrap()
        .unwrap();
    assert!(take.taken);
    assert_eq!(take.known.tokens.unwrap().remaining, 400);
    assert!(take.known.requests.is_none());
    // 600 more do not fit in the 400 left…
    assert!(
        !s.quota_take("b", 600, &lease(2, 600), MINUTE)
            .await
            .unwrap()
            .unwrap()
            .taken
    );
    // …and 6,000 never would: only the provider can judge that one.
    assert!(
        s.quota_take("b", 6_000, &lease(3, 6_000), MINUTE)
            .await
            .unwrap()
            .unwrap()
            .taken
    );
    // The first answered: its tokens are free again.
    s.quota_release("b", &lease(1, 600)).await.unwrap();
    s.quota_release("b", &lease(3, 6_000)).await.unwrap();
    assert!(
        s.quota_take("b", 600, &lease(4, 600), MINUTE)
            .await
            .unwrap()
            .unwrap()
            .taken
    );
}

#[tokio::test]
async fn the_memory_store_has_no_fleet_count() {
    let s = crate::state::StateStore::memory();
    assert!(s
        .quota_take("b", 1, &lease(1, 1), MINUTE)
        .await
        .unwrap()
        .is_none());
    s.quota_observe("b", &reading(Some((0, 1)), None, SECS_30), None)
        .await
        .unwrap();
    assert!(s
        .quota_take("b", 1, &lease(2, 1), MINUTE)
        .await
        .unwrap()
        .is_none());
    s.quota_release("b", &lease(2, 1)).await.unwrap();
}

/// What the fleet's quota count costs an attempt before it is sent, beside
/// a rate-limit take (one round trip each; the lease's release is another,
/// off the request's path):
/// `cargo test --lib state::tests::quota::quota_take_latency -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a test"]
async fn quota_take_latency() {
    const CALLS: usize = 5_000;
    let p = prefix("quota-latency");
    let s = node(&p);
    let lots = (1_000_000_000_000, 1_000_000_000_000);
    let known = reading(Some(lots), Some(lots), SECS_30);
    s.quota_observe("b", &known, None).await.unwrap();
    let hour = Duration::from_secs(3_600);
    for n in 0..200 {
        let id = lease(n, 100);
        s.quota_take("b", 100, &id, MINUTE).await.unwrap();
        s.quota_release("b", &id).await.unwrap();
        s.take("r", 1_000_000, hour, 1).await.unwrap();
    }
    let mut quota = Vec::with_capacity(CALLS);
    let mut bucket = Vec::with_capacity(CALLS);
    for n in 0..CALLS {
        let id = lease(1_000 + n as u32, 100);
        let start = std::time::Instant::now();
        let take = s.quota_take("b", 100, &id, MINUTE).await.unwrap().unwrap();
        quota.push(start.elapsed());
        assert!(take.taken);
        s.quota_release("b", &id).await.unwrap();
        let start = std::time::Instant::now();
        s.take("r", 1_000_000, hour, 1).await.unwrap();
        bucket.push(start.elapsed());
    }
    for (name, mut each) in [("quota_take", quota), ("rate-limit take", bucket)] {
        each.sort();
        println!(
            "{name}: p50 {:?} p99 {:?}",
            each[CALLS / 2],
            each[CALLS * 99 / 100]
        );
    }
}
