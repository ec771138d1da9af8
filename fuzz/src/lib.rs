//! What the fuzz targets share: the shipped adapters (built in, or their
//! scripts on the gateway's own sandboxed engine and default limits) made
//! once per process, the hook `ctx` the proxy would pass, and the checks
//! every transform's output must pass beyond "no panic".

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use serde_json::Value;
use switchyard::adapter::chain::Origin;
use switchyard::adapter::script::engine::{build_engine, ScriptLimits};
use switchyard::adapter::script::ScriptAdapter;
use switchyard::adapter::{Adapter, AdapterError, ChunkOut, Ctx, Framing, Wire};
use switchyard::transform::eventstream::EventStreamParser;
use switchyard::transform::ndjson::NdjsonParser;
use switchyard::transform::sse::{SseEvent, SseParser};

/// The repository root (the fuzz crate lives in `fuzz/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The shipped adapter `name` — built in, or `scripts/providers/<name>.rhai`
/// — made once for this process (a fuzz process runs one target, hence one
/// adapter).
pub fn adapter(name: &str) -> &'static Adapter {
    static ONE: OnceLock<Adapter> = OnceLock::new();
    let a = ONE.get_or_init(|| {
        let limits = ScriptLimits::default();
        let engine = Arc::new(build_engine(&limits));
        let script = |text: &str| -> Arc<dyn Wire> {
            let path = PathBuf::from(format!("scripts/providers/{name}.rhai"));
            Arc::new(
                ScriptAdapter::compile(name, &path, text, engine.clone(), limits.timeout)
                    .expect("the shipped script compiles"),
            )
        };
        let (wire, origin) = match switchyard::adapter::builtin(name) {
            Some(w) => (w, Origin::BuiltIn),
            None => match switchyard::adapter::shipped_script(name) {
                Some(text) => (script(text), Origin::BuiltIn),
                None => {
                    let path = repo_root().join(format!("scripts/providers/{name}.rhai"));
                    let text = std::fs::read_to_string(&path).expect("a shipped script");
                    (script(&text), Origin::Script(path))
                }
            },
        };
        Adapter::new(wire, origin, None)
    });
    assert_eq!(a.name(), name, "one adapter per fuzz process");
    a
}

/// The `ctx` hooks get, shaped from the request body as the proxy does
/// (`model`, `stream`, `stream_options.include_usage`, chat or embeddings);
/// `options` are taken from the body's `x_options` so that the fuzzer also
/// explores the routes.yaml `options:` adapters read.
pub fn ctx_for(body: &Value) -> Ctx {
    let str_of = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    let embeddings = body.get("input").is_some() && body.get("messages").is_none();
    Ctx {
        endpoint: if embeddings { "embeddings" } else { "chat" },
        model: str_of(body.get("model")).unwrap_or_else(|| "m".to_string()),
        stream: body.get("stream").and_then(Value::as_bool).unwrap_or(false),
        include_usage: body
            .pointer("/stream_options/include_usage")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        provider: "fuzz".into(),
        api_key: Some("sk-fuzz".into()),
        options: Arc::new(
            body.get("x_options")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
        ),
        encoding_format: str_of(body.get("encoding_format")),
        ..Ctx::default()
    }
}

/// A JSON value the gateway would send on: it serializes, and parsing that
/// text gives the same value back.
pub fn check_json(v: &Value) {
    let text = serde_json::to_string(v).expect("a transform's output serializes");
    let back: Value = serde_json::from_str(&text).expect("and parses again");
    assert_eq!(&back, v, "JSON round trip changed the value");
}

/// An adapter error the proxy can answer with: a refusal carries a 4xx (the
/// proxy sends it to the client), a failure names the adapter (a 502).
pub fn check_error(e: &AdapterError) {
    match e {
        AdapterError::Rejected { status, .. } => {
            assert!((400..500).contains(status), "rejected with {status}")
        }
        AdapterError::Failed { adapter, .. } => assert!(!adapter.is_empty(), "{e}"),
    }
}

/// Runs the adapter's request side on `data` (a hub request as JSON): the
/// request head and the body.
pub fn fuzz_request(name: &str, data: &[u8]) {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let a = adapter(name);
    let ctx = ctx_for(&body);
    match a.plan(&ctx) {
        Ok(plan) => assert!(!plan.path.is_empty(), "empty request path"),
        Err(e) => check_error(&e),
    }
    match a.request(&body, &ctx) {
        Ok(Some(v)) => check_json(&v),
        Ok(None) => {}
        Err(e) => check_error(&e),
    }
}

/// Runs the response translation on `data` (a provider's answer).
pub fn fuzz_response(name: &str, data: &[u8]) {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let a = adapter(name);
    let ctx = ctx_for(&serde_json::json!({ "model": "m" }));
    match a.response(body, &ctx) {
        Ok(v) => check_json(&v),
        Err(e) => check_error(&e),
    }
}

/// Splits `data` (a provider's raw stream, in its framing) into events
/// with the gateway's parser and runs every event through the adapter's
/// stream translation, then its end, with one per-stream state, as the
/// relay does.
pub fn fuzz_stream(name: &str, data: &[u8]) {
    let a = adapter(name);
    let ctx = Arc::new(ctx_for(&serde_json::json!({ "model": "m", "stream": true })));
    let mut state = a.stream(&ctx);
    let mut events: Vec<SseEvent> = Vec::new();
    let parsed = match a.framing() {
        Framing::Sse => {
            let mut p = SseParser::new(1 << 20);
            p.feed(data, &mut events).map(|()| p.finish(&mut events))
        }
        Framing::Ndjson => {
            let mut p = NdjsonParser::new(1 << 20);
            p.feed(data, &mut events).map(|()| p.finish(&mut events))
        }
        Framing::EventStream => {
            let mut p = EventStreamParser::new(1 << 20);
            p.feed(data, &mut events).map(|()| p.finish(&mut events))
        }
    };
    if parsed.is_err() || !state.translates() {
        return;
    }
    let mut out = Vec::new();
    for ev in &events {
        match state.event(&ev.event, &ev.data, &mut out) {
            Ok(()) => out.drain(..).for_each(|c| check_chunk(&c)),
            Err(e) => return check_error(&e),
        }
    }
    match state.finish(&mut out) {
        Ok(()) => out.iter().for_each(check_chunk),
        Err(e) => check_error(&e),
    }
}

fn check_chunk(c: &ChunkOut) {
    match c {
        ChunkOut::Json(v) => check_json(v),
        ChunkOut::Raw(_) => {}
    }
}
