//! Resilience across targets: provider-side auth failures, per-provider and
//! per-route timeouts, the attempt budget, hedged requests, and an error
//! body that lists every attempt.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::*;

async fn mock(cfg: MockConfig) -> MockServer {
    MockServer::start(cfg).await.unwrap()
}

fn faulty(fault: Fault) -> MockConfig {
    MockConfig {
        fault: Some(fault),
        ..MockConfig::default()
    }
}

#[tokio::test]
async fn a_refused_provider_key_fails_over_and_the_error_lists_attempts() {
    let locked = mock(MockConfig {
        api_key: Some("right".into()),
        ..MockConfig::default()
    })
    .await;
    let good = mock(MockConfig::default()).await;
    let down = mock(faulty(Fault::Status {
        code: 503,
        retry_after: None,
    }))
    .await;
    let yaml = format!(
        "providers:\n{}{}{}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: locked }}, {{ provider: good }}]\n  - match: {{ model: doomed }}\n    targets: [{{ provider: locked }}, {{ provider: down }}]\n",
        provider("locked", "openai", &locked, Some("wrong")),
        provider("good", "openai", &good, None),
        provider("down", "openai", &down, None),
    );
    let gw = Gateway::start(&yaml).await;
    let r = gw.post("/v1/chat/completions", &chat("m", false)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-switchyard-attempts"], "locked:401,good:200");
    let r = gw
        .post("/v1/chat/completions", &chat("doomed", false))
        .await;
    assert_eq!(r.status(), 502);
    let body: Value = r.json().await.unwrap();
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(msg.contains("attempts: locked → 401, down → 503"), "{msg}");
}

#[tokio::test]
async fn provider_first_byte_timeout_fails_over_quickly() {
    let hanging = mock(faulty(Fault::Hang)).await;
    let good = mock(MockConfig::default()).await;
    let yaml = format!(
        "providers:\n{}    timeouts: {{ first_byte: 300ms }}\n{}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: hanging }}, {{ provider: good }}]\n",
        provider("hanging", "openai", &hanging, None),
        provider("good", "openai", &good, None),
    );
    let gw = Gateway::start(&yaml).await;
    for stream in [false, true] {
        let started = Instant::now();
        let r = gw.post("/v1/chat/completions", &chat("m", stream)).await;
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()["x-switchyard-attempts"],
            "hanging:timeout,good:200"
        );
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}

#[tokio::test]
async fn route_total_timeout_bounds_all_attempts() {
    let a = mock(faulty(Fault::Hang)).await;
    let b = mock(faulty(Fault::Hang)).await;
    let yaml = format!(
        "providers:\n{}{}routes:\n  - match: {{ model: m }}\n    timeouts: {{ total: 600ms }}\n    targets: [{{ provider: a }}, {{ provider: b }}]\n",
        provider("a", "openai", &a, None),
        provider("b", "openai", &b, None),
    );
    let gw = Gateway::start(&yaml).await;
    let started = Instant::now();
    let r = gw.post("/v1/chat/completions", &chat("m", false)).await;
    assert_eq!(r.status(), 504);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(b.hits(), 0, "the deadline was spent on the first target");
}

#[tokio::test]
async fn the_attempt_budget_is_respected() {
    let mocks = [
        mock(faulty(Fault::Status {
            code: 500,
            retry_after: None,
        }))
        .await,
        mock(faulty(Fault::Status {
            code: 500,
            retry_after: None,
        }))
        .await,
        mock(MockConfig::default()).await,
    ];
    let yaml = format!(
        "providers:\n{}{}{}routes:\n  - match: {{ model: m }}\n    retry: {{ max_attempts: 2, backoff: 10ms }}\n    targets: [{{ provider: p0 }}, {{ provider: p1 }}, {{ provider: p2 }}]\n",
        provider("p0", "openai", &mocks[0], None),
        provider("p1", "openai", &mocks[1], None),
        provider("p2", "openai", &mocks[2], None),
    );
    let gw = Gateway::start(&yaml).await;
    let r = gw.post("/v1/chat/completions", &chat("m", false)).await;
    assert_eq!(r.status(), 502);
    assert_eq!(mocks[2].hits(), 0);
}

/// A slow primary is hedged by the next target after the route's delay;
/// the first to answer wins, the other is cancelled, and the client gets
/// exactly one answer.
#[tokio::test]
async fn hedging_beats_a_slow_primary_without_duplicated_output() {
    let slow = mock(MockConfig {
        latency: Duration::from_millis(3000),
        chunks: 5,
        ..MockConfig::default()
    })
    .await;
    let fast = mock(MockConfig {
        chunks: 5,
        chunk_delay: Duration::from_millis(20),
        ..MockConfig::default()
    })
    .await;
    let yaml = format!(
        "providers:\n{}{}routes:\n  - match: {{ model: m }}\n    hedge: {{ after: 200ms }}\n    targets: [{{ provider: slow }}, {{ provider: fast }}]\n",
        provider("slow", "openai", &slow, None),
        provider("fast", "anthropic", &fast, None),
    );
    let gw = Gateway::start(&yaml).await;
    for stream in [false, true] {
        let started = Instant::now();
        let r = gw.post("/v1/chat/completions", &chat("m", stream)).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-switchyard-provider"], "fast");
        if stream {
            let events = read_sse(r).await;
            assert_eq!(stream_text(&events), mock_text(5), "one answer, not two");
            let roles = events
                .iter()
                .filter_map(|e| e.json())
                .filter(|v| v.pointer("/choices/0/delta/role").is_some())
                .count();
            assert_eq!(roles, 1);
        } else {
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["choices"][0]["message"]["content"], mock_text(5));
        }
        assert!(
            started.elapsed() < Duration::from_millis(2500),
            "{:?}",
            started.elapsed()
        );
    }
    // The slow primaries were cancelled, not left running.
    assert!(eventually(Duration::from_secs(5), || async { slow.in_flight() == 0 }).await);
    assert!(gw
        .metrics()
        .await
        .contains("gateway_hedges_total{provider=\"slow\"} 2"));
}

