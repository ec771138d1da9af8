//! Tests of the built-in Gemini adapter, ported from the tests of the Rhai
//! script and its native twin (`src/provider/gemini_tests.rs`); the golden
//! fixtures live in `tests/fixtures/gemini/`.
//!
//! Not ported: the twin's registration check and its timing against the
//! script (both gone with `Differential`), and the nesting limits derived
//! from Rhai's call-depth accounting (58 levels through `items`, 29 through
//! `anyOf`): schemas now nest up to one limit for every keyword
//! (`sweep::nested_schemas_stop_at_the_depth_limit`). The sweeps no longer
//! compare two implementations; they check that nothing panics and that
//! every error is of the right kind.

mod golden;
mod request;
mod response;
mod stream;
mod sweep;
mod tools;

use std::path::Path;
use std::sync::Arc;

use serde_json::{json, Value};

use super::GEMINI;
use crate::adapter::{AdapterError, ChunkOut, Ctx, StreamTranslator, Wire};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/gemini");
const MODEL: &str = "gemini-2.5-flash";

/// What a test's `ctx` varies.
struct TestCtx {
    endpoint: &'static str,
    model: &'static str,
    stream: bool,
    api_key: Option<&'static str>,
    options: Value,
    encoding_format: Option<&'static str>,
}

impl Default for TestCtx {
    fn default() -> Self {
        Self {
            endpoint: "chat",
            model: MODEL,
            stream: false,
            api_key: Some("AIza-test-key"),
            options: json!({}),
            encoding_format: None,
        }
    }
}

impl TestCtx {
    fn build(&self) -> Ctx {
        Ctx {
            endpoint: self.endpoint,
            model: self.model.to_string(),
            stream: self.stream,
            include_usage: false,
            provider: "gemini".into(),
            api_key: self.api_key.map(str::to_string),
            options: Arc::new(self.options.as_object().cloned().unwrap_or_default()),
            encoding_format: self.encoding_format.map(str::to_string),
            script: Default::default(),
        }
    }
}

fn ctx() -> Ctx {
    TestCtx::default().build()
}

fn with_options(options: Value) -> Ctx {
    TestCtx {
        options,
        ..TestCtx::default()
    }
    .build()
}

fn embeddings_ctx(encoding_format: Option<&'static str>) -> Ctx {
    TestCtx {
        endpoint: "embeddings",
        encoding_format,
        ..TestCtx::default()
    }
    .build()
}

