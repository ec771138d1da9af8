//! Virtual keys, rate limits, budgets, the response cache and request
//! coalescing, through the real gateway.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::*;

pub const KEY_A: &str = "sk-sy-test-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
pub const KEY_B: &str = "sk-sy-test-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
pub const KEY_OFF: &str = "sk-sy-test-cccccccccccccccccccccccccccccccc";

/// One `auth.keys` entry; `extra` is more YAML at the entry's indentation.
pub fn key_entry(name: &str, key: &str, extra: &str) -> String {
    let mut out = format!(
        "    - name: {name}\n      key_hash: {}\n",
        switchyard::auth::hash_key(key)
    );
    for line in extra.lines().filter(|l| !l.trim().is_empty()) {
        out.push_str(&format!("      {line}\n"));
    }
    out
}

pub async fn call(gw: &Gateway, key: Option<&str>, body: &Value) -> reqwest::Response {
    let mut req = gw.client.post(gw.url("/v1/chat/completions")).json(body);
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    req.send().await.expect("POST")
}

fn header<'r>(r: &'r reqwest::Response, name: &str) -> &'r str {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

fn one_provider(mock: &MockServer, extra_route: &str) -> String {
    format!(
        "providers:\n{}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: p, model: up }}]\n{extra_route}",
        provider("p", "openai", mock, None)
    )
}

#[tokio::test]
async fn keys_authenticate_in_openai_and_anthropic_shapes() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let yaml = format!(
        "auth:\n  keys:\n{}{}{}",
        key_entry("team-a", KEY_A, ""),
        key_entry("off", KEY_OFF, "enabled: false"),
        one_provider(&mock, "")
    );
    let gw = Gateway::start(&yaml).await;
    let body = chat("m", false);

    let r = call(&gw, None, &body).await;
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "invalid_api_key");
    assert_eq!(v["error"]["type"], "invalid_request_error");

    let r = call(&gw, Some(KEY_B), &body).await;
    assert_eq!(r.status(), 401);
    let text = r.text().await.unwrap();
    assert!(!text.contains(KEY_B), "the key is echoed: {text}");

    let r = call(&gw, Some(KEY_OFF), &body).await;
    assert_eq!(r.status(), 403);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "key_disabled");

    let r = call(&gw, Some(KEY_A), &body).await;
    assert_eq!(r.status(), 200);
    assert_eq!(mock.hits(), 1, "refused requests never reach the provider");

    // Anthropic format: `x-api-key`, and errors in Anthropic's shape.
    let msg =
        json!({"model": "m", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]});
    let r = gw
        .client
        .post(gw.url("/v1/messages"))
        .header("x-api-key", KEY_A)
        .json(&msg)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = gw
        .client
        .post(gw.url("/v1/messages"))
        .header("x-api-key", KEY_B)
        .json(&msg)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "authentication_error");
    // Token counting is local, but behind the key as well.
    let count = |key: &'static str| {
        gw.client
            .post(gw.url("/v1/messages/count_tokens"))
            .header("x-api-key", key)
            .json(&msg)
            .send()
    };
    assert_eq!(count(KEY_A).await.unwrap().status(), 200);
    assert_eq!(count(KEY_B).await.unwrap().status(), 401);
}

#[tokio::test]
async fn a_key_uses_only_its_allowed_routes_and_models() {
    let big = MockServer::start(MockConfig::default()).await.unwrap();
    let small = MockServer::start(MockConfig::default()).await.unwrap();
    let yaml = format!(
        "auth:\n  keys:\n{}{}providers:\n{}{}routes:\n  - name: smart\n    match: {{ model: smart }}\n    targets: [{{ provider: big, model: big-model }}, {{ provider: small, model: small-model }}]\n  - name: secret\n    match: {{ model: secret }}\n    targets: [{{ provider: big, model: big-model }}]\n",
        key_entry("intern", KEY_A, "models: [small-model]\nroutes: [smart]"),
        key_entry("lead", KEY_B, ""),
        provider("big", "openai", &big, None),
        provider("small", "openai", &small, None),
    );
    let gw = Gateway::start(&yaml).await;
    // The intern's request skips the model it may not use.
    let r = call(&gw, Some(KEY_A), &chat("smart", false)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-switchyard-provider"), "small");
    assert_eq!(big.hits(), 0);
    let r = call(&gw, Some(KEY_A), &chat("secret", false)).await;
    assert_eq!(r.status(), 403);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "route_not_allowed");
    // The lead may use everything: the first target serves.
    let r = call(&gw, Some(KEY_B), &chat("smart", false)).await;
    assert_eq!(header(&r, "x-switchyard-provider"), "big");
}

