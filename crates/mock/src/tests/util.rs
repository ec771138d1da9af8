//! Helpers for the mock's own tests: an HTTP client, request bodies, an SSE
//! reader, and polling with a timeout.

use std::time::Duration;

use serde_json::{json, Value};

use crate::{Fault, MockConfig, MockServer};

/// A client without proxies or retries.
pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Starts a mock with `cfg`.
pub(crate) async fn start(cfg: MockConfig) -> MockServer {
    MockServer::start(cfg).await.unwrap()
}

/// A minimal OpenAI chat body.
pub(crate) fn chat_body(stream: bool) -> Value {
    json!({
        "model": "gpt-test",
        "stream": stream,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hello there, mock!"},
        ],
    })
}

/// A minimal Anthropic messages body.
pub(crate) fn messages_body(stream: bool) -> Value {
    json!({
        "model": "claude-test",
        "max_tokens": 64,
        "stream": stream,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "Hello there, mock!"}],
    })
}

/// POSTs `body` to `path` and returns the JSON answer (any status).
pub(crate) async fn post_json(mock: &MockServer, path: &str, body: &Value) -> Value {
    let res = client()
        .post(format!("{}{path}", mock.url()))
        .header("anthropic-version", "2023-06-01")
        .json(body)
        .send()
        .await
        .unwrap();
    res.json().await.unwrap()
}

/// Starts a mock that injects `fault`.
pub(crate) async fn with_fault(fault: Fault) -> MockServer {
    start(MockConfig {
        fault: Some(fault),
        ..MockConfig::default()
    })
    .await
}

/// POSTs `body` to the OpenAI chat endpoint.
pub(crate) async fn post_openai(mock: &MockServer, body: &Value) -> reqwest::Response {
    client()
        .post(format!("{}/v1/chat/completions", mock.url()))
        .json(body)
        .send()
        .await
        .unwrap()
}

/// POSTs `body` to the Anthropic endpoint with the usual headers.
pub(crate) async fn post_anthropic(mock: &MockServer, body: &Value) -> reqwest::Response {
    client()
        .post(format!("{}/v1/messages", mock.url()))
        .header("anthropic-version", "2023-06-01")
        .json(body)
        .send()
        .await
        .unwrap()
}

/// One parsed SSE event: its `event:` name (if any) and its data.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Event {
    pub name: Option<String>,
    pub data: String,
}

impl Event {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or_else(|e| panic!("{e}: {}", self.data))
    }
}

/// Splits a whole SSE body (LF line ends, as the mock writes) into events.
pub(crate) fn parse_sse(text: &str) -> Vec<Event> {
    assert!(
        text.is_empty() || text.ends_with("\n\n"),
        "unterminated: {text:?}"
    );
    text.split_terminator("\n\n")
        .map(|block| {
            let mut event = Event {
                name: None,
                data: String::new(),
            };
            for line in block.lines() {
                if let Some(name) = line.strip_prefix("event: ") {
                    event.name = Some(name.to_owned());
                } else if let Some(data) = line.strip_prefix("data: ") {
                    event.data = data.to_owned();
                } else {
                    panic!("unexpected line {line:?}");
                }
            }
            event
        })
        .collect()
}

/// Polls `cond` every 5 ms for up to 5 s.
pub(crate) async fn wait_until(cond: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met in time"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// POSTs `form` (multipart) to `path`.
pub(crate) async fn post_form(
    mock: &MockServer,
    path: &str,
    form: reqwest::multipart::Form,
) -> reqwest::Response {
    client()
        .post(format!("{}{path}", mock.url()))
        .multipart(form)
        .send()
        .await
        .unwrap()
}

/// A file part of `len` bytes (`0, 1, 2, …` mod 256) named `filename`.
pub(crate) fn file_part(filename: &str, len: usize) -> reqwest::multipart::Part {
    let bytes: Vec<u8> = (0..len).map(|i| i as u8).collect();
    reqwest::multipart::Part::bytes(bytes).file_name(filename.to_owned())
}

/// Sends `req` and returns its status and JSON body.
pub(crate) async fn status_json(req: reqwest::RequestBuilder) -> (u16, Value) {
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    (status, body)
}

/// Asserts that `body` is OpenAI's 400 naming `param`.
#[track_caller]
pub(crate) fn assert_invalid(status: u16, body: &Value, param: &str) {
    assert_eq!(status, 400, "{body}");
    let error = &body["error"];
    assert_eq!(error["type"], "invalid_request_error", "{body}");
    assert_eq!(error["param"], param, "{body}");
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(error.get("code").is_some(), "{body}");
}

/// Reads the body until its end or an error; returns the bytes and
/// whether the read failed (connection aborted).
pub(crate) async fn read_bytes(mut res: reqwest::Response) -> (Vec<u8>, bool) {
    let mut buf = Vec::new();
    let failed = loop {
        match res.chunk().await {
            Ok(Some(chunk)) => buf.extend_from_slice(&chunk),
            Ok(None) => break false,
            Err(_) => break true,
        }
    };
    (buf, failed)
}
