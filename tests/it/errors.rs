//! Every error in OpenAI's shape, with the right status.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::*;

async fn setup(cfg: MockConfig, server: &str) -> (MockServer, Gateway) {
    let mock = MockServer::start(MockConfig {
        api_key: Some("sk-secret-provider-key".into()),
        ..cfg
    })
    .await
    .unwrap();
    let yaml = format!(
        "server:\n{server}providers:\n{}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: p, model: x }}]\n",
        provider("p", "openai", &mock, Some("sk-secret-provider-key"))
    );
    (mock, Gateway::start(&yaml).await)
}

async fn error_of(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let body: Value = r.json().await.expect("JSON error body");
    assert!(body["error"]["message"].is_string(), "{body}");
    assert!(body["error"]["type"].is_string(), "{body}");
    (status, body)
}

#[tokio::test]
async fn bad_requests_are_400() {
    let (mock, gw) = setup(MockConfig::default(), "  threads: 1\n").await;
    let (s, b) = error_of(gw.post_raw("/v1/chat/completions", "{not json").await).await;
    assert_eq!(s, 400);
    assert_eq!(b["error"]["type"], "invalid_request_error");
    let (s, b) = error_of(
        gw.post("/v1/chat/completions", &json!({"model": "m"}))
            .await,
    )
    .await;
    assert_eq!((s, b["error"]["param"].as_str()), (400, Some("messages")));
    let (s, _) = error_of(
        gw.post(
            "/v1/chat/completions",
            &json!({"messages": [{"role": "user", "content": "x"}]}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 400);
    let (s, _) = error_of(
        gw.post(
            "/v1/chat/completions",
            &json!({"model": "m", "messages": [], "stream": "yes"}),
        )
        .await,
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(mock.hits(), 0, "nothing reached the provider");
}

#[tokio::test]
async fn unknown_model_is_404_model_not_found() {
    let (_mock, gw) = setup(MockConfig::default(), "  threads: 1\n").await;
    let (s, b) = error_of(
        gw.post("/v1/chat/completions", &chat("no-such-model", false))
            .await,
    )
    .await;
    assert_eq!(s, 404);
    assert_eq!(b["error"]["code"], "model_not_found");
}

#[tokio::test]
async fn body_over_the_limit_is_413() {
    let (mock, gw) = setup(MockConfig::default(), "  max_body_size: 64KiB\n").await;
    let mut req = chat("m", false);
    req["messages"][1]["content"] = json!("x".repeat(100 * 1024));
    let (s, b) = error_of(gw.post("/v1/chat/completions", &req).await).await;
    assert_eq!(s, 413);
    assert_eq!(b["error"]["code"], "request_too_large");
    assert_eq!(mock.hits(), 0);
}

#[tokio::test]
async fn upstream_4xx_passes_its_status_and_message() {
    let (_mock, gw) = setup(
        MockConfig {
            fault: Some(Fault::Status {
                code: 422,
                retry_after: None,
            }),
            ..MockConfig::default()
        },
        "  threads: 1\n",
    )
    .await;
    let (s, b) = error_of(gw.post("/v1/chat/completions", &chat("m", false)).await).await;
    assert_eq!(s, 422);
    assert!(
        b["error"]["message"].as_str().unwrap().starts_with("p: "),
        "{b}"
    );
}

#[tokio::test]
async fn upstream_5xx_is_502() {
    let (_mock, gw) = setup(
        MockConfig {
            fault: Some(Fault::Status {
                code: 500,
                retry_after: None,
            }),
            ..MockConfig::default()
        },
        "  threads: 1\n",
    )
    .await;
    let (s, b) = error_of(gw.post("/v1/chat/completions", &chat("m", false)).await).await;
    assert_eq!(s, 502);
    assert_eq!(b["error"]["type"], "api_error");
}

#[tokio::test]
async fn malformed_upstream_body_is_502() {
    let (_mock, gw) = setup(
        MockConfig {
            fault: Some(Fault::Malformed),
            ..MockConfig::default()
        },
        "  threads: 1\n",
    )
    .await;
    let (s, b) = error_of(gw.post("/v1/chat/completions", &chat("m", false)).await).await;
    assert_eq!(s, 502);
    assert!(
        b["error"]["message"].as_str().unwrap().contains("not JSON"),
        "{b}"
    );
}

#[tokio::test]
async fn upstream_timeout_is_504() {
    let (_mock, gw) = setup(
        MockConfig {
            fault: Some(Fault::Hang),
            ..MockConfig::default()
        },
        "  first_byte_timeout: 300ms\n",
    )
    .await;
    let started = std::time::Instant::now();
    let (s, b) = error_of(gw.post("/v1/chat/completions", &chat("m", false)).await).await;
    assert_eq!(s, 504);
    assert_eq!(b["error"]["type"], "timeout_error");
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[tokio::test]
async fn nothing_to_route_to_is_503() {
    let yaml = "providers:\n  p:\n    adapter: openai\n    base_url: http://127.0.0.1:9\n    api_key: ${SWITCHYARD_TEST_UNSET_KEY}\nroutes:\n  - match: { model: m }\n    targets: [{ provider: p }]\n";
    let gw = Gateway::start(yaml).await;
    let r = gw.post("/v1/chat/completions", &chat("m", false)).await;
    assert!(r.headers().contains_key("retry-after"));
    let (s, b) = error_of(r).await;
    assert_eq!(s, 503);
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("SWITCHYARD_TEST_UNSET_KEY"),
        "{b}"
    );
}

/// The provider key never reaches a client or a log line, even when the
/// provider echoes it back in an error.
#[tokio::test]
async fn provider_key_never_leaks() {
    let mock = MockServer::start(MockConfig {
        api_key: Some("sk-the-right-key".into()),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let yaml = format!(
        "providers:\n{}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: p, model: x }}]\n",
        provider("p", "openai", &mock, Some("sk-wrong-secret-key-123"))
    );
    let gw = Gateway::start(&yaml).await;
    let r = gw.post("/v1/chat/completions", &chat("m", false)).await;
    // The gateway's key was refused: 502, not a 401 the client would blame on its own key.
    assert_eq!(r.status(), 502);
    let headers = format!("{:?}", r.headers());
    let body = r.text().await.unwrap();
    let metrics = gw.metrics().await;
    for text in [&body, &headers, &metrics, &gw.logs()] {
        assert!(
            !text.contains("sk-wrong-secret-key-123"),
            "key leaked in: {text}"
        );
    }
}

/// A provider that puts the key it was sent in every field of its error and
/// in `retry-after`: none of it reaches the client, through either adapter
/// format and either client dialect.
#[tokio::test]
async fn provider_errors_echoing_the_key_are_redacted_everywhere() {
    const KEY: &str = "sk-echoed-provider-key-4242";
    let openai = MockServer::start(MockConfig {
        fault: Some(Fault::EchoKey { code: 429 }),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let anthropic = MockServer::start(MockConfig {
        fault: Some(Fault::EchoKey { code: 400 }),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let yaml = format!(
        "providers:\n{}{}routes:\n  - match: {{ model: o }}\n    targets: [{{ provider: o, model: x }}]\n  - match: {{ model: a }}\n    targets: [{{ provider: a, model: x }}]\n",
        provider("o", "openai", &openai, Some(KEY)),
        provider("a", "anthropic", &anthropic, Some(KEY)),
    );
    let gw = Gateway::start(&yaml).await;
    let messages =
        json!({"model": "a", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]});
    let first = gw.post("/v1/chat/completions", &chat("o", false)).await;
    let second = gw.post("/v1/chat/completions", &chat("a", false)).await;
    let third = gw.post("/v1/messages", &messages).await;
    // o's 429 (its retry-after not a number, no quota headers) benched it
    // for 200 ms: the stream asks it again once that is over.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stream = gw.post("/v1/chat/completions", &chat("o", true)).await;
    let answers = [first, second, third, stream];
    for r in answers {
        let status = r.status().as_u16();
        assert!(status == 429 || status == 400, "{status}");
        let head = format!("{:?}", r.headers());
        assert!(!head.contains(KEY), "the key in a header: {head}");
        assert!(
            r.headers().get("retry-after").is_none(),
            "a retry-after that is not a number of seconds is dropped: {head}"
        );
        let body = r.text().await.unwrap();
        assert!(!body.contains(KEY), "the key in the body: {body}");
        assert!(body.contains("***"), "redacted, not dropped: {body}");
    }
    assert!(openai.hits() >= 1 && anthropic.hits() >= 1);
    assert_eq!(
        openai.last_request().unwrap().header("authorization"),
        Some(&*format!("Bearer {KEY}"))
    );
}

/// `retry-after` passes on as whole seconds: a number or an HTTP date.
#[tokio::test]
async fn provider_retry_after_passes_as_seconds() {
    let (_mock, gw) = setup(
        MockConfig {
            fault: Some(Fault::Status {
                code: 429,
                retry_after: Some(7),
            }),
            ..MockConfig::default()
        },
        "  threads: 1\n",
    )
    .await;
    let r = gw.post("/v1/chat/completions", &chat("m", false)).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "7");
}
