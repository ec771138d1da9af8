//! Tests of the hostile [`Fault`]s over HTTP (and raw TCP for
//! `slow-header`), in both dialects where they differ.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::util::*;
use crate::{Fault, MockConfig};

#[tokio::test]
async fn endless_streams_keep_sending_until_the_client_leaves() {
    let mock = start(MockConfig {
        chunks: 2,
        fault: Some(Fault::Endless {
            every: Duration::from_millis(5),
        }),
        ..MockConfig::default()
    })
    .await;
    let res = post_openai(&mock, &chat_body(true)).await;
    let mut body = res.bytes_stream();
    let mut text = String::new();
    while text.matches("tok0 ").count() < 10 {
        let chunk = body.next().await.unwrap().unwrap();
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    assert!(!text.contains("[DONE]"));
    drop(body);
    wait_until(|| mock.cancelled_streams() == 1).await;

    // Non-stream: a JSON body that starts and never ends.
    let res = post_openai(&mock, &chat_body(false)).await;
    assert_eq!(res.headers()["content-type"], "application/json");
    let mut body = res.bytes_stream();
    let first = body.next().await.unwrap().unwrap();
    assert!(first.starts_with(b"{"));
    let more = tokio::time::timeout(Duration::from_millis(200), body.next()).await;
    assert!(more.is_ok(), "the body keeps coming");
}

#[tokio::test]
async fn huge_event_sends_one_event_of_the_asked_size() {
    let mock = with_fault(Fault::HugeEvent { bytes: 3 << 20 }).await;
    let text = post_openai(&mock, &chat_body(true))
        .await
        .text()
        .await
        .unwrap();
    let events = parse_sse(&text);
    let biggest = events.iter().map(|e| e.data.len()).max().unwrap();
    assert!(biggest > (3 << 20) - 200, "{biggest}");
    assert_eq!(events.last().unwrap().data, "[DONE]");

    let res = post_anthropic(&mock, &messages_body(false)).await;
    assert!(res.headers().get("content-length").is_none(), "chunked");
    let body = res.bytes().await.unwrap();
    assert_eq!(body.len(), 3 << 20);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["type"], "message");
}

#[tokio::test]
async fn slow_header_sends_a_status_line_and_never_ends_the_header() {
    let mock = with_fault(Fault::SlowHeader {
        every: Duration::from_millis(20),
    })
    .await;
    let mut tcp = tokio::net::TcpStream::connect(mock.addr()).await.unwrap();
    tcp.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}")
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    let until = Instant::now() + Duration::from_millis(600);
    while let Ok(Ok(n)) = tokio::time::timeout_at(until.into(), tcp.read(&mut buf)).await {
        assert!(n > 0, "closed early");
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8(got).unwrap();
    assert!(
        text.starts_with("HTTP/1.1 200 OK\r\nx-mock-slow-header: "),
        "{text}"
    );
    assert!(text.len() > 25, "bytes keep coming: {text}");
    assert!(!text.contains("\r\n\r\n"), "the header never ends");
    assert_eq!(mock.hits(), 1);
    drop(tcp);
    wait_until(|| mock.in_flight() == 0).await;

    // Connections accepted after the fault is cleared are served normally.
    mock.set_fault(None);
    assert_eq!(post_openai(&mock, &chat_body(false)).await.status(), 200);
}

#[tokio::test]
async fn wrong_type_answers_an_html_page_to_everything() {
    let mock = with_fault(Fault::WrongType).await;
    for stream in [false, true] {
        let res = post_openai(&mock, &chat_body(stream)).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
        assert!(res.text().await.unwrap().starts_with("<!DOCTYPE html>"));
    }
}

#[tokio::test]
async fn late_answers_correctly_after_the_delay() {
    let mock = with_fault(Fault::Late {
        after: Duration::from_millis(300),
    })
    .await;
    let started = Instant::now();
    let v = post_openai(&mock, &chat_body(false))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "tok0 tok1 tok2 tok3 tok4 "
    );
}

#[tokio::test]
async fn bad_sse_sends_noise_from_the_start_or_after_n_events() {
    let mock = with_fault(Fault::BadSse { after: None }).await;
    let res = post_openai(&mock, &chat_body(true)).await;
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let body = res.bytes().await.unwrap();
    assert!(!body.starts_with(b"data:"));
    assert!(!body.contains(&b'\n'));

    mock.set_fault(Some(Fault::BadSse { after: Some(2) }));
    let res = post_anthropic(&mock, &messages_body(true)).await;
    let body = res.bytes().await.unwrap();
    let cut = body.windows(2).rposition(|w| w == b"\n\n").unwrap() + 2;
    let events = parse_sse(std::str::from_utf8(&body[..cut]).unwrap());
    let deltas = events
        .iter()
        .filter(|e| e.name.as_deref() == Some("content_block_delta"))
        .count();
    assert_eq!(deltas, 2);
    assert!(
        std::str::from_utf8(&body[cut..]).is_err(),
        "binary noise last"
    );
}

#[tokio::test]
async fn responses_streams_get_their_own_malformed_and_huge_events() {
    let body = serde_json::json!({"model": "m", "input": "hi", "stream": true});
    let post = |mock: &crate::MockServer| {
        client()
            .post(format!("{}/v1/responses", mock.url()))
            .json(&body)
            .send()
    };
    let mock = with_fault(Fault::Malformed).await;
    let events = parse_sse(&post(&mock).await.unwrap().text().await.unwrap());
    let bad: Vec<_> = events
        .iter()
        .filter(|e| serde_json::from_str::<Value>(&e.data).is_err())
        .collect();
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].name.as_deref(), Some("response.output_text.delta"));

    mock.set_fault(Some(Fault::HugeEvent { bytes: 1 << 20 }));
    let events = parse_sse(&post(&mock).await.unwrap().text().await.unwrap());
    let huge = events.iter().max_by_key(|e| e.data.len()).unwrap();
    assert_eq!(huge.name.as_deref(), Some("response.output_text.delta"));
    assert!(huge.json()["delta"].as_str().unwrap().len() > (1 << 20) - 300);
    assert_eq!(
        events.last().unwrap().name.as_deref(),
        Some("response.completed")
    );
}
