//! The same behaviour checked on both backends: each `fn` here runs once on
//! SQLite and once on PostgreSQL (see `both!` in `tests/mod.rs`).

use std::time::{Duration, Instant};

use super::{poll, rec, slow, TestDb};
use crate::ledger::{GroupBy, Ledger, LedgerError, LedgerOptions, UsageQuery, UsageRecord};

const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;
/// 2024-01-01T00:00:00Z.
const T0: i64 = 1_704_067_200_000;

fn records_round_trip(db: TestDb) {
    let ledger = db.open(slow());
    let full = UsageRecord {
        at_ms: T0 + 5,
        request_id: "req-1".into(),
        key: "team-a".into(),
        route: "smart".into(),
        provider: "anthropic".into(),
        model: "claude-sonnet-4".into(),
        endpoint: "messages".into(),
        status: 502,
        stream: true,
        prompt_tokens: u64::from(u32::MAX) + 7,
        completion_tokens: 2,
        cached_tokens: 3,
        cost_usd: 0.123_456_789,
        latency_ms: 1500,
        ttft_ms: Some(250),
        attempts: 3,
        cache: "miss".into(),
        error: Some("upstream closed the stream: 'quoted' \"text\" ✓".into()),
        trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
        guardrail: Some("pii-filter".into()),
    };
    let bare = UsageRecord {
        key: String::new(),
        cache: String::new(),
        ..rec("req-2")
    };
    ledger.record(full.clone());
    ledger.record(bare.clone());
    assert_eq!(ledger.pending(), 2);
    ledger.flush().unwrap();
    assert_eq!(ledger.pending(), 0);
    assert_eq!(db.rows(), vec![full, bare]);
}

fn records_are_written_within_the_flush_interval_without_flush(db: TestDb) {
    let interval = Duration::from_millis(200);
    let ledger = db.open(LedgerOptions {
        flush_interval: interval,
        ..Default::default()
    });
    let start = Instant::now();
    for i in 0..5 {
        ledger.record(rec(format!("r{i}")));
    }
    assert!(poll(Duration::from_secs(10), || db.count() == 5));
    let took = start.elapsed();
    assert!(took >= interval, "written before the interval: {took:?}");
    assert!(poll(Duration::from_secs(1), || ledger.pending() == 0));
}

fn a_full_batch_is_written_at_once(db: TestDb) {
    let ledger = db.open(LedgerOptions {
        max_batch: 10,
        ..slow()
    });
    for i in 0..25 {
        ledger.record(rec(format!("r{i}")));
    }
    assert!(poll(Duration::from_secs(10), || db.count() == 20));
    assert!(poll(Duration::from_secs(1), || ledger.pending() == 5));
    ledger.flush().unwrap();
    assert_eq!(db.count(), 25);
}

/// Four records over two days: alice's two on day 1 at 01:xx, bob's two on
/// day 2 at 02:xx.
fn seed(ledger: &Ledger) {
    let r = |id: &str, at: i64, key: &str, model: &str, provider: &str, route: &str| UsageRecord {
        at_ms: at,
        key: key.into(),
        model: model.into(),
        provider: provider.into(),
        route: route.into(),
        ..rec(id)
    };
    let a = r("a", T0 + HOUR, "alice", "gpt", "openai", "smart");
    let b = r(
        "b",
        T0 + HOUR + 30 * 60_000,
        "alice",
        "claude",
        "anthropic",
        "smart",
    );
    let c = r("c", T0 + DAY + 2 * HOUR, "bob", "gpt", "openai", "cheap");
    let d = r(
        "d",
        T0 + DAY + 3 * HOUR - 1,
        "bob",
        "gpt",
        "openai",
        "cheap",
    );
    let sized = |r: UsageRecord, tokens: [u64; 3], cost: f64, latency: u64, status: u16, cache| {
        UsageRecord {
            prompt_tokens: tokens[0],
            completion_tokens: tokens[1],
            cached_tokens: tokens[2],
            cost_usd: cost,
            latency_ms: latency,
            status,
            cache: String::from(cache),
            ..r
        }
    };
    ledger.record(sized(a, [10, 20, 5], 0.5, 100, 200, "hit"));
    ledger.record(sized(b, [30, 40, 0], 1.0, 300, 200, "miss"));
    ledger.record(sized(c, [1, 0, 0], 0.0, 50, 500, ""));
    ledger.record(sized(d, [2, 3, 0], 0.25, 150, 429, "coalesced"));
    ledger.flush().unwrap();
}

