//! Routing on the providers' own quota signals (issue 24), through the
//! real gateway: a backend whose announced quota is spent is skipped
//! (`x-switchyard-attempts: …:quota`) before it answers 429, comes back at
//! its reset, and a 429 without `Retry-After` benches it until the reset
//! its headers gave — not a circuit-breaker failure.

use std::time::Duration;

use serde_json::Value;
use switchyard_mock::Quota;

use crate::common::*;

/// A mock enforcing `requests` per `window`, as OpenAI announces it (no
/// `Retry-After` on its 429s).
async fn limited(requests: u64, window: Duration) -> MockServer {
    limited_taking(requests, window, Duration::ZERO).await
}

/// [`limited`], answering after `latency`.
async fn limited_taking(requests: u64, window: Duration, latency: Duration) -> MockServer {
    MockServer::start(MockConfig {
        latency,
        quota: Some(Quota {
            requests,
            tokens: None,
            window,
            retry_after: false,
        }),
        ..MockConfig::default()
    })
    .await
    .unwrap()
}

/// Two gateway instances on [`config`], sharing state through Redis.
async fn sharing(cheap: &MockServer, backup: &MockServer) -> (Gateway, Gateway) {
    let state = format!(
        "state:\n{}",
        crate::fleet::shared_state(&crate::fleet::prefix())
    );
    let yaml = state + config(cheap, backup).as_str();
    tokio::join!(Gateway::start(&yaml), Gateway::start(&yaml))
}

/// `cheap` first, then `backup`, on route `m`.
fn config(cheap: &MockServer, backup: &MockServer) -> String {
    format!(
        "{}providers:\n{}{}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: cheap, model: x }}, {{ provider: backup, model: x }}]\n",
        admin_yaml(),
        provider("cheap", "openai", cheap, None),
        provider("backup", "openai", backup, None),
    )
}

async fn ask(gw: &Gateway) -> (u16, String) {
    let r = gw.post("/v1/chat/completions", &chat("m", false)).await;
    (r.status().as_u16(), header(&r, "x-switchyard-attempts"))
}

