//! Budgets at every scope through the real gateway — the whole gateway, a
//! route, a provider (with auth off) — their soft thresholds (a log line,
//! a metric and a signed webhook, retried, once per period), a route that
//! degrades to cheap targets instead of refusing, spend shared by a fleet
//! through the real Redis, and spend read back from the ledger on start.

use std::time::Duration;

use hmac::Mac;
use serde_json::Value;

use crate::common::*;

/// A provider entry whose model `up` costs $1 a token: any request blows
/// a few dollars.
fn expensive(name: &str, mock: &MockServer, extra: &str) -> String {
    format!(
        "{}    models:\n      up: {{ input_per_mtok: 1000000, output_per_mtok: 1000000 }}\n{extra}",
        provider(name, "openai", mock, None)
    )
}

/// A provider entry whose model `up` costs 50¢ per million tokens.
fn cheap(name: &str, mock: &MockServer) -> String {
    format!(
        "{}    models:\n      up: {{ input_per_mtok: 0.5, output_per_mtok: 0.5 }}\n",
        provider(name, "openai", mock, None)
    )
}

async fn ask(gw: &Gateway, model: &str) -> reqwest::Response {
    gw.post("/v1/chat/completions", &chat(model, false)).await
}

async fn refusal(r: reqwest::Response) -> String {
    assert_eq!(r.status(), 429);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "insufficient_quota");
    v["error"]["message"].as_str().unwrap().to_string()
}

fn attempts(r: &reqwest::Response) -> String {
    r.headers()
        .get("x-switchyard-attempts")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

#[tokio::test]
async fn the_gateway_and_a_route_refuse_past_their_budget_with_auth_off() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let yaml = format!(
        "providers:\n{}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: p, model: up }}]\n    budget: {{ daily: 5 }}\n  - match: {{ model: other }}\n    targets: [{{ provider: p, model: up }}]\n",
        expensive("p", &mock, "")
    );
    let gw = Gateway::start(&yaml).await;
    assert_eq!(ask(&gw, "m").await.status(), 200);
    let said = refusal(ask(&gw, "m").await).await;
    assert!(
        said.starts_with("The route `m` has used its daily budget"),
        "{said}"
    );
    // Another route is not affected.
    assert_eq!(ask(&gw, "other").await.status(), 200);
    assert_eq!(mock.hits(), 2);
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains("gateway_budget_refusals_total{name=\"m\",scope=\"route\"} 1"),
        "{metrics}"
    );

    // The admin API shows each budget's spend.
    let admin_port = free_port();
    let gateway = format!(
        "admin: {{ listen: \"127.0.0.1:{admin_port}\", key: admin-key-0123456789-abcdef }}\nbudget: {{ daily: 5 }}\n{yaml}"
    );
    let gw = Gateway::start(&gateway).await;
    assert_eq!(ask(&gw, "other").await.status(), 200);
    let said = refusal(ask(&gw, "other").await).await;
    assert!(
        said.starts_with("The gateway has used its daily budget"),
        "{said}"
    );
    assert_eq!(mock.hits(), 3);
}

#[tokio::test]
async fn a_provider_past_its_budget_is_skipped_for_the_next_target() {
    let (spent, spare) = (
        MockServer::start(MockConfig::default()).await.unwrap(),
        MockServer::start(MockConfig::default()).await.unwrap(),
    );
    let yaml = format!(
        "providers:\n{}{}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: p, model: up }}, {{ provider: q, model: up }}]\n  - match: {{ model: only-p }}\n    targets: [{{ provider: p, model: up }}]\n",
        expensive("p", &spent, "    budget: { monthly: 1 }\n"),
        cheap("q", &spare),
    );
    let gw = Gateway::start(&yaml).await;
    assert_eq!(ask(&gw, "m").await.status(), 200);
    assert_eq!((spent.hits(), spare.hits()), (1, 0));
    let r = ask(&gw, "m").await;
    assert_eq!(r.status(), 200);
    assert!(
        attempts(&r).starts_with("p:over_budget"),
        "{}",
        attempts(&r)
    );
    assert_eq!((spent.hits(), spare.hits()), (1, 1));
    let said = refusal(ask(&gw, "only-p").await).await;
    assert!(
        said.contains("The provider `p` has used its budget"),
        "{said}"
    );
    assert_eq!(spent.hits(), 1);
}

