//! Tests of every [`Fault`] over HTTP, in both dialects.

use std::time::Duration;

use serde_json::Value;

use super::util::*;
use crate::{Fault, MockConfig};

/// Reads the body until its end or an error; returns the text and whether
/// the read failed (connection aborted).
async fn read_all(mut res: reqwest::Response) -> (String, bool) {
    let mut buf = Vec::new();
    let failed = loop {
        match res.chunk().await {
            Ok(Some(chunk)) => buf.extend_from_slice(&chunk),
            Ok(None) => break false,
            Err(_) => break true,
        }
    };
    (String::from_utf8(buf).unwrap(), failed)
}

#[tokio::test]
async fn status_fault_uses_each_provider_error_shape() {
    let mock = with_fault(Fault::Status {
        code: 429,
        retry_after: Some(7),
    })
    .await;
    let res = post_openai(&mock, &chat_body(true)).await;
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["retry-after"], "7");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["type"], "requests");
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    assert_eq!(body["error"]["param"], Value::Null);

    let res = post_anthropic(&mock, &messages_body(false)).await;
    assert_eq!(res.status(), 429);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "rate_limit_error");

    let cases = [
        (500, "server_error", "api_error"),
        (503, "server_error", "api_error"),
        (529, "server_error", "overloaded_error"),
    ];
    for (code, openai_type, anthropic_type) in cases {
        mock.set_fault(Some(Fault::Status {
            code,
            retry_after: None,
        }));
        let res = post_openai(&mock, &chat_body(false)).await;
        assert_eq!(res.status(), code);
        assert!(res.headers().get("retry-after").is_none());
        assert_eq!(
            res.json::<Value>().await.unwrap()["error"]["type"],
            openai_type
        );
        let res = post_anthropic(&mock, &messages_body(false)).await;
        assert_eq!(res.status(), code);
        assert_eq!(
            res.json::<Value>().await.unwrap()["error"]["type"],
            anthropic_type
        );
    }
    assert_eq!(mock.hits(), 8);
}

#[tokio::test]
async fn drop_mid_stream_aborts_after_n_content_events() {
    let mock = with_fault(Fault::DropMidStream { after: 2 }).await;
    let (text, failed) = read_all(post_openai(&mock, &chat_body(true)).await).await;
    assert!(failed, "the connection must be aborted");
    let events = parse_sse(&text);
    assert_eq!(events.len(), 3, "role chunk + 2 deltas: {text}");
    assert!(!text.contains("[DONE]") && !text.contains("finish_reason\":\"stop"));

    let (text, failed) = read_all(post_anthropic(&mock, &messages_body(true)).await).await;
    assert!(failed);
    let events = parse_sse(&text);
    let deltas = events
        .iter()
        .filter(|e| e.name.as_deref() == Some("content_block_delta"));
    assert_eq!(deltas.count(), 2);
    assert!(!text.contains("message_stop"));
    wait_until(|| mock.in_flight() == 0).await;
    assert_eq!(
        mock.cancelled_streams(),
        0,
        "a drop by the mock is not a client cancel"
    );
}

#[tokio::test]
async fn drop_mid_stream_truncates_non_stream_bodies() {
    let mock = with_fault(Fault::DropMidStream { after: 0 }).await;
    let res = post_openai(&mock, &chat_body(false)).await;
    assert_eq!(res.status(), 200);
    let (text, failed) = read_all(res).await;
    assert!(failed);
    assert!(serde_json::from_str::<Value>(&text).is_err());
}

#[tokio::test]
async fn stream_error_ends_with_an_in_band_error() {
    let mock = with_fault(Fault::StreamError { after: 1 }).await;
    let (text, failed) = read_all(post_openai(&mock, &chat_body(true)).await).await;
    assert!(!failed, "the stream ends cleanly");
    let events = parse_sse(&text);
    assert_eq!(events.len(), 3);
    let error = events[2].json();
    assert_eq!(error["error"]["type"], "server_error");
    assert!(!text.contains("[DONE]"));

    let (text, failed) = read_all(post_anthropic(&mock, &messages_body(true)).await).await;
    assert!(!failed);
    let events = parse_sse(&text);
    let last = events.last().unwrap();
    assert_eq!(last.name.as_deref(), Some("error"));
    assert_eq!(last.json()["error"]["type"], "overloaded_error");
    assert!(!text.contains("message_stop"));
}

#[tokio::test]
async fn stream_error_on_non_stream_is_an_error_status() {
    let mock = with_fault(Fault::StreamError { after: 1 }).await;
    assert_eq!(post_openai(&mock, &chat_body(false)).await.status(), 500);
    assert_eq!(
        post_anthropic(&mock, &messages_body(false)).await.status(),
        529
    );
}

#[tokio::test]
async fn malformed_sends_data_that_is_not_json() {
    let mock = with_fault(Fault::Malformed).await;
    let res = post_openai(&mock, &chat_body(false)).await;
    assert_eq!(res.status(), 200);
    let (text, failed) = read_all(res).await;
    assert!(!failed);
    assert!(serde_json::from_str::<Value>(&text).is_err());

    for res in [
        post_openai(&mock, &chat_body(true)).await,
        post_anthropic(&mock, &messages_body(true)).await,
    ] {
        let (text, _) = read_all(res).await;
        let events = parse_sse(&text);
        let bad = events
            .iter()
            .filter(|e| e.data != "[DONE]" && serde_json::from_str::<Value>(&e.data).is_err());
        assert_eq!(bad.count(), 1, "{text}");
    }
}

#[tokio::test]
async fn hang_never_answers_until_the_fault_is_cleared() {
    let mock = with_fault(Fault::Hang).await;
    let attempt = client()
        .post(format!("{}/v1/embeddings", mock.url()))
        .timeout(Duration::from_millis(200))
        .json(&serde_json::json!({"model": "e", "input": "x"}))
        .send()
        .await;
    assert!(attempt.unwrap_err().is_timeout());
    assert_eq!(mock.hits(), 1);
    wait_until(|| mock.in_flight() == 0).await;

    mock.set_fault(None);
    assert_eq!(post_openai(&mock, &chat_body(false)).await.status(), 200);
}

#[tokio::test]
async fn error_rate_fails_a_seeded_share_of_requests_with_the_configured_status() {
    let cfg = MockConfig {
        error_rate: 0.5,
        error_status: 429,
        seed: 3,
        ..MockConfig::default()
    };
    let mut runs = Vec::new();
    for _ in 0..2 {
        let mock = start(cfg.clone()).await;
        let mut statuses = Vec::new();
        for _ in 0..40 {
            statuses.push(
                post_openai(&mock, &chat_body(false))
                    .await
                    .status()
                    .as_u16(),
            );
        }
        runs.push(statuses);
    }
    let failed = runs[0].iter().filter(|s| **s == 429).count();
    assert!((10..=30).contains(&failed), "{failed} of 40 at 50%");
    assert!(runs[0].iter().all(|s| *s == 200 || *s == 429));
    assert_eq!(runs[0], runs[1], "the same seed fails the same requests");
}
