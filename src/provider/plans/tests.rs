use super::*;

fn head(target: &str) -> Arc<RequestHead> {
    let upstream = crate::upstream::Upstream::parse("http://127.0.0.1:9").unwrap();
    Arc::new(RequestHead::new(http::Method::POST, &upstream, target, &[]).unwrap())
}

fn key(model: &str) -> PlanKey<'_> {
    PlanKey {
        backend: "b0",
        endpoint: "chat",
        model,
        stream: false,
        include_usage: false,
        encoding_format: None,
    }
}

#[test]
fn keeps_one_head_per_distinct_key() {
    let memo = PlanMemo::default();
    assert!(memo.get(&key("m")).is_none());
    memo.put(&key("m"), head("/a"));
    assert_eq!(memo.get(&key("m")).unwrap().target, "/a");
    let streaming = PlanKey {
        stream: true,
        ..key("m")
    };
    assert!(memo.get(&streaming).is_none());
    assert!(memo.get(&key("other")).is_none());
    let other_backend = PlanKey {
        backend: "b1",
        ..key("m")
    };
    assert!(memo.get(&other_backend).is_none());
}

#[test]
fn stays_bounded_whatever_models_clients_send() {
    let memo = PlanMemo::default();
    for i in 0..(CAPACITY * 3) {
        let model = format!("model-{i}");
        memo.put(&key(&model), head("/x"));
        assert!(memo.len() <= CAPACITY);
    }
}
