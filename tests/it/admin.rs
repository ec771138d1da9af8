//! The admin API on its own listener, and the promise that no secret —
//! provider key, virtual key, admin key — reaches logs, error bodies,
//! metrics or the admin API.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::*;
use crate::policy::{call, key_entry, KEY_A, KEY_B};

const ADMIN_KEY: &str = "admin-key-0123456789-abcdef";
const PROVIDER_KEY: &str = "sk-live-PROVIDER-SECRET-0123456789";
const METRICS_TOKEN: &str = "metrics-token-SECRET-0123456789";

struct Admin {
    gw: Gateway,
    base: String,
}

impl Admin {
    async fn get(&self, path: &str) -> reqwest::Response {
        self.gw
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(ADMIN_KEY)
            .send()
            .await
            .unwrap()
    }

    async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.gw
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(ADMIN_KEY)
            .json(body)
            .send()
            .await
            .unwrap()
    }
}

fn yaml(admin_port: u16, good: &MockServer, bad: &MockServer, db: &std::path::Path) -> String {
    format!(
        "admin:\n  listen: 127.0.0.1:{admin_port}\n  key: {ADMIN_KEY}\n  metrics_token: {METRICS_TOKEN}\nledger:\n  url: sqlite:{}\n  flush_interval: 100ms\nauth:\n  keys:\n{}{}providers:\n{}    headers: {{ x-org-secret: org-SECRET-HEADER-42 }}\n    models:\n      good-model: {{ input_per_mtok: 1, output_per_mtok: 2, quality: 0.9 }}\n{}routes:\n  - name: main\n    match: {{ model: m }}\n    strategy: cost\n    targets: [{{ provider: bad, model: bad-model }}, {{ provider: good, model: good-model }}]\n",
        db.display(),
        key_entry("team-a", KEY_A, "rpm: 100\nmetadata: { team: search }"),
        key_entry("team-b", KEY_B, ""),
        provider("good", "openai", good, Some(PROVIDER_KEY)),
        provider("bad", "openai", bad, Some(PROVIDER_KEY)),
    )
}

/// The admin client, the mocks (kept alive) and the ledger's directory.
async fn start() -> (Admin, [MockServer; 2], tempfile::TempDir) {
    start_logging("info").await
}

/// [`start`] with `SWITCHYARD_LOG` set to `level`.
async fn start_logging(level: &str) -> (Admin, [MockServer; 2], tempfile::TempDir) {
    let good = MockServer::start(MockConfig {
        api_key: Some(PROVIDER_KEY.into()),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let bad = MockServer::start(MockConfig {
        fault: Some(Fault::Status {
            code: 500,
            retry_after: None,
        }),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let yaml = yaml(port, &good, &bad, &dir.path().join("u.db"));
    let gw = Gateway::start_with_env(&yaml, &[("SWITCHYARD_LOG", level)]).await;
    let admin = Admin {
        gw,
        base: format!("http://127.0.0.1:{port}"),
    };
    let up = eventually(Duration::from_secs(10), || async {
        admin
            .gw
            .client
            .get(format!("{}/admin/config", admin.base))
            .send()
            .await
            .is_ok()
    })
    .await;
    assert!(up, "admin listener not up");
    (admin, [good, bad], dir)
}

#[tokio::test]
async fn admin_api_needs_its_key_and_describes_the_gateway() {
    let (admin, _mocks, _dir) = start().await;
    let url = format!("{}/admin/config", admin.base);
    let r = admin.gw.client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = admin
        .gw
        .client
        .get(&url)
        .bearer_auth(KEY_A)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "a client key is not an admin key");
    // The admin API is not on the public listener.
    assert_eq!(admin.gw.get("/admin/config").await.status(), 404);

    let cfg: Value = admin.get("/admin/config").await.json().await.unwrap();
    assert_eq!(cfg["routes"][0]["name"], "main");
    assert_eq!(cfg["routes"][0]["strategy"], "cost");
    assert_eq!(cfg["auth"]["keys"], 2);
    assert_eq!(cfg["providers"][0]["has_api_key"], true);
    assert_eq!(cfg["providers"][0]["headers"][0], "x-org-secret");

    let keys: Value = admin.get("/admin/keys").await.json().await.unwrap();
    assert_eq!(keys["keys"][0]["name"], "team-a");
    assert_eq!(keys["keys"][0]["rpm"], 100);
    assert_eq!(keys["keys"][0]["metadata"]["team"], "search");

    // Traffic, then the live view of providers and backends.
    // Enough answers for first-byte percentiles (20 samples).
    for _ in 0..21 {
        assert_eq!(
            call(&admin.gw, Some(KEY_A), &chat("m", false))
                .await
                .status(),
            200
        );
    }
    let p: Value = admin.get("/admin/providers").await.json().await.unwrap();
    let good = p["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "good")
        .unwrap();
    assert_eq!(good["backends"][0]["circuit"]["state"], "closed");
    assert_eq!(good["backends"][0]["healthy"], true);
    assert!(
        good["backends"][0]["first_byte_ms"]["p50"].is_number(),
        "{good}"
    );
    assert!(good["models"][0]["latency_ms"].is_number(), "{good}");

    let spec = admin.get("/admin/openapi.yaml").await.text().await.unwrap();
    assert!(spec.contains("/admin/usage"));
}

#[tokio::test]
async fn admin_explains_routes_and_reports_usage() {
    let (admin, _mocks, _dir) = start().await;
    let r = admin.post("/admin/route/explain", &chat("m", false)).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["route"], "main", "{v}");
    assert_eq!(v["strategy"], "cost", "{v}");
    let r = admin
        .post("/admin/route/explain", &chat("nope", false))
        .await;
    assert_eq!(r.status(), 404);

    for key in [KEY_A, KEY_A, KEY_B] {
        assert_eq!(
            call(&admin.gw, Some(key), &chat("m", false)).await.status(),
            200
        );
    }
    let usage = || async {
        admin
            .get("/admin/usage?group_by=key,model")
            .await
            .json::<Value>()
            .await
            .unwrap()
    };
    let ok = eventually(Duration::from_secs(5), || async {
        usage().await["rows"].as_array().map_or(0, Vec::len) == 2
    })
    .await;
    let v = usage().await;
    assert!(ok, "{v}");
    let a = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["group"]["key"] == "team-a")
        .unwrap();
    assert_eq!(a["requests"], 2, "{v}");
    assert_eq!(a["group"]["model"], "good-model");
    assert!(a["cost_usd"].as_f64().unwrap() > 0.0);
    let r = admin
        .get("/admin/usage?key=team-b&from=2020-01-01T00:00:00Z")
        .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["rows"][0]["requests"], 1, "{v}");
    assert_eq!(
        admin.get("/admin/usage?group_by=colour").await.status(),
        400
    );
}

#[tokio::test]
async fn admin_reload_applies_good_configs_and_reports_bad_ones() {
    let (admin, _mocks, _dir) = start().await;
    let before: Value = admin.get("/admin/config").await.json().await.unwrap();
    let text = std::fs::read_to_string(admin.gw.config_path()).unwrap();
    std::fs::write(
        admin.gw.config_path(),
        text.replace("strategy: cost", "strategy: sideways"),
    )
    .unwrap();
    let r = admin.post("/admin/reload", &json!({})).await;
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["version"], before["version"]);
    assert!(
        v["issues"][0].as_str().unwrap().contains("routes.yaml:"),
        "{v}"
    );
    std::fs::write(
        admin.gw.config_path(),
        text.replace("strategy: cost", "strategy: quality"),
    )
    .unwrap();
    let r = admin.post("/admin/reload", &json!({})).await;
    assert_eq!(r.status(), 200);
    let cfg: Value = admin.get("/admin/config").await.json().await.unwrap();
    assert_eq!(cfg["routes"][0]["strategy"], "quality");
}

