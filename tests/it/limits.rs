//! Large requests on every path, and scripts that misbehave.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::*;

/// A ~1 MiB conversation of many turns.
fn big_conversation(model: &str) -> Value {
    let mut messages = vec![json!({"role": "system", "content": "Summarise."})];
    for i in 0..256 {
        let role = if i % 2 == 0 { "user" } else { "assistant" };
        messages
            .push(json!({"role": role, "content": format!("{i}: {}", "lorem ipsum ".repeat(340))}));
    }
    messages.push(json!({"role": "user", "content": "and so?"}));
    json!({"model": model, "messages": messages})
}

#[tokio::test]
async fn one_mib_conversation_works_with_failover_on_both_adapters() {
    let broken = MockServer::start(MockConfig {
        fault: Some(Fault::Status {
            code: 503,
            retry_after: None,
        }),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let openai = MockServer::start(MockConfig::default()).await.unwrap();
    let anthropic = MockServer::start(MockConfig::default()).await.unwrap();
    let yaml = format!(
        "providers:\n{}{}{}routes:\n  - match: {{ model: a }}\n    targets: [{{ provider: broken, model: x }}, {{ provider: oa, model: y }}]\n  - match: {{ model: b }}\n    targets: [{{ provider: broken, model: x }}, {{ provider: an, model: z }}]\n",
        provider("broken", "openai", &broken, None),
        provider("oa", "openai", &openai, None),
        provider("an", "anthropic", &anthropic, None),
    );
    let gw = Gateway::start(&yaml).await;
    for (model, mock) in [("a", &openai), ("b", &anthropic)] {
        let req = big_conversation(model);
        let size = serde_json::to_vec(&req).unwrap().len();
        assert!(size > 1024 * 1024, "{size}");
        for stream in [false, true] {
            let mut req = req.clone();
            req["stream"] = json!(stream);
            let r = gw.post("/v1/chat/completions", &req).await;
            assert_eq!(r.status(), 200, "{model} stream={stream}");
            if stream {
                assert_eq!(stream_text(&read_sse(r).await), mock_text(5));
            } else {
                let _: Value = r.json().await.unwrap();
            }
            let seen = mock.last_request().unwrap();
            assert!(
                seen.body.len() > 1024 * 1024,
                "{model}: provider got {} bytes",
                seen.body.len()
            );
            let sent = seen.json().expect("provider got complete JSON");
            assert!(sent["messages"].as_array().unwrap().len() >= 200);
        }
        let broken_seen = broken.last_request().unwrap();
        assert!(
            broken_seen.body.len() > 1024 * 1024,
            "the failed attempt got the whole body too"
        );
    }
}

const LOOPING: &str = r#"
fn request(ctx) {
    let n = 0;
    loop { n += 1; }
}
"#;

#[tokio::test]
async fn an_endless_script_is_stopped_and_the_gateway_keeps_serving() {
    let good = MockServer::start(MockConfig::default()).await.unwrap();
    let yaml = format!(
        "server:\n  scripts: {{ timeout: 200ms }}\nproviders:\n  loopy:\n    adapter: looping\n    base_url: {}\n{}routes:\n  - match: {{ model: loop }}\n    targets: [{{ provider: loopy }}]\n  - match: {{ model: ok }}\n    targets: [{{ provider: good }}]\n",
        good.url(),
        provider("good", "openai", &good, None),
    );
    let gw = Gateway::start_with_scripts(&yaml, &[("looping", LOOPING)]).await;
    let looping = {
        let client = gw.client.clone();
        let url = gw.url("/v1/chat/completions");
        tokio::spawn(async move { client.post(url).json(&chat("loop", false)).send().await })
    };
    let started = Instant::now();
    let r = gw.post("/v1/chat/completions", &chat("ok", false)).await;
    assert_eq!(r.status(), 200);
    let r = looping.await.unwrap().unwrap();
    assert_eq!(r.status(), 502);
    let body: Value = r.json().await.unwrap();
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("looping.rhai") && msg.contains("time budget"),
        "{msg}"
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(gw
        .metrics()
        .await
        .contains("gateway_script_errors_total{adapter=\"looping\"} 1"));
    assert_eq!(
        gw.post("/v1/chat/completions", &chat("ok", false))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn a_script_that_throws_gives_a_clean_502() {
    let good = MockServer::start(MockConfig::default()).await.unwrap();
    let script =
        "fn request(ctx) {\n  let x = ctx.options.missing.deeper;\n  x.call_unknown();\n}\n";
    let yaml = format!(
        "providers:\n  p:\n    adapter: broken\n    base_url: {}\nroutes:\n  - match: {{ model: m }}\n    targets: [{{ provider: p }}]\n",
        good.url()
    );
    let gw = Gateway::start_with_scripts(&yaml, &[("broken", script)]).await;
    let r = gw.post("/v1/chat/completions", &chat("m", false)).await;
    assert_eq!(r.status(), 502);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("broken.rhai:2: request: Unknown property"),
        "{body}"
    );
}
