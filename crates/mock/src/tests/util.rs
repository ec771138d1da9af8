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
