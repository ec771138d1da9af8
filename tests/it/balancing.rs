//! Backends within a provider: balance strategies through the real gateway,
//! circuit breakers on a timeline, active health checks, state kept across
//! a reload, and a chaos run.

use std::collections::HashMap;
use std::time::Duration;

use crate::common::*;

fn backends_yaml(balance: &str, extra: &str, mocks: &[(&str, &MockServer, usize)]) -> String {
    let list: Vec<String> = mocks
        .iter()
        .map(|(name, m, w)| {
            format!(
                "      - {{ name: {name}, base_url: \"{}/v1\", weight: {w} }}\n",
                m.url()
            )
        })
        .collect();
    format!(
        "providers:\n  p:\n    adapter: openai\n    base_url: http://127.0.0.1:9/v1\n    balance: {balance}\n{extra}    backends:\n{}routes:\n  - match: {{ model: m }}\n    retry: {{ backoff: 0ms }}\n    targets: [{{ provider: p }}]\n",
        list.join("")
    )
}

async fn served_by(gw: &Gateway, body: &serde_json::Value) -> String {
    let r = gw.post("/v1/chat/completions", body).await;
    assert_eq!(
        r.status(),
        200,
        "{:?}",
        r.headers().get("x-switchyard-attempts")
    );
    let attempts = r.headers()["x-switchyard-attempts"]
        .to_str()
        .unwrap()
        .to_string();
    attempts
        .rsplit(',')
        .next()
        .unwrap()
        .trim_end_matches(":200")
        .to_string()
}

#[tokio::test]
async fn weighted_backends_share_the_traffic() {
    let (a, b, c) = (
        MockServer::start(MockConfig::default()).await.unwrap(),
        MockServer::start(MockConfig::default()).await.unwrap(),
        MockServer::start(MockConfig::default()).await.unwrap(),
    );
    let gw = Gateway::start(&backends_yaml(
        "weighted",
        "",
        &[("a", &a, 1), ("b", &b, 3), ("c", &c, 6)],
    ))
    .await;
    for _ in 0..200 {
        served_by(&gw, &chat("m", false)).await;
    }
    let shares = [a.hits(), b.hits(), c.hits()];
    assert_eq!(shares.iter().sum::<usize>(), 200);
    for (got, weight) in shares.iter().zip([1.0, 3.0, 6.0]) {
        let want = 200.0 * weight / 10.0;
        assert!((*got as f64 - want).abs() <= 10.0, "shares {shares:?}");
    }
}

#[tokio::test]
async fn consistent_hash_keeps_a_session_on_one_backend() {
    let mocks: Vec<MockServer> =
        futures_util::future::join_all((0..4).map(|_| MockServer::start(MockConfig::default())))
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
    let named: Vec<(String, &MockServer, usize)> = mocks
        .iter()
        .enumerate()
        .map(|(i, m)| (format!("b{i}"), m, 1))
        .collect();
    let refs: Vec<(&str, &MockServer, usize)> =
        named.iter().map(|(n, m, w)| (n.as_str(), *m, *w)).collect();
    let gw = Gateway::start(&backends_yaml(
        "consistent-hash",
        "    hash_key: header:x-session-id\n",
        &refs,
    ))
    .await;
    let mut placement = HashMap::new();
    for session in 0..24 {
        for _ in 0..3 {
            let r = gw
                .client
                .post(gw.url("/v1/chat/completions"))
                .header("x-session-id", format!("s{session}"))
                .json(&chat("m", false))
                .send()
                .await
                .unwrap();
            let served = r.headers()["x-switchyard-attempts"]
                .to_str()
                .unwrap()
                .to_string();
            let first = placement.entry(session).or_insert_with(|| served.clone());
            assert_eq!(*first, served, "session {session} moved");
        }
    }
    let used: std::collections::HashSet<&String> = placement.values().collect();
    assert!(used.len() >= 3, "sessions spread over backends: {used:?}");
}

