//! The `openai` adapter: passthrough to OpenAI-format providers.

use serde_json::{json, Value};

use crate::common::*;

async fn setup(cfg: MockConfig) -> (MockServer, Gateway) {
    let mock = MockServer::start(MockConfig {
        api_key: Some("sk-test-openai".into()),
        ..cfg
    })
    .await
    .unwrap();
    let yaml = format!(
        "providers:\n{}routes:\n  - match: {{ model: fast }}\n    targets: [{{ provider: oa, model: gpt-4o-mini }}]\n",
        provider("oa", "openai", &mock, Some("sk-test-openai"))
    );
    (mock, Gateway::start(&yaml).await)
}

#[tokio::test]
async fn non_stream_passes_through_with_auth_and_target_model() {
    let (mock, gw) = setup(MockConfig::default()).await;
    let mut req = chat("fast", false);
    req["thinking"] = json!({"type": "enabled"});
    req["x_vendor_extra"] = json!([1, 2]);
    let r = gw.post("/v1/chat/completions", &req).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-switchyard-provider"], "oa");
    assert_eq!(r.headers()["x-switchyard-route"], "fast");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["message"]["content"], mock_text(5));
    assert_eq!(body["model"], "gpt-4o-mini");
    let seen = mock.last_request().unwrap();
    assert_eq!(seen.path, "/v1/chat/completions");
    assert_eq!(seen.header("authorization"), Some("Bearer sk-test-openai"));
    let sent = seen.json().unwrap();
    assert_eq!(sent["model"], "gpt-4o-mini");
    assert_eq!(
        sent["messages"][0]["role"], "system",
        "the body is passed through"
    );
    assert_eq!(
        sent["thinking"],
        json!({"type": "enabled"}),
        "unknown fields pass through"
    );
    assert_eq!(sent["x_vendor_extra"], json!([1, 2]));
}

#[tokio::test]
async fn stream_with_and_without_include_usage() {
    let (mock, gw) = setup(MockConfig::default()).await;
    let mut req = chat("fast", true);
    req["stream_options"] = json!({"include_usage": true});
    let events = read_sse(gw.post("/v1/chat/completions", &req).await).await;
    assert_eq!(stream_text(&events), mock_text(5));
    assert_eq!(events.last().unwrap().event.data, "[DONE]");
    let usage = events
        .iter()
        .filter_map(|e| e.json())
        .find(|v| v["usage"].is_object())
        .expect("usage chunk");
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["completion_tokens"], 5);

    let events = read_sse(gw.post("/v1/chat/completions", &chat("fast", true)).await).await;
    assert_eq!(stream_text(&events), mock_text(5));
    assert!(
        events
            .iter()
            .filter_map(|e| e.json())
            .all(|v| !v["usage"].is_object()),
        "no usage chunk unless asked"
    );
    assert_eq!(events.last().unwrap().event.data, "[DONE]");
    // The gateway asked for usage anyway, to account for it.
    assert_eq!(
        mock.last_request().unwrap().json().unwrap()["stream_options"]["include_usage"],
        true
    );
    assert!(gw.metrics().await.contains(
        "gateway_tokens_total{model=\"gpt-4o-mini\",provider=\"oa\",type=\"completion\"} 10"
    ));
}

