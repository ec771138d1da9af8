//! Micro-benchmarks of the request path's CPU work: SSE parsing, route
//! resolution over 1,000 routes, adapter transforms, config loading, prompt
//! token estimates.
//! `cargo bench --bench core` prints the time per operation.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rhai::Map;
use serde_json::json;
use switchyard::config::Config;
use switchyard::provider::engine::{build_engine, ScriptLimits};
use switchyard::provider::{Adapter, HookCtx};
use switchyard::routing::tokens::{self, Tokenizer};
use switchyard::transform::sse::SseParser;

const SCRIPTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/providers");
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn openai_stream(chunks: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..chunks {
        let c = json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": {"content": format!("tok{i} ")}, "finish_reason": null}]});
        out.extend_from_slice(format!("data: {c}\n\n").as_bytes());
    }
    out.extend_from_slice(b"data: [DONE]\n\n");
    out
}

fn sse(c: &mut Criterion) {
    let body = openai_stream(20);
    c.bench_function("sse_parse_20_events_in_97_byte_reads", |b| {
        b.iter(|| {
            let mut p = SseParser::new(1 << 20);
            let mut events = Vec::new();
            for chunk in body.chunks(97) {
                p.feed(black_box(chunk), &mut events).ok();
            }
            black_box(events.len())
        })
    });
}

fn config_with_routes(n: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut yaml = format!("scripts: {SCRIPTS}\nproviders:\n  p:\n    adapter: openai\n    base_url: http://127.0.0.1:1/v1\nroutes:\n");
    for i in 0..n {
        let pattern = if i % 10 == 0 {
            format!("\"family{i}-*\"")
        } else {
            format!("model-{i}")
        };
        yaml.push_str(&format!(
            "  - match: {{ model: {pattern} }}\n    targets: [{{ provider: p, model: m{i} }}]\n"
        ));
    }
    std::fs::write(dir.path().join("routes.yaml"), yaml).expect("write");
    dir
}

fn routing(c: &mut Criterion) {
    let dir = config_with_routes(1000);
    let cfg = Config::load(&dir.path().join("routes.yaml")).expect("config");
    c.bench_function("route_resolve_exact_among_1000", |b| {
        b.iter(|| black_box(cfg.routes.resolve(black_box("model-999"))))
    });
    c.bench_function("route_resolve_glob_among_1000", |b| {
        b.iter(|| black_box(cfg.routes.resolve(black_box("family990-x"))))
    });
    let dir = config_with_routes(500);
    let path = dir.path().join("routes.yaml");
    c.bench_function("config_load_validate_500_routes", |b| {
        b.iter(|| black_box(Config::load(&path).is_ok()))
    });
}

fn adapter(name: &str) -> Adapter {
    let path = Path::new(SCRIPTS).join(format!("{name}.rhai"));
    let src = std::fs::read_to_string(&path).expect("script");
    let engine = Arc::new(build_engine(&ScriptLimits::default()));
    Adapter::compile(name, &path, &src, engine, Duration::from_secs(1)).expect("compile")
}

fn script_ctx(model: &str, stream: bool) -> Map {
    HookCtx {
        endpoint: "chat",
        model,
        stream,
        include_usage: true,
        provider: "bench",
        api_key: Some("k"),
        options: &Map::new(),
        encoding_format: None,
    }
    .to_map()
}

fn fixture(dir: &str, file: &str) -> Option<String> {
    std::fs::read_to_string(Path::new(FIXTURES).join(dir).join(file)).ok()
}

/// The hooks of each shipped adapter on its golden fixtures: the script in
/// Rhai, and its native twin where it has one (what the gateway runs).
/// Streams report time per event (criterion's throughput).
fn adapters(c: &mut Criterion) {
    let openai = adapter("openai");
    let ctx = script_ctx("claude-sonnet-4", false);
    c.bench_function("openai_request_hook", |b| {
        b.iter(|| black_box(openai.request(&ctx).is_ok()))
    });
    for (name, dir, model) in [
        ("anthropic", "anthropic", "claude-sonnet-4"),
        ("gemini", "gemini", "gemini-2.5-flash"),
        ("azure-openai", "azure", "gpt-4o"),
    ] {
        let twin = adapter(name);
        let script = adapter(name).script_only();
        let mut runs = vec![("script", &script)];
        let mut group = c.benchmark_group(format!("adapter_{name}"));
        let once = script_ctx(model, false);
        let streamed = script_ctx(model, true);
        let request = fixture(dir, "adapter_request.openai.json")
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
        if let Some(request) = request {
            if twin.runs_natively("transform_request") {
                runs.push(("native", &twin));
            }
            for (label, a) in &runs {
                group.bench_function(format!("transform_request_{label}"), |b| {
                    b.iter(|| black_box(a.transform_request(&request, &once).is_ok()))
                });
            }
            runs.truncate(1);
        }
        let response = fixture(dir, &format!("adapter_response.{dir}.json"))
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
        if let Some(response) = response {
            if twin.runs_natively("transform_response") {
                runs.push(("native", &twin));
            }
            for (label, a) in &runs {
                group.bench_function(format!("transform_response_{label}"), |b| {
                    b.iter(|| black_box(a.transform_response(response.clone(), &once).is_ok()))
                });
            }
            runs.truncate(1);
        }
        let sse = fixture(dir, &format!("adapter_stream.{dir}.sse"))
            .or_else(|| fixture(dir, "chat_stream.sse"))
            .unwrap_or_default();
        let mut events = Vec::new();
        let mut parser = SseParser::new(1 << 20);
        if parser.feed(sse.as_bytes(), &mut events).is_ok() && !events.is_empty() {
            parser.finish(&mut events);
            if twin.runs_natively("transform_chunk") {
                runs.push(("native", &twin));
            }
            group.throughput(Throughput::Elements(events.len() as u64));
            for (label, a) in &runs {
                group.bench_function(format!("stream_per_event_{label}"), |b| {
                    b.iter(|| {
                        let mut state = a.stream_state();
                        for ev in &events {
                            black_box(
                                a.transform_chunk(&mut state, &ev.event, &ev.data, &streamed)
                                    .is_ok(),
                            );
                        }
                        black_box(a.finish_stream(&mut state, &streamed).is_ok())
                    })
                });
            }
        }
        group.finish();
    }
}

