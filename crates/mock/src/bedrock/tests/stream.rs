//! `converse-stream`: binary event-stream frames and the stream faults.

use serde_json::{json, Value};

use super::*;
use crate::tests::util::start;
use crate::{Fault, MockConfig};

async fn stream(mock: &MockServer, body: &Value) -> reqwest::Response {
    let path = format!("/model/{MODEL}/converse-stream");
    Outgoing::new(mock, &path, body).send(mock).await
}

async fn messages(cfg: MockConfig, body: &Value) -> Vec<Message> {
    let mock = start(cfg).await;
    let res = stream(&mock, body).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"],
        "application/vnd.amazon.eventstream"
    );
    decode(&res.bytes().await.unwrap())
}

fn event_types(messages: &[Message]) -> Vec<&str> {
    messages.iter().map(|m| m.header(":event-type")).collect()
}

#[tokio::test]
async fn a_text_stream_decodes_into_bedrock_s_events() {
    let cfg = MockConfig {
        chunks: 2,
        ..MockConfig::default()
    };
    let msgs = messages(cfg, &converse_body()).await;
    assert_eq!(
        event_types(&msgs),
        [
            "messageStart",
            "contentBlockDelta",
            "contentBlockDelta",
            "contentBlockStop",
            "messageStop",
            "metadata"
        ]
    );
    for m in &msgs {
        assert_eq!(m.header(":message-type"), "event");
        assert_eq!(m.header(":content-type"), "application/json");
        let p = m.payload["p"].as_str().unwrap();
        assert!("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".starts_with(p));
    }
    assert_eq!(msgs[0].payload["role"], "assistant");
    assert_eq!(msgs[1].payload["delta"], json!({"text": "tok0 "}));
    assert_eq!(msgs[2].payload["delta"], json!({"text": "tok1 "}));
    assert_eq!(msgs[4].payload["stopReason"], "end_turn");
    assert_eq!(
        msgs[5].payload["usage"],
        json!({"inputTokens": 6, "outputTokens": 2, "totalTokens": 8})
    );
    assert!(msgs[5].payload["metrics"]["latencyMs"].is_u64());
}

#[tokio::test]
async fn a_tool_stream_starts_a_tool_use_block() {
    let mut body = converse_body();
    body["toolConfig"] = json!({"tools": [{"toolSpec": {"name": "get_weather",
        "inputSchema": {"json": {"type": "object"}}}}]});
    let msgs = messages(MockConfig::default(), &body).await;
    assert_eq!(
        event_types(&msgs),
        [
            "messageStart",
            "contentBlockDelta",
            "contentBlockStop",
            "contentBlockStart",
            "contentBlockDelta",
            "contentBlockDelta",
            "contentBlockDelta",
            "contentBlockStop",
            "messageStop",
            "metadata"
        ]
    );
    assert_eq!(msgs[3].payload["start"]["toolUse"]["name"], "get_weather");
    let input: String = msgs[4..7]
        .iter()
        .map(|m| {
            m.payload["delta"]["toolUse"]["input"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(input, r#"{"city":"Paris","unit":"c"}"#);
    assert_eq!(msgs[8].payload["stopReason"], "tool_use");
}

#[tokio::test]
async fn an_error_mid_stream_is_an_exception_frame() {
    let cfg = MockConfig {
        fault: Some(Fault::StreamError { after: 2 }),
        ..MockConfig::default()
    };
    let msgs = messages(cfg, &converse_body()).await;
    assert_eq!(
        event_types(&msgs[..3]),
        ["messageStart", "contentBlockDelta", "contentBlockDelta"]
    );
    let last = msgs.last().unwrap();
    assert_eq!(msgs.len(), 4);
    assert_eq!(last.header(":message-type"), "exception");
    assert_eq!(last.header(":exception-type"), "modelStreamErrorException");
    assert!(last.payload["message"].is_string());
}

#[tokio::test]
async fn a_drop_mid_stream_cuts_the_connection_after_whole_frames() {
    let mock = start(MockConfig {
        fault: Some(Fault::DropMidStream { after: 1 }),
        ..MockConfig::default()
    })
    .await;
    let res = stream(&mock, &converse_body()).await;
    assert_eq!(res.status(), 200);
    let mut res = res;
    let mut got = Vec::new();
    let err = loop {
        match res.chunk().await {
            Ok(Some(chunk)) => got.extend_from_slice(&chunk),
            Ok(None) => break None,
            Err(e) => break Some(e),
        }
    };
    assert!(err.is_some(), "the stream should end with an error");
    assert_eq!(
        event_types(&decode(&got)),
        ["messageStart", "contentBlockDelta"]
    );
}

#[tokio::test]
async fn a_huge_event_is_one_valid_frame() {
    let cfg = MockConfig {
        fault: Some(Fault::HugeEvent { bytes: 200_000 }),
        ..MockConfig::default()
    };
    let msgs = messages(cfg, &converse_body()).await;
    assert_eq!(msgs[1].header(":event-type"), "contentBlockDelta");
    assert!(msgs[1].payload["delta"]["text"].as_str().unwrap().len() > 190_000);
}
