//! Tests of the Ollama native endpoints over HTTP.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{json, Value};

use super::THINKING;
use crate::reply::tool_input;
use crate::tests::util::*;
use crate::{Fault, MockConfig, MockServer};

fn chat_body(stream: Option<bool>) -> Value {
    let mut body = json!({
        "model": "llama3.2",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hello there, mock!"}
        ]
    });
    if let Some(stream) = stream {
        body["stream"] = json!(stream);
    }
    body
}

fn tool_body(stream: bool) -> Value {
    let mut body = chat_body(Some(stream));
    body["tools"] = json!([{"type": "function", "function": {"name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]);
    body
}

async fn post(mock: &MockServer, path: &str, body: &Value) -> reqwest::Response {
    client()
        .post(format!("{}{path}", mock.url()))
        .json(body)
        .send()
        .await
        .unwrap()
}

/// The lines of an NDJSON stream, parsed.
async fn stream(mock: &MockServer, body: &Value) -> Vec<Value> {
    let res = post(mock, "/api/chat", body).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/x-ndjson");
    let text = res.text().await.unwrap();
    assert!(text.ends_with('\n'), "every line ends: {text:?}");
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// A 400 and Ollama's message.
async fn refused(mock: &MockServer, body: &Value) -> String {
    let res = post(mock, "/api/chat", body).await;
    assert_eq!(res.status(), 400);
    let error: Value = res.json().await.unwrap();
    error["error"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn chat_streams_ndjson_by_default_and_ends_with_the_counts() {
    let mock = start(MockConfig {
        chunks: 3,
        ..MockConfig::default()
    })
    .await;
    let lines = stream(&mock, &chat_body(None)).await;
    assert_eq!(lines.len(), 4);
    let text: String = lines
        .iter()
        .map(|l| l["message"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(text, "tok0 tok1 tok2 ");
    assert!(lines[..3]
        .iter()
        .all(|l| l["done"] == false && l["model"] == "llama3.2"));
    let last = &lines[3];
    assert_eq!(last["done"], true);
    assert_eq!(last["done_reason"], "stop");
    // "Be brief." + "Hello there, mock!" = 27 characters -> 6 tokens.
    assert_eq!(last["prompt_eval_count"], 6);
    assert_eq!(last["eval_count"], 3);
}

#[tokio::test]
async fn stream_false_is_one_json_object() {
    let mock = start(MockConfig::default()).await;
    let res = post(&mock, "/api/chat", &chat_body(Some(false))).await;
    assert_eq!(res.headers()["content-type"], "application/json");
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["message"],
        json!({"role": "assistant", "content": "tok0 tok1 tok2 tok3 tok4 "})
    );
    assert_eq!(body["done"], true);
    assert_eq!(body["eval_count"], 5);
}

#[tokio::test]
async fn tools_get_one_whole_call_with_object_arguments_until_a_result_comes_back() {
    let mock = start(MockConfig::default()).await;
    let body: Value = post(&mock, "/api/chat", &tool_body(false))
        .await
        .json()
        .await
        .unwrap();
    let call = body["message"]["tool_calls"][0].clone();
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(call["function"]["arguments"], tool_input());
    assert!(call["id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(body["done_reason"], "stop");

    let lines = stream(&mock, &tool_body(true)).await;
    assert_eq!(lines.len(), 2, "the call comes whole, then the done line");
    assert_eq!(
        lines[0]["message"]["tool_calls"][0]["function"]["arguments"],
        tool_input()
    );

    let mut answered = tool_body(false);
    answered["messages"].as_array_mut().unwrap().extend([
        json!({"role": "assistant", "content": "", "tool_calls": [call.clone()]}),
        json!({"role": "tool", "content": "18C", "tool_name": "get_weather", "tool_call_id": call["id"]}),
    ]);
    let body: Value = post(&mock, "/api/chat", &answered)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["message"]["content"], "tok0 tok1 tok2 tok3 tok4 ");
}

#[tokio::test]
async fn think_adds_a_thinking_line_and_field() {
    let mock = start(MockConfig {
        chunks: 1,
        ..MockConfig::default()
    })
    .await;
    let mut body = chat_body(None);
    body["think"] = json!("high");
    let lines = stream(&mock, &body).await;
    assert_eq!(lines[0]["message"]["thinking"], THINKING);
    assert_eq!(lines.len(), 3);
    body["stream"] = json!(false);
    let answer: Value = post(&mock, "/api/chat", &body).await.json().await.unwrap();
    assert_eq!(answer["message"]["thinking"], THINKING);
}

#[tokio::test]
async fn wrong_translations_are_refused_with_ollama_errors() {
    let mock = start(MockConfig::default()).await;
    let with = |f: &dyn Fn(&mut Value)| {
        let mut body = tool_body(false);
        f(&mut body);
        body
    };
    let assistant_call = json!({"role": "assistant", "content": "", "tool_calls": [
        {"id": "call_1", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]});
    let cases: Vec<(Value, &str)> = vec![
        (
            with(&|b| b["max_tokens"] = json!(5)),
            "unknown field \"max_tokens\"",
        ),
        (
            with(&|b| b["options"] = json!({"max_tokens": 5})),
            "unknown option \"max_tokens\"",
        ),
        (
            with(&|b| b["options"] = json!({"num_predict": 1.5})),
            "wrong type",
        ),
        (
            with(&|b| b["messages"][1]["content"] = json!([{"type": "text", "text": "x"}])),
            "cannot unmarshal array",
        ),
        (
            with(&|b| b["messages"][1]["images"] = json!(["data:image/png;base64,AAAA"])),
            "illegal base64",
        ),
        (
            with(&|b| b["think"] = json!("extreme")),
            "invalid think value",
        ),
        (with(&|b| b["format"] = json!("yaml")), "invalid format"),
        (
            with(&|b| b["tools"][0]["function"]["strict"] = json!(true)),
            "unknown field \"strict\"",
        ),
        (
            with(&|b| {
                b["messages"].as_array_mut().unwrap().push(json!({"role": "assistant", "content": "",
                "tool_calls": [{"function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]}))
            }),
            "arguments are objects",
        ),
        (
            with(&|b| {
                b["messages"].as_array_mut().unwrap().extend([
                    assistant_call.clone(),
                    json!({"role": "tool", "content": "18C", "tool_call_id": "call_1"}),
                ])
            }),
            "needs the tool_name",
        ),
        (
            with(&|b| {
                b["messages"].as_array_mut().unwrap().extend([
                    assistant_call.clone(),
                    json!({"role": "tool", "content": "18C", "tool_name": "get_time"}),
                ])
            }),
            "answers no tool call",
        ),
    ];
    for (body, words) in cases {
        let message = refused(&mock, &body).await;
        assert!(message.contains(words), "{words}: {message}");
    }
}

#[tokio::test]
async fn a_key_when_configured_is_a_bearer_token() {
    let mock = start(MockConfig {
        api_key: Some("olk".into()),
        ..MockConfig::default()
    })
    .await;
    let res = post(&mock, "/api/chat", &chat_body(Some(false))).await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"error": "unauthorized"})
    );
    let res = client()
        .post(format!("{}/api/chat", mock.url()))
        .bearer_auth("olk")
        .json(&chat_body(Some(false)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn faults_error_in_ollama_shape_or_cut_the_stream() {
    let mock = with_fault(Fault::Status {
        code: 500,
        retry_after: None,
    })
    .await;
    let res = post(&mock, "/api/chat", &chat_body(Some(false))).await;
    assert_eq!(res.status(), 500);
    assert!(res.json::<Value>().await.unwrap()["error"].is_string());

    let mock = with_fault(Fault::StreamError { after: 2 }).await;
    let lines = stream(&mock, &chat_body(None)).await;
    assert_eq!(lines.len(), 3);
    assert_eq!(
        lines[2],
        json!({"error": "an error was encountered while running the model"})
    );

    let mock = with_fault(Fault::DropMidStream { after: 1 }).await;
    let res = post(&mock, "/api/chat", &chat_body(None)).await;
    let mut body = res.bytes_stream();
    let mut text = String::new();
    let mut cut = false;
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(bytes) => text.push_str(std::str::from_utf8(&bytes).unwrap()),
            Err(_) => cut = true,
        }
    }
    assert!(cut, "the connection is cut");
    assert_eq!(text.lines().count(), 1);
    assert!(!text.contains("\"done\":true"));
}

#[tokio::test]
async fn chunk_delay_paces_the_lines() {
    let mock = start(MockConfig {
        chunks: 3,
        chunk_delay: Duration::from_millis(50),
        ..MockConfig::default()
    })
    .await;
    let res = post(&mock, "/api/chat", &chat_body(None)).await;
    let mut body = res.bytes_stream();
    let started = Instant::now();
    let first = body.next().await.unwrap().unwrap();
    assert!(first.ends_with(b"\n") && first.starts_with(b"{"));
    while body.next().await.is_some() {}
    // Four lines: three pauses of 50 ms.
    assert!(
        started.elapsed() >= Duration::from_millis(140),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn embed_answers_one_vector_per_input() {
    let mock = start(MockConfig::default()).await;
    let res = post(&mock, "/api/embed", &json!({"model": "all-minilm", "input": ["Why is the sky blue?", "Why is the grass green?"]})).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["model"], "all-minilm");
    let vectors = body["embeddings"].as_array().unwrap();
    assert_eq!(vectors.len(), 2);
    assert_ne!(vectors[0], vectors[1]);
    assert_eq!(body["prompt_eval_count"], 10);
    let one: Value = post(
        &mock,
        "/api/embed",
        &json!({"model": "all-minilm", "input": "Why is the sky blue?"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(one["embeddings"][0], vectors[0]);
    let res = post(
        &mock,
        "/api/embed",
        &json!({"model": "all-minilm", "input": [1, 2]}),
    )
    .await;
    assert_eq!(res.status(), 400);
    assert!(res.json::<Value>().await.unwrap()["error"]
        .as_str()
        .unwrap()
        .contains("input"));
}
