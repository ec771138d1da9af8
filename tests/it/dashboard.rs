//! The live dashboard on the admin listener: its static assets (public, with
//! a strict CSP), `/admin/stats` behind the key, and the page itself driven
//! in headless chromium by `tests/dashboard/check.js` (`.ci/setup` installs
//! chromium and playwright-core), before and after real traffic.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{ChildStdout, Command};

use crate::common::*;

const ADMIN_KEY: &str = "dashboard-admin-key-0123456789";

/// A gateway with `m` → a good priced provider and `f` → one that answers
/// 500, whose circuit opens after two failures; and its admin base URL.
async fn start() -> (Gateway, String, [MockServer; 2]) {
    let good = MockServer::start(MockConfig::default()).await.unwrap();
    let bad = MockServer::start(MockConfig {
        fault: Some(Fault::Status {
            code: 500,
            retry_after: None,
        }),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let port = free_port();
    let yaml = format!(
        "admin:\n  listen: 127.0.0.1:{port}\n  key: {ADMIN_KEY}\nproviders:\n{}    models:\n      good-model: {{ input_per_mtok: 1000, output_per_mtok: 2000 }}\n{}    circuit_breaker: {{ consecutive_failures: 2, cooldown: 60s }}\nroutes:\n  - name: main\n    match: {{ model: m }}\n    targets: [{{ provider: good, model: good-model }}]\n  - name: flaky\n    match: {{ model: f }}\n    targets: [{{ provider: bad, model: bad-model }}]\n",
        provider("good", "openai", &good, Some("k")),
        provider("bad", "openai", &bad, Some("k")),
    );
    let gw = Gateway::start(&yaml).await;
    let base = format!("http://127.0.0.1:{port}");
    let up = eventually(Duration::from_secs(10), || async {
        gw.client
            .get(format!("{base}/dashboard"))
            .send()
            .await
            .is_ok()
    })
    .await;
    assert!(up, "admin listener not up");
    (gw, base, [good, bad])
}

#[tokio::test]
async fn dashboard_assets_are_public_and_locked_down_stats_need_the_key() {
    let (gw, base, _mocks) = start().await;
    for (path, kind) in [
        ("/dashboard", "text/html"),
        ("/dashboard/app.js", "text/javascript"),
        ("/dashboard/style.css", "text/css"),
    ] {
        let r = gw.client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let h = r.headers();
        assert!(h["content-type"].to_str().unwrap().starts_with(kind));
        assert!(h["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("default-src 'self'"));
        assert_eq!(h["x-content-type-options"], "nosniff");
    }
    let stats = format!("{base}/admin/stats");
    assert_eq!(gw.client.get(&stats).send().await.unwrap().status(), 401);

    for _ in 0..3 {
        assert_eq!(
            gw.post("/v1/chat/completions", &chat("m", false))
                .await
                .status(),
            200
        );
    }
    // Metrics are recorded as each request is logged, just after its answer.
    let get_stats = || async {
        gw.client
            .get(&stats)
            .bearer_auth(ADMIN_KEY)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    eventually(Duration::from_secs(5), || async {
        get_stats().await["requests"]["total"] == 3
    })
    .await;
    let v = get_stats().await;
    assert_eq!(v["requests"]["total"], 3, "{v}");
    assert_eq!(v["latency_ms"]["count"], 3, "{v}");
    assert!(v["latency_ms"]["p95"].as_f64().unwrap() > 0.0, "{v}");
    assert!(v["cost_usd"].as_f64().unwrap() > 0.0, "{v}");
    let models = v["models"].as_array().unwrap();
    let good = models.iter().find(|m| m["model"] == "good-model").unwrap();
    assert_eq!(good["requests"]["total"], 3, "{v}");
    assert!(good["tokens"]["prompt"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(
        v["providers"][0]["backends"][0]["circuit"]["state"],
        "closed"
    );
    assert!(v["version"].is_string(), "{v}");
}

/// The next `PREFIX {json}` line of the script's output.
async fn expect_line(lines: &mut Lines<BufReader<ChildStdout>>, prefix: &str) -> Value {
    let line = tokio::time::timeout(Duration::from_secs(40), lines.next_line())
        .await
        .unwrap_or_else(|_| panic!("no {prefix} line from check.js in time"))
        .unwrap()
        .unwrap_or_else(|| panic!("check.js ended before {prefix} (its stderr is above)"));
    let json = line
        .strip_prefix(prefix)
        .and_then(|l| l.strip_prefix(' '))
        .unwrap_or_else(|| panic!("expected {prefix}, got: {line}"));
    serde_json::from_str(json).unwrap()
}

fn row<'a>(rows: &'a Value, field: &str, name: &str) -> &'a Value {
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r[field] == name)
        .unwrap_or_else(|| panic!("no row with {field} = {name} in {rows}"))
}

#[tokio::test]
async fn dashboard_in_a_browser_shows_traffic_errors_cost_and_circuits() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dashboard");
    assert!(
        dir.join("node_modules/playwright-core").is_dir()
            && Path::new("/usr/bin/chromium").exists(),
        "chromium and playwright-core are needed: run `bash .ci/setup`"
    );
    let (gw, base, _mocks) = start().await;
    let mut child = Command::new("node")
        .arg(dir.join("check.js"))
        .arg(format!("{base}/dashboard#key={ADMIN_KEY}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("node (.ci/setup)");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut stdin = child.stdin.take().unwrap();

    let before = expect_line(&mut lines, "BEFORE").await;
    assert_eq!(before["status"], "live", "{before}");
    assert_eq!(before["requests_total"], 0, "{before}");
    assert_eq!(before["rps"], 0.0, "{before}");
    assert_eq!(
        before["fragment"], "",
        "the key stays in the address bar: {before}"
    );
    assert_eq!(
        row(&before["backends"], "provider", "bad")["circuit"],
        "closed"
    );
    assert!(before["latency_p50_ms"].is_null(), "{before}");

    // Ten answers, then four failures: two reach the broken provider and
    // open its circuit, two are refused without trying it.
    for _ in 0..10 {
        assert_eq!(
            gw.post("/v1/chat/completions", &chat("m", false))
                .await
                .status(),
            200
        );
    }
    for _ in 0..4 {
        let status = gw
            .post("/v1/chat/completions", &chat("f", false))
            .await
            .status();
        assert!(status.is_server_error(), "{status}");
    }
    let want = json!({"requests_total": 14});
    stdin
        .write_all(format!("{want}\n").as_bytes())
        .await
        .unwrap();
    stdin.flush().await.unwrap();

    let after = expect_line(&mut lines, "AFTER").await;
    assert_eq!(after["requests_total"], 14, "{after}");
    assert!(after["rps"].as_f64().unwrap() > 0.0, "{after}");
    assert_eq!(after["errors_5xx"], 4, "{after}");
    assert!(after["error_ratio"].as_f64().unwrap() > 0.0, "{after}");
    assert!(after["latency_p50_ms"].as_f64().unwrap() > 0.0, "{after}");
    assert!(after["cost_total"].as_f64().unwrap() > 0.0, "{after}");
    assert!(after["spark_points"].as_u64().unwrap() > before["spark_points"].as_u64().unwrap());
    assert_eq!(
        row(&after["backends"], "provider", "bad")["circuit"],
        "open",
        "{after}"
    );
    assert_eq!(
        row(&after["backends"], "provider", "good")["circuit"],
        "closed",
        "{after}"
    );
    let good = row(&after["models"], "model", "good-model");
    assert_eq!(good["requests"], "10", "{after}");
    assert!(
        good["cost"].as_str().unwrap().parse::<f64>().unwrap() > 0.0,
        "{after}"
    );

    let denied = expect_line(&mut lines, "DENIED").await;
    assert_eq!(denied["status_text"], "wrong key", "{denied}");
    assert_eq!(denied["login_visible"], true, "{denied}");
    let errors = expect_line(&mut lines, "ERRORS").await;
    assert_eq!(errors, json!([]), "the page logged errors");

    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("check.js did not exit")
        .unwrap();
    assert!(status.success(), "check.js failed: {status}");
}
