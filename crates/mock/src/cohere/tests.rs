//! Tests of the Cohere v2 endpoints over HTTP.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{json, Value};

use super::TOOL_PLAN;
use crate::reply::TOOL_ARGUMENTS;
use crate::tests::util::*;
use crate::{Fault, MockConfig, MockServer};

const KEY: &str = "co-mock-key";

/// The mock's reply text with `n` deltas.
fn mock_text(n: usize) -> String {
    (0..n).map(|i| format!("tok{i} ")).collect()
}

async fn keyed(cfg: MockConfig) -> MockServer {
    start(MockConfig {
        api_key: Some(KEY.into()),
        ..cfg
    })
    .await
}

fn chat_body(stream: bool) -> Value {
    json!({
        "model": "command-a-03-2025",
        "stream": stream,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hello there, mock!"}
        ]
    })
}

fn tool_body(stream: bool) -> Value {
    let mut body = chat_body(stream);
    body["tools"] = json!([{"type": "function", "function": {"name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]);
    body
}

async fn post(mock: &MockServer, path: &str, body: &Value) -> reqwest::Response {
    client()
        .post(format!("{}{path}", mock.url()))
        .bearer_auth(KEY)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// The events of a stream: `(event name, data)`.
async fn stream(mock: &MockServer, body: &Value) -> Vec<(String, Value)> {
    let res = post(mock, "/v2/chat", body).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    parse_sse(&res.text().await.unwrap())
        .into_iter()
        .map(|e| {
            let data = e.json();
            let name = e.name.expect("Cohere names every event");
            assert_eq!(
                data["type"],
                name.as_str(),
                "the data repeats the event name"
            );
            (name, data)
        })
        .collect()
}

/// A 400 and Cohere's message.
async fn refused(mock: &MockServer, body: &Value) -> String {
    let res = post(mock, "/v2/chat", body).await;
    assert_eq!(res.status(), 400);
    let error: Value = res.json().await.unwrap();
    assert!(error["id"].is_string());
    error["message"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn chat_answers_a_v2_response() {
    let mock = keyed(MockConfig::default()).await;
    let body: Value = post(&mock, "/v2/chat", &chat_body(false))
        .await
        .json()
        .await
        .unwrap();
    assert!(body["id"].as_str().unwrap().starts_with("c0e4e2e0-"));
    assert_eq!(body["finish_reason"], "COMPLETE");
    assert_eq!(body["message"]["role"], "assistant");
    assert_eq!(
        body["message"]["content"],
        json!([{"type": "text", "text": mock_text(5)}])
    );
    // "Be brief." + "Hello there, mock!" = 27 characters -> 6 tokens.
    let counts = json!({"input_tokens": 6, "output_tokens": 5});
    assert_eq!(
        body["usage"],
        json!({"billed_units": counts, "tokens": counts})
    );
    assert_eq!(mock.hits(), 1);
}

#[tokio::test]
async fn a_text_stream_is_the_documented_event_sequence() {
    let mock = keyed(MockConfig {
        chunks: 3,
        ..MockConfig::default()
    })
    .await;
    let events = stream(&mock, &chat_body(true)).await;
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "message-start",
            "content-start",
            "content-delta",
            "content-delta",
            "content-delta",
            "content-end",
            "message-end"
        ]
    );
    assert_eq!(events[0].1["delta"]["message"]["role"], "assistant");
    assert_eq!(
        events[1].1["delta"]["message"]["content"],
        json!({"type": "text", "text": ""})
    );
    assert_eq!(events[3].1["delta"]["message"]["content"]["text"], "tok1 ");
    assert_eq!(events[3].1["index"], 0);
    let end = &events[6].1["delta"];
    assert_eq!(end["finish_reason"], "COMPLETE");
    assert_eq!(end["usage"]["tokens"]["output_tokens"], 3);
}

#[tokio::test]
async fn tools_get_a_plan_and_a_call_until_a_result_comes_back() {
    let mock = keyed(MockConfig::default()).await;
    let body: Value = post(&mock, "/v2/chat", &tool_body(false))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["finish_reason"], "TOOL_CALL");
    assert_eq!(body["message"]["tool_plan"], TOOL_PLAN);
    let call = &body["message"]["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert_eq!(
        call["function"],
        json!({"name": "get_weather", "arguments": TOOL_ARGUMENTS})
    );

    let events = stream(&mock, &tool_body(true)).await;
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "message-start",
            "tool-plan-delta",
            "tool-call-start",
            "tool-call-delta",
            "tool-call-delta",
            "tool-call-delta",
            "tool-call-end",
            "message-end"
        ]
    );
    let arguments: String = events
        .iter()
        .filter(|(n, _)| n == "tool-call-delta")
        .map(|(_, d)| {
            d["delta"]["message"]["tool_calls"]["function"]["arguments"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(arguments, TOOL_ARGUMENTS);
    assert_eq!(events[7].1["delta"]["finish_reason"], "TOOL_CALL");

    // The result answers the call: text again.
    let mut answered = tool_body(false);
    answered["messages"].as_array_mut().unwrap().extend([
        json!({"role": "assistant", "tool_plan": TOOL_PLAN, "tool_calls": [call.clone()]}),
        json!({"role": "tool", "tool_call_id": call["id"], "content": "18C"}),
    ]);
    let body: Value = post(&mock, "/v2/chat", &answered)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["finish_reason"], "COMPLETE");
}

#[tokio::test]
async fn wrong_translations_are_refused_with_cohere_messages() {
    let mock = start(MockConfig::default()).await;
    let with = |f: &dyn Fn(&mut Value)| {
        let mut body = tool_body(false);
        f(&mut body);
        body
    };
    let cases: Vec<(Value, &str)> = vec![
        (
            with(&|b| b["max_completion_tokens"] = json!(5)),
            "unknown field 'max_completion_tokens'",
        ),
        (with(&|b| b["top_p"] = json!(0.5)), "unknown field 'top_p'"),
        (with(&|b| b["p"] = json!(1.0)), "p must be between"),
        (
            with(&|b| b["tool_choice"] = json!("auto")),
            "tool_choice must be REQUIRED or NONE",
        ),
        (
            with(&|b| b["tools"][0]["function"]["strict"] = json!(true)),
            "unknown field 'strict'",
        ),
        (
            with(&|b| b["response_format"] = json!({"type": "json_object"})),
            "not supported with tools",
        ),
        (
            with(&|b| b["messages"][0]["role"] = json!("developer")),
            "unknown role 'developer'",
        ),
        (
            with(&|b| {
                b["messages"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"role": "tool", "tool_call_id": "x", "content": "1"}))
            }),
            "answers no tool call",
        ),
        (
            with(&|b| {
                b["messages"].as_array_mut().unwrap().push(json!({"role": "assistant", "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": {"a": 1}}}]}))
            }),
            "arguments must be a string",
        ),
        (
            with(&|b| {
                b["messages"][1]["content"] =
                    json!([{"type": "image_url", "image_url": {"url": "ftp://x"}}])
            }),
            "data URI or a web URL",
        ),
    ];
    for (body, words) in cases {
        let message = refused(&mock, &body).await;
        assert!(message.starts_with("invalid request: "), "{message}");
        assert!(message.contains(words), "{words}: {message}");
    }
}