#[tokio::test]
async fn rpm_limit_answers_429_with_openai_rate_limit_headers() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let yaml = admin_yaml()
        + format!(
            "auth:\n  keys:\n{}{}",
            key_entry("team-a", KEY_A, "rpm: 3"),
            one_provider(&mock, "")
        )
        .as_str();
    let gw = Gateway::start(&yaml).await;
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let r = call(&gw, Some(KEY_A), &chat("m", false)).await;
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "x-ratelimit-limit-requests"), "3");
        remaining.push(header(&r, "x-ratelimit-remaining-requests").to_string());
        assert!(!header(&r, "x-ratelimit-reset-requests").is_empty());
    }
    assert_eq!(remaining, ["2", "1", "0"]);
    let r = call(&gw, Some(KEY_A), &chat("m", false)).await;
    assert_eq!(r.status(), 429);
    let retry: f64 = header(&r, "retry-after").parse().unwrap();
    assert!((1.0..=60.0).contains(&retry), "{retry}");
    assert_eq!(header(&r, "x-ratelimit-remaining-requests"), "0");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "rate_limit_exceeded");
    assert_eq!(mock.hits(), 3);
    assert!(gw
        .metrics()
        .await
        .contains("gateway_ratelimit_rejections_total{scope=\"key\"} 1"));
}

#[tokio::test]
async fn tpm_reserves_the_estimate_and_gives_back_what_was_not_used() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let yaml = format!(
        "auth:\n  keys:\n{}{}",
        key_entry("team-a", KEY_A, "tpm: 3000"),
        one_provider(&mock, "")
    );
    let gw = Gateway::start(&yaml).await;
    // Each reserves ~900 tokens but uses ~25: without settling against
    // the returned usage, the fourth would be refused.
    for i in 0..10 {
        let mut body = chat("m", i % 2 == 0);
        body["max_tokens"] = json!(900);
        let r = call(&gw, Some(KEY_A), &body).await;
        assert_eq!(r.status(), 200, "request {i}");
        let _ = r.bytes().await;
    }
    let mut body = chat("m", false);
    body["max_tokens"] = json!(5000);
    let r = call(&gw, Some(KEY_A), &body).await;
    assert_eq!(r.status(), 429);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Request too large"),
        "{v}"
    );
}

#[tokio::test]
async fn a_provider_over_its_own_limit_is_skipped_for_the_next_target() {
    let a = MockServer::start(MockConfig::default()).await.unwrap();
    let b = MockServer::start(MockConfig::default()).await.unwrap();
    let yaml = format!(
        "providers:\n{}    limits: {{ rpm: 2 }}\n{}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: a, model: x }}, {{ provider: b, model: y }}]\n",
        provider("a", "openai", &a, None),
        provider("b", "openai", &b, None),
    );
    let gw = Gateway::start(&yaml).await;
    let mut served = Vec::new();
    for _ in 0..4 {
        let r = call(&gw, None, &chat("m", false)).await;
        assert_eq!(r.status(), 200);
        served.push(header(&r, "x-switchyard-provider").to_string());
        if served.len() > 2 {
            assert!(
                header(&r, "x-switchyard-attempts").contains("a:rate_limited"),
                "{}",
                header(&r, "x-switchyard-attempts")
            );
        }
    }
    assert_eq!(served, ["a", "a", "b", "b"]);
    assert_eq!(a.hits(), 2);
}

#[tokio::test]
async fn route_limit_applies_to_every_caller_together() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let gw = Gateway::start(&one_provider(&mock, "    limits: { rpm: 2 }\n")).await;
    assert_eq!(call(&gw, None, &chat("m", false)).await.status(), 200);
    assert_eq!(call(&gw, None, &chat("m", false)).await.status(), 200);
    let r = call(&gw, None, &chat("m", false)).await;
    assert_eq!(r.status(), 429);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("route `m`"),
        "{v}"
    );
}

