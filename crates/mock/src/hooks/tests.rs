//! Tests of the webhook receiver.

use serde_json::json;

use crate::tests::util::*;
use crate::MockConfig;

#[tokio::test]
async fn hooks_are_recorded_after_the_configured_failures() {
    let mock = start(MockConfig {
        webhook_failures: 2,
        ..MockConfig::default()
    })
    .await;
    let event = json!({"type": "budget.threshold", "threshold": 0.8});
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let res = client()
            .post(format!("{}/hooks/budget", mock.url()))
            .header("X-Switchyard-Event-Id", "evt-1")
            .json(&event)
            .send()
            .await
            .unwrap();
        statuses.push(res.status().as_u16());
        if res.status() == 200 {
            let body: serde_json::Value = res.json().await.unwrap();
            assert_eq!(body, json!({"ok": true}));
        }
    }
    assert_eq!(statuses, [503, 503, 200]);
    assert_eq!(mock.webhook_attempts(), 3);

    let hooks = mock.webhooks();
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0].name, "budget");
    assert_eq!(hooks[0].body, event);
    assert_eq!(hooks[0].header("x-switchyard-event-id"), Some("evt-1"));
    assert!(hooks[0]
        .headers
        .iter()
        .any(|(k, v)| k == "content-type" && v == "application/json"));
    // Not a provider hit.
    assert_eq!(mock.hits(), 0);
}

#[tokio::test]
async fn hooks_keep_a_body_that_is_not_json_as_null() {
    let mock = start(MockConfig::default()).await;
    let res = client()
        .post(format!("{}/hooks/other", mock.url()))
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let hooks = mock.webhooks();
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0].name, "other");
    assert_eq!(hooks[0].body, serde_json::Value::Null);
    assert_eq!(mock.webhook_attempts(), 1);
}
