use std::sync::Arc;

use serde_json::{json, Value};

use super::{family, Family, ANTHROPIC_VERSION, VERTEX};
use crate::adapter::{Ctx, Wire};

fn ctx(model: &str, stream: bool) -> Ctx {
    let options = json!({"project": "my-proj", "location": "us-east5"});
    Ctx {
        endpoint: "chat",
        model: model.into(),
        stream,
        provider: "vertex".into(),
        options: Arc::new(options.as_object().unwrap().clone()),
        ..Ctx::default()
    }
}

fn body(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 50})
}

#[test]
fn each_family_goes_to_its_publisher() {
    let path = |m: &str, s: bool| VERTEX.plan(&ctx(m, s)).unwrap().path;
    assert_eq!(
        path("gemini-2.5-flash", false),
        "/projects/my-proj/locations/us-east5/publishers/google/models/gemini-2.5-flash:generateContent"
    );
    assert_eq!(
        path("gemini-2.5-flash", true),
        "/projects/my-proj/locations/us-east5/publishers/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    );
    assert_eq!(
        path("claude-sonnet-4-5@20250929", false),
        "/projects/my-proj/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict"
    );
    assert_eq!(
        path("claude-sonnet-4-5@20250929", true),
        "/projects/my-proj/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5@20250929:streamRawPredict"
    );
    assert_eq!(
        path("meta/llama-3.3-70b-instruct-maas", true),
        "/projects/my-proj/locations/us-east5/endpoints/openapi/chat/completions"
    );
    // A name that would break the path is encoded.
    assert!(path("gemini:evil ?x", false).contains("/gemini%3Aevil%20%3Fx:generateContent"));
}

#[test]
fn publishers_can_be_named_per_model() {
    let mut c = ctx("my-tuned-claude", false);
    let mut options = (*c.options).clone();
    options.insert("publishers".into(), json!({"my-tuned-claude": "anthropic"}));
    c.options = Arc::new(options.clone());
    assert_eq!(family(&c), Family::Anthropic);
    assert!(VERTEX.check_options(&options).is_ok());
    options.insert("publishers".into(), json!({"x": "aws"}));
    assert!(VERTEX.check_options(&options).is_err());
}

#[test]
fn anthropic_bodies_carry_the_vertex_version_and_no_model() {
    let c = ctx("claude-haiku-4-5@20251001", true);
    let mut b = body("claude-haiku-4-5@20251001");
    b["stream"] = json!(true);
    let out = VERTEX.request(&b, &c).unwrap().unwrap();
    assert_eq!(out["anthropic_version"], ANTHROPIC_VERSION);
    assert!(out.get("model").is_none());
    assert_eq!(out["messages"][0]["role"], "user");
    assert_eq!(out["stream"], true);
}

#[test]
fn gemini_bodies_are_gemini_and_openapi_bodies_pass() {
    let out = VERTEX
        .request(&body("gemini-2.5-pro"), &ctx("gemini-2.5-pro", false))
        .unwrap()
        .unwrap();
    assert_eq!(out["contents"][0]["parts"][0]["text"], "hi");
    let m = "meta/llama-3.3-70b-instruct-maas";
    assert!(VERTEX.request(&body(m), &ctx(m, false)).unwrap().is_none());
    let answer = json!({"id": "x", "object": "chat.completion", "choices": []});
    assert_eq!(
        VERTEX.response(answer.clone(), &ctx(m, false)).unwrap(),
        answer
    );
    assert!(VERTEX.stream(&Arc::new(ctx(m, true))).is_none());
    assert!(VERTEX
        .stream(&Arc::new(ctx("gemini-2.5-pro", true)))
        .is_some());
}

#[test]
fn an_access_token_as_api_key_is_a_bearer_token_and_embeddings_are_refused() {
    let mut c = ctx("gemini-2.5-pro", false);
    c.api_key = Some("ya29.token".into());
    let plan = VERTEX.plan(&c).unwrap();
    assert!(plan
        .headers
        .contains(&("authorization".into(), "Bearer ya29.token".into())));
    c.endpoint = "embeddings";
    assert!(VERTEX.plan(&c).is_err());
    assert!(!VERTEX.capabilities()["embeddings"]);
}

#[test]
fn a_missing_project_is_the_adapters_failure() {
    let mut c = ctx("gemini-2.5-pro", false);
    c.options = Arc::new(serde_json::Map::new());
    let e = VERTEX.plan(&c).unwrap_err();
    assert!(e.to_string().contains("options.project is not set"), "{e}");
}