/// A provider whose model costs $1 per token, so that any request blows a
/// small budget.
fn priced(mock: &MockServer) -> String {
    format!(
        "{}    models:\n      up: {{ input_per_mtok: 1000000, output_per_mtok: 1000000 }}\n",
        provider("p", "openai", mock, None)
    )
}

#[tokio::test]
async fn a_spent_budget_answers_insufficient_quota_and_survives_a_restart() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("usage.db");
    let yaml = format!(
        "ledger:\n  url: sqlite:{}\n  flush_interval: 100ms\nauth:\n  keys:\n{}{}providers:\n{}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: p, model: up }}]\n",
        db.display(),
        key_entry("team-a", KEY_A, "budget: { daily: 5 }"),
        key_entry("team-b", KEY_B, ""),
        priced(&mock),
    );
    let mut gw = Gateway::start(&yaml).await;
    let r = call(&gw, Some(KEY_A), &chat("m", false)).await;
    assert_eq!(r.status(), 200);
    let cost: f64 = header(&r, "x-switchyard-cost-usd").parse().unwrap();
    assert!(cost > 5.0, "{cost}");
    let r = call(&gw, Some(KEY_A), &chat("m", false)).await;
    assert_eq!(r.status(), 429);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "insufficient_quota");
    assert_eq!(v["error"]["type"], "insufficient_quota");
    // Other keys are not affected.
    assert_eq!(
        call(&gw, Some(KEY_B), &chat("m", false)).await.status(),
        200
    );

    // A restart reads the spend back from the ledger.
    gw.signal("TERM");
    assert_eq!(gw.wait_exit(Duration::from_secs(10)).await, Some(0));
    let gw = Gateway::start(&yaml).await;
    let refused = eventually(Duration::from_secs(5), || async {
        call(&gw, Some(KEY_A), &chat("m", false)).await.status() == 429
    })
    .await;
    assert!(refused, "spend was forgotten across the restart");
    assert_eq!(mock.hits(), 2);
}

fn cached_route(mock: &MockServer, cache: &str) -> String {
    admin_yaml() + format!(
        "auth:\n  keys:\n{}{}providers:\n{}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: p, model: up }}]\n    cache: {cache}\n",
        key_entry("team-a", KEY_A, ""),
        key_entry("team-b", KEY_B, ""),
        provider("p", "openai", mock, None)
    ).as_str()
}

fn deterministic(stream: bool) -> Value {
    let mut body = chat("m", stream);
    body["temperature"] = json!(0);
    body
}

#[tokio::test]
async fn cache_serves_repeats_as_json_and_as_a_replayed_stream() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let gw = Gateway::start(&cached_route(&mock, "true")).await;
    let r = call(&gw, Some(KEY_A), &deterministic(false)).await;
    assert_eq!(header(&r, "x-switchyard-cache"), "miss");
    let first: Value = r.json().await.unwrap();
    let r = call(&gw, Some(KEY_A), &deterministic(false)).await;
    assert_eq!(header(&r, "x-switchyard-cache"), "hit");
    assert_eq!(header(&r, "x-switchyard-provider"), "p");
    let again: Value = r.json().await.unwrap();
    assert_eq!(first, again);
    assert_eq!(mock.hits(), 1);

    // The same question streamed: replayed from the cache.
    let mut body = deterministic(true);
    body["stream_options"] = json!({"include_usage": true});
    let r = call(&gw, Some(KEY_A), &body).await;
    assert_eq!(header(&r, "x-switchyard-cache"), "hit");
    assert_eq!(header(&r, "content-type"), "text/event-stream");
    let events = read_sse(r).await;
    assert_eq!(stream_text(&events), mock_text(5));
    assert_eq!(events.last().unwrap().event.data, "[DONE]");
    let usage = events
        .iter()
        .filter_map(|e| e.json())
        .find(|v| v["usage"].is_object());
    assert!(usage.is_some(), "usage chunk missing");
    assert_eq!(mock.hits(), 1);

    // An Anthropic-format client gets the cached answer in its format.
    let msg = json!({"model": "m", "max_tokens": 1024, "temperature": 0, "system": "You are terse.",
        "messages": [{"role": "user", "content": "Say hello"}]});
    let r = gw
        .client
        .post(gw.url("/v1/messages"))
        .header("x-api-key", KEY_A)
        .json(&msg)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["type"], "message", "{v}");
    assert!(gw
        .metrics()
        .await
        .contains("gateway_cache_requests_total{result=\"hit\"}"));
}

