//! Fleet mode: several gateway instances sharing limits, spend and the
//! cache through the real Redis (`REDIS_URL`, default 127.0.0.1:6379), and
//! what happens when Redis goes away and comes back.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::common::*;
use crate::policy::{call, key_entry, KEY_A};

pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A key prefix no other test run shares.
pub fn prefix() -> String {
    use rand::Rng;
    format!("sy-it-{:016x}:", rand::thread_rng().gen::<u64>())
}

fn fleet_yaml(mock: &MockServer, state: &str, key_extra: &str, route_extra: &str) -> String {
    admin_yaml() + format!(
        "state:\n{state}auth:\n  keys:\n{}providers:\n{}    models:\n      up: {{ input_per_mtok: 1000000, output_per_mtok: 1000000 }}\nroutes:\n  - match: {{ model: m }}\n    targets: [{{ provider: p, model: up }}]\n{route_extra}",
        key_entry("team-a", KEY_A, key_extra),
        provider("p", "openai", mock, None),
    ).as_str()
}

pub fn shared_state(prefix: &str) -> String {
    format!("  redis: {}\n  prefix: \"{prefix}\"\n", redis_url())
}

#[tokio::test]
async fn two_instances_hold_one_ten_rpm_limit_together() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let yaml = fleet_yaml(&mock, &shared_state(&prefix()), "rpm: 10", "");
    let (a, b) = tokio::join!(Gateway::start(&yaml), Gateway::start(&yaml));
    let sends = (0..30).map(|i| {
        let gw = if i % 2 == 0 { &a } else { &b };
        async move {
            call(gw, Some(KEY_A), &chat("m", false))
                .await
                .status()
                .as_u16()
        }
    });
    let statuses = futures_util::future::join_all(sends).await;
    let ok = statuses.iter().filter(|s| **s == 200).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((ok, limited), (10, 20), "{statuses:?}");
    assert_eq!(mock.hits(), 10);
}

#[tokio::test]
async fn instances_share_the_cache_and_the_spend() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let yaml = fleet_yaml(
        &mock,
        &shared_state(&prefix()),
        "budget: { daily: 5 }",
        "    cache: true\n",
    );
    let (a, b) = tokio::join!(Gateway::start(&yaml), Gateway::start(&yaml));
    let mut body = chat("m", false);
    body["temperature"] = serde_json::json!(0);
    let r = call(&a, Some(KEY_A), &body).await;
    assert_eq!(r.status(), 200);
    // b has never seen this question: its answer comes from Redis.
    let r = call(&b, Some(KEY_A), &body).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers().get("x-switchyard-cache").unwrap(),
        "hit",
        "not shared through Redis"
    );
    assert_eq!(mock.hits(), 1);
    // a spent more than the budget: b refuses the key too.
    let r = call(&b, Some(KEY_A), &chat("m", false)).await;
    assert_eq!(r.status(), 429);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "insufficient_quota");
}

#[tokio::test]
async fn without_redis_the_gateway_keeps_serving_on_local_limits() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let yaml = fleet_yaml(&mock, "  redis: redis://127.0.0.1:1\n", "rpm: 3", "");
    let gw = Gateway::start(&yaml).await;
    for _ in 0..3 {
        assert_eq!(
            call(&gw, Some(KEY_A), &chat("m", false)).await.status(),
            200
        );
    }
    // The limit still holds, per instance.
    assert_eq!(
        call(&gw, Some(KEY_A), &chat("m", false)).await.status(),
        429
    );
    let metrics = gw.metrics().await;
    assert!(metrics.contains("gateway_state_backend_up 0"), "{metrics}");
    assert!(metrics.contains("gateway_state_errors_total"), "{metrics}");
    assert!(gw.logs().contains("fail-open"), "{}", gw.logs());
}

#[tokio::test]
async fn fail_closed_refuses_with_503_while_redis_is_away() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let yaml = fleet_yaml(
        &mock,
        "  redis: redis://127.0.0.1:1\n  on_error: closed\n",
        "rpm: 3",
        "",
    );
    let gw = Gateway::start(&yaml).await;
    let r = call(&gw, Some(KEY_A), &chat("m", false)).await;
    assert_eq!(r.status(), 503);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "state_unavailable");
    assert_eq!(mock.hits(), 0);
}

/// A TCP relay to Redis that can be cut (every connection closed, the port
/// refusing) and restored on the same port.
struct Relay {
    port: u16,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Relay {
    async fn start(port: u16) -> Relay {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let tasks: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let inner = tasks.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let conn = tokio::spawn(async move {
                    let Ok(mut redis) = TcpStream::connect("127.0.0.1:6379").await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut redis).await;
                });
                inner.lock().unwrap().push(conn);
            }
        });
        tasks.lock().unwrap().push(accept);
        Relay { port, tasks }
    }

    fn cut(&self) {
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }
}

#[tokio::test]
async fn sharing_resumes_when_redis_comes_back() {
    let relay = Relay::start(0).await;
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let state = format!(
        "  redis: redis://127.0.0.1:{}\n  prefix: \"{}\"\n",
        relay.port,
        prefix()
    );
    let gw = Gateway::start(&fleet_yaml(&mock, &state, "rpm: 1000", "")).await;
    assert_eq!(
        call(&gw, Some(KEY_A), &chat("m", false)).await.status(),
        200
    );
    assert!(gw.metrics().await.contains("gateway_state_backend_up 1"));

    relay.cut();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Served from local state meanwhile.
    for _ in 0..3 {
        assert_eq!(
            call(&gw, Some(KEY_A), &chat("m", false)).await.status(),
            200
        );
    }
    assert!(gw.metrics().await.contains("gateway_state_backend_up 0"));

    let _back = Relay::start(relay.port).await;
    let resumed = eventually(Duration::from_secs(15), || async {
        call(&gw, Some(KEY_A), &chat("m", false)).await.status() == 200
            && gw.metrics().await.contains("gateway_state_backend_up 1")
    })
    .await;
    assert!(resumed, "{}", gw.logs());
    assert!(gw.logs().contains("state backend back"), "{}", gw.logs());
}
