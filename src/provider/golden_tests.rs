//! Golden tests: provider-format payloads under `tests/fixtures/<provider>/`,
//! shaped as the providers' API references show, run through the adapter
//! scripts in both directions. `adapter_request.openai.json` must become
//! `adapter_request.<provider>.json`; `adapter_response.<provider>.json`
//! must become `adapter_response.openai.json`; `adapter_stream.<provider>.sse`
//! must become the chunks of `adapter_stream.openai.jsonl`.
//!
//! Expected JSON is a subset: every field it has must match (extra fields
//! such as `created` are allowed), except top-level request keys, which
//! must match exactly (nothing unexpected is sent to a provider).

use std::path::{Path, PathBuf};

use rhai::{Dynamic, Map};
use serde_json::Value;

use super::adapter::ChunkOut;
use super::differential::Differential;
use crate::transform::sse::SseParser;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// The script and its native twin, which must agree.
fn adapter(name: &str) -> Differential {
    Differential::shipped(name)
}

fn fixture(dir: &str, file: &str) -> String {
    std::fs::read_to_string(root().join("tests/fixtures").join(dir).join(file)).unwrap()
}

fn json_fixture(dir: &str, file: &str) -> Value {
    serde_json::from_str(&fixture(dir, file)).unwrap()
}

fn ctx(model: &str, stream: bool) -> Map {
    let mut m = Map::new();
    m.insert("endpoint".into(), Dynamic::from("chat"));
    m.insert("model".into(), Dynamic::from(model.to_string()));
    m.insert("stream".into(), Dynamic::from(stream));
    m.insert("include_usage".into(), Dynamic::from(true));
    m.insert("provider".into(), Dynamic::from("golden"));
    m.insert("api_key".into(), Dynamic::from("k"));
    m.insert("options".into(), Dynamic::from_map(Map::new()));
    m.insert("encoding_format".into(), Dynamic::UNIT);
    m
}

/// `expected` ⊆ `actual`, with a path to the first difference.
fn subset(actual: &Value, expected: &Value, at: &str) -> Result<(), String> {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => {
            for (k, ev) in e {
                let av = a.get(k).ok_or_else(|| format!("{at}.{k}: missing"))?;
                subset(av, ev, &format!("{at}.{k}"))?;
            }
            Ok(())
        }
        (Value::Array(a), Value::Array(e)) if a.len() == e.len() => a
            .iter()
            .zip(e)
            .enumerate()
            .try_for_each(|(i, (av, ev))| subset(av, ev, &format!("{at}[{i}]"))),
        (Value::Number(a), Value::Number(e)) if a.as_f64() == e.as_f64() => Ok(()),
        (a, e) if a == e => Ok(()),
        (a, e) => Err(format!("{at}: expected {e}, got {a}")),
    }
}

fn check(actual: &Value, expected: &Value) {
    if let Err(e) = subset(actual, expected, "$") {
        panic!("{e}\nactual: {actual:#}");
    }
}

fn golden(provider: &str, model: &str) {
    let a = adapter(provider);
    // Request: OpenAI → provider.
    let req = json_fixture(provider, "adapter_request.openai.json");
    let want = json_fixture(provider, &format!("adapter_request.{provider}.json"));
    let got = a
        .transform_request(&req, &ctx(model, false))
        .unwrap()
        .unwrap();
    check(&got, &want);
    let keys = |v: &Value| {
        v.as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
    };
    assert_eq!(keys(&got), keys(&want), "top-level request keys");

    // Response: provider → OpenAI.
    let resp = json_fixture(provider, &format!("adapter_response.{provider}.json"));
    let want = json_fixture(provider, "adapter_response.openai.json");
    check(
        &a.transform_response(resp, &ctx(model, false)).unwrap(),
        &want,
    );

    // Stream: provider transcript → OpenAI chunks.
    let sse = fixture(provider, &format!("adapter_stream.{provider}.sse"));
    let mut parser = SseParser::new(1 << 20);
    let mut events = Vec::new();
    parser.feed(sse.as_bytes(), &mut events).unwrap();
    parser.finish(&mut events);
    let mut state = a.stream_state();
    let mut out = Vec::new();
    for ev in &events {
        out.extend(
            a.transform_chunk(&mut state, &ev.event, &ev.data, &ctx(model, true))
                .unwrap(),
        );
    }
    out.extend(a.finish_stream(&mut state, &ctx(model, true)).unwrap());
    let got: Vec<Value> = out
        .into_iter()
        .map(|c| match c {
            ChunkOut::Json(v) => v,
            ChunkOut::Raw(s) => Value::String(s),
        })
        .collect();
    let want: Vec<Value> = fixture(provider, "adapter_stream.openai.jsonl")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    check(&Value::Array(got), &Value::Array(want));
}

#[test]
fn anthropic_adapter_matches_its_golden_fixtures() {
    golden("anthropic", "claude-sonnet-4-5");
}

#[test]
fn gemini_adapter_matches_its_golden_fixtures() {
    golden("gemini", "gemini-2.5-flash");
}