#[tokio::test]
async fn a_degrading_route_keeps_only_cheap_targets_instead_of_refusing() {
    let (pricey, thrifty) = (
        MockServer::start(MockConfig::default()).await.unwrap(),
        MockServer::start(MockConfig::default()).await.unwrap(),
    );
    let yaml = format!(
        "providers:\n{}{}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: p, model: up }}, {{ provider: q, model: up }}]\n    budget: {{ daily: 5, degrade: {{ at: 80%, max_output_price: 1 }} }}\n",
        expensive("p", &pricey, ""),
        cheap("q", &thrifty),
    );
    let gw = Gateway::start(&yaml).await;
    assert_eq!(ask(&gw, "m").await.status(), 200);
    // Past 80% (and past the whole budget): served, by the cheap target.
    for _ in 0..2 {
        let r = ask(&gw, "m").await;
        assert_eq!(r.status(), 200);
        assert!(
            attempts(&r).starts_with("p:over_budget"),
            "{}",
            attempts(&r)
        );
    }
    assert_eq!((pricey.hits(), thrifty.hits()), (1, 2));
}

/// Checks `x-switchyard-signature` (`t=…,v1=…`) against `body`.
fn signed(secret: &str, header: &str, body: &Value) -> bool {
    let mut t = "";
    let mut v1 = "";
    for part in header.split(',') {
        if let Some(x) = part.strip_prefix("t=") {
            t = x;
        } else if let Some(x) = part.strip_prefix("v1=") {
            v1 = x;
        }
    }
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{}", serde_json::to_string(body).unwrap()).as_bytes());
    let want: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    v1 == want
}

