//! Adapter and scoring scripts that misbehave in every hook — recursion
//! deep enough to overflow a worker's stack, allocation without end, an
//! endless loop, a throw — are contained: the request gets a clean error
//! naming the script and line, the failure is counted, the process stays
//! small, and other routes keep answering. (The endless `request` loop and
//! a `request` throw are covered in `limits.rs`.)

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::*;

/// Each level nested 20 deep in expressions: at the default call depth this
/// overflowed a 2 MiB worker stack and aborted the gateway.
fn recurse() -> String {
    format!(
        "fn request(ctx) {{ #{{ path: \"/v1/chat/completions\", headers: #{{}} }} }}\n\
         fn f(n) {{ {}f(n + 1){} }}\n\
         fn transform_request(body, ctx) {{\n    f(0)\n}}\n",
        "1 + (".repeat(20),
        ")".repeat(20)
    )
}

/// Every call level keeps its own 32 MiB string: no size limit sees it
/// (each string is within `max_string_size`), 64 levels hold ~2 GiB.
const HOG: &str = r#"
fn request(ctx) { #{ path: "/v1/chat/completions", headers: #{} } }
fn grow(s) { let mine = s + "!"; grow(s) }
fn transform_request(body, ctx) {
    let s = "x";
    while s.len() < 20000000 { s += s; }
    grow(s)
}
"#;

/// An array that grows without end (`push` is not size-checked).
const PUSHER: &str = r#"
fn request(ctx) { #{ path: "/v1/chat/completions", headers: #{} } }
fn transform_response(body, ctx) {
    let a = [];
    let s = "x";
    while s.len() < 1000000 { s += s; }
    loop { a.push(s + "!"); }
}
"#;

const REJECTS: &str = r#"
fn request(ctx) { #{ path: "/v1/chat/completions", headers: #{} } }
fn transform_request(body, ctx) {
    throw #{ status: 422, message: "no tools here" };
}
"#;

const CHUNK_LOOPS: &str = r#"
fn request(ctx) { #{ path: "/v1/chat/completions", headers: #{} } }
fn transform_chunk(event, ctx) {
    let n = 0;
    loop { n += 1; }
}
"#;

const SCORING_LOOPS: &str = "fn score(candidate, request) {\n    loop { }\n}\n";

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

async fn error_message(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap();
    let msg = body["error"]["message"].as_str().unwrap_or_default();
    (status, msg.to_string())
}

#[tokio::test]
async fn misbehaving_scripts_are_contained_and_the_gateway_keeps_serving() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let base = mock.url();
    let bad = ["recurse", "hog", "pusher", "rejects", "chunkloop"];
    let mut providers = String::new();
    for name in bad {
        providers += &format!("  {name}:\n    adapter: {name}\n    base_url: {base}\n");
    }
    providers += &provider("good", "openai", &mock, None);
    providers += &provider("good2", "openai", &mock, None);
    let mut routes = String::new();
    for name in bad {
        routes +=
            &format!("  - match: {{ model: {name} }}\n    targets: [{{ provider: {name} }}]\n");
    }
    routes += "  - match: { model: ok }\n    targets: [{ provider: good }]\n";
    routes += "  - match: { model: scored }\n    strategy: script\n    script: looping\n    targets: [{ provider: good2, model: x }, { provider: good, model: x }]\n";
    let yaml = format!(
        "server:\n  scripts: {{ timeout: 300ms }}\nproviders:\n{providers}routes:\n{routes}"
    );
    let gw = Gateway::start_with_scripts(
        &yaml,
        &[
            ("recurse", &recurse()),
            ("hog", HOG),
            ("pusher", PUSHER),
            ("rejects", REJECTS),
            ("chunkloop", CHUNK_LOOPS),
            ("scoring:looping", SCORING_LOOPS),
        ],
    )
    .await;
    let started = Instant::now();
    // Messages name scripts relative to the config's folder, never the
    // host's absolute paths.
    let root = gw.dir.path().display().to_string();

    // The healthy route answers while a bad one is failing.
    let hog = {
        let (client, url) = (gw.client.clone(), gw.url("/v1/chat/completions"));
        tokio::spawn(async move { client.post(url).json(&chat("hog", false)).send().await })
    };
    let r = gw.post("/v1/chat/completions", &chat("ok", false)).await;
    assert_eq!(r.status(), 200);

    let (status, msg) = error_message(hog.await.unwrap().unwrap()).await;
    assert_eq!(status, 502, "{msg}");
    assert!(
        msg.contains("scripts/providers/hog.rhai:")
            && !msg.contains(&root)
            && msg.contains("memory budget"),
        "{msg}"
    );

    let r = gw
        .post("/v1/chat/completions", &chat("recurse", false))
        .await;
    let (status, msg) = error_message(r).await;
    assert_eq!(status, 502, "{msg}");
    assert!(
        msg.contains("scripts/providers/recurse.rhai:")
            && !msg.contains(&root)
            && msg.contains("transform_request"),
        "{msg}"
    );

    let r = gw
        .post("/v1/chat/completions", &chat("pusher", false))
        .await;
    let (status, msg) = error_message(r).await;
    assert_eq!(status, 502, "{msg}");
    assert!(
        msg.contains("scripts/providers/pusher.rhai:")
            && !msg.contains(&root)
            && msg.contains("transform_response"),
        "{msg}"
    );

    let r = gw
        .post("/v1/chat/completions", &chat("rejects", false))
        .await;
    let (status, msg) = error_message(r).await;
    assert_eq!((status, msg.as_str()), (422, "no tools here"));

    // A stream has started when the first event is translated: the error
    // comes in-band, naming the script, instead of a false [DONE].
    let r = gw
        .post("/v1/chat/completions", &chat("chunkloop", true))
        .await;
    assert_eq!(r.status(), 200);
    let events = read_sse(r).await;
    let last = events.last().and_then(|e| e.json()).unwrap_or_default();
    let msg = last["error"]["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("scripts/providers/chunkloop.rhai:")
            && !msg.contains(&root)
            && msg.contains("time budget"),
        "{events:?}"
    );
    assert!(!events.iter().any(|e| e.event.data == "[DONE]"));

    // A scoring script that loops: the configured order.
    let r = gw
        .post("/v1/chat/completions", &chat("scored", false))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-switchyard-provider"], "good2");

    assert!(started.elapsed() < Duration::from_secs(60));
    let metrics = gw.metrics().await;
    for name in ["recurse", "hog", "pusher", "chunkloop", "scoring/looping"] {
        assert!(
            metrics.contains(&format!(
                "gateway_script_errors_total{{adapter=\"{name}\"}}"
            )),
            "{name} not counted:\n{metrics}"
        );
    }
    // Generous: the hog alone would hold ~2 GiB without its budget.
    let rss = rss_kib(gw.pid());
    assert!(rss > 0 && rss < 1024 * 1024, "RSS {rss} KiB");
    assert_eq!(
        gw.post("/v1/chat/completions", &chat("ok", false))
            .await
            .status(),
        200
    );
}
