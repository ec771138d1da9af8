use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State as Extract;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use bytes::Bytes;
use serde_json::json;

use super::*;
use crate::secrets::Secret;

/// A receiver on 127.0.0.1:0 answering POST /hook with the statuses it is
/// given in turn (200 once they run out; 0 never answers), recording what
/// arrived.
#[derive(Default)]
struct Receiver {
    statuses: Mutex<VecDeque<u16>>,
    seen: Mutex<Vec<(HeaderMap, Bytes)>>,
}

impl Receiver {
    async fn start(statuses: &[u16]) -> (Arc<Self>, String) {
        let me = Arc::new(Self {
            statuses: Mutex::new(statuses.iter().copied().collect()),
            seen: Mutex::default(),
        });
        let app = Router::new()
            .route("/hook", post(answer))
            .with_state(Arc::clone(&me));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (me, format!("http://{addr}/hook?token=s3cret"))
    }

    fn seen(&self) -> Vec<(HeaderMap, Bytes)> {
        self.seen.lock().unwrap().clone()
    }
}

async fn answer(Extract(r): Extract<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    r.seen.lock().unwrap().push((headers, body));
    let status = r.statuses.lock().unwrap().pop_front().unwrap_or(200);
    if status == 0 {
        std::future::pending::<()>().await;
    }
    StatusCode::from_u16(status).unwrap()
}

fn settings(url: &str, secret: Option<&str>) -> WebhookSettings {
    WebhookSettings {
        secret: secret.map(|s| Secret::new(s.into())),
        timeout: Duration::from_secs(5),
        attempts: 5,
        backoff: Duration::from_millis(2),
        ..WebhookSettings::new(url)
    }
}

/// `flush` blocks: off the runtime that serves the receiver.
async fn flushed(hook: &Webhook) -> usize {
    let hook = hook.clone();
    tokio::task::spawn_blocking(move || hook.flush(Duration::from_secs(10)))
        .await
        .unwrap()
}

fn count(hook: &Webhook, outcome: Outcome) -> u64 {
    let c = &hook.inner.state.counts;
    let n = match outcome {
        Outcome::Delivered => &c.delivered,
        Outcome::Retried => &c.retried,
        Outcome::Failed => &c.failed,
        Outcome::Dropped => &c.dropped,
    };
    n.load(Ordering::Relaxed)
}

fn metric(outcome: &str) -> u64 {
    metrics()
        .webhook_deliveries
        .with_label_values(&[outcome])
        .get()
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).unwrap().to_str().unwrap()
}

#[test]
fn hmac_matches_rfc_4231_case_2() {
    let expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
    let mac = hmac_sha256(b"Jefe", &[b"what do ya want for nothing?"]);
    assert_eq!(hex(&mac), expected);
    // Parts are concatenated.
    let mac = hmac_sha256(b"Jefe", &[b"what do ya ", b"", b"want for nothing?"]);
    assert_eq!(hex(&mac), expected);
}

#[test]
fn signature_signs_timestamp_dot_body() {
    // python3: hmac.new(b"whsec_test", b'1700000000.{"event":"budget.threshold"}',
    //                   hashlib.sha256).hexdigest()
    let sig = signature(
        b"whsec_test",
        1_700_000_000,
        br#"{"event":"budget.threshold"}"#,
    );
    assert_eq!(
        sig,
        "t=1700000000,v1=002915667074be2a7576a4faff279c7e1a069ef7dce38e25e485b262f3d2495a"
    );
    let other_time = signature(
        b"whsec_test",
        1_700_000_001,
        br#"{"event":"budget.threshold"}"#,
    );
    assert_ne!(other_time[16..], sig[16..]);
}

