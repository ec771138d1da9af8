//! The gateway's own endpoints.

use serde_json::Value;

use crate::common::*;

async fn one_provider() -> (MockServer, Gateway) {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let yaml = format!(
        "providers:\n{}    models:\n      gpt-4o-mini: {{ input_per_mtok: 0.15 }}\n  off:\n    adapter: openai\n    base_url: http://127.0.0.1:9\n    api_key: ${{SWITCHYARD_TEST_UNSET_KEY}}\nroutes:\n  - match: {{ model: [smart, \"gpt-*\"] }}\n    targets: [{{ provider: main, model: gpt-4o-mini }}]\n",
        provider("main", "openai", &mock, Some("k"))
    );
    (mock, Gateway::start(&yaml).await)
}

#[tokio::test]
async fn health_ready_and_unknown_paths() {
    let (_mock, gw) = one_provider().await;
    let r = gw.get("/health").await;
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("x-request-id"));
    let r = gw.get("/ready").await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["usable_providers"], serde_json::json!(["main"]));
    let r = gw.get("/v1/nope").await;
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    let r = gw
        .client
        .get(gw.url("/v1/chat/completions"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn ready_is_503_without_usable_provider() {
    let yaml = "providers:\n  p:\n    adapter: openai\n    base_url: http://127.0.0.1:9\n    api_key: ${SWITCHYARD_TEST_UNSET_KEY}\nroutes: []\n";
    let gw = Gateway::start(yaml).await;
    assert_eq!(gw.get("/ready").await.status(), 503);
    assert_eq!(gw.get("/health").await.status(), 200);
    assert!(
        gw.logs().contains("SWITCHYARD_TEST_UNSET_KEY"),
        "the disabled provider is reported"
    );
}

#[tokio::test]
async fn models_lists_aliases_and_provider_models() {
    let (_mock, gw) = one_provider().await;
    let r = gw.get("/v1/models").await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["object"], "list");
    let ids: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec!["smart", "gpt-4o-mini"],
        "globs are not listed, disabled providers neither"
    );
    assert_eq!(body["data"][0]["object"], "model");
    let r = gw.get("/v1/models/smart").await;
    assert_eq!(r.status(), 200);
    let r = gw.get("/v1/models/unknown-model").await;
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "model_not_found");
}

#[tokio::test]
async fn metrics_expose_requests_latency_tokens_and_config_version() {
    let (_mock, gw) = one_provider().await;
    let r = gw.post("/v1/chat/completions", &chat("smart", false)).await;
    assert_eq!(r.status(), 200);
    let r = gw.post("/v1/chat/completions", &chat("smart", true)).await;
    read_sse(r).await;
    let version = gw.version().await;
    let text = gw.metrics().await;
    for needle in [
        "gateway_requests_total{model=\"gpt-4o-mini\",provider=\"main\",route=\"smart\",status=\"200\"} 2",
        "gateway_request_duration_seconds_bucket",
        "gateway_time_to_first_token_seconds_bucket",
        "gateway_tokens_total{model=\"gpt-4o-mini\",provider=\"main\",type=\"completion\"} 10",
        "gateway_config_reloads_total{result=\"success\"} 1",
        &format!("gateway_config_info{{version=\"{version}\"}} 1"),
        "gateway_upstream_latency_seconds_count{outcome=\"ok\",provider=\"main\"} 2",
        &format!(
            "gateway_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        ),
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
}
