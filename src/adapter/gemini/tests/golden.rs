//! The golden fixtures of `tests/fixtures/gemini/`, the specification every
//! Gemini adapter must pass: `adapter_request.openai.json` must become
//! `adapter_request.gemini.json`, `adapter_response.gemini.json` must
//! become `adapter_response.openai.json`, and `adapter_stream.gemini.sse`
//! the chunks of `adapter_stream.openai.jsonl`. Checked twice: exactly
//! (with `created` removed), and with the golden semantics every adapter
//! shares (expected ⊆ actual; top-level request keys exactly).

use serde_json::Value;

use super::*;

/// The translated stream transcript, `[DONE]` as a JSON string.
fn translated_stream() -> Vec<Value> {
    let mut s = Stream::new();
    let mut out: Vec<ChunkOut> = sse_events(&file("adapter_stream.gemini.sse"))
        .iter()
        .flat_map(|data| s.feed_raw(data))
        .collect();
    out.extend(s.finish());
    out.into_iter()
        .map(|c| match c {
            ChunkOut::Json(v) => v,
            ChunkOut::Raw(s) => Value::String(s),
        })
        .collect()
}

fn expected_stream() -> Vec<Value> {
    file("adapter_stream.openai.jsonl")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn golden_request_fixture() {
    let got = to_gemini(json_file("adapter_request.openai.json"));
    assert_eq!(got, json_file("adapter_request.gemini.json"));
}

#[test]
fn golden_response_fixture() {
    let got = to_openai(json_file("adapter_response.gemini.json"));
    assert_eq!(
        without_created(got),
        json_file("adapter_response.openai.json")
    );
}

#[test]
fn golden_stream_fixture() {
    assert!(
        file("adapter_stream.gemini.sse").contains("\r\n\r\n"),
        "Gemini frames end with CRLF"
    );
    let got: Vec<Value> = translated_stream()
        .into_iter()
        .map(without_created)
        .collect();
    assert_eq!(got, expected_stream());
}

use crate::adapter::fixtures::subset;

fn check(actual: &Value, expected: &Value) {
    if let Err(e) = subset(actual, expected, "$") {
        panic!("{e}\nactual: {actual:#}");
    }
}

#[test]
fn gemini_adapter_matches_its_golden_fixtures() {
    // Request: OpenAI → Gemini; nothing unexpected goes to the provider.
    let got = to_gemini(json_file("adapter_request.openai.json"));
    let want = json_file("adapter_request.gemini.json");
    check(&got, &want);
    let keys = |v: &Value| {
        v.as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
    };
    assert_eq!(keys(&got), keys(&want), "top-level request keys");

    // Response: Gemini → OpenAI.
    check(
        &to_openai(json_file("adapter_response.gemini.json")),
        &json_file("adapter_response.openai.json"),
    );

    // Stream: Gemini transcript → OpenAI chunks.
    check(
        &Value::Array(translated_stream()),
        &Value::Array(expected_stream()),
    );
}