#[tokio::test]
async fn no_hedge_when_the_primary_answers_in_time() {
    let primary = mock(MockConfig::default()).await;
    let backup = mock(MockConfig::default()).await;
    let yaml = format!(
        "providers:\n{}{}routes:\n  - match: {{ model: m }}\n    hedge: {{ after: 2s }}\n    targets: [{{ provider: primary }}, {{ provider: backup }}]\n",
        provider("primary", "openai", &primary, None),
        provider("backup", "openai", &backup, None),
    );
    let gw = Gateway::start(&yaml).await;
    let r = gw.post("/v1/chat/completions", &chat("m", true)).await;
    assert_eq!(r.headers()["x-switchyard-provider"], "primary");
    read_sse(r).await;
    assert_eq!(backup.hits(), 0);
}

/// A stream that ends before its first byte reached the client is not an
/// answer: the next target is tried.
#[tokio::test]
async fn a_stream_dying_before_its_first_byte_fails_over() {
    let dying = mock(faulty(Fault::Hang)).await;
    let good = mock(MockConfig::default()).await;
    let yaml = format!(
        "providers:\n{}    timeouts: {{ first_byte: 300ms }}\n{}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: dying }}, {{ provider: good }}]\n",
        provider("dying", "anthropic", &dying, None),
        provider("good", "openai", &good, None),
    );
    let gw = Gateway::start(&yaml).await;
    let events = read_sse(gw.post("/v1/chat/completions", &chat("m", true)).await).await;
    assert_eq!(stream_text(&events), mock_text(5));
}

/// A prompt too long for one model falls back only to targets whose
/// context window is larger; with none, the client gets the 400.
#[tokio::test]
async fn context_length_errors_fall_back_to_larger_windows_only() {
    let small = mock(faulty(Fault::ContextOverflow)).await;
    let same = mock(MockConfig::default()).await;
    let unknown = mock(MockConfig::default()).await;
    let large = mock(MockConfig::default()).await;
    let with_window = |name: &str, adapter: &str, m: &MockServer, window: Option<u64>| {
        let models = match window {
            Some(w) => format!("    models: {{ x: {{ context_window: {w} }} }}\n"),
            None => String::new(),
        };
        format!("{}{models}", provider(name, adapter, m, None))
    };
    let yaml = format!(
        "providers:\n{}{}{}{}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: small, model: x }}, {{ provider: same, model: x }}, {{ provider: unknown, model: x }}, {{ provider: large, model: x }}]\n  - match: {{ model: nowhere }}\n    targets: [{{ provider: small, model: x }}, {{ provider: same, model: x }}]\n",
        with_window("small", "anthropic", &small, Some(8192)),
        with_window("same", "openai", &same, Some(8192)),
        with_window("unknown", "openai", &unknown, None),
        with_window("large", "openai", &large, Some(128000)),
    );
    let gw = Gateway::start(&yaml).await;
    let r = gw.post("/v1/chat/completions", &chat("m", false)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-switchyard-attempts"], "small:400,large:200");
    assert_eq!(same.hits() + unknown.hits(), 0);
    let r = gw
        .post("/v1/chat/completions", &chat("nowhere", false))
        .await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "context_length_exceeded");
    assert_eq!(same.hits(), 0);
}

