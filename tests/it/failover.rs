//! Failover across a route's targets, before the first byte only.

use serde_json::Value;

use crate::common::*;

fn route(targets: &[&str]) -> String {
    let t: Vec<String> = targets
        .iter()
        .map(|p| format!("{{ provider: {p}, model: x }}"))
        .collect();
    format!(
        "routes:\n  - match: {{ model: m }}\n    targets: [{}]\n",
        t.join(", ")
    )
}

async fn mock(fault: Option<Fault>) -> MockServer {
    MockServer::start(MockConfig {
        fault,
        ..MockConfig::default()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn fails_over_on_5xx_429_and_connect_errors_and_says_what_it_tried() {
    let bad = mock(Some(Fault::Status {
        code: 500,
        retry_after: None,
    }))
    .await;
    let limited = mock(Some(Fault::Status {
        code: 429,
        retry_after: Some(7),
    }))
    .await;
    let good = mock(None).await;
    let yaml = format!(
        "providers:\n{}{}  closed:\n    adapter: openai\n    base_url: http://127.0.0.1:9/v1\n{}{}",
        provider("bad", "openai", &bad, None),
        provider("limited", "anthropic", &limited, None),
        provider("good", "anthropic", &good, None),
        route(&["bad", "closed", "limited", "good"])
    );
    let gw = Gateway::start(&yaml).await;
    for stream in [false, true] {
        let r = gw.post("/v1/chat/completions", &chat("m", stream)).await;
        assert_eq!(r.status(), 200);
        let attempts = r.headers()["x-switchyard-attempts"]
            .to_str()
            .unwrap()
            .to_string();
        // The 429 came with Retry-After: 7, so the second request finds
        // `limited` benched and does not call it.
        let limited = if stream { "benched" } else { "429" };
        let want = format!("bad:500,closed:error,limited:{limited},good:200");
        assert!(attempts.starts_with(&want), "{attempts}");
        assert_eq!(r.headers()["x-switchyard-provider"], "good");
        if stream {
            assert_eq!(stream_text(&read_sse(r).await), mock_text(5));
        } else {
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["choices"][0]["message"]["content"], mock_text(5));
        }
    }
    assert_eq!(good.hits(), 2);
}

#[tokio::test]
async fn all_failing_answers_with_the_most_telling_error() {
    let limited = mock(Some(Fault::Status {
        code: 429,
        retry_after: Some(7),
    }))
    .await;
    let bad = mock(Some(Fault::Status {
        code: 503,
        retry_after: None,
    }))
    .await;
    let yaml = format!(
        "providers:\n{}{}{}",
        provider("limited", "openai", &limited, None),
        provider("bad", "openai", &bad, None),
        route(&["limited", "bad"])
    );
    let gw = Gateway::start(&yaml).await;
    let r = gw.post("/v1/chat/completions", &chat("m", false)).await;
    assert_eq!(r.status(), 429, "a rate limit says more than a 503");
    assert_eq!(r.headers()["retry-after"], "7");
    assert_eq!(r.headers()["x-switchyard-attempts"], "limited:429,bad:503");
}

#[tokio::test]
async fn a_client_error_is_not_retried_elsewhere() {
    let picky = mock(Some(Fault::Status {
        code: 400,
        retry_after: None,
    }))
    .await;
    let good = mock(None).await;
    let yaml = format!(
        "providers:\n{}{}{}",
        provider("picky", "openai", &picky, None),
        provider("good", "openai", &good, None),
        route(&["picky", "good"])
    );
    let gw = Gateway::start(&yaml).await;
    let r = gw.post("/v1/chat/completions", &chat("m", false)).await;
    assert_eq!(r.status(), 400);
    assert_eq!(good.hits(), 0);
}

#[tokio::test]
async fn no_failover_after_the_first_byte() {
    let dying = MockServer::start(MockConfig {
        fault: Some(Fault::DropMidStream { after: 1 }),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let good = mock(None).await;
    let yaml = format!(
        "providers:\n{}{}{}",
        provider("dying", "openai", &dying, None),
        provider("good", "openai", &good, None),
        route(&["dying", "good"])
    );
    let gw = Gateway::start(&yaml).await;
    let events = read_sse(gw.post("/v1/chat/completions", &chat("m", true)).await).await;
    assert!(events.last().unwrap().json().unwrap()["error"].is_object());
    assert_eq!(
        good.hits(),
        0,
        "a stream that started is never replayed elsewhere"
    );
}

/// A target that lacks what the request needs (here: images) is skipped
/// for one that has it; if none has it, a clear 400 says why.
#[tokio::test]
async fn targets_without_a_needed_capability_are_skipped() {
    let text_only = mock(None).await;
    let vision = mock(None).await;
    let yaml = format!(
        "providers:\n{}    capabilities: {{ vision: false }}\n{}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: text_only, model: x }}, {{ provider: vision, model: x }}]\n  - match: {{ model: only-text }}\n    targets: [{{ provider: text_only, model: x }}]\n",
        provider("text_only", "openai", &text_only, None),
        provider("vision", "openai", &vision, None),
    );
    let gw = Gateway::start(&yaml).await;
    let image = serde_json::json!([{"type": "text", "text": "what is it?"}, {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]);
    let mut req = chat("m", false);
    req["messages"][1]["content"] = image.clone();
    let r = gw.post("/v1/chat/completions", &req).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["x-switchyard-attempts"],
        "text_only:unsupported,vision:200"
    );
    assert_eq!(text_only.hits(), 0);
    req["model"] = serde_json::json!("only-text");
    let r = gw.post("/v1/chat/completions", &req).await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unsupported_by_provider");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("images"),
        "{body}"
    );
    // Text-only requests still go to the first target.
    let r = gw.post("/v1/chat/completions", &chat("m", false)).await;
    assert_eq!(r.headers()["x-switchyard-provider"], "text_only");
}
