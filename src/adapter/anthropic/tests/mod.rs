//! Tests of the Anthropic adapter: the specification the Rhai script and
//! its twin were tested against, run on [`ANTHROPIC`] directly, the golden
//! fixtures and a robustness sweep.

use std::sync::Arc;

use serde_json::{json, Value};

use super::ANTHROPIC;
use crate::adapter::{AdapterError, ChunkOut, Ctx, StreamTranslator, Wire};

mod golden;
mod request;
mod response;
mod stream;
mod sweep;
mod wire;

/// `ctx` as the proxy builds it for one attempt.
fn ctx_full(endpoint: &'static str, stream: bool, api_key: Option<&str>, options: Value) -> Ctx {
    Ctx {
        endpoint,
        model: "claude-sonnet-4-5".to_string(),
        stream,
        include_usage: false,
        provider: "anthropic".to_string(),
        api_key: api_key.map(str::to_string),
        options: Arc::new(options.as_object().cloned().unwrap_or_default()),
        encoding_format: None,
        script: Default::default(),
    }
}

fn ctx() -> Ctx {
    ctx_full("chat", false, Some("sk-ant-test"), json!({}))
}

fn ctx_with_options(options: Value) -> Ctx {
    ctx_full("chat", false, Some("sk-ant-test"), options)
}

/// A minimal valid hub request with `extra` merged in.
fn chat(extra: Value) -> Value {
    let mut body = json!({
        "model": "claude-sonnet-4-5",
        "messages": [{"role": "user", "content": "Hello"}]
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

fn to_anthropic_with(body: Value, ctx: &Ctx) -> Value {
    ANTHROPIC
        .request(&body, ctx)
        .unwrap_or_else(|e| panic!("request failed: {e}"))
        .expect("the adapter translates requests")
}

fn to_anthropic(body: Value) -> Value {
    to_anthropic_with(body, &ctx())
}

/// The status and message of a request the adapter refuses.
fn rejected(body: Value) -> (u16, String) {
    match ANTHROPIC.request(&body, &ctx()) {
        Err(AdapterError::Rejected { status, message }) => (status, message),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn to_openai(body: Value) -> Value {
    ANTHROPIC
        .response(body, &ctx())
        .unwrap_or_else(|e| panic!("response failed: {e}"))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// One stream through a translator.
struct Stream {
    translator: Box<dyn StreamTranslator>,
}

impl Stream {
    fn new() -> Self {
        let ctx = Arc::new(ctx_full("chat", true, Some("sk-ant-test"), json!({})));
        Self {
            translator: ANTHROPIC
                .stream(&ctx)
                .expect("the adapter translates streams"),
        }
    }

    fn feed_raw(&mut self, event: &str, data: &str) -> Vec<ChunkOut> {
        let mut out = Vec::new();
        self.translator
            .event(event, data, &mut out)
            .unwrap_or_else(|e| panic!("event {event} failed: {e}"));
        out
    }

    fn feed(&mut self, event: &str, data: Value) -> Vec<ChunkOut> {
        self.feed_raw(event, &data.to_string())
    }

    /// Feeds every `(event, data)` and collects all outputs in order.
    fn run(&mut self, events: &[(&str, Value)]) -> Vec<ChunkOut> {
        events
            .iter()
            .flat_map(|(event, data)| self.feed(event, data.clone()))
            .collect()
    }

    fn finish(&mut self) -> Vec<ChunkOut> {
        let mut out = Vec::new();
        self.translator
            .finish(&mut out)
            .unwrap_or_else(|e| panic!("finish failed: {e}"));
        out
    }
}

/// A rough speed figure, the best of 7 batches (not run in CI: `cargo test
/// --lib -- --ignored anthropic_adapter_speed --nocapture`; a release build
/// gives real numbers).
#[test]
#[ignore]
fn anthropic_adapter_speed() {
    use std::time::{Duration, Instant};
    fn best(n: u32, mut f: impl FnMut()) -> Duration {
        (0..7)
            .map(|_| {
                let t = Instant::now();
                for _ in 0..n {
                    f();
                }
                t.elapsed() / n
            })
            .min()
            .unwrap()
    }
    let read = |name: &str| -> Value {
        let path = format!(
            "{}/tests/fixtures/anthropic/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    let ctx = Arc::new(ctx_full("chat", true, Some("k"), json!({})));
    let body = read("hub_request.json");
    let answer = read("adapter_response.anthropic.json");
    let delta = json!({"type": "content_block_delta", "index": 0,
                       "delta": {"type": "text_delta", "text": "Hello, world"}})
    .to_string();
    let mut translator = ANTHROPIC.stream(&ctx).unwrap();
    let mut out = Vec::new();
    let per_event = best(5_000, || {
        out.clear();
        translator
            .event("content_block_delta", &delta, &mut out)
            .unwrap();
    });
    let per_request = best(500, || {
        ANTHROPIC.request(&body, &ctx).unwrap();
    });
    let per_clone = best(500, || {
        std::hint::black_box(answer.clone());
    });
    let per_response = best(500, || {
        ANTHROPIC.response(answer.clone(), &ctx).unwrap();
    });
    eprintln!(
        "{per_event:?} per text delta, {per_request:?} per request, {:?} per response",
        per_response.saturating_sub(per_clone)
    );
}
