//! Answers when every provider is down (issue 23): the request's cached
//! answer past its TTL (`serve_stale`), else the route's fallback message,
//! else the error — each marked in the headers, the metrics and the
//! ledger, through the real gateway.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::*;

/// Route `m` with `own` (more YAML at the route's indentation), and route
/// `plain` on the same provider with nothing degraded; one attempt each.
fn config(mock: &MockServer, db: &Path, own: &str) -> String {
    format!(
        "ledger: {{ url: \"sqlite:{}\", flush_interval: 100ms }}\nproviders:\n{}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: p }}]\n    retry: {{ max_attempts: 1 }}\n{own}  - match: {{ model: plain }}\n    targets: [{{ provider: p }}]\n    retry: {{ max_attempts: 1 }}\n    cache: {{ when: always, ttl: 300ms }}\n",
        db.display(),
        provider("p", "openai", mock, None)
    )
}

fn ask(model: &str, text: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": text}]})
}

fn down() -> Option<Fault> {
    Some(Fault::Status {
        code: 503,
        retry_after: None,
    })
}

/// (status, provider, cache) of each ledger row, in order.
fn rows(db: &Path) -> Vec<(i64, String, String)> {
    let Ok(db) = rusqlite::Connection::open(db) else {
        return Vec::new();
    };
    let Ok(mut stmt) =
        db.prepare("SELECT status, provider, cache FROM switchyard_usage ORDER BY at_ms")
    else {
        return Vec::new();
    };
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[tokio::test]
async fn a_stale_answer_stands_in_when_every_provider_is_down() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("usage.db");
    let own = "    cache: { when: always, ttl: 300ms, serve_stale: 1h }\n";
    let gw = Gateway::start(&config(&mock, &db, own)).await;
    let question = ask("m", "What is the capital of France?", false);
    let r = gw.post("/v1/chat/completions", &question).await;
    assert_eq!(header(&r, "x-switchyard-cache"), "miss");
    let first: Value = r.json().await.unwrap();
    // Past the TTL, with the provider up: a fresh call, not the stale entry.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let r = gw.post("/v1/chat/completions", &question).await;
    assert_eq!(header(&r, "x-switchyard-cache"), "miss");
    assert_eq!(mock.hits(), 2);
    tokio::time::sleep(Duration::from_millis(400)).await;

    mock.set_fault(down());
    let r = gw.post("/v1/chat/completions", &question).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-switchyard-cache"), "stale");
    assert!(
        header(&r, "x-switchyard-stale-seconds")
            .parse::<u64>()
            .is_ok(),
        "how stale the answer is"
    );
    assert_eq!(header(&r, "x-switchyard-attempts"), "p:503");
    let stale: Value = r.json().await.unwrap();
    assert_eq!(stale["choices"], first["choices"]);

    // Streamed: the stale answer is replayed as a stream.
    let r = gw
        .post(
            "/v1/chat/completions",
            &ask("m", "What is the capital of France?", true),
        )
        .await;
    assert_eq!(header(&r, "x-switchyard-cache"), "stale");
    let events = read_sse(r).await;
    assert_eq!(stream_text(&events), mock_text(5));
    assert_eq!(events.last().unwrap().event.data, "[DONE]");

    // Another question has no stale answer, and this route no fallback.
    let r = gw
        .post("/v1/chat/completions", &ask("m", "Something new", false))
        .await;
    assert_eq!(r.status(), 502);
    // A route that keeps no stale answers fails as before.
    let plain = ask("plain", "What is the capital of France?", false);
    mock.set_fault(None);
    gw.post("/v1/chat/completions", &plain).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    mock.set_fault(down());
    let r = gw.post("/v1/chat/completions", &plain).await;
    assert_eq!(r.status(), 502);
    // A client that asked not to be answered from the cache gets the error.
    let r = gw
        .client
        .post(gw.url("/v1/chat/completions"))
        .header("cache-control", "no-cache")
        .json(&question)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);

    let metrics = gw.metrics().await;
    assert!(
        metrics.contains("gateway_degraded_answers_total{kind=\"stale\",route=\"m\"} 2"),
        "{metrics}"
    );
    let recorded = eventually(Duration::from_secs(5), || async { rows(&db).len() == 8 }).await;
    assert!(recorded, "{:?}", rows(&db));
    let stale_rows: Vec<_> = rows(&db).into_iter().filter(|r| r.2 == "stale").collect();
    assert_eq!(stale_rows.len(), 2, "{:?}", rows(&db));
    assert!(stale_rows.iter().all(|r| r.0 == 200 && r.1 == "p"));
}

