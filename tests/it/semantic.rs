//! The semantic cache (issue 23) through the real gateway: a paraphrase is
//! answered from the cached answer of a prompt near enough in meaning
//! (JSON and replayed streams, `x-switchyard-cache: semantic` with the
//! similarity), a different question is not, the rest of the request must
//! match exactly, the embedding call is priced and recorded like any
//! request, a failed embedding call never fails the request, and a fleet
//! shares entries through Redis. The mock's `mock-semantic-*` embeddings
//! model is a bag-of-words embedder: paraphrases that share content words
//! (or the synonyms it knows) land near each other.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::*;

/// Route `m` with a semantic cache through route `embed`; `global` goes
/// first (ledger, state), `cache` is more of the route's cache block.
fn config(chat: &MockServer, embed: &MockServer, global: &str, cache: &str) -> String {
    format!(
        "{global}providers:\n{}    models:\n      up: {{ input_per_mtok: 1, output_per_mtok: 2 }}\n{}    models:\n      mock-semantic-embed: {{ input_per_mtok: 100 }}\nroutes:\n  - match: {{ model: m }}\n    targets: [{{ provider: p, model: up }}]\n    cache:\n      when: always\n      semantic: {{ embeddings: embed, threshold: 0.8 }}\n{cache}  - match: {{ model: embed }}\n    targets: [{{ provider: e, model: mock-semantic-embed }}]\n",
        provider("p", "openai", chat, None),
        provider("e", "openai", embed, None),
    )
}

fn ask(text: &str, stream: bool) -> Value {
    json!({"model": "m", "stream": stream, "messages": [
        {"role": "system", "content": "You are a helpful travel assistant."},
        {"role": "user", "content": text}
    ]})
}

