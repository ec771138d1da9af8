//! The cache in memory, and two or three instances sharing one Redis
//! (`REDIS_URL`, default `redis://127.0.0.1:6379`) under a random prefix.

use std::time::{Duration, Instant};

use super::*;
use crate::state::FailMode;

const NS: &str = "route\0*\0embed-small\0";
const HOUR_MS: u64 = 3_600_000;

/// Through serde, so that fields `Cached` gains with a default need no edit.
fn answer(body: &str) -> Arc<Cached> {
    let json = serde_json::json!({
        "provider": "openai",
        "model": "gpt-4o-mini",
        "body": body,
        "prompt_tokens": 3,
        "completion_tokens": 5,
    });
    Arc::new(Cached::decode(json.to_string().as_bytes()).unwrap())
}

fn entry(partition: u64, vector: &[f32], body: &str) -> Entry {
    Entry {
        namespace: NS.into(),
        partition,
        vector: vector.to_vec(),
        answer: answer(body),
        expires_at_ms: now_ms() + HOUR_MS,
    }
}

/// A unit vector along axis `i` of `dims`.
fn axis(i: usize, dims: usize) -> Vec<f32> {
    let mut v = vec![0.0; dims];
    v[i] = 1.0;
    v
}

fn body(hit: Option<Hit>) -> Option<String> {
    hit.map(|h| h.answer.body.clone())
}