#[tokio::test]
async fn cache_is_skipped_when_it_should_be() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let gw = Gateway::start(&cached_route(&mock, "true")).await;
    call(&gw, Some(KEY_A), &deterministic(false)).await;
    assert_eq!(mock.hits(), 1);
    // Sampling: not cached by default.
    let mut warm = chat("m", false);
    warm["temperature"] = json!(0.8);
    let r = call(&gw, Some(KEY_A), &warm).await;
    assert_eq!(header(&r, "x-switchyard-cache"), "");
    call(&gw, Some(KEY_A), &warm).await;
    assert_eq!(mock.hits(), 3);
    // ... unless the client opts in.
    for _ in 0..2 {
        gw.client
            .post(gw.url("/v1/chat/completions"))
            .bearer_auth(KEY_A)
            .header("x-switchyard-cache", "use")
            .json(&warm)
            .send()
            .await
            .unwrap();
    }
    assert_eq!(mock.hits(), 4);
    // `Cache-Control: no-store` bypasses.
    let r = gw
        .client
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(KEY_A)
        .header("cache-control", "no-store")
        .json(&deterministic(false))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&r, "x-switchyard-cache"), "");
    assert_eq!(mock.hits(), 5);
    // Another key does not see team-a's entries.
    let r = call(&gw, Some(KEY_B), &deterministic(false)).await;
    assert_eq!(header(&r, "x-switchyard-cache"), "miss");
    assert_eq!(mock.hits(), 6);
}

#[tokio::test]
async fn shared_cache_entries_serve_every_key() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let gw = Gateway::start(&cached_route(&mock, "{ shared: true, ttl: 1m }")).await;
    call(&gw, Some(KEY_A), &deterministic(false)).await;
    let r = call(&gw, Some(KEY_B), &deterministic(false)).await;
    assert_eq!(header(&r, "x-switchyard-cache"), "hit");
    assert_eq!(mock.hits(), 1);
}

#[tokio::test]
async fn fifty_identical_concurrent_requests_make_one_upstream_call() {
    let mock = MockServer::start(MockConfig {
        latency: Duration::from_millis(400),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let gw = Gateway::start(&cached_route(&mock, "true")).await;
    let body = deterministic(false);
    let calls = (0..50).map(|_| {
        let gw = &gw;
        let body = &body;
        async move {
            let r = call(gw, Some(KEY_A), body).await;
            let status = r.status();
            let cache = header(&r, "x-switchyard-cache").to_string();
            let v: Value = r.json().await.unwrap();
            (status, cache, v)
        }
    });
    let results = futures_util::future::join_all(calls).await;
    assert!(results.iter().all(|(s, _, _)| *s == 200));
    let text = |v: &Value| {
        v["choices"][0]["message"]["content"]
            .as_str()
            .map(str::to_string)
    };
    assert!(results
        .iter()
        .all(|(_, _, v)| text(v) == Some(mock_text(5))));
    let coalesced = results.iter().filter(|(_, c, _)| c == "coalesced").count();
    assert!(
        coalesced > 0,
        "{:?}",
        results.iter().map(|r| &r.1).collect::<Vec<_>>()
    );
    assert_eq!(
        mock.hits(),
        1,
        "identical concurrent requests must share one call"
    );
}

#[tokio::test]
async fn a_streamed_answer_is_cached_for_both_kinds_of_client() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let gw = Gateway::start(&cached_route(&mock, "true")).await;
    let r = call(&gw, Some(KEY_A), &deterministic(true)).await;
    assert_eq!(header(&r, "x-switchyard-cache"), "miss");
    assert_eq!(stream_text(&read_sse(r).await), mock_text(5));
    // The stream was rebuilt into a whole answer: JSON clients get it...
    let r = call(&gw, Some(KEY_A), &deterministic(false)).await;
    assert_eq!(header(&r, "x-switchyard-cache"), "hit");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], mock_text(5));
    assert!(v["usage"]["prompt_tokens"].as_u64().unwrap() > 0, "{v}");
    // ... and so do streaming ones.
    let r = call(&gw, Some(KEY_A), &deterministic(true)).await;
    assert_eq!(header(&r, "x-switchyard-cache"), "hit");
    assert_eq!(stream_text(&read_sse(r).await), mock_text(5));
    assert_eq!(mock.hits(), 1);
}