#[test]
fn backoff_doubles_up_to_a_minute() {
    let first = Duration::from_millis(10);
    let waits: Vec<_> = (0..4).map(|n| backoff(first, n)).collect();
    assert_eq!(waits, [10, 20, 40, 80].map(Duration::from_millis).to_vec());
    let s = Duration::from_secs(1);
    assert_eq!(backoff(s, 5), Duration::from_secs(32));
    assert_eq!(backoff(s, 6), Duration::from_secs(60));
    assert_eq!(backoff(s, 40), Duration::from_secs(60));
    assert_eq!(backoff(Duration::MAX, 3), Duration::from_secs(60));
}

#[test]
fn jitter_stays_within_twenty_percent() {
    let d = Duration::from_secs(10);
    assert_eq!(jittered(d, 0.0), Duration::from_secs(8));
    assert_eq!(jittered(d, 0.5), Duration::from_secs(10));
    assert_eq!(jittered(d, 1.0), Duration::from_secs(12));
    assert_eq!(
        jittered(Duration::from_secs(60), 1.0),
        Duration::from_secs(60)
    );
    for _ in 0..100 {
        let j = jittered(d, rand::thread_rng().gen());
        assert!(
            j >= Duration::from_secs(8) && j <= Duration::from_secs(12),
            "{j:?}"
        );
    }
}

#[test]
fn retries_only_transient_failures() {
    for s in [408, 429, 500, 502, 503, 504, 599] {
        assert!(Failure::Status(s).retryable(), "{s}");
    }
    for s in [301, 400, 401, 403, 404, 409, 422] {
        assert!(!Failure::Status(s).retryable(), "{s}");
    }
    assert!(Failure::Timeout(Duration::from_secs(1)).retryable());
    assert!(Failure::Unreachable("refused".into()).retryable());
    assert!(!Failure::Invalid("bad".into()).retryable());
}

#[test]
fn logs_show_the_url_without_secrets() {
    assert_eq!(
        redact("https://user:pw@hooks.example.com:8443/alert?token=abc#x"),
        "https://hooks.example.com:8443/alert"
    );
    assert_eq!(redact("not a url"), "(an invalid URL)");
    let s = settings("http://h/x", Some("whsec_hidden"));
    assert!(!format!("{s:?}").contains("whsec_hidden"));
    let hook = Webhook::new(settings("http://u:p@h/x?k=v", None));
    assert_eq!(format!("{hook:?}"), r#"Webhook { url: "http://h/x", .. }"#);
}

#[test]
fn event_ids_are_unique_uuids() {
    let a = event_id();
    let b = event_id();
    assert_ne!(a, b);
    assert_eq!(a.len(), 36);
    let groups: Vec<_> = a.split('-').map(str::len).collect();
    assert_eq!(groups, [8, 4, 4, 4, 12]);
    assert_eq!(&a[14..15], "4");
    assert!("89ab".contains(&a[19..20]), "{a}");
}

#[tokio::test]
async fn delivers_after_two_503s_with_one_id_and_a_valid_signature() {
    let (receiver, url) = Receiver::start(&[503, 503]).await;
    let (retried, delivered) = (metric("retried"), metric("delivered"));
    let hook = Webhook::new(settings(&url, Some("whsec_test")));
    let event = json!({"type": "budget.threshold", "key": "team-a", "threshold": 0.8});
    hook.send(event.clone());
    assert_eq!(flushed(&hook).await, 0);

    assert_eq!(count(&hook, Outcome::Delivered), 1);
    assert_eq!(count(&hook, Outcome::Retried), 2);
    assert_eq!(count(&hook, Outcome::Failed), 0);
    assert!(metric("retried") >= retried + 2);
    assert!(metric("delivered") > delivered);

    let seen = receiver.seen();
    assert_eq!(seen.len(), 3);
    let id = header(&seen[0].0, EVENT_ID_HEADER).to_string();
    for (headers, body) in &seen {
        assert_eq!(header(headers, EVENT_ID_HEADER), id);
        assert_eq!(header(headers, "content-type"), "application/json");
        assert_eq!(header(headers, "user-agent"), "switchyard");
        let got: serde_json::Value = serde_json::from_slice(body).unwrap();
        assert_eq!(got, event);
        let sig = header(headers, SIGNATURE_HEADER);
        let t: u64 = sig
            .strip_prefix("t=")
            .and_then(|s| s.split(',').next())
            .unwrap()
            .parse()
            .unwrap();
        assert!(t.abs_diff(unix_now()) < 60, "{sig}");
        assert_eq!(sig, signature(b"whsec_test", t, body));
    }
}

#[tokio::test]
async fn a_400_is_not_retried() {
    let (receiver, url) = Receiver::start(&[400]).await;
    let failed = metric("failed");
    let hook = Webhook::new(settings(&url, None));
    hook.send(json!({"type": "budget.threshold"}));
    assert_eq!(flushed(&hook).await, 0);

    let seen = receiver.seen();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].0.get(SIGNATURE_HEADER).is_none());
    assert_eq!(count(&hook, Outcome::Failed), 1);
    assert_eq!(count(&hook, Outcome::Retried), 0);
    assert_eq!(count(&hook, Outcome::Delivered), 0);
    assert!(metric("failed") > failed);
}