#[tokio::test]
async fn a_stale_answer_is_served_only_within_its_window() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("usage.db");
    let own = "    cache: { when: always, ttl: 200ms, serve_stale: 300ms }\n";
    let gw = Gateway::start(&config(&mock, &db, own)).await;
    let question = ask("m", "How do I boil an egg?", false);
    gw.post("/v1/chat/completions", &question).await;
    mock.set_fault(down());
    tokio::time::sleep(Duration::from_millis(250)).await;
    let r = gw.post("/v1/chat/completions", &question).await;
    assert_eq!(header(&r, "x-switchyard-cache"), "stale");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let r = gw.post("/v1/chat/completions", &question).await;
    assert_eq!(r.status(), 502, "past ttl + serve_stale");
}

#[tokio::test]
async fn the_fallback_answers_when_every_provider_is_down_and_says_so() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("usage.db");
    let own =
        "    fallback: { message: \"Our assistants are busy. Please try again in a minute.\" }\n";
    let gw = Gateway::start(&config(&mock, &db, own)).await;
    mock.set_fault(down());
    let r = gw
        .post("/v1/chat/completions", &ask("m", "hello", false))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-switchyard-fallback"), "true");
    assert_eq!(header(&r, "x-switchyard-cache"), "fallback");
    assert_eq!(header(&r, "x-switchyard-provider"), "fallback");
    assert_eq!(header(&r, "x-switchyard-attempts"), "p:503");
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Our assistants are busy. Please try again in a minute."
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["object"], "chat.completion");

    // Streamed, and in the Anthropic and Responses dialects.
    let r = gw
        .post("/v1/chat/completions", &ask("m", "hello", true))
        .await;
    assert_eq!(header(&r, "x-switchyard-fallback"), "true");
    let events = read_sse(r).await;
    assert_eq!(
        stream_text(&events),
        "Our assistants are busy. Please try again in a minute."
    );
    assert_eq!(events.last().unwrap().event.data, "[DONE]");
    let r = gw
        .client
        .post(gw.url("/v1/messages"))
        .json(&json!({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&r, "x-switchyard-fallback"), "true");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["type"], "message", "{v}");
    assert_eq!(v["stop_reason"], "end_turn");
    let r = gw
        .post("/v1/responses", &json!({"model": "m", "input": "hi"}))
        .await;
    assert_eq!(header(&r, "x-switchyard-fallback"), "true");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["object"], "response", "{v}");
    assert_eq!(v["status"], "completed", "{v}");
    assert_eq!(
        v["output"][0]["content"][0]["text"],
        "Our assistants are busy. Please try again in a minute.",
        "{v}"
    );

    // A request the provider refuses as invalid gets its error, not the
    // fallback: nothing another provider could have answered.
    mock.set_fault(Some(Fault::Status {
        code: 400,
        retry_after: None,
    }));
    let r = gw
        .post("/v1/chat/completions", &ask("m", "hello", false))
        .await;
    assert_eq!(r.status(), 400);
    // Embeddings have no fallback answer.
    mock.set_fault(down());
    let r = gw
        .post("/v1/embeddings", &json!({"model": "m", "input": "hello"}))
        .await;
    assert_eq!(r.status(), 502);
    // The provider back: real answers again.
    mock.set_fault(None);
    let r = gw
        .post("/v1/chat/completions", &ask("m", "hello", false))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-switchyard-fallback"), "");
    assert_eq!(header(&r, "x-switchyard-provider"), "p");

    let metrics = gw.metrics().await;
    assert!(
        metrics.contains("gateway_degraded_answers_total{kind=\"fallback\",route=\"m\"} 4"),
        "{metrics}"
    );
    let recorded = eventually(Duration::from_secs(5), || async { rows(&db).len() == 7 }).await;
    assert!(recorded, "{:?}", rows(&db));
    let fallbacks: Vec<_> = rows(&db)
        .into_iter()
        .filter(|r| r.2 == "fallback")
        .collect();
    assert_eq!(fallbacks.len(), 4, "{:?}", rows(&db));
    assert!(fallbacks.iter().all(|r| r.0 == 200 && r.1 == "fallback"));
}

#[tokio::test]
async fn a_stale_answer_comes_before_the_fallback() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("usage.db");
    let own = "    cache: { when: always, ttl: 200ms, serve_stale: 1h }\n    fallback: { message: \"Busy.\" }\n";
    let gw = Gateway::start(&config(&mock, &db, own)).await;
    let question = ask("m", "Which wine goes with fish?", false);
    gw.post("/v1/chat/completions", &question).await;
    tokio::time::sleep(Duration::from_millis(250)).await;
    mock.set_fault(down());
    let r = gw.post("/v1/chat/completions", &question).await;
    assert_eq!(header(&r, "x-switchyard-cache"), "stale");
    let r = gw
        .post(
            "/v1/chat/completions",
            &ask("m", "Never asked before", false),
        )
        .await;
    assert_eq!(header(&r, "x-switchyard-cache"), "fallback");
}
