//! Route strategies choosing targets on constructed fleets, and the
//! constraints applied before ranking.

use std::time::Duration;

use serde_json::json;

use crate::common::*;

async fn fleet(n: usize, cfg: impl Fn(usize) -> MockConfig) -> Vec<MockServer> {
    let mut v = Vec::new();
    for i in 0..n {
        v.push(MockServer::start(cfg(i)).await.unwrap());
    }
    v
}

fn provider_with(name: &str, m: &MockServer, model_meta: &str) -> String {
    format!(
        "{}    models: {{ x: {{ {model_meta} }} }}\n",
        provider(name, "openai", m, None)
    )
}

async fn served_by(gw: &Gateway, model: &str) -> String {
    let r = gw.post("/v1/chat/completions", &chat(model, false)).await;
    assert_eq!(r.status(), 200);
    r.headers()["x-switchyard-provider"]
        .to_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn cost_quality_and_hybrid_pick_the_expected_target() {
    let m = fleet(3, |_| MockConfig::default()).await;
    let yaml = format!(
        "providers:\n{}{}{}routes:\n  - match: {{ model: cheap }}\n    strategy: cost\n    targets: [{{ provider: premium, model: x }}, {{ provider: budget, model: x }}, {{ provider: mid, model: x }}]\n  - match: {{ model: best }}\n    strategy: quality\n    targets: [{{ provider: budget, model: x }}, {{ provider: mid, model: x }}, {{ provider: premium, model: x }}]\n  - match: {{ model: thrifty }}\n    strategy: hybrid\n    weights: {{ cost: 1, latency: 0, quality: 0.2 }}\n    targets: [{{ provider: premium, model: x }}, {{ provider: mid, model: x }}, {{ provider: budget, model: x }}]\n  - match: {{ model: picky }}\n    strategy: hybrid\n    weights: {{ cost: 0.2, latency: 0, quality: 1 }}\n    targets: [{{ provider: budget, model: x }}, {{ provider: mid, model: x }}, {{ provider: premium, model: x }}]\n",
        provider_with("premium", &m[0], "input_per_mtok: 15, output_per_mtok: 75, quality: 0.95"),
        provider_with("budget", &m[1], "input_per_mtok: 0.1, output_per_mtok: 0.4, quality: 0.6"),
        provider_with("mid", &m[2], "input_per_mtok: 3, output_per_mtok: 15, quality: 0.85"),
    );
    let gw = Gateway::start(&yaml).await;
    assert_eq!(served_by(&gw, "cheap").await, "budget");
    assert_eq!(served_by(&gw, "best").await, "premium");
    assert_eq!(served_by(&gw, "thrifty").await, "budget");
    assert_eq!(served_by(&gw, "picky").await, "premium");
    let r = gw.post("/v1/chat/completions", &chat("cheap", false)).await;
    assert_eq!(r.headers()["x-switchyard-strategy"], "cost");
}

/// Round-robin starts each request one target further; the others stay
/// behind it in order, so a failing target still fails over.
#[tokio::test]
async fn round_robin_rotates_the_first_target_per_request() {
    let m = fleet(3, |_| MockConfig::default()).await;
    let yaml = format!(
        "providers:\n{}{}{}routes:\n  - match: {{ model: m }}\n    strategy: round-robin\n    targets: [{{ provider: a, model: x }}, {{ provider: b, model: x }}, {{ provider: c, model: x }}]\n",
        provider("a", "openai", &m[0], None),
        provider("b", "openai", &m[1], None),
        provider("c", "openai", &m[2], None),
    );
    let gw = Gateway::start(&yaml).await;
    let mut served = Vec::new();
    for _ in 0..6 {
        served.push(served_by(&gw, "m").await);
    }
    assert_eq!(served, ["a", "b", "c", "a", "b", "c"]);
    let r = gw.post("/v1/chat/completions", &chat("m", false)).await;
    assert_eq!(r.headers()["x-switchyard-strategy"], "round-robin");
    // b fails: its turn goes on to c.
    m[1].set_fault(Some(Fault::Status {
        code: 500,
        retry_after: None,
    }));
    assert_eq!(served_by(&gw, "m").await, "c", "b's turn fails over to c");
}

/// Latency ranking moves away from a target that slows down, and back once
/// its slowness is forgotten and it answers fast again.
#[tokio::test]
async fn latency_moves_away_from_a_slow_target_and_back() {
    let m = fleet(2, |_| MockConfig::default()).await;
    let yaml = format!(
        "providers:\n{}{}routes:\n  - match: {{ model: m }}\n    strategy: latency\n    explore: 0\n    latency_memory: 1500ms\n    targets: [{{ provider: a, model: x }}, {{ provider: b, model: x }}]\n",
        provider("a", "openai", &m[0], None),
        provider("b", "openai", &m[1], None),
    );
    let gw = Gateway::start(&yaml).await;
    m[1].set_config(MockConfig {
        latency: Duration::from_millis(150),
        ..MockConfig::default()
    });
    // Unknown targets rank as fast, so each gets tried once, then the
    // faster one keeps the traffic.
    assert_eq!(served_by(&gw, "m").await, "a");
    assert_eq!(served_by(&gw, "m").await, "b");
    for _ in 0..3 {
        assert_eq!(served_by(&gw, "m").await, "a");
    }
    // a slows down: its decayed average passes b's and traffic moves.
    m[0].set_config(MockConfig {
        latency: Duration::from_millis(400),
        ..MockConfig::default()
    });
    let mut moved = false;
    for _ in 0..6 {
        if served_by(&gw, "m").await == "b" {
            moved = true;
            break;
        }
    }
    assert!(moved, "latency ranking never left the slow target");
    for _ in 0..3 {
        assert_eq!(served_by(&gw, "m").await, "b");
    }
    // a recovers. b keeps the traffic (and a fresh record) until a's slow
    // record is forgotten; then a is tried again, found fast, and kept.
    m[0].set_config(MockConfig::default());
    let back = eventually(Duration::from_secs(10), || async {
        served_by(&gw, "m").await == "a"
    })
    .await;
    assert!(back, "the recovered target was not rediscovered");
    assert_eq!(served_by(&gw, "m").await, "a");
    assert_eq!(served_by(&gw, "m").await, "a");
}

#[tokio::test]
async fn context_window_and_capabilities_are_checked_before_ranking() {
    let m = fleet(2, |_| MockConfig::default()).await;
    let yaml = format!(
        "providers:\n{}{}routes:\n  - match: {{ model: m }}\n    strategy: cost\n    targets: [{{ provider: small, model: x }}, {{ provider: big, model: x }}]\n  - match: {{ model: only-small }}\n    targets: [{{ provider: small, model: x }}]\n",
        provider_with("small", &m[0], "input_per_mtok: 0.1, output_per_mtok: 0.1, context_window: 1000"),
        provider_with("big", &m[1], "input_per_mtok: 5, output_per_mtok: 5, context_window: 200000"),
    );
    let gw = Gateway::start(&yaml).await;
    assert_eq!(
        served_by(&gw, "m").await,
        "small",
        "cheapest while the request fits"
    );
    let mut long = chat("m", false);
    long["messages"][1]["content"] = json!("word ".repeat(2000));
    let r = gw.post("/v1/chat/completions", &long).await;
    assert_eq!(r.headers()["x-switchyard-provider"], "big");
    long["model"] = json!("only-small");
    let r = gw.post("/v1/chat/completions", &long).await;
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("context window of 1000"),
        "{body}"
    );
    // max_tokens counts too.
    let mut wants_much = chat("m", false);
    wants_much["max_tokens"] = json!(5000);
    let r = gw.post("/v1/chat/completions", &wants_much).await;
    assert_eq!(r.headers()["x-switchyard-provider"], "big");
}