/// At every log level — trace and debug included, where Pingora prints
/// whole request heads — no secret reaches the logs, nor error bodies,
/// metrics or the admin API.
#[tokio::test]
async fn no_secret_reaches_logs_errors_metrics_or_the_admin_api() {
    for level in ["trace", "debug", "info", "warn", "error"] {
        let seen = exercise(level).await;
        for secret in [
            PROVIDER_KEY,
            ADMIN_KEY,
            METRICS_TOKEN,
            KEY_A,
            KEY_B,
            "org-SECRET-HEADER-42",
            switchyard::auth::hash_key(KEY_A).as_str(),
        ] {
            assert!(!seen.contains(secret), "`{secret}` leaked at {level}");
        }
        // The check above is only meaningful if the output is there.
        assert!(seen.contains("gateway_requests_total"), "{level}");
        assert!(seen.contains("\"team-a\""), "{level}");
        if level == "trace" {
            assert!(
                seen.contains("authorization") && seen.contains("***"),
                "at trace, Pingora's head dumps were expected (masked)"
            );
        }
    }
}

/// Runs traffic of every kind through a gateway logging at `level`: what
/// came back, the metrics, the admin API's answers and the logs.
async fn exercise(level: &str) -> String {
    let (admin, _mocks, _dir) = start_logging(level).await;
    // Successes (failing over from the broken provider), client errors,
    // auth failures with a wrong key, a stream, an Anthropic client.
    call(&admin.gw, Some(KEY_A), &chat("m", false)).await;
    call(&admin.gw, Some(KEY_A), &chat("m", true))
        .await
        .bytes()
        .await
        .unwrap();
    let mut bodies = Vec::new();
    for (key, body) in [
        (Some(KEY_A), chat("nope", false)),
        (Some("sk-sy-wrong-key-000000000000000000"), chat("m", false)),
        (None, chat("m", false)),
        (Some(KEY_A), json!({"model": "m"})),
    ] {
        bodies.push(call(&admin.gw, key, &body).await.text().await.unwrap());
    }
    let messages =
        json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]});
    let r = admin
        .gw
        .client
        .post(admin.gw.url("/v1/messages"))
        .header("x-api-key", KEY_B)
        .json(&messages)
        .send()
        .await
        .unwrap();
    bodies.push(r.text().await.unwrap());
    let mut seen = bodies.join("\n");
    let metrics = admin
        .gw
        .client
        .get(format!("{}/metrics", admin.base))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap();
    seen.push_str(&metrics.text().await.unwrap());
    for path in [
        "/admin/config",
        "/admin/providers",
        "/admin/stats",
        "/admin/keys",
        "/admin/usage?group_by=key",
    ] {
        seen.push_str(&admin.get(path).await.text().await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    seen.push_str(&admin.gw.logs());
    seen
}
