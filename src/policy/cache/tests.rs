use super::*;

fn req(body: Value) -> Value {
    crate::request::parse_value(Endpoint::Chat, body)
        .unwrap()
        .body
}

fn policy(when: CacheWhen) -> RouteCache {
    RouteCache {
        ttl: Duration::from_secs(60),
        when,
        shared: false,
        coalesce: true,
        serve_stale: Duration::ZERO,
        semantic: None,
    }
}

#[test]
fn key_ignores_stream_and_key_order_but_not_sampling() {
    let a = req(json!({"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":0}));
    let b = req(
        json!({"temperature":0,"stream":true,"messages":[{"role":"user","content":"hi"}],"model":"m"}),
    );
    let c = req(json!({"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":0.5}));
    assert_eq!(
        key("r", "k", Endpoint::Chat, &a),
        key("r", "k", Endpoint::Chat, &b)
    );
    assert_ne!(
        key("r", "k", Endpoint::Chat, &a),
        key("r", "k", Endpoint::Chat, &c)
    );
    assert_ne!(
        key("r", "k", Endpoint::Chat, &a),
        key("r", "other", Endpoint::Chat, &a)
    );
    assert_ne!(
        key("r", "k", Endpoint::Chat, &a),
        key("r2", "k", Endpoint::Chat, &a)
    );
}

#[test]
fn deterministic_caches_temperature_zero_or_opt_in_only() {
    let zero = req(json!({"model":"m","messages":[{"role":"user","content":"q"}],"temperature":0}));
    let warm =
        req(json!({"model":"m","messages":[{"role":"user","content":"q"}],"temperature":0.7}));
    let p = policy(CacheWhen::Deterministic);
    let none = HeaderMap::new();
    assert_eq!(
        decide(&p, Endpoint::Chat, &zero, &none),
        Some(Use::ReadWrite)
    );
    assert_eq!(decide(&p, Endpoint::Chat, &warm, &none), None);
    let mut opt_in = HeaderMap::new();
    opt_in.insert("x-switchyard-cache", "use".parse().unwrap());
    assert_eq!(
        decide(&p, Endpoint::Chat, &warm, &opt_in),
        Some(Use::ReadWrite)
    );
    assert_eq!(
        decide(&policy(CacheWhen::Always), Endpoint::Chat, &warm, &none),
        Some(Use::ReadWrite)
    );
}

#[test]
fn cache_control_bypasses_or_refreshes() {
    let zero = req(json!({"model":"m","messages":[{"role":"user","content":"q"}],"temperature":0}));
    let p = policy(CacheWhen::Deterministic);
    let mut h = HeaderMap::new();
    h.insert("cache-control", "no-store".parse().unwrap());
    assert_eq!(decide(&p, Endpoint::Chat, &zero, &h), None);
    h.insert("cache-control", "no-cache".parse().unwrap());
    assert_eq!(decide(&p, Endpoint::Chat, &zero, &h), Some(Use::WriteOnly));
}

#[test]
fn memory_cache_expires_entries_by_their_ttl() {
    let c = MemoryCache::new(1 << 20);
    let e = Arc::new(Cached {
        provider: "p".into(),
        model: "m".into(),
        body: "{}".into(),
        prompt_tokens: 1,
        completion_tokens: 2,
        fresh_until_ms: 0,
    });
    c.put("a".into(), e.clone(), Duration::from_millis(30));
    c.put("b".into(), e, Duration::from_secs(60));
    assert!(c.get("a").is_some());
    std::thread::sleep(Duration::from_millis(50));
    assert!(c.get("a").is_none());
    assert!(c.get("b").is_some());
}

#[test]
fn memory_cache_is_bounded_in_bytes() {
    let c = MemoryCache::new(64 * 1024);
    for i in 0..200 {
        let e = Arc::new(Cached {
            provider: "p".into(),
            model: "m".into(),
            body: "x".repeat(4096),
            prompt_tokens: 1,
            completion_tokens: 2,
            fresh_until_ms: 0,
        });
        c.put(format!("k{i}"), e, Duration::from_secs(60));
    }
    c.entries.run_pending_tasks();
    assert!(c.entries.weighted_size() <= 64 * 1024);
    assert!(c.entries.entry_count() < 200);
}

#[test]
fn replay_has_content_finish_and_usage() {
    let body = json!({
        "id":"chatcmpl-1","created":1,"model":"m",
        "choices":[{"index":0,"message":{"role":"assistant","content":"hello"},"finish_reason":"stop"}],
        "usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}
    });
    let chunks = replay_chunks(&body, true);
    assert_eq!(chunks.len(), 3);
    assert_eq!(chunks[0]["choices"][0]["delta"]["content"], "hello");
    assert_eq!(chunks[1]["choices"][0]["finish_reason"], "stop");
    assert_eq!(chunks[2]["usage"]["total_tokens"], 4);
    assert_eq!(replay_chunks(&body, false).len(), 2);
}

#[test]
fn an_entry_is_fresh_for_its_ttl_then_stale_within_the_window() {
    let now = now_ms();
    let entry = |fresh_until_ms| Cached {
        provider: "p".into(),
        model: "m".into(),
        body: "{}".into(),
        prompt_tokens: 0,
        completion_tokens: 0,
        fresh_until_ms,
    };
    let fresh = entry(now + 60_000);
    assert!(fresh.fresh());
    let stale = entry(now - 10_000);
    assert!(!stale.fresh());
    assert!(stale.stale_within(Duration::from_secs(60)));
    assert!(
        !stale.stale_within(Duration::from_secs(5)),
        "past the window"
    );
    assert!(
        !stale.stale_within(Duration::ZERO),
        "no window: never stale"
    );
    // Entries from before stale answers existed decode as always fresh.
    let old: Cached = serde_json::from_str(
        r#"{"provider":"p","model":"m","body":"{}","prompt_tokens":1,"completion_tokens":2}"#,
    )
    .unwrap();
    assert!(old.fresh());
}
