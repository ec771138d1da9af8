//! Streams are relayed as they arrive, never buffered or silently cut.

use std::time::Duration;

use serde_json::Value;

use crate::common::*;

async fn setup(adapter: &str, cfg: MockConfig) -> (MockServer, Gateway) {
    let mock = MockServer::start(cfg).await.unwrap();
    let yaml = format!(
        "providers:\n{}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: p, model: x }}]\n",
        provider("p", adapter, &mock, Some("k"))
    );
    (mock, Gateway::start(&yaml).await)
}

fn slow(chunks: usize, delay_ms: u64) -> MockConfig {
    MockConfig {
        chunks,
        chunk_delay: Duration::from_millis(delay_ms),
        ..MockConfig::default()
    }
}

/// With 100 ms between 6 upstream chunks, the first content chunk reaches
/// the client at least 400 ms before the last one: nothing is buffered.
async fn assert_streamed(adapter: &str) {
    let (_mock, gw) = setup(adapter, slow(6, 100)).await;
    let events = read_sse(gw.post("/v1/chat/completions", &chat("m", true)).await).await;
    let content: Vec<&Received> = events
        .iter()
        .filter(|e| {
            e.json()
                .and_then(|v| {
                    v.pointer("/choices/0/delta/content")
                        .and_then(Value::as_str)
                        .map(|s| !s.is_empty())
                })
                .unwrap_or(false)
        })
        .collect();
    assert_eq!(content.len(), 6, "{events:?}");
    let held = content[5].at - content[0].at;
    assert!(
        held >= Duration::from_millis(400),
        "first chunk arrived only {held:?} before the last"
    );
    assert_eq!(events.last().unwrap().event.data, "[DONE]");
}

#[tokio::test]
async fn openai_stream_is_not_buffered() {
    assert_streamed("openai").await;
}

#[tokio::test]
async fn anthropic_stream_is_not_buffered() {
    assert_streamed("anthropic").await;
}

#[tokio::test]
async fn events_split_across_reads_are_reassembled() {
    for adapter in ["openai", "anthropic"] {
        let (_mock, gw) = setup(
            adapter,
            MockConfig {
                split_events: true,
                chunks: 8,
                ..MockConfig::default()
            },
        )
        .await;
        let events = read_sse(gw.post("/v1/chat/completions", &chat("m", true)).await).await;
        assert_eq!(stream_text(&events), mock_text(8), "{adapter}");
        assert_eq!(events.last().unwrap().event.data, "[DONE]", "{adapter}");
    }
}

#[tokio::test]
async fn client_disconnect_cancels_the_upstream_stream() {
    use futures_util::StreamExt;
    for adapter in ["openai", "anthropic"] {
        let (mock, gw) = setup(adapter, slow(50, 100)).await;
        let resp = gw.post("/v1/chat/completions", &chat("m", true)).await;
        let mut body = resp.bytes_stream();
        body.next().await.expect("first bytes").expect("ok");
        drop(body);
        let cancelled = eventually(Duration::from_secs(5), || async {
            mock.cancelled_streams() == 1
        })
        .await;
        assert!(
            cancelled,
            "{adapter}: the provider's stream was not cancelled"
        );
    }
}

/// A provider that dies mid-stream: the client gets an in-band error, not
/// a `[DONE]` that would make a cut answer look complete.
#[tokio::test]
async fn upstream_drop_mid_stream_is_reported_in_band() {
    for adapter in ["openai", "anthropic"] {
        let (_mock, gw) = setup(
            adapter,
            MockConfig {
                fault: Some(Fault::DropMidStream { after: 2 }),
                ..slow(6, 10)
            },
        )
        .await;
        let events = read_sse(gw.post("/v1/chat/completions", &chat("m", true)).await).await;
        assert_eq!(stream_text(&events), mock_text(2), "{adapter}");
        let last = events.last().unwrap().json().expect("json error event");
        assert!(last["error"]["message"].is_string(), "{adapter}: {last}");
        assert!(events.iter().all(|e| e.event.data != "[DONE]"), "{adapter}");
    }
}

/// An OpenAI-format provider's event that is not JSON (found by
/// benches/soak.sh): the passthrough used to forward it as is, which breaks
/// the client's SDK; it is reported in-band instead, and no `[DONE]` follows.
#[tokio::test]
async fn malformed_event_mid_stream_is_reported_in_band() {
    let (_mock, gw) = setup(
        "openai",
        MockConfig {
            fault: Some(Fault::Malformed),
            ..slow(6, 10)
        },
    )
    .await;
    let events = read_sse(gw.post("/v1/chat/completions", &chat("m", true)).await).await;
    assert!(
        events.iter().all(|e| e.json().is_some()),
        "an event that is not JSON reached the client: {events:?}"
    );
    let last = events.last().unwrap().json().unwrap();
    assert!(last["error"]["message"].is_string(), "{last}");
}

#[tokio::test]
async fn upstream_error_event_mid_stream_is_forwarded() {
    for adapter in ["openai", "anthropic"] {
        let (_mock, gw) = setup(
            adapter,
            MockConfig {
                fault: Some(Fault::StreamError { after: 2 }),
                ..slow(6, 10)
            },
        )
        .await;
        let events = read_sse(gw.post("/v1/chat/completions", &chat("m", true)).await).await;
        let last = events.last().unwrap().json().expect("json error event");
        assert!(last["error"]["message"].is_string(), "{adapter}: {last}");
        assert!(events.iter().all(|e| e.event.data != "[DONE]"), "{adapter}");
    }
}