#[tokio::test]
async fn a_spent_quota_is_skipped_before_it_answers_429_and_used_again_at_its_reset() {
    let cheap = limited(3, Duration::from_millis(1500)).await;
    let backup = MockServer::start(MockConfig::default()).await.unwrap();
    let gw = Gateway::start(&config(&cheap, &backup)).await;
    for _ in 0..3 {
        assert_eq!(ask(&gw).await, (200, "cheap:200".to_string()));
    }
    // The third answer said 0 requests left: skipped, not asked.
    assert_eq!(ask(&gw).await, (200, "cheap:quota,backup:200".to_string()));
    assert_eq!(cheap.quota_refusals(), 0, "no 429 was spent on learning");
    assert_eq!(cheap.hits(), 3);
    let metrics = gw.metrics().await;
    for line in [
        "gateway_backend_quota_remaining{backend=\"cheap\",kind=\"requests\",provider=\"cheap\"} 0",
        "gateway_backend_skips_total{provider=\"cheap\",reason=\"quota\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
    let (addr, key) = gw.admin.clone().unwrap();
    let providers: Value = gw
        .client
        .get(format!("http://{addr}/admin/providers"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let quota = &providers["providers"][0]["backends"][0]["quota"];
    assert_eq!(quota["requests"]["remaining"], 0, "{providers}");
    assert_eq!(quota["requests"]["limit"], 3, "{providers}");
    // At the reset the cheap provider is back.
    let back = eventually(Duration::from_secs(4), || async {
        ask(&gw).await == (200, "cheap:200".to_string())
    })
    .await;
    assert!(back, "the cheap provider never came back after its reset");
    assert_eq!(cheap.quota_refusals(), 0);
}

#[tokio::test]
async fn a_429_without_retry_after_benches_until_the_reset_and_opens_no_circuit() {
    let cheap = limited(4, Duration::from_secs(2)).await;
    let backup = MockServer::start(MockConfig::default()).await.unwrap();
    let yaml = config(&cheap, &backup);
    let one = Gateway::start(&yaml).await;
    let other = Gateway::start(&yaml).await;
    // `one` learns that 3 are left; `other` spends them behind its back.
    assert_eq!(ask(&one).await, (200, "cheap:200".to_string()));
    for _ in 0..3 {
        assert_eq!(ask(&other).await.0, 200);
    }
    // `one` still thinks 3 are left: the provider refuses, without
    // Retry-After, and the request fails over.
    assert_eq!(ask(&one).await, (200, "cheap:429,backup:200".to_string()));
    assert_eq!(cheap.quota_refusals(), 1);
    // Benched until the reset the 429's headers gave: skipped, not asked.
    for _ in 0..5 {
        let (status, attempts) = ask(&one).await;
        assert_eq!(status, 200);
        assert!(
            attempts == "cheap:benched,backup:200" || attempts == "cheap:quota,backup:200",
            "{attempts}"
        );
    }
    assert_eq!(cheap.quota_refusals(), 1, "no second 429");
    // Quota is not failure: the circuit stays closed (benched is not open).
    let metrics = one.metrics().await;
    assert!(
        !metrics.contains("gateway_backend_circuit_state{backend=\"cheap\",provider=\"cheap\"} 1"),
        "{metrics}"
    );
    let back = eventually(Duration::from_secs(5), || async {
        ask(&one).await == (200, "cheap:200".to_string())
    })
    .await;
    assert!(back, "the cheap provider never came back after its reset");
}

#[tokio::test]
async fn instances_sharing_redis_spend_one_quota_without_a_429() {
    // 10 requests in a window longer than the test: no reset to wait for.
    let cheap = limited(10, Duration::from_secs(60)).await;
    let backup = MockServer::start(MockConfig::default()).await.unwrap();
    let (a, b) = sharing(&cheap, &backup).await;
    let mut attempts = Vec::new();
    for i in 0..14 {
        let gw = if i % 2 == 0 { &a } else { &b };
        let (status, tried) = ask(gw).await;
        assert_eq!(status, 200, "{tried}");
        attempts.push(tried);
    }
    // Each instance alone would have sent its last request on a count the
    // other had already spent, and met a 429; sharing the count, neither
    // did, and the quota was used to its last request.
    assert_eq!(cheap.quota_refusals(), 0, "{attempts:#?}");
    assert_eq!(cheap.hits(), 10, "{attempts:#?}");
    for tried in &attempts[10..] {
        assert_eq!(tried, "cheap:quota,backup:200", "{attempts:#?}");
    }
    // Both show what the fleet knows.
    for gw in [&a, &b] {
        let metrics = gw.metrics().await;
        let line = "gateway_backend_quota_remaining{backend=\"cheap\",kind=\"requests\",provider=\"cheap\"} 0";
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_busy_instances_sharing_redis_receive_no_429() {
    // 16 clients at once across two instances, against 40 requests a
    // second: alone, each instance's count misses the other's requests in
    // flight, and the provider refuses some (a dozen or more per run here);
    // sharing one count, with every request in flight leased on it, none.
    let second = Duration::from_secs(1);
    let cheap = limited_taking(40, second, Duration::from_millis(10)).await;
    let backup = MockServer::start(MockConfig::default()).await.unwrap();
    let (a, b) = sharing(&cheap, &backup).await;
    let sent = std::sync::atomic::AtomicUsize::new(0);
    let clients = (0..16).map(|c| {
        let (gw, sent) = (if c % 2 == 0 { &a } else { &b }, &sent);
        async move {
            while sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 600 {
                assert_eq!(ask(gw).await.0, 200);
            }
        }
    });
    futures_util::future::join_all(clients).await;
    assert_eq!(cheap.quota_refusals(), 0, "{} answered", cheap.hits());
    assert!(cheap.hits() >= 40, "the quota was used: {}", cheap.hits());
}

#[tokio::test]
async fn when_every_providers_quota_is_spent_the_client_gets_a_429_with_the_reset() {
    let cheap = limited(2, Duration::from_millis(1500)).await;
    let yaml = format!(
        "{}providers:\n{}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: cheap, model: x }}]\n",
        admin_yaml(),
        provider("cheap", "openai", &cheap, None),
    );
    let gw = Gateway::start(&yaml).await;
    for _ in 0..2 {
        assert_eq!(ask(&gw).await.0, 200);
    }
    // Skipped, not asked: what the provider itself would have answered, a
    // 429, with its reset (1.5 s at most, rounded up) to wait for.
    let r = gw.post("/v1/chat/completions", &chat("m", false)).await;
    assert_eq!(r.status(), 429);
    assert_eq!(header(&r, "x-switchyard-attempts"), "cheap:quota");
    let wait: u64 = header(&r, "retry-after").parse().unwrap();
    assert!((1..=2).contains(&wait), "{wait}");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "rate_limit_exceeded", "{v}");
    assert_eq!(cheap.quota_refusals(), 0);
}
