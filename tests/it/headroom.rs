//! Quota headroom in ranking (issue 24), through the real gateway: when a
//! route scores, a provider's backends are tried fullest quota first,
//! whatever the balancer's weights say; an `ordered` route keeps the
//! balancer's order.

use std::time::Duration;

use switchyard_mock::Quota;

use crate::common::*;

/// A mock announcing (and enforcing) 100 requests per minute.
async fn announcing() -> MockServer {
    MockServer::start(MockConfig {
        quota: Some(Quota {
            requests: 100,
            tokens: None,
            window: Duration::from_secs(60),
            retry_after: false,
        }),
        ..MockConfig::default()
    })
    .await
    .unwrap()
}

/// Provider `p` with backends `a` (weight 100) and `b` (weight 1), behind
/// an `ordered` route `plain` and a `cost` route `thrifty`.
fn config(a: &MockServer, b: &MockServer) -> String {
    format!(
        "providers:\n  p:\n    adapter: openai\n    base_url: http://127.0.0.1:9/v1\n    balance: weighted\n    backends:\n      - {{ name: a, base_url: \"{}/v1\", weight: 100 }}\n      - {{ name: b, base_url: \"{}/v1\", weight: 1 }}\nroutes:\n  - match: {{ model: plain }}\n    targets: [{{ provider: p, model: x }}]\n  - match: {{ model: thrifty }}\n    strategy: cost\n    targets: [{{ provider: p, model: x }}]\n",
        a.url(),
        b.url()
    )
}

async fn send(gw: &Gateway, model: &str, n: usize) {
    for _ in 0..n {
        let r = gw.post("/v1/chat/completions", &chat(model, false)).await;
        assert_eq!(r.status(), 200, "{}", header(&r, "x-switchyard-attempts"));
    }
}

#[tokio::test]
async fn a_scoring_route_tries_the_backend_with_more_quota_left_first() {
    let (a, b) = (announcing().await, announcing().await);
    let gw = Gateway::start(&config(&a, &b)).await;
    // The weights send nearly everything to `a`: 60 of its 100 are spent.
    send(&gw, "plain", 60).await;
    let (a0, b0) = (a.hits(), b.hits());
    assert!(a0 >= 58, "weighted 100:1, a served {a0} of 60");
    // `b` has far more left (or is unknown, counted as untouched): the
    // cost route sends everything there despite its weight of 1.
    send(&gw, "thrifty", 20).await;
    assert_eq!(b.hits() - b0, 20, "a served {} more", a.hits() - a0);
    // An ordered route keeps the balancer's (weighted) order.
    send(&gw, "plain", 5).await;
    assert!(a.hits() - a0 >= 4, "a served {} of 5", a.hits() - a0);
    assert_eq!(a.quota_refusals() + b.quota_refusals(), 0);
}