/// With auth on, listing models needs a client key and shows only what the
/// key may use; `/metrics` moves to the admin listener (the metrics token
/// or the admin key); `/health` and `/ready` stay open for probes.
#[tokio::test]
async fn with_auth_on_models_need_a_key_and_metrics_are_on_the_admin_listener() {
    const METRICS_TOKEN: &str = "metrics-token-0123456789abcdef";
    let big = MockServer::start(MockConfig::default()).await.unwrap();
    let small = MockServer::start(MockConfig::default()).await.unwrap();
    let yaml = format!(
        "{}  metrics_token: {METRICS_TOKEN}\nauth:\n  keys:\n{}{}providers:\n{}    models: {{ big-model: {{}} }}\n{}    models: {{ small-model: {{}} }}\nroutes:\n  - name: smart\n    match: {{ model: smart }}\n    targets: [{{ provider: small, model: small-model }}]\n  - name: secret\n    match: {{ model: secret }}\n    targets: [{{ provider: big, model: big-model }}]\n",
        admin_yaml(),
        key_entry("intern", KEY_A, "routes: [smart]"),
        key_entry("lead", KEY_B, ""),
        provider("big", "openai", &big, None),
        provider("small", "openai", &small, None),
    );
    let gw = Gateway::start(&yaml).await;
    let get = |path: &str, key: Option<&str>| {
        let mut req = gw.client.get(gw.url(path));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        req.send()
    };
    let ids = |v: &Value| -> Vec<String> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect()
    };
    for path in ["/v1/models", "/v1/models/smart", "/models"] {
        let r = get(path, None).await.unwrap();
        assert_eq!(r.status(), 401, "{path}");
        let r = get(path, Some("sk-sy-not-a-key-000000000000"))
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{path}");
    }
    let lead: Value = get("/v1/models", Some(KEY_B))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut all = ids(&lead);
    all.sort();
    assert_eq!(all, ["big-model", "secret", "small-model", "smart"]);
    let intern: Value = get("/v1/models", Some(KEY_A))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut mine = ids(&intern);
    mine.sort();
    // `small-model` by name is a direct route to its provider, which the
    // intern's `routes: [smart]` does not include.
    assert_eq!(mine, ["smart"], "only what the key may use");
    let r = call(&gw, Some(KEY_A), &chat("small-model", false)).await;
    assert_eq!(r.status(), 403, "and indeed it may not call it");
    assert_eq!(
        get("/v1/models/smart", Some(KEY_A)).await.unwrap().status(),
        200
    );
    assert_eq!(
        get("/v1/models/secret", Some(KEY_A))
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        get("/v1/models/secret", Some(KEY_B))
            .await
            .unwrap()
            .status(),
        200
    );
    // The Anthropic SDK lists models with `x-api-key`.
    let r = gw
        .client
        .get(gw.url("/v1/models"))
        .header("x-api-key", KEY_A)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    for probe in ["/health", "/ready"] {
        assert_eq!(get(probe, None).await.unwrap().status(), 200, "{probe}");
    }
    let r = get("/metrics", None).await.unwrap();
    assert_eq!(r.status(), 404);
    let r = get("/metrics", Some(KEY_B)).await.unwrap();
    assert_eq!(r.status(), 404, "a client key does not read metrics");

    let (admin, admin_key) = gw.admin.clone().unwrap();
    let scrape = |token: Option<&str>, path: &str| {
        let mut req = gw.client.get(format!("http://{admin}{path}"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    assert_eq!(scrape(None, "/metrics").await.unwrap().status(), 401);
    assert_eq!(scrape(Some(KEY_B), "/metrics").await.unwrap().status(), 401);
    let text = scrape(Some(METRICS_TOKEN), "/metrics").await.unwrap();
    assert_eq!(text.status(), 200);
    assert!(text
        .text()
        .await
        .unwrap()
        .contains("gateway_requests_total"));
    assert_eq!(
        scrape(Some(&admin_key), "/metrics").await.unwrap().status(),
        200
    );
    assert_eq!(
        scrape(Some(METRICS_TOKEN), "/admin/config")
            .await
            .unwrap()
            .status(),
        401,
        "the metrics token reads metrics only"
    );
}