#[tokio::test]
async fn a_threshold_fires_once_a_signed_webhook_retried_past_a_failure() {
    let mock = MockServer::start(MockConfig {
        webhook_failures: 1,
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let yaml = format!(
        "budget:\n  daily: 1000\n  alerts: [\"0.1%\", 90%]\n  webhook: {{ url: \"{}/hooks/budget\", secret: whsec-test, backoff: 50ms }}\nproviders:\n{}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: p, model: up }}]\n",
        mock.url(),
        expensive("p", &mock, "")
    );
    let gw = Gateway::start(&yaml).await;
    assert_eq!(ask(&gw, "m").await.status(), 200);
    let delivered = eventually(Duration::from_secs(10), || async {
        mock.webhooks().len() == 1
    })
    .await;
    assert!(
        delivered,
        "no webhook; {} attempts",
        mock.webhook_attempts()
    );
    assert_eq!(
        mock.webhook_attempts(),
        2,
        "the failed POST was not retried"
    );
    let hook = &mock.webhooks()[0];
    assert_eq!(hook.body["type"], "budget.threshold_crossed");
    assert_eq!(hook.body["scope"], "gateway");
    assert_eq!(hook.body["period"], "daily");
    assert_eq!(hook.body["threshold_percent"], "0.1%");
    assert_eq!(hook.body["budget_usd"], 1000.0);
    let signature = hook.header("x-switchyard-signature").unwrap();
    assert!(signed("whsec-test", signature, &hook.body), "{signature}");
    assert!(!signed("another-secret", signature, &hook.body));

    // The next request crosses nothing new: no second event.
    assert_eq!(ask(&gw, "m").await.status(), 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(mock.webhooks().len(), 1);
    let metrics = gw.metrics().await;
    let line = "gateway_budget_alerts_total{name=\"\",period=\"daily\",scope=\"gateway\",threshold=\"0.1%\"} 1";
    assert!(metrics.contains(line), "{metrics}");
    assert!(gw.logs().contains("budget threshold crossed"));
    assert!(!gw.logs().contains("whsec-test"));
}

fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

#[tokio::test]
async fn a_fleet_shares_the_gateway_budget_and_fires_its_threshold_once() {
    use rand::Rng;
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let prefix = format!("sy-it-{:016x}:", rand::thread_rng().gen::<u64>());
    let yaml = format!(
        "state:\n  redis: {}\n  prefix: \"{prefix}\"\nbudget:\n  daily: 5\n  alerts: [10%]\n  webhook: {{ url: \"{}/hooks/fleet\" }}\nproviders:\n{}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: p, model: up }}]\n",
        redis_url(),
        mock.url(),
        expensive("p", &mock, "")
    );
    let (a, b) = tokio::join!(Gateway::start(&yaml), Gateway::start(&yaml));
    let (ra, rb) = tokio::join!(ask(&a, "m"), ask(&b, "m"));
    assert_eq!((ra.status().as_u16(), rb.status().as_u16()), (200, 200));
    // Both spent past the budget: each refuses now, whichever spent it.
    refusal(ask(&a, "m").await).await;
    refusal(ask(&b, "m").await).await;
    let delivered = eventually(Duration::from_secs(10), || async {
        !mock.webhooks().is_empty()
    })
    .await;
    assert!(delivered);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(mock.webhooks().len(), 1, "the threshold fired twice");
    assert_eq!(mock.hits(), 2);
}

#[tokio::test]
async fn a_restart_reads_route_and_gateway_spend_back_from_the_ledger() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("usage.db");
    let yaml = format!(
        "ledger: {{ url: \"sqlite:{}\", flush_interval: 100ms }}\nbudget: {{ monthly: 100 }}\nproviders:\n{}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: p, model: up }}]\n    budget: {{ daily: 5 }}\n",
        db.display(),
        expensive("p", &mock, "")
    );
    let mut gw = Gateway::start(&yaml).await;
    assert_eq!(ask(&gw, "m").await.status(), 200);
    gw.signal("TERM");
    assert_eq!(gw.wait_exit(Duration::from_secs(10)).await, Some(0));
    let gw = Gateway::start(&yaml).await;
    let refused = eventually(Duration::from_secs(5), || async {
        ask(&gw, "m").await.status() == 429
    })
    .await;
    assert!(
        refused,
        "the route's spend was forgotten across the restart"
    );
    assert_eq!(mock.hits(), 1);
}

#[tokio::test]
async fn a_budget_a_reload_adds_starts_from_the_spend_in_the_ledger() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("usage.db");
    let yaml = |budget: &str| {
        format!(
            "ledger: {{ url: \"sqlite:{}\", flush_interval: 100ms }}\nproviders:\n{}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: p, model: up }}]\n{budget}",
            db.display(),
            expensive("p", &mock, "")
        )
    };
    let gw = Gateway::start(&yaml("")).await;
    assert_eq!(ask(&gw, "m").await.status(), 200);
    // Written to the ledger before the budget comes.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let old = gw.version().await;
    gw.write_config(&yaml("    budget: { daily: 5 }\n"));
    assert!(gw.wait_for_new_version(&old, Duration::from_secs(10)).await);
    // Seeding runs beside the reload, off the request path.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let said = refusal(ask(&gw, "m").await).await;
    assert!(
        said.starts_with("The route `m` has used its daily budget"),
        "{said}"
    );
    assert_eq!(mock.hits(), 1);
}

#[tokio::test]
async fn an_alert_still_being_retried_at_shutdown_is_delivered_before_exit() {
    let mock = MockServer::start(MockConfig {
        webhook_failures: 1,
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let yaml = format!(
        "budget:\n  daily: 1000\n  alerts: [\"0.1%\"]\n  webhook: {{ url: \"{}/hooks/budget\", backoff: 1s }}\nproviders:\n{}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: p, model: up }}]\n",
        mock.url(),
        expensive("p", &mock, "")
    );
    let mut gw = Gateway::start(&yaml).await;
    assert_eq!(ask(&gw, "m").await.status(), 200);
    // The first POST failed; its retry waits about a second.
    let failed_once = eventually(Duration::from_secs(5), || async {
        mock.webhook_attempts() == 1
    })
    .await;
    assert!(failed_once);
    gw.signal("TERM");
    assert_eq!(gw.wait_exit(Duration::from_secs(15)).await, Some(0));
    assert_eq!(mock.webhooks().len(), 1, "the alert was lost at shutdown");
}