#[tokio::test]
async fn a_wrong_or_missing_key_gets_cohere_401() {
    let mock = keyed(MockConfig::default()).await;
    let res = client()
        .post(format!("{}/v2/chat", mock.url()))
        .bearer_auth("nope")
        .json(&chat_body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["message"], "invalid api token");
}

#[tokio::test]
async fn status_faults_use_cohere_errors_and_keep_retry_after() {
    let mock = with_fault(Fault::Status {
        code: 429,
        retry_after: Some(3),
    })
    .await;
    let res = client()
        .post(format!("{}/v2/chat", mock.url()))
        .json(&chat_body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["retry-after"], "3");
    let body: Value = res.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("rate limit"));
}

#[tokio::test]
async fn stream_faults_cut_or_end_the_stream_in_band() {
    let mock = with_fault(Fault::DropMidStream { after: 2 }).await;
    let res = client()
        .post(format!("{}/v2/chat", mock.url()))
        .json(&chat_body(true))
        .send()
        .await
        .unwrap();
    let mut body = res.bytes_stream();
    let mut text = String::new();
    let mut failed = false;
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(bytes) => text.push_str(std::str::from_utf8(&bytes).unwrap()),
            Err(_) => failed = true,
        }
    }
    assert!(failed, "the connection is cut");
    assert_eq!(text.matches("event: content-delta").count(), 2);
    assert!(!text.contains("message-end"));

    let mock = with_fault(Fault::StreamError { after: 1 }).await;
    let res = client()
        .post(format!("{}/v2/chat", mock.url()))
        .json(&chat_body(true))
        .send()
        .await
        .unwrap();
    let events = parse_sse(&res.text().await.unwrap());
    let last = events.last().unwrap();
    assert_eq!(last.name.as_deref(), Some("message-end"));
    assert_eq!(last.json()["delta"]["finish_reason"], "ERROR");
    assert!(last.json()["delta"]["error"].is_string());
}

#[tokio::test]
async fn chunk_delay_paces_the_events() {
    let mock = start(MockConfig {
        chunks: 4,
        chunk_delay: Duration::from_millis(40),
        ..MockConfig::default()
    })
    .await;
    let started = Instant::now();
    let res = client()
        .post(format!("{}/v2/chat", mock.url()))
        .json(&chat_body(true))
        .send()
        .await
        .unwrap();
    let mut body = res.bytes_stream();
    let first = body.next().await.unwrap().unwrap();
    assert!(first.starts_with(b"event: message-start"));
    let first_at = started.elapsed();
    while body.next().await.is_some() {}
    // 8 events: 7 pauses of 40 ms between them.
    assert!(
        started.elapsed() >= first_at + Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn embed_answers_float_embeddings_by_type() {
    let mock = keyed(MockConfig::default()).await;
    let body = json!({"model": "embed-v4.0", "texts": ["hello", "goodbye"], "input_type": "search_document",
                      "embedding_types": ["float"]});
    let res = post(&mock, "/v2/embed", &body).await;
    assert_eq!(res.status(), 200);
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer["response_type"], "embeddings_by_type");
    assert_eq!(answer["texts"], json!(["hello", "goodbye"]));
    let vectors = answer["embeddings"]["float"].as_array().unwrap();
    assert_eq!(vectors.len(), 2);
    assert_eq!(vectors[0].as_array().unwrap().len(), 8);
    assert_ne!(vectors[0], vectors[1]);
    assert_eq!(answer["meta"]["billed_units"]["input_tokens"], 2);

    for (field, value, words) in [
        ("input_type", json!(null), "input_type"),
        (
            "embedding_types",
            json!(null),
            "embedding_types is required",
        ),
        ("output_dimension", json!(100), "output_dimension"),
        ("input", json!(["x"]), "unknown field 'input'"),
    ] {
        let mut bad = body.clone();
        if value.is_null() {
            bad.as_object_mut().unwrap().remove(field);
        } else {
            bad[field] = value;
        }
        let res = post(&mock, "/v2/embed", &bad).await;
        assert_eq!(res.status(), 400, "{field}");
        let error: Value = res.json().await.unwrap();
        assert!(
            error["message"].as_str().unwrap().contains(words),
            "{error}"
        );
    }
}
