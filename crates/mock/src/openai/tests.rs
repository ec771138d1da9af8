//! Tests of the OpenAI chat endpoint over HTTP.

use std::time::Duration;

use serde_json::{json, Value};

use crate::tests::util::*;
use crate::{MockConfig, MockServer};

async fn stream_events(mock: &MockServer, body: &Value) -> Vec<Event> {
    let res = client()
        .post(format!("{}/v1/chat/completions", mock.url()))
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    assert_eq!(res.headers()["cache-control"], "no-cache");
    parse_sse(&res.text().await.unwrap())
}

fn tool_body(stream: bool) -> Value {
    let mut body = chat_body(stream);
    body["tools"] = json!([
        {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}},
        {"type": "function", "function": {"name": "other"}},
    ]);
    body
}

#[tokio::test]
async fn non_stream_reply_has_the_chat_completion_shape() {
    let mock = start(MockConfig::default()).await;
    let body = post_json(&mock, "/v1/chat/completions", &chat_body(false)).await;
    assert_eq!(body["object"], "chat.completion");
    assert!(body["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert!(body["created"].as_u64().unwrap() > 1_600_000_000);
    assert_eq!(body["model"], "gpt-test");
    let choice = &body["choices"][0];
    assert_eq!(choice["index"], 0);
    assert_eq!(choice["finish_reason"], "stop");
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], "tok0 tok1 tok2 tok3 tok4 ");
    assert!(choice["message"].get("tool_calls").is_none());
    // "Be brief." + "Hello there, mock!" = 27 characters -> 6 tokens.
    assert_eq!(body["usage"]["prompt_tokens"], 6);
    assert_eq!(body["usage"]["completion_tokens"], 5);
    assert_eq!(body["usage"]["total_tokens"], 11);
}

#[tokio::test]
async fn stream_sends_role_deltas_finish_usage_and_done() {
    let mock = start(MockConfig {
        chunks: 3,
        ..MockConfig::default()
    })
    .await;
    let mut body = chat_body(true);
    body["stream_options"] = json!({"include_usage": true});
    let events = stream_events(&mock, &body).await;

    assert_eq!(events.len(), 1 + 3 + 1 + 1 + 1);
    assert!(events.iter().all(|e| e.name.is_none()));
    assert_eq!(events.last().unwrap().data, "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(Event::json).collect();
    for chunk in &chunks {
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["id"], chunks[0]["id"]);
        assert_eq!(chunk["created"], chunks[0]["created"]);
        assert_eq!(chunk["model"], "gpt-test");
    }
    assert_eq!(
        chunks[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": ""})
    );
    let text: String = chunks[1..4]
        .iter()
        .map(|c| c["choices"][0]["delta"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(text, "tok0 tok1 tok2 ");
    assert_eq!(chunks[4]["choices"][0]["delta"], json!({}));
    assert_eq!(chunks[4]["choices"][0]["finish_reason"], "stop");
    for chunk in &chunks[..5] {
        assert_eq!(chunk["usage"], Value::Null);
        assert!(
            chunk.get("usage").is_some(),
            "usage must be present as null"
        );
    }
    assert_eq!(chunks[5]["choices"], json!([]));
    assert_eq!(chunks[5]["usage"]["completion_tokens"], 3);
    assert_eq!(chunks[5]["usage"]["total_tokens"], 9);
}

#[tokio::test]
async fn stream_without_include_usage_has_no_usage_field() {
    let mock = start(MockConfig::default()).await;
    let events = stream_events(&mock, &chat_body(true)).await;
    assert_eq!(events.len(), 1 + 5 + 1 + 1);
    for event in &events[..events.len() - 1] {
        assert!(event.json().get("usage").is_none());
    }
}

#[tokio::test]
async fn tools_get_one_call_to_the_first_tool() {
    let mock = start(MockConfig::default()).await;
    let body = post_json(&mock, "/v1/chat/completions", &tool_body(false)).await;
    let choice = &body["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], Value::Null);
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["id"], "call_mock_1");
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"city": "Paris", "unit": "c"}));
}

