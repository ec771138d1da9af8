//! Golden tests: the provider-format payloads under
//! `tests/fixtures/anthropic/`, shaped as Anthropic's API reference shows,
//! through the adapter in both directions. `adapter_request.openai.json`
//! must become `adapter_request.anthropic.json`;
//! `adapter_response.anthropic.json` must become
//! `adapter_response.openai.json`; `adapter_stream.anthropic.sse` must
//! become the chunks of `adapter_stream.openai.jsonl`.
//!
//! Expected JSON is a subset: every field it has must match (extra fields
//! such as `created` are allowed), except top-level request keys, which
//! must match exactly (nothing unexpected is sent to a provider).

use std::sync::Arc;

use serde_json::Value;

use super::ANTHROPIC;
use crate::adapter::{ChunkOut, Ctx, Wire};
use crate::transform::sse::SseParser;

fn fixture(file: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/anthropic/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn json_fixture(file: &str) -> Value {
    serde_json::from_str(&fixture(file)).unwrap()
}

fn ctx(stream: bool) -> Ctx {
    Ctx {
        endpoint: "chat",
        model: "claude-sonnet-4-5".to_string(),
        stream,
        include_usage: true,
        provider: "golden".to_string(),
        api_key: Some("k".to_string()),
        options: Arc::default(),
        encoding_format: None,
        script: Default::default(),
    }
}

use crate::adapter::fixtures::subset;

fn check(actual: &Value, expected: &Value) {
    if let Err(e) = subset(actual, expected, "$") {
        panic!("{e}\nactual: {actual:#}");
    }
}

fn keys(v: &Value) -> Vec<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn request_matches_its_golden_fixture() {
    let req = json_fixture("adapter_request.openai.json");
    let want = json_fixture("adapter_request.anthropic.json");
    let got = ANTHROPIC.request(&req, &ctx(false)).unwrap().unwrap();
    check(&got, &want);
    assert_eq!(keys(&got), keys(&want), "top-level request keys");
}

#[test]
fn response_matches_its_golden_fixture() {
    let resp = json_fixture("adapter_response.anthropic.json");
    let want = json_fixture("adapter_response.openai.json");
    check(&ANTHROPIC.response(resp, &ctx(false)).unwrap(), &want);
}

#[test]
fn stream_matches_its_golden_fixture() {
    let mut parser = SseParser::new(1 << 20);
    let mut events = Vec::new();
    parser
        .feed(
            fixture("adapter_stream.anthropic.sse").as_bytes(),
            &mut events,
        )
        .unwrap();
    parser.finish(&mut events);
    let mut translator = ANTHROPIC.stream(&Arc::new(ctx(true))).unwrap();
    let mut out = Vec::new();
    for ev in &events {
        translator.event(&ev.event, &ev.data, &mut out).unwrap();
    }
    translator.finish(&mut out).unwrap();
    let got: Vec<Value> = out
        .into_iter()
        .map(|c| match c {
            ChunkOut::Json(v) => v,
            ChunkOut::Raw(s) => Value::String(s),
        })
        .collect();
    let want: Vec<Value> = fixture("adapter_stream.openai.jsonl")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    check(&Value::Array(got), &Value::Array(want));
}
