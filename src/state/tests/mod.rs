//! The stores through the public API, the Redis one against a real Redis
//! (`REDIS_URL`, default `redis://127.0.0.1:6379`). Each test uses its own
//! random key prefix, so tests run in parallel; every key they write expires.

mod proxy;
mod quota;

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use bytes::Bytes;
use redis::Commands;

use super::{FailMode, StateError, StateStore};
use crate::metrics::metrics;
use proxy::Proxy;

const HOUR: Duration = Duration::from_secs(3_600);
const DAY: Duration = Duration::from_secs(86_400);

fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

fn redis_addr() -> SocketAddr {
    let url = url::Url::parse(&redis_url()).unwrap();
    let host = url.host_str().unwrap_or("127.0.0.1");
    let port = url.port().unwrap_or(6379);
    (host, port).to_socket_addrs().unwrap().next().unwrap()
}

/// A random key prefix for one test; its keys are deleted when it drops.
struct Prefix(String);

fn prefix(test: &str) -> Prefix {
    Prefix(format!(
        "switchyard-test:{test}:{:016x}",
        rand::random::<u64>()
    ))
}

impl std::ops::Deref for Prefix {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Prefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Drop for Prefix {
    fn drop(&mut self) {
        let Ok(mut conn) = redis::Client::open(redis_url()).and_then(|c| c.get_connection()) else {
            return;
        };
        let keys: Vec<String> = conn
            .scan_match(format!("{}:*", self.0))
            .map(|iter| iter.filter_map(Result::ok).collect())
            .unwrap_or_default();
        if !keys.is_empty() {
            let _: redis::RedisResult<()> = redis::cmd("DEL").arg(keys).query(&mut conn);
        }
    }
}

fn node(prefix: &str) -> StateStore {
    StateStore::redis(&redis_url(), FailMode::Open, prefix).unwrap()
}

/// A direct connection, to look at keys as Redis stores them.
fn raw() -> redis::Connection {
    redis::Client::open(redis_url())
        .unwrap()
        .get_connection()
        .unwrap()
}

fn errors(op: &str) -> u64 {
    metrics().state_errors.with_label_values(&[op]).get()
}

/// Polls `cond` every 20 ms until it holds; panics after `within`.
async fn eventually(within: Duration, what: &str, mut cond: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !cond().await {
        assert!(start.elapsed() < within, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn memory_store_limits_and_counts_spend() {
    let s = StateStore::memory();
    assert_eq!(s.kind(), "memory");
    assert!(s.healthy());
    assert!(s.take("k", 1, HOUR, 1).await.unwrap().allowed);
    assert!(!s.take("k", 1, HOUR, 1).await.unwrap().allowed);
    let totals = s.add_spend(&[("d", DAY), ("m", DAY)], 0.5).await.unwrap();
    assert_eq!(totals, vec![0.5, 0.5]);
    s.cache_put("c", Bytes::from_static(b"x"), HOUR)
        .await
        .unwrap();
    assert_eq!(s.cache_get("c").await.unwrap(), None);
    assert!(matches!(
        s.add_spend(&[("d", DAY)], f64::NAN).await,
        Err(StateError::InvalidArgument(_))
    ));
}

#[tokio::test]
async fn redis_take_denies_then_allows_after_retry_after() {
    let p = prefix("take");
    let s = node(&p);
    assert_eq!(s.kind(), "redis");
    for left in (0..5).rev() {
        let d = s.take("rpm", 5, Duration::from_secs(1), 1).await.unwrap();
        assert!(d.allowed);
        assert_eq!((d.limit, d.remaining), (5, left));
    }
    let denied = s.take("rpm", 5, Duration::from_secs(1), 1).await.unwrap();
    assert!(!denied.allowed);
    let retry_after = denied.retry_after.unwrap();
    assert!(retry_after <= Duration::from_millis(200), "{retry_after:?}");
    assert!(denied.reset > retry_after && denied.reset <= Duration::from_secs(1));

    let start = Instant::now();
    eventually(Duration::from_secs(2), "a token", async || {
        s.take("rpm", 5, Duration::from_secs(1), 1)
            .await
            .unwrap()
            .allowed
    })
    .await;
    // Redis' clock and ours differ only by scheduling noise.
    assert!(start.elapsed() + Duration::from_millis(25) >= retry_after);
}

#[tokio::test]
async fn redis_amount_over_limit_never_fits() {
    let p = prefix("huge");
    let s = node(&p);
    let d = s.take("tpm", 1_000, HOUR, 1_001).await.unwrap();
    assert!(d.exceeds_limit());
    assert_eq!(d.remaining, 1_000);
}

#[tokio::test]
async fn redis_adjust_charges_into_debt_and_refunds() {
    let p = prefix("adjust");
    let s = node(&p);
    assert!(s.take("tpm", 100, HOUR, 50).await.unwrap().allowed);
    s.adjust("tpm", 100, HOUR, 120).await.unwrap(); // actual 170: 70 in debt
    let d = s.take("tpm", 100, HOUR, 1).await.unwrap();
    assert!(!d.allowed);
    assert_eq!(d.remaining, 0);
    // 71 tokens at 100 per hour, less what refilled meanwhile.
    let expected = Duration::from_secs(71 * 36);
    assert!(d.retry_after.unwrap() <= expected);
    assert!(d.retry_after.unwrap() + Duration::from_secs(1) >= expected);
    // The key lives until the debt has refilled (170 tokens), plus a window.
    let pttl: i64 = redis::cmd("PTTL")
        .arg(format!("{p}:rl:tpm"))
        .query(&mut raw())
        .unwrap();
    let keep = 170 * 36_000 + 3_600_000;
    assert!(pttl > keep - 5_000 && pttl <= keep, "{pttl}");

    s.adjust("tpm", 100, HOUR, -1_000).await.unwrap(); // refund, capped
    let d = s.take("tpm", 100, HOUR, 100).await.unwrap();
    assert!(d.allowed);
    assert_eq!(d.remaining, 0);
}

#[tokio::test]
async fn redis_and_memory_agree() {
    let p = prefix("agree");
    let fleet = node(&p);
    let memory = StateStore::memory();
    let steps: [(u64, i64); 6] = [(30, 0), (50, 0), (0, 40), (25, 0), (0, -70), (60, 0)];
    for (take, adjust) in steps {
        if adjust != 0 {
            fleet.adjust("b", 100, HOUR, adjust).await.unwrap();
            memory.adjust("b", 100, HOUR, adjust).await.unwrap();
            continue;
        }
        let f = fleet.take("b", 100, HOUR, take).await.unwrap();
        let m = memory.take("b", 100, HOUR, take).await.unwrap();
        assert_eq!(
            (f.allowed, f.remaining),
            (m.allowed, m.remaining),
            "take {take}"
        );
        let close = |a: Duration, b: Duration| a.abs_diff(b) < Duration::from_secs(1);
        assert!(close(f.reset, m.reset), "{f:?} {m:?}");
        match (f.retry_after, m.retry_after) {
            (Some(a), Some(b)) => assert!(close(a, b), "{f:?} {m:?}"),
            (a, b) => assert_eq!(a, b),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_one_bucket_under_concurrent_takes() {
    let p = prefix("shared");
    let (a, b) = (node(&p), node(&p));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..40 {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.spawn(async move { s.take("key:rpm", 10, HOUR, 1).await.unwrap().allowed });
    }
    let allowed = tasks.join_all().await.into_iter().filter(|&ok| ok).count();
    assert_eq!(allowed, 10);
}

#[tokio::test]
async fn spend_adds_up_across_nodes_with_own_expiry() {
    let p = prefix("spend");
    let (a, b) = (node(&p), node(&p));
    let counters = [("key1:day", DAY), ("key1:month", 31 * DAY)];
    assert_eq!(a.add_spend(&counters, 1.5).await.unwrap(), vec![1.5, 1.5]);
    assert_eq!(
        b.add_spend(&counters, 0.25).await.unwrap(),
        vec![1.75, 1.75]
    );
    let read = a
        .spend(&["key1:day", "key1:month", "absent"])
        .await
        .unwrap();
    assert_eq!(read, vec![1.75, 1.75, 0.0]);

    let mut conn = raw();
    let day: i64 = redis::cmd("PTTL")
        .arg(format!("{p}:spend:key1:day"))
        .query(&mut conn)
        .unwrap();
    let month: i64 = redis::cmd("PTTL")
        .arg(format!("{p}:spend:key1:month"))
        .query(&mut conn)
        .unwrap();
    assert!(day > 0 && day <= 86_400_000, "{day}");
    assert!(month > 86_400_000 && month <= 31 * 86_400_000, "{month}");
}

#[tokio::test]
async fn seed_spend_sets_only_absent_counters() {
    let p = prefix("seed");
    let (a, b) = (node(&p), node(&p));
    a.seed_spend("k:day", 5.0, DAY).await.unwrap();
    b.seed_spend("k:day", 9.0, DAY).await.unwrap();
    assert_eq!(b.spend(&["k:day"]).await.unwrap(), vec![5.0]);
    assert_eq!(
        b.add_spend(&[("k:day", DAY)], 1.0).await.unwrap(),
        vec![6.0]
    );
}

#[tokio::test]
async fn cache_round_trips_and_expires() {
    let p = prefix("cache");
    let s = node(&p);
    let body = Bytes::from_static(b"{\"choices\":[]}");
    assert_eq!(s.cache_get("h1").await.unwrap(), None);
    s.cache_put("h1", body.clone(), Duration::from_millis(150))
        .await
        .unwrap();
    assert_eq!(s.cache_get("h1").await.unwrap(), Some(body));
    eventually(Duration::from_secs(3), "the entry to expire", async || {
        s.cache_get("h1").await.unwrap().is_none()
    })
    .await;
}

/// The gateway builds its store at config load, before Pingora's runtimes
/// exist, then uses it from them; a caller's runtime may also end first.
#[test]
fn redis_store_built_outside_a_runtime_works_inside_any() {
    let p = prefix("runtime");
    let s = node(&p);
    for _ in 0..2 {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let d = rt.block_on(s.take("b", 2, HOUR, 1)).unwrap();
        assert!(d.allowed);
        drop(rt);
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    assert!(!rt.block_on(s.take("b", 2, HOUR, 1)).unwrap().allowed);
    assert!(s.healthy());
}

#[test]
fn malformed_url_is_refused() {
    assert!(matches!(
        StateStore::redis("not a url", FailMode::Open, "p"),
        Err(StateError::InvalidUrl(_))
    ));
}

#[tokio::test]
async fn fail_open_serves_from_local_state() {
    let s = StateStore::redis("redis://127.0.0.1:1", FailMode::Open, &prefix("open")).unwrap();
    let before = errors("take");
    assert!(s.take("b", 2, HOUR, 1).await.unwrap().allowed);
    assert!(s.take("b", 2, HOUR, 1).await.unwrap().allowed);
    assert!(
        !s.take("b", 2, HOUR, 1).await.unwrap().allowed,
        "local limit holds"
    );
    assert!(!s.healthy());
    assert!(errors("take") >= before + 3);

    let totals = s.add_spend(&[("k:day", DAY)], 1.25).await.unwrap();
    assert_eq!(totals, vec![1.25]);
    assert_eq!(s.spend(&["k:day"]).await.unwrap(), vec![1.25]);
    s.adjust("b", 2, HOUR, -1).await.unwrap();
    assert!(s.take("b", 2, HOUR, 1).await.unwrap().allowed);
    assert_eq!(s.cache_get("c").await.unwrap(), None);
}

#[tokio::test]
async fn fail_closed_refuses() {
    let s = StateStore::redis("redis://127.0.0.1:1", FailMode::Closed, &prefix("closed")).unwrap();
    assert!(matches!(
        s.take("b", 2, HOUR, 1).await,
        Err(StateError::Unavailable)
    ));
    assert!(!s.healthy());
    assert!(matches!(
        s.spend(&["k"]).await,
        Err(StateError::Unavailable)
    ));
    assert!(matches!(
        s.add_spend(&[("k", DAY)], 1.0).await,
        Err(StateError::Unavailable)
    ));
    assert!(matches!(
        s.cache_get("c").await,
        Err(StateError::Unavailable)
    ));
}

/// Redis goes away and comes back (a proxy stopped and restarted on the same
/// port): the store serves locally meanwhile, then shares state again without
/// a restart, and the spend made while it was away reaches Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_fails_open_then_resumes_sharing_when_redis_returns() {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let mut proxy = Proxy::start(redis_addr()).await;
    let p = prefix("recovery");
    let url = format!("redis://{}", proxy.addr);
    let flaky = StateStore::redis(&url, FailMode::Open, &p).unwrap();
    let steady = node(&p);
    for s in [&flaky, &flaky, &flaky, &steady, &steady] {
        assert!(s.take("b", 5, HOUR, 1).await.unwrap().allowed);
    }
    assert!(
        !flaky.take("b", 5, HOUR, 1).await.unwrap().allowed,
        "shared"
    );
    assert!(flaky.healthy());

    proxy.stop().await;
    let before = errors("take");
    assert!(flaky.take("b", 5, HOUR, 1).await.unwrap().allowed, "local");
    assert!(!flaky.healthy());
    assert!(errors("take") > before);
    let local = flaky.add_spend(&[("k:day", DAY)], 2.0).await.unwrap();
    assert_eq!(local, vec![2.0]);
    assert_eq!(steady.spend(&["k:day"]).await.unwrap(), vec![0.0]);

    proxy.restart().await;
    eventually(Duration::from_secs(5), "the store to recover", async || {
        flaky.healthy()
    })
    .await;
    assert!(
        !flaky.take("b", 5, HOUR, 1).await.unwrap().allowed,
        "shared again"
    );
    eventually(Duration::from_secs(5), "spend to be replayed", async || {
        steady.spend(&["k:day"]).await.unwrap() == vec![2.0]
    })
    .await;
    assert_eq!(
        flaky.add_spend(&[("k:day", DAY)], 1.0).await.unwrap(),
        vec![3.0]
    );
}

/// Per-call latency of `take`, memory vs Redis:
/// `cargo test --lib state::tests::take_latency -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a test"]
async fn take_latency() {
    const CALLS: usize = 5_000;
    let p = prefix("latency");
    for s in [StateStore::memory(), node(&p)] {
        for _ in 0..200 {
            s.take("warm", 1_000_000, HOUR, 1).await.unwrap();
        }
        let mut each = Vec::with_capacity(CALLS);
        for _ in 0..CALLS {
            let start = Instant::now();
            s.take("b", 1_000_000, HOUR, 1).await.unwrap();
            each.push(start.elapsed());
        }
        each.sort();
        let mean = each.iter().sum::<Duration>() / CALLS as u32;
        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..64 {
            let s = s.clone();
            tasks.spawn(async move {
                for _ in 0..100 {
                    s.take("c", 1_000_000, HOUR, 1).await.unwrap();
                }
            });
        }
        tasks.join_all().await;
        let per_sec = 6_400.0 / start.elapsed().as_secs_f64();
        println!(
            "{}: mean {mean:?} p50 {:?} p99 {:?} max {:?}; 64 concurrent: {per_sec:.0} takes/s",
            s.kind(),
            each[CALLS / 2],
            each[CALLS * 99 / 100],
            each[CALLS - 1],
        );
    }
}

/// A Redis that accepts connections but never answers costs one
/// [`REDIS_OP_TIMEOUT`](super::REDIS_OP_TIMEOUT), then nothing while it stays
/// down.
#[tokio::test]
async fn unresponsive_redis_times_out_then_is_skipped() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("redis://{}", listener.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut sockets = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            sockets.push(socket);
        }
    });
    let s = StateStore::redis(&url, FailMode::Open, &prefix("hang")).unwrap();
    let start = Instant::now();
    assert!(s.take("b", 1, HOUR, 1).await.unwrap().allowed);
    let first = start.elapsed();
    assert!(
        first >= super::REDIS_OP_TIMEOUT / 2 && first < super::REDIS_OP_TIMEOUT * 2,
        "{first:?}"
    );
    assert!(!s.healthy());
    let start = Instant::now();
    assert!(!s.take("b", 1, HOUR, 1).await.unwrap().allowed);
    assert!(start.elapsed() < Duration::from_millis(20));
    held.abort();
}

/// Records (stored responses) in both stores: kept, read, deleted, and gone
/// after their own TTL.
#[tokio::test]
async fn records_are_kept_for_their_ttl_and_deleted_on_demand() {
    let p = prefix("records");
    let redis = StateStore::redis(&redis_url(), FailMode::Closed, &format!("{p}:")).unwrap();
    for store in [StateStore::memory(), redis] {
        let kind = store.kind();
        let value = Bytes::from_static(b"{\"id\":\"resp_1\"}");
        store
            .record_put("resp_1", value.clone(), HOUR)
            .await
            .unwrap();
        store
            .record_put("short", value.clone(), Duration::from_millis(50))
            .await
            .unwrap();
        assert_eq!(
            store.record_get("resp_1").await.unwrap(),
            Some(value),
            "{kind}"
        );
        assert_eq!(store.record_get("nope").await.unwrap(), None, "{kind}");
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(
            store.record_get("short").await.unwrap(),
            None,
            "{kind}: expired"
        );
        assert!(store.record_delete("resp_1").await.unwrap(), "{kind}");
        assert!(!store.record_delete("resp_1").await.unwrap(), "{kind}");
        assert_eq!(store.record_get("resp_1").await.unwrap(), None, "{kind}");
    }
}

#[tokio::test]
async fn semantic_stream_reads_on_from_where_it_left_off() {
    let p = prefix("semantic");
    let s = node(&p);
    assert!(s.semantic_read("0-0", 10).await.unwrap().is_empty());
    for n in 0..3u8 {
        s.semantic_publish(Bytes::from(vec![n; 4])).await.unwrap();
    }
    let first = s.semantic_read("0-0", 2).await.unwrap();
    let values: Vec<&[u8]> = first.iter().map(|(_, v)| v.as_ref()).collect();
    assert_eq!(values, [&[0u8; 4][..], &[1u8; 4][..]]);
    let rest = s.semantic_read(&first[1].0, 10).await.unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].1.as_ref(), &[2u8; 4][..]);
    assert!(s.semantic_read(&rest[0].0, 10).await.unwrap().is_empty());

    let len: u64 = redis::cmd("XLEN")
        .arg(format!("{p}:semantic"))
        .query(&mut raw())
        .unwrap();
    assert_eq!(len, 3);
    assert!(s.background().is_some());

    let memory = StateStore::memory();
    memory
        .semantic_publish(Bytes::from_static(b"x"))
        .await
        .unwrap();
    assert!(memory.semantic_read("0-0", 10).await.unwrap().is_empty());
    assert!(memory.background().is_none());
}