#[tokio::test]
async fn tools_non_stream_and_stream() {
    let (_mock, gw) = setup(MockConfig::default()).await;
    let mut req = chat("fast", false);
    req["tools"] = json!([{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]);
    let body: Value = gw
        .post("/v1/chat/completions", &req)
        .await
        .json()
        .await
        .unwrap();
    let call = &body["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");

    req["stream"] = json!(true);
    let events = read_sse(gw.post("/v1/chat/completions", &req).await).await;
    let args: String = events
        .iter()
        .filter_map(|e| e.json())
        .filter_map(|v| {
            v.pointer("/choices/0/delta/tool_calls/0/function/arguments")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&args).unwrap(),
        json!({"city": "Paris", "unit": "c"})
    );
}

#[tokio::test]
async fn embeddings_float_and_base64() {
    let (mock, gw) = setup(MockConfig::default()).await;
    let r = gw
        .post(
            "/v1/embeddings",
            &json!({"model": "fast", "input": ["a", "b"]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["data"].as_array().unwrap().len(), 2);
    assert!(body["data"][1]["embedding"].is_array());
    assert_eq!(mock.last_request().unwrap().path, "/v1/embeddings");
    let body: Value = gw
        .post(
            "/v1/embeddings",
            &json!({"model": "fast", "input": "a", "encoding_format": "base64"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(body["data"][0]["embedding"].is_string());
}

#[tokio::test]
async fn provider_slash_model_addresses_a_provider_directly() {
    let (mock, gw) = setup(MockConfig::default()).await;
    let r = gw
        .post("/v1/chat/completions", &chat("oa/gpt-4.1-nano", false))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        mock.last_request().unwrap().json().unwrap()["model"],
        "gpt-4.1-nano"
    );
}

/// The cost of every request, from the usage the provider returns and the
/// model's prices: in a header (non-streaming) and in metrics (both).
#[tokio::test]
async fn cost_from_usage_in_header_and_metrics() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let yaml = format!(
        "providers:\n{}    models: {{ priced: {{ input_per_mtok: 2.5, output_per_mtok: 10 }} }}\nroutes:\n  - match: {{ model: m }}\n    targets: [{{ provider: oa, model: priced }}]\n",
        provider("oa", "openai", &mock, None)
    );
    let gw = Gateway::start(&yaml).await;
    let r = gw.post("/v1/chat/completions", &chat("m", false)).await;
    let header: f64 = r.headers()["x-switchyard-cost-usd"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body: Value = r.json().await.unwrap();
    let prompt = body["usage"]["prompt_tokens"].as_f64().unwrap();
    let completion = body["usage"]["completion_tokens"].as_f64().unwrap();
    let want = (prompt * 2.5 + completion * 10.0) / 1e6;
    assert!((header - want).abs() < 1e-9, "{header} vs {want}");
    read_sse(gw.post("/v1/chat/completions", &chat("m", true)).await).await;
    let metrics = gw.metrics().await;
    let line = metrics
        .lines()
        .find(|l| l.starts_with("gateway_cost_usd_total{model=\"priced\",provider=\"oa\"}"))
        .unwrap_or_else(|| panic!("{metrics}"));
    let total: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(
        (total - 2.0 * want).abs() < 1e-9,
        "{total} vs {}",
        2.0 * want
    );
}

/// The built-in adapters need no files: a routes.yaml alone in an empty
/// folder (no `scripts/`, no catalog) serves OpenAI, Anthropic and Gemini
/// providers, presets included, streams too.
#[tokio::test]
async fn a_routes_yaml_alone_in_an_empty_folder_serves_every_built_in_format() {
    let openai = MockServer::start(MockConfig::default()).await.unwrap();
    let anthropic = MockServer::start(MockConfig::default()).await.unwrap();
    let gemini = MockServer::start(MockConfig::default()).await.unwrap();
    let yaml = format!(
        "providers:\n  o: {{ preset: openai, base_url: {}/v1, api_key: k }}\n  a: {{ preset: anthropic, base_url: {}, api_key: k }}\n  g: {{ preset: gemini, base_url: {}/v1beta, api_key: k }}\nroutes:\n  - match: {{ model: o }}\n    targets: [{{ provider: o, model: gpt-4o }}]\n  - match: {{ model: a }}\n    targets: [{{ provider: a, model: claude-sonnet-4-5 }}]\n  - match: {{ model: g }}\n    targets: [{{ provider: g, model: gemini-2.5-flash }}]\n",
        openai.url(),
        anthropic.url(),
        gemini.url()
    );
    let gw = Gateway::start_prepared(|dir, listen| {
        let path = dir.join("routes.yaml");
        std::fs::write(&path, format!("listen: {listen}\n{yaml}")).unwrap();
        path
    })
    .await;
    assert!(!gw.dir.path().join("scripts").exists());
    for model in ["o", "a", "g"] {
        let r = gw.post("/v1/chat/completions", &chat(model, false)).await;
        assert_eq!(r.status(), 200, "{model}: {}", r.text().await.unwrap());
        let body: Value = r.json().await.unwrap();
        assert!(
            body["choices"][0]["message"]["content"]
                .as_str()
                .is_some_and(|c| c.starts_with("tok0 ")),
            "{model}: {body}"
        );
        let events = read_sse(gw.post("/v1/chat/completions", &chat(model, true)).await).await;
        assert_eq!(stream_text(&events), mock_text(5), "{model}");
    }
    assert_eq!((openai.hits(), anthropic.hits(), gemini.hits()), (2, 2, 2));
}
