//! Tests of the Anthropic messages endpoint over HTTP.

use serde_json::{json, Value};

use crate::tests::util::*;
use crate::{MockConfig, MockServer};

fn tool_body(stream: bool) -> Value {
    let mut body = messages_body(stream);
    body["tools"] = json!([
        {"name": "get_weather", "input_schema": {"type": "object", "properties": {}}},
        {"name": "other", "input_schema": {"type": "object"}},
    ]);
    body
}

async fn events(mock: &MockServer, body: &Value) -> Vec<Event> {
    let res = post_anthropic(mock, body).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let events = parse_sse(&res.text().await.unwrap());
    for event in &events {
        let name = event
            .name
            .as_deref()
            .expect("every frame has an event: line");
        assert_eq!(event.json()["type"], name);
    }
    events
}

fn names(events: &[Event]) -> Vec<&str> {
    events.iter().map(|e| e.name.as_deref().unwrap()).collect()
}

#[tokio::test]
async fn non_stream_reply_has_the_message_shape() {
    let mock = start(MockConfig::default()).await;
    let res = post_anthropic(&mock, &messages_body(false)).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert!(body["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(body["type"], "message");
    assert_eq!(body["role"], "assistant");
    assert_eq!(body["model"], "claude-test");
    assert_eq!(
        body["content"],
        json!([{"type": "text", "text": "tok0 tok1 tok2 tok3 tok4 "}])
    );
    assert_eq!(body["stop_reason"], "end_turn");
    assert_eq!(body["stop_sequence"], Value::Null);
    let usage = json!({"input_tokens": 6, "output_tokens": 5,
        "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0});
    assert_eq!(body["usage"], usage);
}

#[tokio::test]
async fn stream_sends_the_full_event_sequence() {
    let mock = start(MockConfig {
        chunks: 2,
        ..MockConfig::default()
    })
    .await;
    let events = events(&mock, &messages_body(true)).await;
    let expected = [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ];
    assert_eq!(names(&events), expected);
    let start = events[0].json();
    assert_eq!(start["message"]["content"], json!([]));
    assert_eq!(start["message"]["stop_reason"], Value::Null);
    assert_eq!(start["message"]["model"], "claude-test");
    assert_eq!(start["message"]["usage"]["input_tokens"], 6);
    assert_eq!(start["message"]["usage"]["output_tokens"], 1);
    assert_eq!(
        events[1].json()["content_block"],
        json!({"type": "text", "text": ""})
    );
    let text: String = events[3..5]
        .iter()
        .map(|e| {
            let delta = e.json()["delta"].clone();
            assert_eq!(delta["type"], "text_delta");
            delta["text"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(text, "tok0 tok1 ");
    let delta = events[6].json();
    assert_eq!(
        delta["delta"],
        json!({"stop_reason": "end_turn", "stop_sequence": null})
    );
    assert_eq!(delta["usage"], json!({"output_tokens": 2}));
}

#[tokio::test]
async fn stream_tool_call_uses_input_json_deltas() {
    let mock = start(MockConfig::default()).await;
    let events = events(&mock, &tool_body(true)).await;
    let expected = [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ];
    assert_eq!(names(&events), expected);
    assert_eq!(events[3].json()["delta"]["text"], "Let me check.");
    let start = events[5].json();
    assert_eq!(start["index"], 1);
    let block =
        json!({"type": "tool_use", "id": "toolu_mock_1", "name": "get_weather", "input": {}});
    assert_eq!(start["content_block"], block);
    let json: String = events[6..9]
        .iter()
        .map(|e| {
            let body = e.json();
            assert_eq!(body["index"], 1);
            assert_eq!(body["delta"]["type"], "input_json_delta");
            body["delta"]["partial_json"].as_str().unwrap().to_owned()
        })
        .collect();
    let input: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(input, json!({"city": "Paris", "unit": "c"}));
    assert_eq!(events[9].json()["index"], 1);
    assert_eq!(events[10].json()["delta"]["stop_reason"], "tool_use");
}

#[tokio::test]
async fn non_stream_tool_call_has_a_tool_use_block() {
    let mock = start(MockConfig::default()).await;
    let body: Value = post_anthropic(&mock, &tool_body(false))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["stop_reason"], "tool_use");
    let tool_use = &body["content"][1];
    assert_eq!(tool_use["type"], "tool_use");
    assert_eq!(tool_use["id"], "toolu_mock_1");
    assert_eq!(tool_use["name"], "get_weather");
    assert_eq!(tool_use["input"], json!({"city": "Paris", "unit": "c"}));
}

#[tokio::test]
async fn tool_result_gets_a_text_reply() {
    let mock = start(MockConfig::default()).await;
    let mut body = tool_body(false);
    let messages = body["messages"].as_array_mut().unwrap();
    messages.push(json!({"role": "assistant", "content": [{"type": "tool_use",
        "id": "toolu_mock_1", "name": "get_weather", "input": {}}]}));
    messages.push(json!({"role": "user", "content": [{"type": "tool_result",
        "tool_use_id": "toolu_mock_1", "content": "21C"}]}));
    let body: Value = post_anthropic(&mock, &body).await.json().await.unwrap();
    assert_eq!(body["stop_reason"], "end_turn");
    assert_eq!(body["content"][0]["text"], "tok0 tok1 tok2 tok3 tok4 ");
}

#[tokio::test]
async fn invalid_requests_get_anthropic_400s() {
    let mock = start(MockConfig::default()).await;
    let user = json!({"role": "user", "content": "hi"});
    let assistant = json!({"role": "assistant", "content": "yo"});
    let system = json!({"role": "system", "content": "be nice"});
    let bodies = [
        json!({"model": "c", "messages": [user]}),
        json!({"max_tokens": 5, "messages": [user]}),
        json!({"model": "c", "max_tokens": 5}),
        json!({"model": "c", "max_tokens": 5, "messages": []}),
        json!({"model": "c", "max_tokens": 5, "messages": [system, user]}),
        json!({"model": "c", "max_tokens": 5, "messages": [assistant, user]}),
        json!({"model": "c", "max_tokens": 5, "messages": [user, user]}),
    ];
    for body in bodies {
        let res = post_anthropic(&mock, &body).await;
        assert_eq!(res.status(), 400, "{body}");
        let error: Value = res.json().await.unwrap();
        assert_eq!(error["type"], "error");
        assert_eq!(error["error"]["type"], "invalid_request_error");
        assert!(error["error"]["message"].is_string());
    }
}

#[tokio::test]
async fn missing_version_header_is_a_400() {
    let mock = start(MockConfig::default()).await;
    let res = client()
        .post(format!("{}/v1/messages", mock.url()))
        .json(&messages_body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let error: Value = res.json().await.unwrap();
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("anthropic-version"));
}

#[tokio::test]
async fn api_key_is_required_in_x_api_key() {
    let cfg = MockConfig {
        api_key: Some("sk-ant".into()),
        ..MockConfig::default()
    };
    let mock = start(cfg).await;
    let url = format!("{}/v1/messages", mock.url());
    let send = |header: &'static str, value: &'static str| {
        client()
            .post(&url)
            .header("anthropic-version", "2023-06-01")
            .header(header, value)
            .json(&messages_body(false))
            .send()
    };
    for (header, value) in [("x-api-key", "wrong"), ("authorization", "Bearer sk-ant")] {
        let res = send(header, value).await.unwrap();
        assert_eq!(res.status(), 401);
        let error: Value = res.json().await.unwrap();
        assert_eq!(error["error"]["type"], "authentication_error");
    }
    assert_eq!(send("x-api-key", "sk-ant").await.unwrap().status(), 200);
}
