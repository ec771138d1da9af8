//! Request heads from an adapter's `request(ctx)` are reused per distinct
//! ctx (the hook runs once), unless the script says `reuse: false`; a
//! reload builds them afresh.

use serde_json::Value;

use crate::common::*;

/// A script whose head carries a value that differs on every hook call.
fn script(reuse: &str) -> String {
    format!(
        "fn request(ctx) {{\n  #{{ path: \"/chat/completions\", headers: #{{ \"x-call\": random_id(), \"x-model\": ctx.model, \"x-tag\": `${{ctx.options.tag}}` }}{reuse} }}\n}}\n"
    )
}

fn yaml(mock: &MockServer, adapter: &str, tag: &str) -> String {
    format!(
        "providers:\n  p:\n    adapter: {adapter}\n    base_url: {}\n    options: {{ tag: {tag} }}\nroutes:\n  - match: {{ model: \"*\" }}\n    targets: [{{ provider: p }}]\n",
        mock.url()
    )
}

/// `(x-call, x-model, x-tag)` of every request the mock received.
fn calls(mock: &MockServer) -> Vec<(String, String, String)> {
    mock.requests()
        .iter()
        .map(|r| {
            let h = |n: &str| r.header(n).unwrap_or_default().to_string();
            (h("x-call"), h("x-model"), h("x-tag"))
        })
        .collect()
}

async fn ok(gw: &Gateway, model: &str) {
    let r = gw.post("/v1/chat/completions", &chat(model, false)).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert!(body["choices"][0]["message"]["content"].is_string());
}

#[tokio::test]
async fn the_request_hook_runs_once_per_distinct_ctx() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let gw =
        Gateway::start_with_scripts(&yaml(&mock, "memo", "one"), &[("memo", &script(""))]).await;
    for model in ["a", "a", "b", "a", "b"] {
        ok(&gw, model).await;
    }
    let seen = calls(&mock);
    assert_eq!(seen.len(), 5);
    let of = |m: &str| -> Vec<&String> {
        seen.iter()
            .filter(|(_, model, _)| model == m)
            .map(|(call, _, _)| call)
            .collect()
    };
    let (a, b) = (of("a"), of("b"));
    assert_eq!(a.len(), 3);
    assert!(
        a.iter().all(|c| *c == a[0]),
        "one hook call for model a: {a:?}"
    );
    assert!(
        b.iter().all(|c| *c == b[0]),
        "one hook call for model b: {b:?}"
    );
    assert_ne!(a[0], b[0], "model b has its own head");

    // A reload builds new heads: the provider's options changed.
    let version = gw.version().await;
    gw.write_config(&yaml(&mock, "memo", "two"));
    assert!(
        gw.wait_for_new_version(&version, std::time::Duration::from_secs(10))
            .await
    );
    ok(&gw, "a").await;
    let last = calls(&mock).pop().unwrap();
    assert_eq!(last.2, "two");
    assert_ne!(&last.0, a[0]);
}

#[tokio::test]
async fn a_script_can_ask_for_a_fresh_head_every_time() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let gw = Gateway::start_with_scripts(
        &yaml(&mock, "fresh", "one"),
        &[("fresh", &script(", reuse: false"))],
    )
    .await;
    for _ in 0..3 {
        ok(&gw, "a").await;
    }
    let seen = calls(&mock);
    assert_eq!(seen.len(), 3);
    assert!(seen[0].0 != seen[1].0 && seen[1].0 != seen[2].0, "{seen:?}");
}

#[tokio::test]
async fn a_bad_reuse_flag_is_a_clean_502() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let gw = Gateway::start_with_scripts(
        &yaml(&mock, "bad", "one"),
        &[("bad", &script(", reuse: \"yes\""))],
    )
    .await;
    let r = gw.post("/v1/chat/completions", &chat("a", false)).await;
    assert_eq!(r.status(), 502);
    let body: Value = r.json().await.unwrap();
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(msg.contains("bad.rhai") && msg.contains("reuse"), "{msg}");
    assert!(mock.requests().is_empty());
}