#[tokio::test]
async fn streamed_tool_call_arrives_in_fragments() {
    let mock = start(MockConfig::default()).await;
    let events = stream_events(&mock, &tool_body(true)).await;
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(Event::json).collect();
    assert_eq!(chunks.len(), 1 + 1 + 3 + 1);
    let first = &chunks[1]["choices"][0]["delta"]["tool_calls"][0];
    assert_eq!(first["index"], 0);
    assert_eq!(first["id"], "call_mock_1");
    assert_eq!(first["type"], "function");
    assert_eq!(
        first["function"],
        json!({"name": "get_weather", "arguments": ""})
    );
    let args: String = chunks[2..5]
        .iter()
        .map(|c| {
            let call = &c["choices"][0]["delta"]["tool_calls"][0];
            assert_eq!(call["index"], 0);
            assert!(call.get("id").is_none());
            call["function"]["arguments"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(args, r#"{"city":"Paris","unit":"c"}"#);
    assert_eq!(chunks[5]["choices"][0]["finish_reason"], "tool_calls");
}

#[tokio::test]
async fn tool_result_gets_a_text_reply() {
    let mock = start(MockConfig::default()).await;
    let mut body = tool_body(false);
    let messages = body["messages"].as_array_mut().unwrap();
    messages.push(
        json!({"role": "assistant", "content": null, "tool_calls": [{"id": "call_mock_1",
        "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]}),
    );
    messages.push(json!({"role": "tool", "tool_call_id": "call_mock_1", "content": "21C"}));
    let body = post_json(&mock, "/chat/completions", &body).await;
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "tok0 tok1 tok2 tok3 tok4 "
    );
}

#[tokio::test]
async fn invalid_bodies_get_openai_400s() {
    let mock = start(MockConfig::default()).await;
    let url = format!("{}/v1/chat/completions", mock.url());
    let cases = [
        ("not json".to_owned(), Value::Null),
        (json!({"messages": []}).to_string(), Value::Null),
        (json!({"model": "m"}).to_string(), json!("messages")),
    ];
    for (body, param) in cases {
        let res = client().post(&url).body(body).send().await.unwrap();
        assert_eq!(res.status(), 400);
        let error: Value = res.json().await.unwrap();
        assert_eq!(error["error"]["type"], "invalid_request_error");
        assert_eq!(error["error"]["param"], param);
        assert!(error["error"]["message"].is_string());
        assert!(error["error"].get("code").is_some());
    }
}

#[tokio::test]
async fn api_key_is_required_as_bearer_token() {
    let cfg = MockConfig {
        api_key: Some("sk-good".into()),
        ..MockConfig::default()
    };
    let mock = start(cfg).await;
    let url = format!("{}/v1/chat/completions", mock.url());
    for auth in [None, Some("Bearer sk-bad"), Some("sk-good")] {
        let mut req = client().post(&url).json(&chat_body(false));
        if let Some(auth) = auth {
            req = req.header("authorization", auth);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 401, "{auth:?}");
        let error: Value = res.json().await.unwrap();
        assert_eq!(error["error"]["code"], "invalid_api_key");
        assert_eq!(error["error"]["param"], Value::Null);
    }
    let res = client()
        .post(&url)
        .bearer_auth("sk-good")
        .json(&chat_body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let models = client()
        .get(format!("{}/v1/models", mock.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(models.status(), 401);
    assert_eq!(mock.hits(), 4);
}

#[tokio::test]
async fn split_and_delayed_events_arrive_in_many_reads() {
    let cfg = MockConfig {
        chunks: 2,
        chunk_delay: Duration::from_millis(10),
        split_events: true,
        ..MockConfig::default()
    };
    let mock = start(cfg).await;
    let mut res = client()
        .post(format!("{}/v1/chat/completions", mock.url()))
        .json(&chat_body(true))
        .send()
        .await
        .unwrap();
    let mut reads = Vec::new();
    while let Some(chunk) = res.chunk().await.unwrap() {
        reads.push(chunk);
    }
    let text = String::from_utf8(reads.concat()).unwrap();
    let events = parse_sse(&text);
    assert_eq!(events.len(), 1 + 2 + 1 + 1);
    assert!(reads.len() >= 2 * events.len() - 1, "{} reads", reads.len());
    assert!(
        reads.iter().any(|r| !r.ends_with(b"\n\n")),
        "some reads end mid-event"
    );
}

#[tokio::test]
async fn latency_delays_the_response_headers() {
    let cfg = MockConfig {
        latency: Duration::from_millis(150),
        ..MockConfig::default()
    };
    let mock = start(cfg).await;
    let started = std::time::Instant::now();
    post_json(&mock, "/v1/chat/completions", &chat_body(false)).await;
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn client_leaving_mid_stream_counts_as_cancelled() {
    let cfg = MockConfig {
        chunks: 50,
        chunk_delay: Duration::from_millis(20),
        ..MockConfig::default()
    };
    let mock = start(cfg).await;
    let mut res = client()
        .post(format!("{}/v1/chat/completions", mock.url()))
        .json(&chat_body(true))
        .send()
        .await
        .unwrap();
    res.chunk().await.unwrap();
    assert_eq!(mock.in_flight(), 1);
    drop(res);
    wait_until(|| mock.cancelled_streams() == 1).await;
    wait_until(|| mock.in_flight() == 0).await;

    // A stream read to the end is not cancelled.
    mock.set_config(MockConfig {
        chunks: 2,
        ..MockConfig::default()
    });
    stream_events(&mock, &chat_body(true)).await;
    wait_until(|| mock.in_flight() == 0).await;
    assert_eq!(mock.cancelled_streams(), 1);
}
