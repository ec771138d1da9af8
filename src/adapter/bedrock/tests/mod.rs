//! Tests of the Bedrock Converse adapter: the head, requests, answers,
//! streams (through real event-stream frames) and a robustness sweep.

use std::sync::Arc;

use serde_json::{json, Value};

use super::BEDROCK;
use crate::adapter::{AdapterError, ChunkOut, Ctx, Wire};

mod request;
mod response;
mod stream;
mod sweep;

const MODEL: &str = "anthropic.claude-3-5-sonnet-20241022-v2:0";

fn ctx_for(model: &str, stream: bool, include_usage: bool, api_key: Option<&str>) -> Ctx {
    Ctx {
        endpoint: "chat",
        model: model.to_string(),
        stream,
        include_usage,
        provider: "bedrock".to_string(),
        api_key: api_key.map(str::to_string),
        ..Ctx::default()
    }
}

fn ctx() -> Ctx {
    ctx_for(MODEL, false, false, None)
}

/// A minimal valid hub request with `extra` merged in.
fn chat(extra: Value) -> Value {
    let mut body = json!({
        "model": "claude",
        "messages": [{"role": "user", "content": "Hello"}]
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

fn to_bedrock_for(body: Value, model: &str) -> Value {
    BEDROCK
        .request(&body, &ctx_for(model, false, false, None))
        .unwrap_or_else(|e| panic!("request failed: {e}"))
        .expect("the adapter translates requests")
}

fn to_bedrock(body: Value) -> Value {
    to_bedrock_for(body, MODEL)
}

/// The status and message of a request the adapter refuses.
fn rejected(body: Value) -> (u16, String) {
    match BEDROCK.request(&body, &ctx()) {
        Err(AdapterError::Rejected { status, message }) => (status, message),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn to_openai(body: Value) -> Value {
    BEDROCK
        .response(body, &ctx())
        .unwrap_or_else(|e| panic!("response failed: {e}"))
}

fn chunks_json(out: &[ChunkOut]) -> Vec<Value> {
    out.iter()
        .map(|c| match c {
            ChunkOut::Json(v) => v.clone(),
            ChunkOut::Raw(s) => Value::String(s.clone()),
        })
        .collect()
}

#[test]
fn plan_posts_to_converse_with_the_model_id_encoded() {
    let plan = BEDROCK.plan(&ctx()).unwrap();
    assert_eq!(plan.method, http::Method::POST);
    assert_eq!(
        plan.path,
        "/model/anthropic.claude-3-5-sonnet-20241022-v2%3A0/converse"
    );
    assert!(plan.reuse);
    let header = |plan: &crate::adapter::RequestPlan, name: &str| {
        plan.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(
        header(&plan, "content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(header(&plan, "accept").as_deref(), Some("application/json"));
    assert_eq!(
        header(&plan, "authorization"),
        None,
        "SigV4 is signed later"
    );

    let profile = "us.anthropic.claude-3-7-sonnet-20250219-v1:0";
    let plan = BEDROCK
        .plan(&ctx_for(profile, true, false, Some("bedrock-api-key")))
        .unwrap();
    assert_eq!(
        plan.path,
        "/model/us.anthropic.claude-3-7-sonnet-20250219-v1%3A0/converse-stream"
    );
    assert_eq!(
        header(&plan, "accept").as_deref(),
        Some("application/vnd.amazon.eventstream")
    );
    assert_eq!(
        header(&plan, "authorization").as_deref(),
        Some("Bearer bedrock-api-key")
    );

    let arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.meta.llama3 x";
    let plan = BEDROCK.plan(&ctx_for(arn, false, false, None)).unwrap();
    assert_eq!(
        plan.path,
        "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.meta.llama3%20x/converse"
    );
}

#[test]
fn embeddings_and_an_empty_model_are_refused() {
    let mut c = ctx();
    c.endpoint = "embeddings";
    match BEDROCK.plan(&c) {
        Err(AdapterError::Rejected { status, message }) => {
            assert_eq!(status, 400);
            assert!(message.contains("Bedrock embeddings are not supported through Converse"));
        }
        other => panic!("{other:?}"),
    }
    assert!(BEDROCK.plan(&ctx_for("", false, false, None)).is_err());
}

#[test]
fn capabilities_framing_and_registry() {
    let caps = BEDROCK.capabilities();
    for on in ["chat", "stream", "tools", "vision", "json", "reasoning"] {
        assert_eq!(caps.get(on), Some(&true), "{on}");
    }
    assert_eq!(caps.get("embeddings"), Some(&false));
    assert_eq!(BEDROCK.framing(), crate::adapter::Framing::EventStream);
    assert!(BEDROCK.translates_response());
    assert!(crate::adapter::BUILT_IN.contains(&"bedrock"));
    let wire = crate::adapter::builtin("bedrock").unwrap();
    assert_eq!(wire.name(), "bedrock");
    let adapter = crate::adapter::Adapter::new(wire, crate::adapter::Origin::BuiltIn, None);
    assert_eq!(adapter.describe()["framing"], "eventstream");
    let _ = Arc::new(ctx());
}