/// A minimal OpenAI chat request with `extra` merged in.
fn chat(extra: Value) -> Value {
    let mut body = json!({"model": MODEL, "messages": [{"role": "user", "content": "Hello"}]});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

fn to_gemini_with(body: Value, ctx: &Ctx) -> Value {
    GEMINI
        .request(&body, ctx)
        .unwrap_or_else(|e| panic!("request failed: {e}"))
        .expect("Gemini always rewrites the body")
}

fn to_gemini(body: Value) -> Value {
    to_gemini_with(body, &ctx())
}

/// The status and message of a request the adapter refuses.
fn rejected_with(body: Value, ctx: &Ctx) -> (u16, String) {
    match GEMINI.request(&body, ctx) {
        Err(AdapterError::Rejected { status, message }) => (status, message),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn rejected(body: Value) -> (u16, String) {
    rejected_with(body, &ctx())
}

fn to_openai_with(body: Value, ctx: &Ctx) -> Value {
    GEMINI
        .response(body, ctx)
        .unwrap_or_else(|e| panic!("response failed: {e}"))
}

fn to_openai(body: Value) -> Value {
    to_openai_with(body, &ctx())
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// `call_` + 24 lowercase hex digits: an id the adapter minted.
fn is_minted(id: &str) -> bool {
    id.strip_prefix("call_").is_some_and(|hex| {
        hex.len() == 24
            && hex
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    })
}

fn file(name: &str) -> String {
    std::fs::read_to_string(Path::new(FIXTURES).join(name))
        .unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

fn json_file(name: &str) -> Value {
    serde_json::from_str(&file(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// One stream: its translator.
struct Stream {
    translator: Box<dyn StreamTranslator>,
}

impl Stream {
    fn new() -> Self {
        let ctx = TestCtx {
            stream: true,
            ..TestCtx::default()
        }
        .build();
        Self {
            translator: GEMINI
                .stream(&Arc::new(ctx))
                .expect("Gemini translates streams"),
        }
    }

    fn try_feed(&mut self, data: &str) -> Result<Vec<ChunkOut>, AdapterError> {
        let mut out = Vec::new();
        self.translator.event("", data, &mut out).map(|()| out)
    }

    fn feed_raw(&mut self, data: &str) -> Vec<ChunkOut> {
        self.try_feed(data)
            .unwrap_or_else(|e| panic!("stream event failed: {e}"))
    }

    fn run(&mut self, chunks: &[Value]) -> Vec<ChunkOut> {
        chunks
            .iter()
            .flat_map(|c| self.feed_raw(&c.to_string()))
            .collect()
    }

    fn try_finish(&mut self) -> Result<Vec<ChunkOut>, AdapterError> {
        let mut out = Vec::new();
        self.translator.finish(&mut out).map(|()| out)
    }

    fn finish(&mut self) -> Vec<ChunkOut> {
        self.try_finish()
            .unwrap_or_else(|e| panic!("stream finish failed: {e}"))
    }
}

/// The JSON items of `out` (no raw ones allowed).
fn json_items(out: &[ChunkOut]) -> Vec<Value> {
    out.iter()
        .map(|c| match c {
            ChunkOut::Json(v) => v.clone(),
            ChunkOut::Raw(s) => panic!("unexpected raw item {s:?}"),
        })
        .collect()
}

/// Checks that `created` (the time of the run) is now and removes it,
/// everywhere: the fixtures leave it out.
fn without_created(mut v: Value) -> Value {
    match &mut v {
        Value::Object(map) => {
            if let Some(created) = map.remove("created") {
                assert!((now() - created.as_i64().unwrap()).abs() < 60, "{created}");
            }
            for item in map.values_mut() {
                *item = without_created(item.take());
            }
        }
        Value::Array(items) => {
            for item in items.iter_mut() {
                *item = without_created(item.take());
            }
        }
        _ => {}
    }
    v
}

/// The events of an SSE transcript, as the gateway's parser splits them.
fn sse_events(sse: &str) -> Vec<String> {
    let mut parser = crate::transform::sse::SseParser::new(1 << 20);
    let mut events = Vec::new();
    parser.feed(sse.as_bytes(), &mut events).unwrap();
    parser.finish(&mut events);
    events.into_iter().map(|e| e.data).collect()
}

#[test]
fn the_adapter_is_named_gemini_and_translates_answers() {
    assert_eq!(GEMINI.name(), "gemini");
    assert!(GEMINI.translates_response());
    assert_eq!(GEMINI.framing(), crate::adapter::Framing::Sse);
}

/// Answers are read borrowing their text: from a `Value` always, from an
/// event's text where nothing needed unescaping.
#[test]
fn answers_are_read_without_copying_their_text() {
    use std::borrow::Cow;

    use serde::Deserialize;

    use super::wire::GenerateContentResponse;

    let body = json!({"candidates": [{"content": {"parts": [
        {"text": "Hello", "thoughtSignature": "c2ln"},
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}
    ]}}], "responseId": "r-1"});
    let answer = GenerateContentResponse::deserialize(&body).unwrap();
    let parts = &answer.candidates[0].content.as_ref().unwrap().parts;
    assert!(matches!(parts[0].text, Some(Cow::Borrowed("Hello"))));
    assert!(matches!(parts[0].thought_signature, Some(Cow::Borrowed(_))));
    let blob = parts[1].inline_data.as_ref().unwrap();
    assert!(matches!(blob.data, Cow::Borrowed("iVBORw0KGgo=")));
    assert!(matches!(answer.response_id, Some(Cow::Borrowed("r-1"))));

    let event =
        r#"{"candidates": [{"content": {"parts": [{"text": "plain"}, {"text": "line\nbreak"}]}}]}"#;
    let answer: GenerateContentResponse = serde_json::from_str(event).unwrap();
    let parts = &answer.candidates[0].content.as_ref().unwrap().parts;
    assert!(matches!(parts[0].text, Some(Cow::Borrowed("plain"))));
    assert!(matches!(&parts[1].text, Some(Cow::Owned(t)) if t == "line\nbreak"));
}

/// The wire types read what they write.
#[test]
fn a_gemini_request_reads_back_as_it_was_written() {
    use serde::Deserialize;

    use super::wire::GenerateContentRequest;

    let sent = to_gemini(json_file("adapter_request.openai.json"));
    let read = GenerateContentRequest::deserialize(&sent).unwrap();
    assert_eq!(serde_json::to_value(&read).unwrap(), sent);
    let sent = to_gemini_with(
        json!({"input": ["a", "b"], "dimensions": 8}),
        &embeddings_ctx(None),
    );
    let read = super::wire::BatchEmbedContentsRequest::deserialize(&sent).unwrap();
    assert_eq!(serde_json::to_value(&read).unwrap(), sent);
}