/// A chat of about `bytes` bytes: alternating prose and code turns.
fn conversation(bytes: usize) -> serde_json::Value {
    const PROSE: &str = "The gateway ranks every target of a route before it sends anything: it estimates the prompt, looks up the model's prices and context window, and weighs the observed latency of each provider. ";
    const CODE: &str = "fn rank(targets: &[Target]) -> Vec<usize> {\n    let mut order: Vec<usize> = (0..targets.len()).collect();\n    order.sort_by(|a, b| cost(a).total_cmp(&cost(b)));\n    order\n}\n";
    let mut messages = vec![json!({"role": "system", "content": "You are a careful reviewer."})];
    let mut size = 0;
    let mut turn = 0;
    while size < bytes {
        let text = if turn % 2 == 0 {
            format!("Question {turn}: {}", PROSE.repeat(2))
        } else {
            format!("Answer {turn}:\n```rust\n{CODE}```\n{PROSE}")
        };
        size += text.len();
        let role = if turn % 2 == 0 { "user" } else { "assistant" };
        messages.push(json!({"role": role, "content": text}));
        turn += 1;
    }
    json!({"model": "gpt-4o", "messages": messages})
}

fn texts(body: &serde_json::Value) -> Vec<&str> {
    body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["content"].as_str())
        .collect()
}

fn token_estimates(c: &mut Criterion) {
    for (label, bytes) in [("1kb", 1024), ("50kb", 50 * 1024)] {
        let body = conversation(bytes);
        // Requests never build the BPE table; it is built once per process.
        let first = std::time::Instant::now();
        if Tokenizer::O200k.build() && label == "1kb" {
            println!("o200k_base table built in {:?}", first.elapsed());
        }
        c.bench_function(&format!("estimate_prompt_o200k_{label}"), |b| {
            b.iter(|| black_box(tokens::estimate_prompt(black_box(&body), "gpt-4o")))
        });
        c.bench_function(&format!("estimate_prompt_approximate_{label}"), |b| {
            b.iter(|| {
                black_box(tokens::estimate_prompt(
                    black_box(&body),
                    "claude-sonnet-4-5",
                ))
            })
        });
        let pieces = texts(&body);
        println!(
            "{label}: estimate {} tokens (exact text {} + overhead)",
            tokens::estimate_prompt(&body, "gpt-4o"),
            Tokenizer::O200k.count_exact(&pieces)
        );
        c.bench_function(&format!("tokenize_exact_o200k_{label}"), |b| {
            b.iter(|| black_box(Tokenizer::O200k.count_exact(black_box(&pieces))))
        });
    }
}

/// The log redactor on an access-log line (every request writes one at
/// `info`) and on a Pingora trace dump of a request head.
fn log_redaction(c: &mut Criterion) {
    use switchyard::logging::Redactor;
    let r = Redactor::new([
        "sk-live-provider-key-0123456789",
        "admin-key-0123456789abcdef",
    ]);
    let access = "2026-12-06T13:10:00.000000Z  INFO access: request request_id=req_2ad6abee9d735607300bd4c3 endpoint=chat route=smart provider=openai model=gpt-4o-mini status=200 stream=false attempts=openai:200 latency_ms=312 ttft_ms=None prompt_tokens=25 completion_tokens=5 cost_usd=0.0000067 key=team-a cache=None error=None config_version=aecf9946f4aa\n";
    let head = "2026-12-06T13:10:00.000000Z TRACE pingora_core::apps::http_app: RequestHeader { base: Parts { method: POST, uri: /v1/chat/completions, version: HTTP/1.1, headers: {\"host\": \"127.0.0.1:8080\", \"authorization\": \"Bearer sk-sy-6vQ0m0aaaaBBBBccccDDDDeeeeFFFF00001111222\", \"content-type\": \"application/json\", \"content-length\": \"123\"} } }\n";
    let mut g = c.benchmark_group("log_redaction");
    g.bench_function("access_line", |b| b.iter(|| r.redact(access.as_bytes())));
    g.bench_function("request_head_dump", |b| {
        b.iter(|| r.redact(head.as_bytes()))
    });
    g.finish();
}

criterion_group!(
    benches,
    sse,
    routing,
    adapters,
    token_estimates,
    log_redaction
);
criterion_main!(benches);
