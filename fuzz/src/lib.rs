//! What the fuzz targets share: the shipped adapter scripts compiled once per
//! process (on the gateway's own sandboxed engine and default limits), the
//! hook `ctx` the proxy would pass, and the checks every transform's output
//! must pass beyond "no panic".

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rhai::{Dynamic, Map};
use serde_json::Value;
use switchyard::provider::differential::Differential;
use switchyard::provider::{ChunkOut, ScriptError};
use switchyard::transform::sse::{SseEvent, SseParser};

/// The repository root (the fuzz crate lives in `fuzz/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// `scripts/providers/<name>.rhai`, compiled once for this process (a fuzz
/// process runs one target, hence one adapter), with its native twin: each
/// hook runs through both, which must agree (a disagreement panics).
pub fn adapter(name: &str) -> &'static Differential {
    static ONE: OnceLock<Differential> = OnceLock::new();
    let a = ONE.get_or_init(|| Differential::shipped(name));
    assert_eq!(a.name(), name, "one adapter per fuzz process");
    a
}

/// The `ctx` hooks get, shaped from the request body as the proxy does
/// (`model`, `stream`, `stream_options.include_usage`, chat or embeddings);
/// `options` are taken from the body's `x_options` so that the fuzzer also
/// explores the routes.yaml `options:` the scripts read.
pub fn ctx_for(body: &Value) -> Map {
    let str_of = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    let model = str_of(body.get("model")).unwrap_or_else(|| "m".to_string());
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let include_usage = body
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let embeddings = body.get("input").is_some() && body.get("messages").is_none();
    let options = body
        .get("x_options")
        .and_then(|o| rhai::serde::to_dynamic(o).ok())
        .and_then(|d| d.try_cast::<Map>())
        .unwrap_or_default();
    let mut m = Map::new();
    let endpoint = if embeddings { "embeddings" } else { "chat" };
    m.insert("endpoint".into(), Dynamic::from(endpoint));
    m.insert("model".into(), Dynamic::from(model));
    m.insert("stream".into(), Dynamic::from(stream));
    m.insert("include_usage".into(), Dynamic::from(include_usage));
    m.insert("provider".into(), Dynamic::from("fuzz"));
    m.insert("api_key".into(), Dynamic::from("sk-fuzz"));
    m.insert("options".into(), Dynamic::from_map(options));
    let format = str_of(body.get("encoding_format"));
    m.insert(
        "encoding_format".into(),
        format.map(Dynamic::from).unwrap_or(Dynamic::UNIT),
    );
    m
}

/// A JSON value the gateway would send on: it serializes, and parsing that
/// text gives the same value back.
pub fn check_json(v: &Value) {
    let text = serde_json::to_string(v).expect("a transform's output serializes");
    let back: Value = serde_json::from_str(&text).expect("and parses again");
    assert_eq!(&back, v, "JSON round trip changed the value");
}

/// A hook error the proxy can answer with: a rejection carries a 4xx (the
/// proxy sends it to the client), anything else names the script (a 502).
pub fn check_error(e: &ScriptError) {
    match e {
        ScriptError::Rejected { status, .. } => {
            assert!((400..500).contains(status), "rejected with {status}")
        }
        ScriptError::Runtime { path, .. } => {
            assert!(path.extension().is_some_and(|e| e == "rhai"), "{e}")
        }
        ScriptError::Compile { .. } => panic!("a hook call cannot fail to compile"),
    }
}

/// Runs the adapter's request side on `data` (a hub request as JSON):
/// `request(ctx)` and `transform_request(body, ctx)`.
pub fn fuzz_request(name: &str, data: &[u8]) {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let a = adapter(name);
    let ctx = ctx_for(&body);
    match a.request(&ctx) {
        Ok(plan) => assert!(!plan.path.is_empty(), "empty request path"),
        Err(e) => check_error(&e),
    }
    match a.transform_request(&body, &ctx) {
        Ok(Some(v)) => check_json(&v),
        Ok(None) => {}
        Err(e) => check_error(&e),
    }
}

/// Runs `transform_response(body, ctx)` on `data` (a provider's answer).
pub fn fuzz_response(name: &str, data: &[u8]) {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let a = adapter(name);
    let ctx = ctx_for(&serde_json::json!({ "model": "m" }));
    match a.transform_response(body, &ctx) {
        Ok(v) => check_json(&v),
        Err(e) => check_error(&e),
    }
}

/// Splits `data` (a provider's raw SSE stream) into events with the
/// gateway's parser and runs every event through `transform_chunk`, then
/// `finish_stream`, with one per-stream state, as the proxy does.
pub fn fuzz_stream(name: &str, data: &[u8]) {
    let a = adapter(name);
    let ctx = ctx_for(&serde_json::json!({ "model": "m", "stream": true }));
    let mut state = a.stream_state();
    let mut events: Vec<SseEvent> = Vec::new();
    let mut parser = SseParser::new(1 << 20);
    if parser.feed(data, &mut events).is_err() {
        return;
    }
    parser.finish(&mut events);
    for ev in &events {
        match a.transform_chunk(&mut state, &ev.event, &ev.data, &ctx) {
            Ok(items) => items.iter().for_each(check_chunk),
            Err(e) => return check_error(&e),
        }
    }
    match a.finish_stream(&mut state, &ctx) {
        Ok(items) => items.iter().for_each(check_chunk),
        Err(e) => check_error(&e),
    }
}

fn check_chunk(c: &ChunkOut) {
    match c {
        ChunkOut::Json(v) => check_json(v),
        ChunkOut::Raw(_) => {}
    }
}
