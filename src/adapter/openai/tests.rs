use super::*;

fn ctx(options: Value, key: Option<&str>) -> Ctx {
    Ctx {
        endpoint: "chat",
        model: "gpt-4o".into(),
        api_key: key.map(str::to_string),
        options: Arc::new(options.as_object().cloned().unwrap_or_default()),
        ..Ctx::default()
    }
}

#[test]
fn bearer_is_the_default_and_header_and_none_are_honoured() {
    let plan = OPENAI
        .plan(&ctx(serde_json::json!({}), Some("sk-1")))
        .unwrap();
    assert_eq!(plan.path, "/chat/completions");
    assert_eq!(
        plan.headers,
        [("authorization".into(), "Bearer sk-1".into())]
    );
    let plan = OPENAI
        .plan(&ctx(
            serde_json::json!({"auth": "header:Api-Key"}),
            Some("k"),
        ))
        .unwrap();
    assert_eq!(plan.headers, [("api-key".into(), "k".into())]);
    let plan = OPENAI
        .plan(&ctx(serde_json::json!({"auth": "none"}), Some("k")))
        .unwrap();
    assert!(plan.headers.is_empty());
    assert!(OPENAI
        .plan(&ctx(serde_json::json!({}), None))
        .unwrap()
        .headers
        .is_empty());
    let err = OPENAI
        .plan(&ctx(serde_json::json!({"auth": "basic"}), Some("k")))
        .unwrap_err();
    assert!(
        err.to_string().contains("unknown auth style 'basic'"),
        "{err}"
    );
}

#[test]
fn embeddings_and_organization_headers() {
    let mut c = ctx(
        serde_json::json!({"organization": "org-1", "project": "proj_2"}),
        Some("k"),
    );
    c.endpoint = "embeddings";
    let plan = OPENAI.plan(&c).unwrap();
    assert_eq!(plan.path, "/embeddings");
    assert!(plan
        .headers
        .contains(&("openai-organization".into(), "org-1".into())));
    assert!(plan
        .headers
        .contains(&("openai-project".into(), "proj_2".into())));
}
