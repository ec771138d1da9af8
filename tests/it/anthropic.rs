//! The `anthropic` adapter: OpenAI requests translated to the Messages API
//! and back, streams included.

use serde_json::{json, Value};

use crate::common::*;

async fn setup(cfg: MockConfig) -> (MockServer, Gateway) {
    let mock = MockServer::start(MockConfig {
        api_key: Some("sk-ant-test".into()),
        ..cfg
    })
    .await
    .unwrap();
    let yaml = format!(
        "providers:\n{}routes:\n  - match: {{ model: smart }}\n    targets: [{{ provider: claude, model: claude-sonnet-4 }}]\n",
        provider("claude", "anthropic", &mock, Some("sk-ant-test"))
    );
    (mock, Gateway::start(&yaml).await)
}

#[tokio::test]
async fn non_stream_is_translated_both_ways() {
    let (mock, gw) = setup(MockConfig::default()).await;
    let r = gw.post("/v1/chat/completions", &chat("smart", false)).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["message"]["role"], "assistant");
    assert_eq!(body["choices"][0]["message"]["content"], mock_text(5));
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(body["usage"]["completion_tokens"], 5);
    assert!(body["usage"]["prompt_tokens"].as_u64().unwrap() > 0);

    let seen = mock.last_request().unwrap();
    assert_eq!(seen.path, "/v1/messages");
    assert_eq!(seen.header("x-api-key"), Some("sk-ant-test"));
    assert_eq!(seen.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(seen.header("authorization"), None);
    let sent = seen.json().unwrap();
    assert_eq!(sent["model"], "claude-sonnet-4");
    assert!(
        sent["max_tokens"].as_u64().unwrap() > 0,
        "max_tokens is defaulted"
    );
    assert!(
        sent["system"].to_string().contains("You are terse."),
        "system hoisted: {sent}"
    );
    assert_eq!(sent["messages"].as_array().unwrap().len(), 1);
    assert_eq!(sent["messages"][0]["role"], "user");
}

#[tokio::test]
async fn stream_is_translated_to_chunks() {
    let (_mock, gw) = setup(MockConfig::default()).await;
    let mut req = chat("smart", true);
    req["stream_options"] = json!({"include_usage": true});
    let r = gw.post("/v1/chat/completions", &req).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let events = read_sse(r).await;
    let chunks: Vec<Value> = events.iter().filter_map(|e| e.json()).collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert!(chunks
        .iter()
        .all(|c| c.get("usage").is_some_and(|u| u.is_object())
            || c["object"] == "chat.completion.chunk"));
    assert_eq!(stream_text(&events), mock_text(5));
    let finish: Vec<&Value> = chunks
        .iter()
        .filter(|c| !c["choices"][0]["finish_reason"].is_null())
        .collect();
    assert_eq!(finish.len(), 1);
    assert_eq!(finish[0]["choices"][0]["finish_reason"], "stop");
    let usage = chunks
        .iter()
        .find(|c| c["usage"].is_object())
        .expect("usage chunk");
    assert_eq!(usage["usage"]["completion_tokens"], 5);
    let ids: std::collections::HashSet<String> = chunks
        .iter()
        .filter_map(|c| c["id"].as_str().map(str::to_string))
        .collect();
    assert_eq!(ids.len(), 1, "one id for the whole stream");
    assert_eq!(events.last().unwrap().event.data, "[DONE]");
}

#[tokio::test]
async fn tools_are_translated_in_both_directions() {
    let (mock, gw) = setup(MockConfig::default()).await;
    let tools = json!([{"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]);
    let mut req = chat("smart", false);
    req["tools"] = tools.clone();
    let body: Value = gw
        .post("/v1/chat/completions", &req)
        .await
        .json()
        .await
        .unwrap();
    let msg = &body["choices"][0]["message"];
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(msg["tool_calls"][0]["type"], "function");
    assert_eq!(msg["tool_calls"][0]["function"]["name"], "get_weather");
    let args: Value = serde_json::from_str(
        msg["tool_calls"][0]["function"]["arguments"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(args, json!({"city": "Paris", "unit": "c"}));
    let sent = mock.last_request().unwrap().json().unwrap();
    assert_eq!(sent["tools"][0]["name"], "get_weather");
    assert_eq!(sent["tools"][0]["input_schema"]["type"], "object");

    // The tool result goes back as a tool_result block.
    let call_id = msg["tool_calls"][0]["id"].as_str().unwrap().to_string();
    let mut follow = chat("smart", false);
    follow["tools"] = tools.clone();
    follow["messages"].as_array_mut().unwrap().extend([
        json!({"role": "assistant", "content": null, "tool_calls": msg["tool_calls"].clone()}),
        json!({"role": "tool", "tool_call_id": call_id, "content": "18C and sunny"}),
    ]);
    let body: Value = gw
        .post("/v1/chat/completions", &follow)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], mock_text(5));
    let sent = mock.last_request().unwrap().json().unwrap();
    let last = sent["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["role"], "user");
    assert_eq!(last["content"][0]["type"], "tool_result");
    assert_eq!(last["content"][0]["tool_use_id"], call_id);

    // Streamed tool call: argument deltas reassemble to the arguments.
    req["stream"] = json!(true);
    let events = read_sse(gw.post("/v1/chat/completions", &req).await).await;
    let chunks: Vec<Value> = events.iter().filter_map(|e| e.json()).collect();
    let first = chunks
        .iter()
        .find(|c| c.pointer("/choices/0/delta/tool_calls/0/id").is_some())
        .expect("tool call start");
    assert_eq!(
        first["choices"][0]["delta"]["tool_calls"][0]["function"]["name"],
        "get_weather"
    );
    assert_eq!(first["choices"][0]["delta"]["tool_calls"][0]["index"], 0);
    let args: String = chunks
        .iter()
        .filter_map(|c| {
            c.pointer("/choices/0/delta/tool_calls/0/function/arguments")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&args).unwrap(),
        json!({"city": "Paris", "unit": "c"})
    );
    assert!(chunks
        .iter()
        .any(|c| c["choices"][0]["finish_reason"] == "tool_calls"));
    assert_eq!(events.last().unwrap().event.data, "[DONE]");
}

#[tokio::test]
async fn images_are_sent_as_content_blocks() {
    let (mock, gw) = setup(MockConfig::default()).await;
    let req = json!({"model": "smart", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    ]}]});
    assert_eq!(gw.post("/v1/chat/completions", &req).await.status(), 200);
    let sent = mock.last_request().unwrap().json().unwrap();
    let image = &sent["messages"][0]["content"][1];
    assert_eq!(image["type"], "image");
    assert_eq!(image["source"]["type"], "base64");
    assert_eq!(image["source"]["media_type"], "image/png");
    assert_eq!(image["source"]["data"], "iVBORw0KGgo=");
}

#[tokio::test]
async fn embeddings_are_refused_with_a_clear_400() {
    let (_mock, gw) = setup(MockConfig::default()).await;
    let r = gw
        .post("/v1/embeddings", &json!({"model": "smart", "input": "x"}))
        .await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("embeddings"),
        "{body}"
    );
}