/// (endpoint, route, provider, cache, cost) of each ledger row, in order.
fn rows(db: &Path) -> Vec<(String, String, String, String, f64)> {
    let Ok(db) = rusqlite::Connection::open(db) else {
        return Vec::new();
    };
    let Ok(mut stmt) = db.prepare(
        "SELECT endpoint, route, provider, cache, cost_usd FROM switchyard_usage ORDER BY at_ms",
    ) else {
        return Vec::new();
    };
    stmt.query_map([], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

#[tokio::test]
async fn a_paraphrase_is_answered_from_the_cache_and_a_different_question_is_not() {
    let chat = MockServer::start(MockConfig::default()).await.unwrap();
    let embed = MockServer::start(MockConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("usage.db");
    let ledger = format!(
        "ledger: {{ url: \"sqlite:{}\", flush_interval: 100ms }}\n",
        db.display()
    );
    let gw = Gateway::start(&config(&chat, &embed, &ledger, "")).await;

    let r = gw
        .post(
            "/v1/chat/completions",
            &ask("What is the capital city of France?", false),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-switchyard-cache"), "miss");
    let first: Value = r.json().await.unwrap();
    assert_eq!(chat.hits(), 1);
    assert_eq!(embed.hits(), 1, "the prompt was embedded");

    let r = gw
        .post(
            "/v1/chat/completions",
            &ask("Tell me the capital of France, please", false),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-switchyard-cache"), "semantic");
    let similarity: f32 = header(&r, "x-switchyard-cache-similarity").parse().unwrap();
    assert!((0.8..=1.0).contains(&similarity), "{similarity}");
    let again: Value = r.json().await.unwrap();
    assert_eq!(again["choices"], first["choices"]);
    assert_eq!(chat.hits(), 1, "the paraphrase never reached the provider");

    // Streamed: the cached answer replayed as a stream.
    let r = gw
        .post(
            "/v1/chat/completions",
            &ask("France: what is its capital city?", true),
        )
        .await;
    assert_eq!(header(&r, "x-switchyard-cache"), "semantic");
    let events = read_sse(r).await;
    assert_eq!(
        stream_text(&events),
        first["choices"][0]["message"]["content"].as_str().unwrap()
    );
    assert_eq!(events.last().unwrap().event.data, "[DONE]");
    assert_eq!(chat.hits(), 1);

    // A different question sharing words is not answered from the cache.
    let r = gw
        .post(
            "/v1/chat/completions",
            &ask("What is the population of Germany?", false),
        )
        .await;
    assert_eq!(header(&r, "x-switchyard-cache"), "miss");
    assert_eq!(chat.hits(), 2);
    // The same words under another system prompt: the rest must match.
    let mut other = ask("Tell me the capital of France, please", false);
    other["messages"][0]["content"] = json!("You are a pirate.");
    let r = gw.post("/v1/chat/completions", &other).await;
    assert_eq!(header(&r, "x-switchyard-cache"), "miss");
    assert_eq!(chat.hits(), 3);
    // Too short to match by meaning: exact cache only, no embedding call.
    let before = embed.hits();
    gw.post("/v1/chat/completions", &ask("hi", false)).await;
    assert_eq!(embed.hits(), before);

    let metrics = gw.metrics().await;
    for line in [
        "gateway_semantic_cache_lookups_total{result=\"hit\",route=\"m\"} 2",
        "gateway_semantic_cache_lookups_total{result=\"miss\",route=\"m\"} 3",
        "gateway_semantic_cache_lookups_total{result=\"skipped\",route=\"m\"} 1",
        "gateway_cache_requests_total{result=\"semantic\"} 2",
        "gateway_semantic_cache_entries 3",
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
    // Each embedding call is a priced request of its own in the ledger.
    let recorded = eventually(Duration::from_secs(5), || async { rows(&db).len() == 11 }).await;
    assert!(recorded, "{:#?}", rows(&db));
    let rows = rows(&db);
    let embeddings: Vec<_> = rows.iter().filter(|r| r.0 == "embeddings").collect();
    assert_eq!(embeddings.len(), 5, "{rows:#?}");
    assert!(
        embeddings
            .iter()
            .all(|r| r.1 == "embed" && r.2 == "e" && r.4 > 0.0),
        "{embeddings:#?}"
    );
    let semantic: Vec<_> = rows.iter().filter(|r| r.3 == "semantic").collect();
    assert_eq!(semantic.len(), 2, "{rows:#?}");
    assert!(
        semantic.iter().all(|r| r.0 == "chat" && r.4 == 0.0),
        "{semantic:#?}"
    );
}

#[tokio::test]
async fn a_failed_embedding_call_skips_the_semantic_cache_not_the_request() {
    let chat = MockServer::start(MockConfig::default()).await.unwrap();
    let embed = MockServer::start(MockConfig::default()).await.unwrap();
    let gw = Gateway::start(&config(&chat, &embed, "", "")).await;
    embed.set_fault(Some(Fault::Status {
        code: 500,
        retry_after: None,
    }));
    let q = ask("What is the capital city of France?", false);
    let r = gw.post("/v1/chat/completions", &q).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-switchyard-cache"), "miss");
    // The exact cache still works.
    let r = gw.post("/v1/chat/completions", &q).await;
    assert_eq!(header(&r, "x-switchyard-cache"), "hit");
    assert_eq!(chat.hits(), 1);
    assert_one_error(&gw).await;
}

#[tokio::test]
async fn a_slow_embedding_call_is_given_up_after_its_timeout() {
    let chat = MockServer::start(MockConfig::default()).await.unwrap();
    let embed = MockServer::start(MockConfig {
        latency: Duration::from_secs(10),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let yaml = config(&chat, &embed, "", "")
        .replace("threshold: 0.8 }", "threshold: 0.8, timeout: 300ms }");
    let gw = Gateway::start(&yaml).await;
    let began = std::time::Instant::now();
    let r = gw
        .post(
            "/v1/chat/completions",
            &ask("What is the capital city of France?", false),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-switchyard-cache"), "miss");
    assert!(
        began.elapsed() < Duration::from_secs(8),
        "waited for the embedding call: {:?}",
        began.elapsed()
    );
    assert_one_error(&gw).await;
}

#[tokio::test]
async fn identical_requests_in_flight_make_one_embedding_call() {
    let chat = MockServer::start(MockConfig {
        latency: Duration::from_millis(300),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let embed = MockServer::start(MockConfig::default()).await.unwrap();
    let gw = Gateway::start(&config(&chat, &embed, "", "")).await;
    let q = ask("What is the capital city of France?", false);
    let answers =
        futures_util::future::join_all((0..10).map(|_| gw.post("/v1/chat/completions", &q))).await;
    assert!(answers.iter().all(|r| r.status() == 200));
    assert_eq!(chat.hits(), 1);
    assert_eq!(
        embed.hits(),
        1,
        "one lookup for the leader and its followers"
    );
    // Afterwards a paraphrase takes one more embedding call, and no
    // provider call.
    let r = gw
        .post(
            "/v1/chat/completions",
            &ask("Tell me the capital of France, please", false),
        )
        .await;
    assert_eq!(header(&r, "x-switchyard-cache"), "semantic");
    assert_eq!((chat.hits(), embed.hits()), (1, 2));
}

#[tokio::test]
async fn the_embeddings_model_is_asked_for_the_configured_dimensions() {
    let chat = MockServer::start(MockConfig::default()).await.unwrap();
    let embed = MockServer::start(MockConfig::default()).await.unwrap();
    let yaml = config(&chat, &embed, "", "")
        .replace("threshold: 0.8 }", "threshold: 0.8, dimensions: 64 }");
    let gw = Gateway::start(&yaml).await;
    gw.post(
        "/v1/chat/completions",
        &ask("What is the capital city of France?", false),
    )
    .await;
    let sent: Value = embed.last_request().unwrap().json().unwrap();
    assert_eq!(sent["dimensions"], 64);
    assert_eq!(sent["input"], "What is the capital city of France?");
    let r = gw
        .post(
            "/v1/chat/completions",
            &ask("Tell me the capital of France, please", false),
        )
        .await;
    assert_eq!(header(&r, "x-switchyard-cache"), "semantic");
}

#[tokio::test]
async fn entries_are_per_key_unless_the_route_shares_them() {
    use crate::policy::{key_entry, KEY_A, KEY_B};
    let chat = MockServer::start(MockConfig::default()).await.unwrap();
    let embed = MockServer::start(MockConfig::default()).await.unwrap();
    let auth = format!(
        "{}auth:\n  keys:\n{}{}",
        admin_yaml(),
        key_entry("a", KEY_A, ""),
        key_entry("b", KEY_B, "")
    );
    let gw = Gateway::start(&config(&chat, &embed, &auth, "")).await;
    let send = |key: &'static str, text: &'static str| {
        gw.client
            .post(gw.url("/v1/chat/completions"))
            .bearer_auth(key)
            .json(&ask(text, false))
            .send()
    };
    send(KEY_A, "What is the capital city of France?")
        .await
        .unwrap();
    let r = send(KEY_B, "Tell me the capital of France, please")
        .await
        .unwrap();
    assert_eq!(
        header(&r, "x-switchyard-cache"),
        "miss",
        "b sees none of a's"
    );
    let r = send(KEY_A, "Tell me the capital of France, please")
        .await
        .unwrap();
    assert_eq!(header(&r, "x-switchyard-cache"), "semantic");
    assert_eq!(chat.hits(), 2);
}

#[tokio::test]
async fn a_fleet_shares_entries_through_redis() {
    let redis = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let chat = MockServer::start(MockConfig::default()).await.unwrap();
    let embed = MockServer::start(MockConfig::default()).await.unwrap();
    let prefix = format!("sy-semantic-{:016x}:", rand::random::<u64>());
    let state = format!("state: {{ redis: \"{redis}\", prefix: \"{prefix}\" }}\n");
    let yaml = config(&chat, &embed, &state, "      shared: true\n");
    let one = Gateway::start(&yaml).await;
    let two = Gateway::start(&yaml).await;
    let r = one
        .post(
            "/v1/chat/completions",
            &ask("What is the capital city of France?", false),
        )
        .await;
    assert_eq!(header(&r, "x-switchyard-cache"), "miss");
    // The other instance indexes it within its follower's poll interval
    // (waited for without asking it anything: a miss there would keep an
    // entry of its own).
    assert!(
        indexed(&two).await,
        "the second gateway never saw the entry"
    );
    let r = two
        .post(
            "/v1/chat/completions",
            &ask("Tell me the capital of France, please", false),
        )
        .await;
    assert_eq!(header(&r, "x-switchyard-cache"), "semantic");
    // A third instance started afterwards warms up from the stream.
    let three = Gateway::start(&yaml).await;
    assert!(indexed(&three).await, "a new gateway did not warm up");
    let r = three
        .post(
            "/v1/chat/completions",
            &ask("France's capital city, what is it?", false),
        )
        .await;
    assert_eq!(header(&r, "x-switchyard-cache"), "semantic");
    assert_eq!(chat.hits(), 1, "one provider call for the whole fleet");
}

/// Waits until `gw` holds one semantic entry.
async fn indexed(gw: &Gateway) -> bool {
    eventually(Duration::from_secs(5), || async {
        gw.metrics()
            .await
            .contains("gateway_semantic_cache_entries 1")
    })
    .await
}

/// `gw` counted one failed semantic lookup on route `m`.
async fn assert_one_error(gw: &Gateway) {
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains("gateway_semantic_cache_lookups_total{result=\"error\",route=\"m\"} 1"),
        "{metrics}"
    );
}
