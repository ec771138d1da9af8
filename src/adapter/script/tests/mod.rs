//! The script adapters of providers the gateway does not build in —
//! `scripts/providers/cohere.rhai` (Cohere's v2 API) and `ollama.rhai`
//! (Ollama's native API) — run over their golden fixtures in
//! `tests/fixtures/<provider>/`: `adapter_request.openai.json` must become
//! `adapter_request.<provider>.json`, `adapter_response.<provider>.json`
//! must become `adapter_response.openai.json`, and the provider's stream
//! transcript (`adapter_stream.cohere.sse`; `adapter_stream.ollama.ndjson`,
//! each line an event named "") must become the chunks of
//! `adapter_stream.openai.jsonl`. The translated requests must also pass
//! the mock's validation of that provider ([`switchyard_mock::validate`]):
//! the fixtures, the scripts and the mocks agree on the wire.
//!
//! Expected JSON is a subset (extra fields such as `created` are allowed),
//! except the top-level request keys, which must match exactly.

mod cohere;
mod ollama;

use std::path::{Path, PathBuf};

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::adapter::script::engine::{build_engine, ScriptLimits};
use crate::adapter::script::ScriptAdapter;
use crate::adapter::{AdapterError, ChunkOut, Ctx, RequestPlan, StreamTranslator, Wire};
use crate::transform::sse::SseParser;

/// The options map `ctx` carries.
type Map = serde_json::Map<String, Value>;

/// A shipped script adapter, called hook by hook.
struct Script(ScriptAdapter);

/// One stream's translator, made with the first event's `ctx`.
type StreamSlot = Option<Box<dyn StreamTranslator>>;

impl Script {
    fn request(&self, ctx: &Ctx) -> Result<RequestPlan, AdapterError> {
        self.0.plan(ctx)
    }

    fn transform_request(&self, body: &Value, ctx: &Ctx) -> Result<Option<Value>, AdapterError> {
        self.0.request(body, ctx)
    }

    fn transform_response(&self, body: Value, ctx: &Ctx) -> Result<Value, AdapterError> {
        self.0.response(body, ctx)
    }

    fn stream_state(&self) -> StreamSlot {
        None
    }

    fn transform_chunk(
        &self,
        state: &mut StreamSlot,
        event: &str,
        data: &str,
        ctx: &Ctx,
    ) -> Result<Vec<ChunkOut>, AdapterError> {
        if state.is_none() {
            *state = self.0.stream(&Arc::new(ctx.clone()));
        }
        let mut out = Vec::new();
        if let Some(t) = state.as_mut() {
            t.event(event, data, &mut out)?;
        }
        Ok(out)
    }

