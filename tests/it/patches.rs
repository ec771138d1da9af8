//! Patch scripts: after any provider's adapter, built in or scripted, a
//! `patch:` edits requests, answers and stream chunks — the shipped
//! examples, refusals and failures, and a patch edited while the gateway
//! runs.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::*;

fn with_patch(name: &str, adapter: &str, mock: &MockServer, patch: &str, extra: &str) -> String {
    format!(
        "providers:\n{}    patch: {patch}\n{extra}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: {name} }}]\n  - match: {{ model: \"o3*\" }}\n    targets: [{{ provider: {name} }}]\n",
        provider(name, adapter, mock, Some("sk-test-key"))
    )
}

fn sent(mock: &MockServer) -> Value {
    serde_json::from_slice(&mock.last_request().expect("a request").body).unwrap()
}

#[tokio::test]
async fn reasoning_models_patch_strips_what_they_refuse() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let gw = Gateway::start(&with_patch("p", "openai", &mock, "reasoning-models", "")).await;
    let mut body = chat("o3-mini", false);
    body["temperature"] = json!(0.2);
    body["top_p"] = json!(0.9);
    body["max_tokens"] = json!(300);
    let r = gw.post("/v1/chat/completions", &body).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let got = sent(&mock);
    assert_eq!(got["model"], "o3-mini");
    assert!(
        got.get("temperature").is_none() && got.get("top_p").is_none(),
        "{got}"
    );
    assert!(got.get("max_tokens").is_none(), "{got}");
    assert_eq!(got["max_completion_tokens"], 300);
    assert_eq!(got["messages"], body["messages"]);
    // Another model is untouched.
    body["model"] = json!("m");
    gw.post("/v1/chat/completions", &body).await;
    let got = sent(&mock);
    assert_eq!(got["temperature"], 0.2);
    assert_eq!(got["max_tokens"], 300);
}

#[tokio::test]
async fn anthropic_prompt_cache_patch_marks_the_system_prompt_and_tools() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let gw = Gateway::start(&with_patch(
        "claude",
        "anthropic",
        &mock,
        "anthropic-prompt-cache",
        "    options: { cache_ttl: 1h }\n",
    ))
    .await;
    let mut body = chat("m", false);
    body["tools"] = json!([
        {"type": "function", "function": {"name": "a", "parameters": {"type": "object"}}},
        {"type": "function", "function": {"name": "b", "parameters": {"type": "object"}}}
    ]);
    let r = gw.post("/v1/chat/completions", &body).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let got = sent(&mock);
    let mark = json!({"type": "ephemeral", "ttl": "1h"});
    assert_eq!(got["system"][0]["cache_control"], mark, "{got}");
    assert_eq!(got["tools"][1]["cache_control"], mark, "{got}");
    assert!(got["tools"][0].get("cache_control").is_none(), "{got}");
}

#[tokio::test]
async fn tag_answers_patch_edits_responses_and_every_stream_chunk() {
    let mock = MockServer::start(MockConfig {
        chunks: 5,
        chunk_delay: Duration::from_millis(50),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let gw = Gateway::start(&with_patch("p", "openai", &mock, "tag-answers", "")).await;
    let body: Value = gw
        .post("/v1/chat/completions", &chat("m", false))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["system_fingerprint"], "p/m");
    assert!(body["choices"][0]["message"]["content"].is_string());
    let events = read_sse(gw.post("/v1/chat/completions", &chat("m", true)).await).await;
    assert_eq!(stream_text(&events), mock_text(5));
    let chunks: Vec<Value> = events.iter().filter_map(|e| e.json()).collect();
    assert!(chunks.len() >= 5);
    assert!(
        chunks.iter().all(|c| c["system_fingerprint"] == "p/m"),
        "{chunks:?}"
    );
    assert_eq!(events.last().unwrap().event.data, "[DONE]");
    // Streamed as it came: the first chunk before the last was produced.
    let first = events.first().unwrap().at;
    let last = events.last().unwrap().at;
    assert!(last.duration_since(first) >= Duration::from_millis(150));
}

#[tokio::test]
async fn a_patch_refuses_with_its_status_and_fails_with_its_path() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let patch = r#"
fn patch_request(body, ctx) {
    if body.messages.len() > 2 { throw #{ status: 422, message: "two messages at most" }; }
    if body.user == "boom" { body.nothing.deeper = 1; }
}
"#;
    let gw = Gateway::start_with_scripts(
        &with_patch("p", "openai", &mock, "guard", ""),
        &[("patch:guard", patch)],
    )
    .await;
    let mut body = chat("m", false);
    body["messages"]
        .as_array_mut()
        .unwrap()
        .push(json!({"role": "user", "content": "more"}));
    let r = gw.post("/v1/chat/completions", &body).await;
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["message"], "two messages at most");
    let mut body = chat("m", false);
    body["user"] = json!("boom");
    let r = gw.post("/v1/chat/completions", &body).await;
    assert_eq!(r.status(), 502);
    let v: Value = r.json().await.unwrap();
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains("scripts/patches/guard.rhai:4"), "{msg}");
    assert_eq!(mock.hits(), 0, "neither request reached the provider");
    assert!(gw
        .metrics()
        .await
        .contains("gateway_script_errors_total{adapter=\"openai\"}"));
}

#[tokio::test]
async fn a_patch_edited_while_running_applies_without_a_restart() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let v1 = "fn patch_request(body, ctx) { body.metadata = #{ v: \"1\" }; }";
    let gw = Gateway::start_with_scripts(
        &with_patch("p", "openai", &mock, "live", ""),
        &[("patch:live", v1)],
    )
    .await;
    gw.post("/v1/chat/completions", &chat("m", false)).await;
    assert_eq!(sent(&mock)["metadata"]["v"], "1");
    let old = gw.version().await;
    std::fs::write(
        gw.dir.path().join("scripts/patches/live.rhai"),
        "fn patch_request(body, ctx) { body.metadata = #{ v: \"2\" }; }",
    )
    .unwrap();
    assert!(gw.wait_for_new_version(&old, Duration::from_secs(10)).await);
    gw.post("/v1/chat/completions", &chat("m", false)).await;
    assert_eq!(sent(&mock)["metadata"]["v"], "2");
    // A broken edit is refused and the running patch keeps serving.
    let old = gw.version().await;
    std::fs::write(
        gw.dir.path().join("scripts/patches/live.rhai"),
        "fn patch_request(body, ctx) { body. }",
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(gw.version().await, old);
    assert!(
        gw.logs().contains("scripts/patches/live.rhai:1"),
        "{}",
        gw.logs()
    );
    gw.post("/v1/chat/completions", &chat("m", false)).await;
    assert_eq!(sent(&mock)["metadata"]["v"], "2");
}