fn grouped(ledger: &Ledger, by: &str) -> Vec<(String, u64)> {
    let q = UsageQuery {
        group_by: GroupBy::parse_list(by).unwrap(),
        ..Default::default()
    };
    ledger
        .query(&q)
        .unwrap()
        .into_iter()
        .map(|row| {
            let names: Vec<&str> = by.split(',').collect();
            let label: Vec<&str> = names.iter().map(|n| row.group[*n].as_str()).collect();
            (label.join("/"), row.requests)
        })
        .collect()
}

fn owned(pairs: &[(&str, u64)]) -> Vec<(String, u64)> {
    pairs.iter().map(|(s, n)| (s.to_string(), *n)).collect()
}

fn group_by_each_dimension(db: TestDb) {
    let ledger = db.open(slow());
    seed(&ledger);
    let cases: [(&str, &[(&str, u64)]); 8] = [
        ("key", &[("alice", 2), ("bob", 2)]),
        ("model", &[("claude", 1), ("gpt", 3)]),
        ("provider", &[("anthropic", 1), ("openai", 3)]),
        ("route", &[("cheap", 2), ("smart", 2)]),
        ("status", &[("200", 2), ("429", 1), ("500", 1)]),
        ("day", &[("2024-01-01", 2), ("2024-01-02", 2)]),
        (
            "hour",
            &[("2024-01-01T01:00Z", 2), ("2024-01-02T02:00Z", 2)],
        ),
        (
            "key,model",
            &[("alice/claude", 1), ("alice/gpt", 1), ("bob/gpt", 2)],
        ),
    ];
    for (by, want) in cases {
        assert_eq!(grouped(&ledger, by), owned(want), "group_by {by}");
    }

    let rows = ledger
        .query(&UsageQuery {
            group_by: vec![GroupBy::Key],
            ..Default::default()
        })
        .unwrap();
    let alice = &rows[0];
    assert_eq!((alice.errors, alice.cache_hits), (0, 1));
    assert_eq!(
        (
            alice.prompt_tokens,
            alice.completion_tokens,
            alice.cached_tokens
        ),
        (40, 60, 5)
    );
    assert!((alice.cost_usd - 1.5).abs() < 1e-9);
    assert!((alice.avg_latency_ms - 200.0).abs() < 1e-9);
    let bob = &rows[1];
    assert_eq!((bob.errors, bob.cache_hits, bob.requests), (2, 0, 2));

    let total = ledger.query(&UsageQuery::default()).unwrap();
    assert_eq!(total.len(), 1);
    assert!(total[0].group.is_empty());
    assert_eq!(
        (total[0].requests, total[0].errors, total[0].prompt_tokens),
        (4, 2, 43)
    );
    assert!((total[0].avg_latency_ms - 150.0).abs() < 1e-9);
}