#[tokio::test]
async fn least_connections_moves_traffic_off_a_slow_backend() {
    let slow = MockServer::start(MockConfig {
        latency: Duration::from_millis(400),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let fast = MockServer::start(MockConfig::default()).await.unwrap();
    let gw = Gateway::start(&backends_yaml(
        "least-connections",
        "",
        &[("slow", &slow, 1), ("fast", &fast, 1)],
    ))
    .await;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let client = gw.client.clone();
        let url = gw.url("/v1/chat/completions");
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(i * 15)).await;
            client
                .post(url)
                .json(&chat("m", false))
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    assert!(
        fast.hits() >= 3 * slow.hits(),
        "slow {} fast {}",
        slow.hits(),
        fast.hits()
    );
}

/// closed → open (after 2 failures) → refused during the cooldown →
/// half-open probe after it → closed again once the backend recovers.
#[tokio::test]
async fn circuit_breaker_timeline() {
    let flaky = MockServer::start(MockConfig {
        fault: Some(Fault::Status {
            code: 500,
            retry_after: None,
        }),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let steady = MockServer::start(MockConfig::default()).await.unwrap();
    let extra = "    circuit_breaker: { consecutive_failures: 2, cooldown: 1s }\n";
    let gw = Gateway::start(&backends_yaml(
        "priority",
        extra,
        &[("flaky", &flaky, 1), ("steady", &steady, 1)],
    ))
    .await;
    let attempts = |r: &reqwest::Response| {
        r.headers()["x-switchyard-attempts"]
            .to_str()
            .unwrap()
            .to_string()
    };
    for _ in 0..2 {
        let r = gw.post("/v1/chat/completions", &chat("m", false)).await;
        assert_eq!(attempts(&r), "p/flaky:500,p/steady:200");
    }
    // Open: flaky is not called.
    let r = gw.post("/v1/chat/completions", &chat("m", false)).await;
    assert_eq!(attempts(&r), "p/flaky:open,p/steady:200");
    assert_eq!(flaky.hits(), 2);
    assert!(gw
        .metrics()
        .await
        .contains("gateway_backend_circuit_state{backend=\"p/flaky\",provider=\"p\"} 1"));
    // After the cooldown one probe goes through; the backend has recovered.
    flaky.set_fault(None);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = gw.post("/v1/chat/completions", &chat("m", false)).await;
    assert_eq!(attempts(&r), "p/flaky:200");
    let r = gw.post("/v1/chat/completions", &chat("m", false)).await;
    assert_eq!(attempts(&r), "p/flaky:200", "closed again");
    assert!(gw
        .metrics()
        .await
        .contains("gateway_backend_circuit_state{backend=\"p/flaky\",provider=\"p\"} 0"));
}

/// A stream that fails mid-way counts against its backend.
#[tokio::test]
async fn a_broken_stream_counts_as_a_backend_failure() {
    let dying = MockServer::start(MockConfig {
        fault: Some(Fault::StreamError { after: 1 }),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let steady = MockServer::start(MockConfig::default()).await.unwrap();
    let extra = "    circuit_breaker: { consecutive_failures: 1, cooldown: 30s }\n";
    let gw = Gateway::start(&backends_yaml(
        "priority",
        extra,
        &[("dying", &dying, 1), ("steady", &steady, 1)],
    ))
    .await;
    let events = read_sse(gw.post("/v1/chat/completions", &chat("m", true)).await).await;
    assert!(events.last().unwrap().json().unwrap()["error"].is_object());
    let r = gw.post("/v1/chat/completions", &chat("m", true)).await;
    assert_eq!(
        r.headers()["x-switchyard-attempts"],
        "p/dying:open,p/steady:200"
    );
}

#[tokio::test]
async fn breaker_state_survives_a_reload() {
    let flaky = MockServer::start(MockConfig {
        fault: Some(Fault::Status {
            code: 500,
            retry_after: None,
        }),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let steady = MockServer::start(MockConfig::default()).await.unwrap();
    let extra = "    circuit_breaker: { consecutive_failures: 1, cooldown: 60s }\n";
    let yaml = backends_yaml(
        "priority",
        extra,
        &[("flaky", &flaky, 1), ("steady", &steady, 1)],
    );
    let gw = Gateway::start(&yaml).await;
    gw.post("/v1/chat/completions", &chat("m", false)).await;
    let v1 = gw.version().await;
    gw.write_config(&format!("# edited\n{yaml}"));
    assert!(gw.wait_for_new_version(&v1, Duration::from_secs(5)).await);
    let r = gw.post("/v1/chat/completions", &chat("m", false)).await;
    assert_eq!(
        r.headers()["x-switchyard-attempts"],
        "p/flaky:open,p/steady:200"
    );
    assert_eq!(flaky.hits(), 1);
}

/// An active health check takes a dead backend out of selection, and puts
/// it back when it answers again.
#[tokio::test]
async fn health_checks_remove_and_restore_a_backend() {
    let primary = MockServer::start(MockConfig::default()).await.unwrap();
    let addr = primary.addr();
    let backup = MockServer::start(MockConfig::default()).await.unwrap();
    let extra = "    health_check: { path: /models, interval: 100ms, timeout: 200ms, unhealthy: 1, healthy: 1 }\n";
    let gw = Gateway::start(&backends_yaml(
        "priority",
        extra,
        &[("primary", &primary, 1), ("backup", &backup, 1)],
    ))
    .await;
    assert_eq!(served_by(&gw, &chat("m", false)).await, "p/primary");
    primary.stop().await;
    let removed = eventually(Duration::from_secs(5), || async {
        let r = gw.post("/v1/chat/completions", &chat("m", false)).await;
        r.headers()["x-switchyard-attempts"] == "p/backup:200"
    })
    .await;
    assert!(removed, "the dead backend is still tried first");
    assert!(gw
        .metrics()
        .await
        .contains("gateway_backend_healthy{backend=\"p/primary\",provider=\"p\"} 0"));
    let revived = MockServer::start_on(addr, MockConfig::default())
        .await
        .unwrap();
    let restored = eventually(Duration::from_secs(5), || async {
        served_by(&gw, &chat("m", false)).await == "p/primary"
    })
    .await;
    assert!(restored);
    assert!(revived.hits() >= 1);
    assert_eq!(
        revived
            .requests()
            .iter()
            .filter(|r| r.path.ends_with("/completions"))
            .count(),
        revived.hits()
    );
}

/// Backends fail and recover at random while a bounded load runs; one
/// always stays healthy, and no client request fails.
#[tokio::test]
async fn chaos_no_failed_requests_while_one_backend_is_healthy() {
    let mocks: Vec<MockServer> =
        futures_util::future::join_all((0..3).map(|_| MockServer::start(MockConfig::default())))
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
    let named: Vec<(String, &MockServer, usize)> = mocks
        .iter()
        .enumerate()
        .map(|(i, m)| (format!("b{i}"), m, 1))
        .collect();
    let refs: Vec<(&str, &MockServer, usize)> =
        named.iter().map(|(n, m, w)| (n.as_str(), *m, *w)).collect();
    // 1s, not less: on a loaded 2-core CI machine a healthy mock can take
    // a few hundred ms to answer, which must not count as a hang.
    let extra = "    circuit_breaker: { consecutive_failures: 2, cooldown: 200ms }\n    timeouts: { first_byte: 1s }\n";
    // A backend recovers but may still be benched or cooling down from an
    // earlier fault: the route waits for the soonest one.
    let yaml = backends_yaml("round-robin", extra, &refs)
        .replace("    retry: {", "    wait_for_cooldown: 2s\n    retry: {");
    let gw = Gateway::start(&yaml).await;
    let faults = [
        Fault::Status {
            code: 500,
            retry_after: None,
        },
        Fault::Status {
            code: 503,
            retry_after: None,
        },
        Fault::Status {
            code: 429,
            retry_after: Some(1),
        },
        Fault::Hang,
        // A body fault that fails before the first byte, streams included
        // (a `Malformed` stream event comes after it: an in-band error).
        Fault::WrongType,
    ];
    let chaos = {
        async {
            let mut rng = 0x9E37_79B9_7F4A_7C15u64;
            for _ in 0..30 {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let healthy = (rng % 3) as usize;
                for (i, m) in mocks.iter().enumerate() {
                    let fault = (i != healthy)
                        .then(|| faults[((rng >> (i * 8)) % faults.len() as u64) as usize].clone());
                    m.set_fault(fault);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let load = async {
        let mut failed = Vec::new();
        let mut passed = 0;
        for i in 0..60 {
            let stream = i % 3 == 0;
            let r = gw.post("/v1/chat/completions", &chat("m", stream)).await;
            let status = r.status();
            let attempts = r.headers().get("x-switchyard-attempts").cloned();
            let ok = if stream {
                // A malformed event after the first one cannot fail over
                // (bytes went out): an in-band error is its right answer.
                status == 200
                    && read_sse(r).await.last().is_some_and(|e| {
                        e.event.data == "[DONE]"
                            || e.json()
                                .is_some_and(|v| v["error"]["code"] == "upstream_invalid_json")
                    })
            } else {
                status == 200 && r.json::<serde_json::Value>().await.is_ok()
            };
            if ok {
                passed += 1
            } else {
                failed.push((status, attempts))
            }
        }
        (passed, failed)
    };
    let ((passed, failed), ()) = tokio::join!(load, chaos);
    assert!(
        failed.is_empty(),
        "{} passed, {} failed: {failed:?}",
        passed,
        failed.len()
    );
}