    fn finish_stream(
        &self,
        state: &mut StreamSlot,
        _ctx: &Ctx,
    ) -> Result<Vec<ChunkOut>, AdapterError> {
        let mut out = Vec::new();
        if let Some(t) = state.as_mut() {
            t.finish(&mut out)?;
        }
        Ok(out)
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// The shipped script adapter `name`.
fn adapter(name: &str) -> Script {
    let path = root().join(format!("scripts/providers/{name}.rhai"));
    let text = std::fs::read_to_string(&path).unwrap();
    let engine = Arc::new(build_engine(&ScriptLimits::default()));
    let shown = std::path::PathBuf::from(format!("scripts/providers/{name}.rhai"));
    Script(ScriptAdapter::compile(name, &shown, &text, engine, Duration::from_secs(1)).unwrap())
}

fn fixture(dir: &str, file: &str) -> String {
    let path = root().join("tests/fixtures").join(dir).join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn json_fixture(dir: &str, file: &str) -> Value {
    serde_json::from_str(&fixture(dir, file)).unwrap()
}

/// The `ctx` hooks get, for `endpoint`.
fn ctx_for(endpoint: &'static str, model: &str, stream: bool, options: Map) -> Ctx {
    Ctx {
        endpoint,
        model: model.to_string(),
        stream,
        include_usage: true,
        provider: "golden".into(),
        api_key: Some("k".into()),
        options: Arc::new(options),
        ..Ctx::default()
    }
}

/// A chat `ctx` without options.
fn ctx(model: &str, stream: bool) -> Ctx {
    ctx_for("chat", model, stream, Map::new())
}

/// `options:` as routes.yaml would give them, from JSON.
fn options(json: Value) -> Map {
    json.as_object().cloned().unwrap_or_default()
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

/// Chunks as JSON, `[DONE]` as the string "[DONE]".
fn as_json(out: Vec<ChunkOut>) -> Vec<Value> {
    out.into_iter()
        .map(|c| match c {
            ChunkOut::Json(v) => v,
            ChunkOut::Raw(s) => Value::String(s),
        })
        .collect()
}

/// Runs `(event, data)` pairs through the stream hooks, then finish_stream.
fn run_stream(a: &Script, events: &[(String, String)], ctx: &Ctx) -> Vec<Value> {
    let mut state = a.stream_state();
    let mut out = Vec::new();
    for (event, data) in events {
        out.extend(a.transform_chunk(&mut state, event, data, ctx).unwrap());
    }
    out.extend(a.finish_stream(&mut state, ctx).unwrap());
    as_json(out)
}

/// The events of an SSE transcript.
fn sse_events(text: &str) -> Vec<(String, String)> {
    let mut parser = SseParser::new(1 << 20);
    let mut events = Vec::new();
    parser.feed(text.as_bytes(), &mut events).unwrap();
    parser.finish(&mut events);
    events.into_iter().map(|e| (e.event, e.data)).collect()
}

/// The events of an NDJSON transcript: each line, named "".
fn ndjson_events(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(|line| (String::new(), line.to_string()))
        .collect()
}

/// The refusal a hook answered, as `(status, message)`.
fn refusal<T: std::fmt::Debug>(result: Result<T, AdapterError>) -> (u16, String) {
    match result {
        Err(AdapterError::Rejected { status, message }) => (status, message),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// Request, response and stream fixtures of `provider`, whose stream
/// transcript is `stream_file` split into events by `events`; the
/// translated request.
fn golden(
    provider: &str,
    model: &str,
    stream_file: &str,
    events: fn(&str) -> Vec<(String, String)>,
) -> Value {
    let a = adapter(provider);
    // Request: OpenAI → provider; top-level keys exactly.
    let req = json_fixture(provider, "adapter_request.openai.json");
    let want = json_fixture(provider, &format!("adapter_request.{provider}.json"));
    let got = a
        .transform_request(&req, &ctx(model, false))
        .unwrap()
        .unwrap();
    check(&got, &want);
    assert_eq!(keys(&got), keys(&want), "top-level request keys");
    let sent = got;

    // Response: provider → OpenAI.
    let resp = json_fixture(provider, &format!("adapter_response.{provider}.json"));
    let want = json_fixture(provider, "adapter_response.openai.json");
    check(
        &a.transform_response(resp, &ctx(model, false)).unwrap(),
        &want,
    );

    // Stream: provider transcript → OpenAI chunks, one id for all of them.
    let transcript = fixture(provider, stream_file);
    let got = run_stream(&a, &events(&transcript), &ctx(model, true));
    let want: Vec<Value> = fixture(provider, "adapter_stream.openai.jsonl")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    check(&Value::Array(got.clone()), &Value::Array(want));
    let mut ids: Vec<&Value> = got.iter().filter_map(|c| c.get("id")).collect();
    ids.dedup();
    assert_eq!(ids.len(), 1, "one id for the whole stream: {ids:?}");
    assert_eq!(got.last(), Some(&Value::from("[DONE]")));
    sent
}

#[test]
fn cohere_script_matches_its_golden_fixtures_and_the_mock_accepts_its_request() {
    let sent = golden(
        "cohere",
        "command-a-vision-07-2025",
        "adapter_stream.cohere.sse",
        sse_events,
    );
    let body = serde_json::to_vec(&sent).unwrap();
    switchyard_mock::validate::cohere_chat(&body).unwrap();
    assert_eq!(sent["stream"], false);
}

#[test]
fn ollama_script_matches_its_golden_fixtures_and_the_mock_accepts_its_request() {
    let sent = golden(
        "ollama",
        "qwen3-vl:8b",
        "adapter_stream.ollama.ndjson",
        ndjson_events,
    );
    let body = serde_json::to_vec(&sent).unwrap();
    switchyard_mock::validate::ollama_chat(&body).unwrap();
    assert_eq!(
        (&sent["stream"], &sent["think"]),
        (&false.into(), &"high".into())
    );
}