fn filters_and_time_ranges(db: TestDb) {
    let ledger = db.open(slow());
    seed(&ledger);
    let count =
        |q: UsageQuery| -> u64 { ledger.query(&q).unwrap().iter().map(|r| r.requests).sum() };
    let q = |f: fn(&mut UsageQuery)| {
        let mut q = UsageQuery::default();
        f(&mut q);
        q
    };
    assert_eq!(count(q(|q| q.key = Some("bob".into()))), 2);
    assert_eq!(count(q(|q| q.model = Some("gpt".into()))), 3);
    assert_eq!(count(q(|q| q.provider = Some("anthropic".into()))), 1);
    assert_eq!(count(q(|q| q.route = Some("smart".into()))), 2);
    assert_eq!(count(q(|q| q.key = Some("nobody".into()))), 0);
    assert_eq!(count(q(|q| q.key = Some("x' OR '1'='1".into()))), 0);
    // from inclusive, to exclusive.
    assert_eq!(count(q(|q| q.from_ms = Some(T0 + HOUR))), 4);
    assert_eq!(count(q(|q| q.from_ms = Some(T0 + HOUR + 1))), 3);
    assert_eq!(count(q(|q| q.to_ms = Some(T0 + DAY + 2 * HOUR))), 2);
    assert_eq!(count(q(|q| q.to_ms = Some(T0 + DAY + 2 * HOUR + 1))), 3);
    let window = q(|q| {
        q.model = Some("gpt".into());
        q.from_ms = Some(T0 + DAY);
        q.to_ms = Some(T0 + 2 * DAY);
    });
    assert_eq!(count(window), 2);
    // No usage: no row, not a row of zeros.
    assert!(ledger
        .query(&q(|q| q.from_ms = Some(T0 + 9 * DAY)))
        .unwrap()
        .is_empty());

    let limited = ledger
        .query(&UsageQuery {
            group_by: vec![GroupBy::Key],
            limit: Some(1),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(limited.len(), 1);
    assert_eq!(limited[0].group["key"], "alice");
}

fn reopening_keeps_rows_and_schema(db: TestDb) {
    let first = db.open(slow());
    first.record(rec("before"));
    drop(first); // the last handle: flushes and stops the writer
    assert_eq!(db.count(), 1);
    let second = db.open(slow());
    let clone = second.clone();
    clone.record(rec("after"));
    second.close().unwrap();
    assert!(second.close().is_ok(), "closing twice is harmless");
    let ids: Vec<String> = db.rows().into_iter().map(|r| r.request_id).collect();
    assert_eq!(ids, ["before", "after"]);

    // Closed: records are dropped and counted, flush says why.
    clone.record(rec("late"));
    assert_eq!(clone.dropped(), 1);
    assert!(matches!(clone.flush(), Err(LedgerError::Closed { .. })));
    assert_eq!(db.count(), 2);
}

fn records_from_many_threads_all_arrive(db: TestDb) {
    let ledger = db.open(LedgerOptions {
        flush_interval: Duration::from_millis(50),
        max_batch: 64,
        ..Default::default()
    });
    std::thread::scope(|s| {
        for t in 0..4 {
            let ledger = ledger.clone();
            s.spawn(move || {
                for i in 0..500 {
                    ledger.record(rec(format!("t{t}-{i}")));
                }
            });
        }
    });
    ledger.flush().unwrap();
    assert_eq!(db.count(), 2000);
    assert_eq!(ledger.pending(), 0);
}

fn a_writer_behind_schedule_still_writes_full_batches(db: TestDb) {
    let ledger = db.open(LedgerOptions {
        flush_interval: Duration::from_millis(1),
        max_batch: 500,
        ..Default::default()
    });
    for i in 0..20_000 {
        ledger.record(rec(format!("r{i}")));
    }
    ledger.flush().unwrap();
    assert_eq!(db.count(), 20_000);
    // Every record is overdue almost at once; writing them one by one as
    // they come off the channel would take thousands of transactions.
    let batches = ledger
        .inner
        .shared
        .batches
        .load(std::sync::atomic::Ordering::SeqCst);
    assert!(batches < 1000, "{batches} transactions for 20,000 records");
}

fn records_arriving_one_by_one_do_not_wake_the_writer_each(db: TestDb) {
    let ledger = db.open(LedgerOptions {
        flush_interval: Duration::from_millis(500),
        ..Default::default()
    });
    // Spaced out as a busy gateway's requests finish: a writer blocked on
    // the channel would wake for each (a futex call and a context switch
    // per request); a parked one sleeps until the first record is due.
    for i in 0..200 {
        ledger.record(rec(format!("r{i}")));
        std::thread::sleep(Duration::from_micros(200));
    }
    let wakes = ledger
        .inner
        .shared
        .wakes
        .load(std::sync::atomic::Ordering::SeqCst);
    assert!(wakes <= 5, "the writer woke {wakes} times for 200 records");
    ledger.flush().unwrap();
    assert_eq!(db.count(), 200);
}

both!(
    records_round_trip,
    records_are_written_within_the_flush_interval_without_flush,
    a_full_batch_is_written_at_once,
    group_by_each_dimension,
    filters_and_time_ranges,
    reopening_keeps_rows_and_schema,
    records_from_many_threads_all_arrive,
    a_writer_behind_schedule_still_writes_full_batches,
    records_arriving_one_by_one_do_not_wake_the_writer_each,
);