/// Polls `cond` every 10 ms until it holds; panics after `within`.
async fn eventually(within: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < within, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn nearest_entry_within_threshold_is_served() {
    let store = StateStore::memory();
    let c = SemanticCache::new(1 << 20);
    c.insert(&store, entry(1, &[1.0, 0.0, 0.0, 0.0], "east"))
        .await;
    c.insert(&store, entry(1, &[0.0, 1.0, 0.0, 0.0], "north"))
        .await;

    // Not unit length: normalised before the search.
    let hit = c.lookup(NS, 1, &[9.0, 1.0, 0.0, 0.0], 0.95).unwrap();
    assert_eq!(hit.answer.body, "east");
    let expected = 9.0 / 82f32.sqrt();
    assert!((hit.similarity - expected).abs() < 1e-4, "{hit:?}");
    assert_eq!(
        body(c.lookup(NS, 1, &[1.0, 8.0, 0.0, 0.0], 0.95)),
        Some("north".into())
    );
    // Halfway between the two: cos 45° ≈ 0.707.
    assert_eq!(
        c.lookup(NS, 1, &[1.0, 1.0, 0.0, 0.0], 0.8)
            .map(|h| h.similarity),
        None
    );
    let hit = c.lookup(NS, 1, &[1.0, 1.0, 0.0, 0.0], 0.7).unwrap();
    assert!((hit.similarity - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-4);
    // Opposite, other namespace, zero vector, NaN threshold: misses.
    assert!(c.lookup(NS, 1, &[-1.0, 0.0, 0.0, 0.0], 0.1).is_none());
    assert!(c.lookup("other", 1, &[1.0, 0.0, 0.0, 0.0], 0.5).is_none());
    assert!(c.lookup(NS, 1, &[0.0; 4], 0.5).is_none());
    assert!(c.lookup(NS, 1, &[1.0, 0.0, 0.0, 0.0], f32::NAN).is_none());
}

#[tokio::test]
async fn other_partition_is_a_miss_even_for_the_same_vector() {
    let store = StateStore::memory();
    let c = SemanticCache::new(1 << 20);
    let v = [0.3, 0.1, 0.9, 0.2];
    c.insert(&store, entry(7, &v, "seven")).await;
    assert!(c.lookup(NS, 8, &v, 0.5).is_none());
    let hit = c.lookup(NS, 7, &v, 0.999).unwrap();
    assert_eq!(hit.answer.body, "seven");
    assert!(hit.similarity > 0.9999, "{hit:?}");
}

#[tokio::test]
async fn filtered_search_finds_its_partition_behind_closer_neighbours() {
    let store = StateStore::memory();
    let c = SemanticCache::new(1 << 20);
    let dims = 16;
    let query = axis(0, dims);
    // 20 entries of partition 1, all nearer the query than partition 2's.
    for i in 0..20 {
        let mut v = query.clone();
        v[1 + i % 15] = 0.01 * (1 + i / 15) as f32;
        c.insert(&store, entry(1, &v, &format!("near {i}"))).await;
    }
    let mut far = query.clone();
    far[1] = 0.3; // similarity ≈ 0.958
    c.insert(&store, entry(2, &far, "mine")).await;

    let hit = c.lookup(NS, 2, &query, 0.9).unwrap();
    assert_eq!(hit.answer.body, "mine");
    assert!((hit.similarity - 1.0 / 1.09f32.sqrt()).abs() < 1e-4);
    assert!(c.lookup(NS, 1, &query, 0.99).is_some());
    assert!(c.lookup(NS, 3, &query, 0.0).is_none());
}

#[tokio::test]
async fn expired_entries_are_not_served_and_leave_the_index() {
    let store = StateStore::memory();
    let c = SemanticCache::new(1 << 20);
    let v = [1.0, 2.0, 3.0];
    let mut short = entry(1, &v, "short");
    short.expires_at_ms = now_ms() + 100;
    c.insert(&store, short).await;
    assert!(c.lookup(NS, 1, &v, 0.9).is_some());

    eventually(Duration::from_secs(2), "expiry", || {
        c.lookup(NS, 1, &v, 0.9).is_none()
    })
    .await;
    // moka drops it, and the listener its index node and empty namespace.
    eventually(Duration::from_secs(2), "eviction", || {
        c.entries.run_pending_tasks();
        !read(&c.spaces).contains_key(NS)
    })
    .await;
    assert_eq!(
        c.stats(),
        Stats {
            entries: 0,
            bytes: 0
        }
    );

    let mut gone = entry(1, &v, "gone");
    gone.expires_at_ms = now_ms().saturating_sub(1);
    c.insert(&store, gone).await;
    assert!(c.lookup(NS, 1, &v, 0.0).is_none());
    c.entries.run_pending_tasks();
    assert_eq!(c.stats().entries, 0);

    // The namespace comes back with the next insert.
    c.insert(&store, entry(1, &v, "again")).await;
    assert_eq!(body(c.lookup(NS, 1, &v, 0.9)), Some("again".into()));
}

#[tokio::test]
async fn vectors_of_another_dimension_miss_and_are_not_indexed() {
    let store = StateStore::memory();
    let c = SemanticCache::new(1 << 20);
    c.insert(&store, entry(1, &[1.0, 0.0, 0.0], "three")).await;
    assert!(c.lookup(NS, 1, &[1.0, 0.0, 0.0, 0.0], 0.0).is_none());
    assert!(c.lookup(NS, 1, &[1.0, 0.0], 0.0).is_none());

    c.insert(&store, entry(1, &[0.0, 1.0, 0.0, 0.0], "four"))
        .await;
    c.insert(&store, entry(1, &[0.0; 3], "zero")).await;
    c.entries.run_pending_tasks();
    assert_eq!(c.stats().entries, 1);
    assert_eq!(
        body(c.lookup(NS, 1, &[1.0, 0.0, 0.0], 0.9)),
        Some("three".into())
    );
}

#[tokio::test]
async fn byte_bound_evicts_and_evicted_entries_are_not_served() {
    let store = StateStore::memory();
    let max_bytes = 20_000;
    let c = SemanticCache::new(max_bytes);
    let dims = 128;
    for i in 0..dims {
        c.insert(&store, entry(1, &axis(i, dims), &format!("answer {i}")))
            .await;
    }
    c.entries.run_pending_tasks();
    let stats = c.stats();
    assert!(stats.bytes <= max_bytes, "{stats:?}");
    assert!(stats.entries > 0 && stats.entries < 40, "{stats:?}");
    let space = read(&c.spaces).get(NS).cloned().unwrap();
    assert_eq!(
        space.len() as u64,
        stats.entries,
        "evicted ids leave the index"
    );

    let mut served = 0u64;
    for i in 0..dims {
        if let Some(hit) = c.lookup(NS, 1, &axis(i, dims), 0.99) {
            assert_eq!(hit.answer.body, format!("answer {i}"));
            served += 1;
        }
    }
    assert_eq!(served, stats.entries);
}

#[test]
fn concurrent_inserts_and_lookups() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let store = StateStore::memory();
    let c = SemanticCache::new(64 << 20);
    let dims = 32;
    std::thread::scope(|s| {
        for t in 0..8u64 {
            let (c, store, handle) = (&c, &store, rt.handle());
            s.spawn(move || {
                for i in 0..50 {
                    let mut v: Vec<f32> = (0..dims).map(|d| ((d * 7 + i) % 11) as f32).collect();
                    v[i % dims] += 20.0;
                    let e = entry(t, &v, &format!("{t}/{i}"));
                    handle.block_on(c.insert(store, e));
                    let hit = c.lookup(NS, t, &v, 0.9999).unwrap();
                    assert_eq!(hit.answer.body, format!("{t}/{i}"));
                }
            });
        }
    });
    c.entries.run_pending_tasks();
    assert_eq!(c.stats().entries, 400);
}

#[test]
fn shared_entries_round_trip_and_truncations_are_rejected() {
    let e = entry(42, &[0.6, 0.8], "x");
    let bytes = share::encode(7, &e);
    let (origin, back) = share::decode(&bytes).unwrap();
    assert_eq!(origin, 7);
    assert_eq!(
        (back.namespace.as_str(), back.partition, back.expires_at_ms),
        (NS, 42, e.expires_at_ms)
    );
    assert_eq!(back.vector, e.vector);
    assert_eq!(back.answer, e.answer);
    let answer_len = e.answer.encode().len();
    for n in 0..bytes.len() - answer_len {
        assert!(share::decode(&bytes[..n]).is_none(), "{n} bytes");
    }
    let mut other = bytes.to_vec();
    other[0] = 2;
    assert!(share::decode(&other).is_none());
}

// Through Redis.

fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A random key prefix; its stream is deleted when it drops.
struct Prefix(String);

impl Prefix {
    fn new(test: &str) -> Self {
        Self(format!(
            "switchyard-test:semantic-{test}:{:016x}",
            rand::random::<u64>()
        ))
    }

    fn node(&self) -> StateStore {
        StateStore::redis(&redis_url(), FailMode::Open, &self.0).unwrap()
    }

    fn stream(&self) -> String {
        format!("{}:semantic", self.0)
    }
}

impl Drop for Prefix {
    fn drop(&mut self) {
        if let Ok(mut conn) = redis::Client::open(redis_url()).and_then(|c| c.get_connection()) {
            let _: redis::RedisResult<()> = redis::cmd("DEL").arg(self.stream()).query(&mut conn);
        }
    }
}

fn raw() -> redis::Connection {
    redis::Client::open(redis_url())
        .unwrap()
        .get_connection()
        .unwrap()
}

#[tokio::test]
async fn instances_share_entries_through_redis() {
    let p = Prefix::new("share");
    let (store_a, store_b) = (p.node(), p.node());
    let a = Arc::new(SemanticCache::new(1 << 20));
    let b = Arc::new(SemanticCache::new(1 << 20));
    a.follow(&store_a);
    a.follow(&store_a); // idempotent
    b.follow(&store_b);

    let v = [0.2, 0.4, 0.1, 0.9];
    a.insert(&store_a, entry(5, &v, "from a")).await;
    eventually(Duration::from_secs(2), "b to see a's entry", || {
        c_body(&b, &v) == Some("from a".into())
    })
    .await;
    assert!(b.lookup(NS, 6, &v, 0.5).is_none());

    b.insert(&store_b, entry(5, &[0.9, 0.1, 0.0, 0.0], "from b"))
        .await;
    eventually(Duration::from_secs(2), "a to see b's entry", || {
        c_body(&a, &[0.9, 0.1, 0.0, 0.0]) == Some("from b".into())
    })
    .await;
    // Each entry was published once: no node republishes what it follows.
    let len: u64 = redis::cmd("XLEN")
        .arg(p.stream())
        .query(&mut raw())
        .unwrap();
    assert_eq!(len, 2);
    a.entries.run_pending_tasks();
    assert_eq!(a.stats().entries, 2, "its own entry is not indexed twice");
}

fn c_body(c: &SemanticCache, v: &[f32]) -> Option<String> {
    body(c.lookup(NS, 5, v, 0.99))
}

#[tokio::test]
async fn new_instance_warms_up_from_the_stream_skipping_what_is_bad() {
    let p = Prefix::new("warm");
    let store_a = p.node();
    let a = SemanticCache::new(1 << 20);
    let mut short = entry(5, &[1.0, 0.0], "short");
    short.expires_at_ms = now_ms() + 50;
    let deadline = short.expires_at_ms;
    a.insert(&store_a, short).await;
    let _: String = redis::cmd("XADD")
        .arg(p.stream())
        .arg("*")
        .arg("e")
        .arg(&b"\x01garbage"[..])
        .query(&mut raw())
        .unwrap();
    let _: String = redis::cmd("XADD")
        .arg(p.stream())
        .arg("*")
        .arg("other")
        .arg("field")
        .query(&mut raw())
        .unwrap();
    a.insert(&store_a, entry(5, &[0.0, 1.0], "long")).await;
    eventually(Duration::from_secs(2), "the short entry to expire", || {
        now_ms() > deadline
    })
    .await;

    let store_c = p.node();
    let c = Arc::new(SemanticCache::new(1 << 20));
    c.follow(&store_c);
    eventually(Duration::from_secs(2), "warm-up", || {
        c_body(&c, &[0.0, 1.0]) == Some("long".into())
    })
    .await;
    assert!(c.lookup(NS, 5, &[1.0, 0.0], 0.5).is_none());
    c.entries.run_pending_tasks();
    assert_eq!(c.stats().entries, 1);
}

#[tokio::test]
async fn follower_stops_when_the_cache_is_dropped() {
    let p = Prefix::new("stop");
    let store = p.node();
    let runtime = store.background().unwrap();
    let tasks = || runtime.metrics().num_alive_tasks();
    // Connected: what runs from now on is the connection's driver. The
    // count trails tasks that just ended, so take it once it holds still.
    store.semantic_read("0-0", 1).await.unwrap();
    let mut idle = tasks();
    let mut same = 0;
    while same < 5 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        let now = tasks();
        same = if now == idle { same + 1 } else { 0 };
        idle = now;
    }

    let c = Arc::new(SemanticCache::new(1 << 20));
    c.follow(&store);
    eventually(Duration::from_secs(2), "the follower to run", || {
        tasks() > idle
    })
    .await;
    drop(c);
    eventually(Duration::from_secs(2), "the follower to stop", || {
        tasks() <= idle
    })
    .await;

    // The memory store has nothing to follow.
    let memory = StateStore::memory();
    assert!(memory.background().is_none());
    Arc::new(SemanticCache::new(1 << 20)).follow(&memory);
}