#[tokio::test]
async fn gives_up_after_the_last_attempt() {
    // 503 every time: 3 tries, 2 retries, then failed.
    let (receiver, url) = Receiver::start(&[503; 10]).await;
    let hook = Webhook::new(WebhookSettings {
        attempts: 3,
        ..settings(&url, None)
    });
    hook.send(json!({"type": "budget.threshold"}));
    assert_eq!(flushed(&hook).await, 0);
    assert_eq!(receiver.seen().len(), 3);
    assert_eq!(count(&hook, Outcome::Retried), 2);
    assert_eq!(count(&hook, Outcome::Failed), 1);
}

#[tokio::test]
async fn a_refused_connection_is_retried() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let hook = Webhook::new(WebhookSettings {
        attempts: 2,
        ..settings(&format!("http://{addr}/hook"), None)
    });
    hook.send(json!({"type": "budget.threshold"}));
    assert_eq!(flushed(&hook).await, 0);
    assert_eq!(count(&hook, Outcome::Retried), 1);
    assert_eq!(count(&hook, Outcome::Failed), 1);
}

#[tokio::test]
async fn events_beyond_the_queue_are_dropped() {
    // The receiver never answers: the first event holds the thread.
    let (_receiver, url) = Receiver::start(&[0; QUEUE + 10]).await;
    let dropped = metric("dropped");
    let hook = Webhook::new(WebhookSettings {
        attempts: 1,
        ..settings(&url, None)
    });
    for i in 0..QUEUE + 6 {
        hook.send(json!({"n": i}));
    }
    assert_eq!(count(&hook, Outcome::Dropped), 6);
    assert!(metric("dropped") >= dropped + 6);
    assert_eq!(hook.flush(Duration::ZERO), QUEUE);
}

#[test]
fn flush_without_events_returns_at_once() {
    let hook = Webhook::new(settings("http://127.0.0.1:9/hook", None));
    assert_eq!(hook.flush(Duration::from_secs(5)), 0);
}

#[tokio::test]
async fn the_mock_receiver_gets_one_event_after_its_failures() {
    let mock = switchyard_mock::MockServer::start(switchyard_mock::MockConfig {
        webhook_failures: 1,
        ..Default::default()
    })
    .await
    .unwrap();
    let hook = Webhook::new(settings(&format!("{}/hooks/budget", mock.url()), Some("k")));
    hook.send(json!({"type": "budget.threshold"}));
    assert_eq!(flushed(&hook).await, 0);
    assert_eq!(mock.webhook_attempts(), 2);
    let got = mock.webhooks();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, json!({"type": "budget.threshold"}));
    let sig = got[0].header(SIGNATURE_HEADER).unwrap();
    let body = got[0].body.to_string();
    let t = sig[2..sig.find(',').unwrap()].parse().unwrap();
    assert_eq!(sig, signature(b"k", t, body.as_bytes()));
}