/// When every backend is only cooling down (here: benched by a 429's
/// Retry-After), a route with `wait_for_cooldown` waits for the soonest.
#[tokio::test]
async fn a_route_can_wait_for_a_cooling_backend() {
    let limited = mock(faulty(Fault::Status {
        code: 429,
        retry_after: Some(1),
    }))
    .await;
    let yaml = format!(
        "providers:\n{}routes:\n  - match: {{ model: patient }}\n    wait_for_cooldown: 3s\n    targets: [{{ provider: p }}]\n  - match: {{ model: hasty }}\n    targets: [{{ provider: p }}]\n",
        provider("p", "openai", &limited, None)
    );
    let gw = Gateway::start(&yaml).await;
    assert_eq!(
        gw.post("/v1/chat/completions", &chat("hasty", false))
            .await
            .status(),
        429
    );
    limited.set_fault(None);
    let r = gw.post("/v1/chat/completions", &chat("hasty", false)).await;
    assert_eq!(r.status(), 503, "benched: not called");
    let started = Instant::now();
    let r = gw
        .post("/v1/chat/completions", &chat("patient", false))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-switchyard-attempts"], "p:benched,p:200");
    assert!(started.elapsed() < Duration::from_secs(3));
}

/// A provider that goes silent inside a stream for longer than the idle
/// timeout: the client gets an in-band error, not a hang.
#[tokio::test]
async fn idle_timeout_inside_a_stream_is_reported_in_band() {
    let stalling = mock(MockConfig {
        chunks: 4,
        chunk_delay: Duration::from_millis(1500),
        ..MockConfig::default()
    })
    .await;
    let yaml = format!(
        "providers:\n{}    timeouts: {{ idle: 300ms }}\nroutes:\n  - match: {{ model: m }}\n    targets: [{{ provider: p }}]\n",
        provider("p", "openai", &stalling, None)
    );
    let gw = Gateway::start(&yaml).await;
    let started = Instant::now();
    let events = read_sse(gw.post("/v1/chat/completions", &chat("m", true)).await).await;
    let last = events.last().unwrap().json().unwrap();
    assert_eq!(last["error"]["code"], "stream_interrupted", "{last}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// `hedge: { after: p95 }`: once the primary has a latency history, a
/// request slower than its usual p95 is hedged after about that long.
#[tokio::test]
async fn hedging_after_the_observed_p95() {
    let primary = mock(MockConfig {
        latency: Duration::from_millis(80),
        ..MockConfig::default()
    })
    .await;
    let backup = mock(MockConfig::default()).await;
    let yaml = format!(
        "providers:\n{}{}routes:\n  - match: {{ model: m }}\n    hedge: {{ after: p95, fallback: 10s }}\n    targets: [{{ provider: primary }}, {{ provider: backup }}]\n",
        provider("primary", "openai", &primary, None),
        provider("backup", "openai", &backup, None),
    );
    let gw = Gateway::start(&yaml).await;
    for _ in 0..20 {
        let r = gw.post("/v1/chat/completions", &chat("m", false)).await;
        assert_eq!(r.headers()["x-switchyard-provider"], "primary");
    }
    assert_eq!(
        backup.hits(),
        0,
        "no hedging while the primary is as fast as usual"
    );
    primary.set_config(MockConfig {
        latency: Duration::from_secs(5),
        ..MockConfig::default()
    });
    let started = Instant::now();
    let r = gw.post("/v1/chat/completions", &chat("m", false)).await;
    assert_eq!(r.headers()["x-switchyard-provider"], "backup");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

/// A backend whose accept queue is full never completes the TCP handshake:
/// the connect timeout fails over instead of waiting.
#[tokio::test]
async fn connect_timeout_fails_over() {
    // Backlog 1 and never accepted: once the queue is full, SYNs go
    // unanswered on Linux and connecting hangs.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let stuck = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..4 {
        if let Ok(Ok(s)) = tokio::time::timeout(
            Duration::from_millis(200),
            tokio::net::TcpStream::connect(stuck),
        )
        .await
        {
            fillers.push(s);
        }
    }
    let good = mock(MockConfig::default()).await;
    let yaml = format!(
        "providers:\n  stuck:\n    adapter: openai\n    base_url: http://{stuck}/v1\n    timeouts: {{ connect: 300ms }}\n{}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: stuck }}, {{ provider: good }}]\n",
        provider("good", "openai", &good, None)
    );
    let gw = Gateway::start(&yaml).await;
    let started = Instant::now();
    let r = gw.post("/v1/chat/completions", &chat("m", false)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["x-switchyard-attempts"],
        "stuck:timeout,good:200"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    drop((listener, fillers));
}