fn script_route(name: &str, script: &str, targets: &[(&str, &str)]) -> String {
    let t: Vec<String> = targets
        .iter()
        .map(|(p, m)| format!("{{ provider: {p}, model: {m} }}"))
        .collect();
    format!("  - match: {{ model: {name} }}\n    strategy: script\n    script: {script}\n    targets: [{}]\n", t.join(", "))
}

#[tokio::test]
async fn scoring_script_cheapest_good_enough() {
    let m = fleet(3, |_| MockConfig::default()).await;
    let yaml = format!(
        "providers:\n{}{}{}routes:\n{}",
        provider_with(
            "low",
            &m[0],
            "input_per_mtok: 0.1, output_per_mtok: 0.1, quality: 0.6"
        ),
        provider_with(
            "mid",
            &m[1],
            "input_per_mtok: 3, output_per_mtok: 3, quality: 0.82"
        ),
        provider_with(
            "top",
            &m[2],
            "input_per_mtok: 15, output_per_mtok: 15, quality: 0.95"
        ),
        script_route(
            "m",
            "cheapest_good_enough",
            &[("top", "x"), ("low", "x"), ("mid", "x")]
        ),
    );
    let gw = Gateway::start(&yaml).await;
    assert_eq!(
        served_by(&gw, "m").await,
        "mid",
        "the cheapest with quality ≥ 0.8"
    );
    let mut with_tools = chat("m", false);
    with_tools["tools"] =
        json!([{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]);
    let r = gw.post("/v1/chat/completions", &with_tools).await;
    assert_eq!(
        r.headers()["x-switchyard-provider"],
        "top",
        "tools need quality ≥ 0.85"
    );
    assert_eq!(r.headers()["x-switchyard-strategy"], "script");
}

#[tokio::test]
async fn scoring_script_sends_code_to_the_coder() {
    let m = fleet(2, |_| MockConfig::default()).await;
    let coder = format!(
        "{}    models: {{ qwen-coder: {{ input_per_mtok: 2, output_per_mtok: 2 }} }}\n",
        provider("coder", "openai", &m[0], None)
    );
    let yaml = format!(
        "providers:\n{}{}routes:\n{}",
        coder,
        provider_with(
            "general",
            &m[1],
            "input_per_mtok: 0.5, output_per_mtok: 0.5"
        ),
        script_route(
            "auto",
            "code_to_coder",
            &[("coder", "qwen-coder"), ("general", "x")]
        ),
    );
    let gw = Gateway::start(&yaml).await;
    assert_eq!(served_by(&gw, "auto").await, "general");
    let mut code = chat("auto", false);
    code["messages"][1]["content"] =
        json!("Why does this fail?\n```rust\nfn main() { let x: u8 = 300; }\n```");
    let r = gw.post("/v1/chat/completions", &code).await;
    assert_eq!(r.headers()["x-switchyard-provider"], "coder");
}

/// A scoring script that fails falls back to the configured order, and the
/// failure is counted; editing the script reloads it.
#[tokio::test]
async fn a_failing_scoring_script_falls_back_and_is_counted() {
    let m = fleet(2, |_| MockConfig::default()).await;
    let yaml = format!(
        "providers:\n{}{}routes:\n{}",
        provider_with("first", &m[0], "input_per_mtok: 9, output_per_mtok: 9"),
        provider_with("second", &m[1], "input_per_mtok: 1, output_per_mtok: 1"),
        script_route("m", "broken", &[("first", "x"), ("second", "x")]),
    );
    let gw = Gateway::start_with_scoring(
        &yaml,
        "broken",
        "fn score(candidate, request) { candidate.nope.deeper }\n",
    )
    .await;
    assert_eq!(served_by(&gw, "m").await, "first", "configured order");
    assert!(gw
        .metrics()
        .await
        .contains("gateway_script_errors_total{adapter=\"scoring/broken\"} 1"));
    let v1 = gw.version().await;
    gw.write_scoring(
        "broken",
        "fn score(candidate, request) { candidate.cost }\n",
    );
    assert!(gw.wait_for_new_version(&v1, Duration::from_secs(5)).await);
    assert_eq!(
        served_by(&gw, "m").await,
        "second",
        "the fixed script ranks by cost"
    );
}

/// A scoring route whose every target is set aside (here: none supports
/// tools) answers at once: ranking must not wait on the request body's
/// lock, which counting the prompt's tokens takes too.
#[tokio::test]
async fn a_scoring_route_with_no_usable_target_answers() {
    let m = fleet(1, |_| MockConfig::default()).await;
    let yaml = format!(
        "providers:\n{}    capabilities: {{ tools: false }}\nroutes:\n{}",
        provider_with("only", &m[0], "input_per_mtok: 1, output_per_mtok: 1"),
        script_route("m", "cheap", &[("only", "x")]),
    );
    let gw = Gateway::start_with_scoring(
        &yaml,
        "cheap",
        "fn score(candidate, request) { candidate.cost }\n",
    )
    .await;
    let mut body = chat("m", false);
    body["tools"] = serde_json::json!([
        {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    ]);
    let r = tokio::time::timeout(
        Duration::from_secs(20),
        gw.post("/v1/chat/completions", &body),
    )
    .await
    .expect("an answer, not a request stuck on a lock");
    assert!(!r.status().is_success(), "{}", r.status());
    let v: serde_json::Value = r.json().await.unwrap();
    let msg = v["error"]["message"].as_str().unwrap_or_default();
    assert!(msg.contains("tools"), "{v}");
}
