//! Micro-benchmarks of the request path's CPU work: SSE parsing, the
//! stream relay per event, route resolution over 1,000 routes, adapter
//! transforms, script hooks and patches, config loading, prompt token
//! estimates, log redaction, guardrails.
//! `cargo bench --bench core` prints the time per operation.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a panic fails the run

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::json;
use switchyard::adapter::script::engine::{build_engine, ScriptLimits};
use switchyard::adapter::script::{Patch, ScriptAdapter};
use switchyard::adapter::{Adapter, Ctx, Origin, Wire};
use switchyard::config::Config;
use switchyard::proxy::deliver::relay::{Feed, Relay};
use switchyard::proxy::RequestCtx;
use switchyard::routing::tokens::{self, Tokenizer};
use switchyard::transform::ndjson::NdjsonParser;
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

/// An OpenAI stream as the mock provider sends it (245-byte chunks, a
/// final usage chunk, `[DONE]`), one event per element.
fn openai_events(chunks: usize) -> Vec<Vec<u8>> {
    let chunk = |delta: serde_json::Value, finish: serde_json::Value| {
        json!({"choices": [{"delta": delta, "finish_reason": finish, "index": 0, "logprobs": null}],
            "created": 1796575985, "id": "chatcmpl-mock1", "model": "gpt-4o-mini",
            "object": "chat.completion.chunk", "service_tier": "default",
            "system_fingerprint": "fp_mock", "usage": null})
    };
    let mut events = vec![chunk(
        json!({"role": "assistant", "content": ""}),
        json!(null),
    )];
    for i in 0..chunks {
        events.push(chunk(json!({"content": format!("tok{i} ")}), json!(null)));
    }
    events.push(chunk(json!({}), json!("stop")));
    let mut usage = chunk(json!({}), json!(null));
    usage["choices"] = json!([]);
    usage["usage"] =
        json!({"prompt_tokens": 12, "completion_tokens": chunks, "total_tokens": 12 + chunks});
    events.push(usage);
    let mut out: Vec<Vec<u8>> = events
        .iter()
        .map(|e| format!("data: {e}\n\n").into_bytes())
        .collect();
    out.push(b"data: [DONE]\n\n".to_vec());
    out
}

/// The relay's work per upstream event, without the sockets: a stream fed
/// one event per read (a real token cadence) and whole in one read (a
/// burst), passed through (OpenAI) and translated (Anthropic), into an
/// OpenAI-format client. Throughput gives the time per event.
fn relay(c: &mut Criterion) {
    let openai = adapter("openai", None);
    let anthropic = adapter("anthropic", None);
    let stream_ctx = ctx("m", true);
    let anthropic_events: Vec<Vec<u8>> = fixture("anthropic", "adapter_stream.anthropic.sse")
        .expect("anthropic transcript")
        .split_inclusive("\n\n")
        .map(|e| e.as_bytes().to_vec())
        .collect();
    let mut group = c.benchmark_group("relay_per_event");
    for (name, adapter, reads) in [
        ("passthrough", &openai, openai_events(20)),
        ("translated_anthropic", &anthropic, anthropic_events),
    ] {
        let relay = Relay {
            adapter,
            ctx: &stream_ctx,
            include_usage: true,
            idle_timeout: Duration::from_secs(60),
            max_duration: Duration::from_secs(1800),
            max_event: 1 << 20,
            secrets: vec!["k".into()],
            collect: false,
            keep: None,
            guards: None,
        };
        let burst = reads.concat();
        group.throughput(Throughput::Elements(reads.len() as u64));
        for (shape, reads) in [("alone", reads.clone()), ("burst", vec![burst])] {
            group.bench_function(format!("{name}_{shape}"), |b| {
                let mut out = Vec::with_capacity(16 << 10);
                b.iter(|| {
                    let mut rctx = RequestCtx::default();
                    let mut feed = Feed::new(&relay, &rctx, "m");
                    for read in &reads {
                        out.clear();
                        feed.bytes(black_box(read), &mut out, &mut rctx);
                    }
                    feed.eof(&mut out, &mut rctx);
                    assert!(feed.complete(), "{name}: the stream did not complete");
                    black_box(out.len())
                })
            });
        }
    }
    group.finish();
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

/// The adapter `name` as a provider would hold it: built in, or the
/// script of that name in `scripts/providers/`; with `patch` after it.
fn adapter(name: &str, patch: Option<&str>) -> Adapter {
    let engine = Arc::new(build_engine(&ScriptLimits::default()));
    let timeout = Duration::from_secs(1);
    let (wire, origin): (Arc<dyn Wire>, Origin) = match switchyard::adapter::builtin(name) {
        Some(w) => (w, Origin::BuiltIn),
        None => {
            let text = match switchyard::adapter::shipped_script(name) {
                Some(t) => t.to_string(),
                None => std::fs::read_to_string(Path::new(SCRIPTS).join(format!("{name}.rhai")))
                    .expect("script"),
            };
            let path = Path::new(name);
            let s = ScriptAdapter::compile(name, path, &text, engine.clone(), timeout)
                .expect("compile");
            (Arc::new(s), Origin::Script(path.to_path_buf()))
        }
    };
    let patch = patch.map(|src| {
        Arc::new(Patch::compile("p", Path::new("p.rhai"), src, engine, timeout).expect("patch"))
    });
    Adapter::new(wire, origin, patch)
}

fn ctx(model: &str, stream: bool) -> Arc<Ctx> {
    Arc::new(Ctx {
        endpoint: "chat",
        model: model.to_string(),
        stream,
        include_usage: true,
        provider: "bench".into(),
        api_key: Some("k".into()),
        ..Ctx::default()
    })
}

fn fixture(dir: &str, file: &str) -> Option<String> {
    std::fs::read_to_string(Path::new(FIXTURES).join(dir).join(file)).ok()
}

/// The stream events of a provider transcript (SSE or NDJSON).
fn transcript(dir: &str) -> Vec<switchyard::transform::sse::SseEvent> {
    let mut events = Vec::new();
    if let Some(sse) = fixture(dir, &format!("adapter_stream.{dir}.sse"))
        .or_else(|| fixture(dir, "chat_stream.sse"))
    {
        let mut parser = SseParser::new(1 << 20);
        if parser.feed(sse.as_bytes(), &mut events).is_ok() {
            parser.finish(&mut events);
        }
    } else if let Some(nd) = fixture(dir, &format!("adapter_stream.{dir}.ndjson")) {
        let mut parser = NdjsonParser::new(1 << 20);
        if parser.feed(nd.as_bytes(), &mut events).is_ok() {
            parser.finish(&mut events);
        }
    }
    events
}

/// Each shipped adapter's request, response and per-event stream work on
/// its golden fixtures (criterion's throughput gives the time per event).
fn adapters(c: &mut Criterion) {
    let openai = adapter("openai", None);
    let once = ctx("gpt-4o", false);
    c.bench_function("openai_plan", |b| {
        b.iter(|| black_box(openai.plan(&once).is_ok()))
    });
    for (name, dir, model) in [
        ("anthropic", "anthropic", "claude-sonnet-4"),
        (
            "bedrock",
            "bedrock",
            "anthropic.claude-3-5-haiku-20241022-v1:0",
        ),
        ("gemini", "gemini", "gemini-2.5-flash"),
        ("azure-openai", "azure", "gpt-4o"),
        ("cohere", "cohere", "command-a-03-2025"),
        ("ollama", "ollama", "llama3.2"),
    ] {
        if switchyard::adapter::builtin(name).is_none()
            && switchyard::adapter::shipped_script(name).is_none()
            && !Path::new(SCRIPTS).join(format!("{name}.rhai")).is_file()
        {
            continue;
        }
        let a = adapter(name, None);
        let mut group = c.benchmark_group(format!("adapter_{name}"));
        let once = ctx(model, false);
        let streamed = ctx(model, true);
        let request = fixture(dir, "adapter_request.openai.json")
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
        if let Some(request) = request {
            group.bench_function("request", |b| {
                b.iter(|| black_box(a.request(&request, &once).is_ok()))
            });
        }
        let response = fixture(dir, &format!("adapter_response.{dir}.json"))
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
        if let Some(response) = response {
            group.bench_function("response", |b| {
                b.iter(|| black_box(a.response(response.clone(), &once).is_ok()))
            });
        }
        let events = transcript(dir);
        if !events.is_empty() {
            group.throughput(Throughput::Elements(events.len() as u64));
            group.bench_function("stream_per_event", |b| {
                b.iter(|| {
                    let mut state = a.stream(&streamed);
                    let mut out = Vec::new();
                    for ev in &events {
                        black_box(state.event(&ev.event, &ev.data, &mut out).is_ok());
                        out.clear();
                    }
                    black_box(state.finish(&mut out).is_ok())
                })
            });
        }
        group.finish();
    }
}

/// What a cloud provider adds per request and per stream event: a SigV4
/// signature over a typical Converse request (AWS's signer), and reading
/// AWS's binary event-stream frames (the Bedrock fixture's stream).
fn cloud(c: &mut Criterion) {
    use switchyard::cloud::aws::{ProcessEnv, Settings, Signer};
    use switchyard::upstream::call::{Outgoing, RequestHead};
    use switchyard::upstream::Upstream;
    let mut group = c.benchmark_group("cloud");
    let settings = Settings {
        region: Some("us-east-1".into()),
        access_key_id: Some("AKIAIOSFODNN7EXAMPLE".into()),
        secret_access_key: Some("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into()),
        session_token: Some("FwoGZXIvYXdzEBYaDHsessiontoken".into()),
        ..Settings::default()
    };
    let signer = Signer::new(&settings, &ProcessEnv).unwrap();
    let upstream = Upstream::parse("https://bedrock-runtime.us-east-1.amazonaws.com").unwrap();
    let head = Arc::new(
        RequestHead::new(
            http::Method::POST,
            &upstream,
            "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse",
            &[("content-type".into(), "application/json".into())],
        )
        .unwrap(),
    );
    let body = bytes::Bytes::from(
        fixture("bedrock", "adapter_request.bedrock.json").unwrap_or_else(|| "{}".into()),
    );
    group.bench_function("sigv4_sign", |b| {
        b.iter(|| {
            let mut out = Outgoing {
                head: head.clone(),
                body: body.clone(),
                form: None,
                extra_headers: Vec::new(),
            };
            black_box(signer.sign(&upstream, &mut out).is_ok())
        })
    });
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/bedrock/adapter_stream.bedrock.eventstream");
    if let Ok(stream) = std::fs::read(path) {
        let mut events = Vec::new();
        let mut parser = switchyard::transform::eventstream::EventStreamParser::new(1 << 20);
        let _ = parser.feed(&stream, &mut events);
        group.throughput(Throughput::Elements(events.len() as u64));
        group.bench_function("eventstream_per_frame", |b| {
            b.iter(|| {
                let mut parser =
                    switchyard::transform::eventstream::EventStreamParser::new(1 << 20);
                let mut out = Vec::new();
                black_box(parser.feed(&stream, &mut out).is_ok());
                black_box(out.len())
            })
        });
    }
    group.finish();
}

/// What script hooks cost: a no-op adapter hook and a one-field patch per
/// request (on the golden request and on a ~100 KB conversation), and per
/// stream event (a no-op and a one-field `patch_chunk` over OpenAI events).
fn script_hooks(c: &mut Criterion) {
    let mut group = c.benchmark_group("script_hooks");
    let once = ctx("gpt-4o", false);
    let streamed = ctx("gpt-4o", true);
    let engine = Arc::new(build_engine(&ScriptLimits::default()));
    let noop_adapter = ScriptAdapter::compile(
        "noop",
        Path::new("noop.rhai"),
        "fn request(ctx) { #{ path: \"/v1/chat/completions\" } }\nfn transform_request(body, ctx) { body }\nfn transform_chunk(event, ctx) { event.data }",
        engine,
        Duration::from_secs(1),
    )
    .expect("noop");
    let noop = Adapter::new(
        Arc::new(noop_adapter),
        Origin::Script("noop.rhai".into()),
        None,
    );
    let patched = adapter("openai", Some("fn patch_request(body, ctx) { body.model = \"renamed\"; }\nfn patch_chunk(chunk, ctx) { chunk.model = \"renamed\"; }"));
    let small: serde_json::Value = fixture("anthropic", "adapter_request.openai.json")
        .and_then(|t| serde_json::from_str(&t).ok())
        .expect("request fixture");
    let large = conversation(100_000);
    for (size, body) in [("golden", &small), ("100KB", &large)] {
        group.bench_function(format!("noop_adapter_request_{size}"), |b| {
            b.iter(|| black_box(noop.request(body, &once).is_ok()))
        });
        group.bench_function(format!("one_field_patch_request_{size}"), |b| {
            b.iter(|| black_box(patched.request(body, &once).is_ok()))
        });
    }
    let stream = openai_stream(20);
    let mut events = Vec::new();
    let mut parser = SseParser::new(1 << 20);
    parser.feed(&stream, &mut events).expect("events");
    group.throughput(Throughput::Elements(events.len() as u64));
    for (label, a) in [("noop_adapter", &noop), ("one_field_patch", &patched)] {
        group.bench_function(format!("{label}_per_event"), |b| {
            b.iter(|| {
                let mut state = a.stream(&streamed);
                let mut out = Vec::new();
                for ev in &events {
                    black_box(state.event(&ev.event, &ev.data, &mut out).is_ok());
                    out.clear();
                }
            })
        });
    }
    group.finish();
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

/// What a Responses API client costs over a chat client: its request to the
/// hub (a tool round trip's items), a whole answer to a Response object, and
/// per hub chunk of a stream to typed events; and a multipart upload read
/// (1 MiB audio, spooled) and written again for an attempt.
fn responses_and_forms(c: &mut Criterion) {
    use switchyard::dialect::responses::{self, Meta, StreamEncoder};
    let mut group = c.benchmark_group("responses_dialect");
    let body = serde_json::json!({
        "model": "smart", "instructions": "be brief",
        "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}],
        "input": [
            {"role": "user", "content": "Weather in Paris?"},
            {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{\"city\":\"Paris\"}"},
            {"type": "function_call_output", "call_id": "c1", "output": "sunny"}
        ]
    });
    group.bench_function("request_to_hub", |b| {
        b.iter(|| {
            let r = responses::parse(black_box(body.clone())).unwrap();
            black_box(r.to_hub(&[]).unwrap())
        })
    });
    let meta = Meta {
        id: "resp_bench".into(),
        created_at: 0,
        model: "smart".into(),
        request: body.clone(),
    };
    let answer: serde_json::Value =
        serde_json::from_str(&fixture("openai", "chat_completion.json").unwrap()).unwrap();
    group.bench_function("response_from_hub", |b| {
        b.iter(|| black_box(responses::response_from_hub(black_box(&answer), &meta)))
    });
    let chunks: Vec<serde_json::Value> = openai_events(20)
        .iter()
        .filter_map(|e| {
            let e = std::str::from_utf8(e).ok()?;
            serde_json::from_str(e.trim().strip_prefix("data: ")?).ok()
        })
        .collect();
    group.throughput(Throughput::Elements(chunks.len() as u64));
    // The translated path: chunks as `Value`s, events onto the wire.
    group.bench_function("stream_per_chunk", |b| {
        let mut out = Vec::with_capacity(16 << 10);
        b.iter(|| {
            let mut enc = StreamEncoder::new(meta.clone());
            out.clear();
            for c in &chunks {
                enc.chunk_into(c, &mut out);
            }
            enc.finish_into(&mut out);
            black_box(out.len())
        })
    });
    // The passthrough path `Sink` takes: each chunk still in its text.
    let texts: Vec<String> = chunks.iter().map(|c| c.to_string()).collect();
    group.bench_function("stream_per_chunk_text", |b| {
        let mut out = Vec::with_capacity(16 << 10);
        b.iter(|| {
            let mut enc = StreamEncoder::new(meta.clone());
            out.clear();
            for text in &texts {
                enc.chunk_text_into(text, &mut out);
            }
            enc.finish_into(&mut out);
            black_box(out.len())
        })
    });
    group.finish();

    use switchyard::request::form::{Form, Piece, PIECE};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let file = vec![7u8; 1 << 20];
    let mut raw =
        b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.mp3\"\r\n\r\n"
            .to_vec();
    raw.extend_from_slice(&file);
    raw.extend_from_slice(
        b"\r\n--b\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper\r\n--b--\r\n",
    );
    let raw = bytes::Bytes::from(raw);
    let mut group = c.benchmark_group("multipart_upload");
    group.throughput(Throughput::Bytes(raw.len() as u64));
    group.bench_function("spool_and_resend_1MiB", |b| {
        b.iter(|| {
            rt.block_on(async {
                let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = (0..raw.len())
                    .step_by(16 << 10)
                    .map(|i| Ok(raw.slice(i..(i + (16 << 10)).min(raw.len()))))
                    .collect();
                let form = Form::read(futures_util::stream::iter(chunks), "b", 8 << 20)
                    .await
                    .unwrap();
                let mut sent = 0;
                for piece in form.pieces("whisper-1") {
                    match piece {
                        Piece::Bytes(b) => sent += b.len(),
                        Piece::Spooled { mut offset, len } => {
                            let end = offset + len;
                            while offset < end {
                                let b = form.spool().read(offset, PIECE).await.unwrap();
                                offset += b.len() as u64;
                                sent += b.len();
                            }
                        }
                    }
                }
                black_box(sent)
            })
        })
    });
    group.finish();
}

/// What tracing adds per request (issue 21): a traced request's three
/// spans (request, attempt, stream) as the gateway builds them, their
/// OTLP encoding on the exporter's thread, and the client's `traceparent`
/// read and a provider's written.
fn tracing_spans(c: &mut Criterion) {
    use std::borrow::Cow;
    use switchyard::trace::context::{parse_traceparent, traceparent};
    use switchyard::trace::span::{Attr, Kind, Span, SpanId, Status, TraceId};
    let trace = TraceId::random();
    let span = |name: &'static str, kind: Kind, attrs: Vec<Attr>| Span {
        trace_id: trace,
        span_id: SpanId::random(),
        parent: Some(SpanId::random()),
        remote_parent: false,
        trace_state: None,
        name: Cow::Borrowed(name),
        kind,
        start_ns: 1_765_000_000_000_000_000,
        end_ns: 1_765_000_000_250_000_000,
        attrs,
        events: Vec::new(),
        status: Status::Unset,
    };
    let request = || {
        vec![
            span(
                "chat smart",
                Kind::Server,
                vec![
                    Attr::str("gen_ai.operation.name", "chat"),
                    Attr::int("http.response.status_code", 200),
                    Attr::str(
                        "switchyard.request_id",
                        "req_0123456789abcdef01234567".to_string(),
                    ),
                    Attr::str("switchyard.endpoint", "chat"),
                    Attr::bool("switchyard.stream", true),
                    Attr::str("switchyard.config_version", "3f9c2a1b".to_string()),
                    Attr::str("gen_ai.request.model", "smart".to_string()),
                    Attr::str("gen_ai.response.model", "gpt-4o-mini".to_string()),
                    Attr::str("switchyard.route", "smart".to_string()),
                    Attr::str("switchyard.provider", "openai".to_string()),
                    Attr::str("switchyard.strategy", "ordered"),
                    Attr::str("switchyard.attempts", "openai:200".to_string()),
                    Attr::int("gen_ai.usage.input_tokens", 24),
                    Attr::int("gen_ai.usage.output_tokens", 60),
                    Attr::f64("switchyard.cost_usd", 0.000_042),
                    Attr::f64("switchyard.time_to_first_token_ms", 0.41),
                ],
            ),
            span(
                "chat gpt-4o-mini",
                Kind::Client,
                vec![
                    Attr::str("gen_ai.operation.name", "chat"),
                    Attr::str("gen_ai.system", "openai"),
                    Attr::str("gen_ai.request.model", "gpt-4o-mini".to_string()),
                    Attr::str("switchyard.provider", "openai".to_string()),
                    Attr::str("switchyard.backend", "openai".to_string()),
                    Attr::str("server.address", "api.openai.com".to_string()),
                    Attr::int("server.port", 443),
                    Attr::int("switchyard.attempt.index", 0),
                    Attr::bool("switchyard.attempt.hedge", false),
                    Attr::bool("switchyard.attempt.failover", false),
                    Attr::int("http.response.status_code", 200),
                    Attr::f64("switchyard.time_to_first_byte_ms", 0.35),
                ],
            ),
            span(
                "stream gpt-4o-mini",
                Kind::Internal,
                vec![
                    Attr::int("switchyard.stream.events", 23),
                    Attr::str("switchyard.stream.end", "complete"),
                    Attr::f64("switchyard.time_to_first_token_ms", 0.41),
                ],
            ),
        ]
    };
    let resource = vec![Attr {
        key: Cow::Borrowed("service.name"),
        value: switchyard::trace::span::Value::Str(Cow::Borrowed("switchyard")),
    }];
    let mut group = c.benchmark_group("tracing");
    group.bench_function("build_request_spans", |b| b.iter(|| black_box(request())));
    let spans: Vec<Span> = (0..170).flat_map(|_| request()).collect();
    let mut out = Vec::new();
    // A batch of 510 spans, the exporter's default batch (per request: / 170).
    group.throughput(Throughput::Elements(170));
    group.bench_function("otlp_encode_per_request", |b| {
        b.iter(|| {
            out.clear();
            switchyard::trace::otlp::encode(&resource, "switchyard", "0.1.0", &spans, &mut out);
            black_box(out.len())
        })
    });
    group.throughput(Throughput::Elements(1));
    let header = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    group.bench_function("traceparent_read_and_write", |b| {
        b.iter(|| {
            let (t, s, _) =
                parse_traceparent(black_box(header)).unwrap_or((trace, SpanId([1; 8]), 0));
            black_box(traceparent(t, s, true))
        })
    });
    group.finish();
}

/// Guardrails on the request path: the PII detectors alone, and each
/// shipped script guardrail on a whole request and a stream chunk.
fn guardrails(c: &mut Criterion) {
    use futures_util::FutureExt;
    use switchyard::guard::{pii, Scope};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("routes.yaml");
    let yaml = format!(
        "scripts: {SCRIPTS}\nproviders:\n  p: {{ adapter: openai, base_url: \"http://127.0.0.1:9/v1\" }}\nroutes:\n  - match: {{ model: m }}\n    targets: [{{ provider: p }}]\n  - match: {{ model: pii }}\n    targets: [{{ provider: p }}]\n    guardrails: [{{ builtin: pii, options: {{ answers: true }} }}]\n  - match: {{ model: deny }}\n    targets: [{{ provider: p }}]\n    guardrails: [{{ builtin: deny-list, options: {{ words: [falcon, heron], patterns: [\"(?i)ignore (all )?previous instructions\"] }} }}]\n  - match: {{ model: cap }}\n    targets: [{{ provider: p }}]\n    guardrails: [{{ builtin: max-tokens, options: {{ max: 512 }} }}]\n"
    );
    std::fs::write(&path, yaml).unwrap();
    let cfg = Config::load(&path).unwrap();
    let of = |model: &str| cfg.routes.resolve(model).unwrap().policy.guardrails.clone();
    let connector = pingora::connectors::http::Connector::new(None);
    let scope = Scope {
        endpoint: "chat",
        model: "m",
        route: Some("r"),
        key: None,
        stream: false,
    };
    let mut group = c.benchmark_group("guardrails");
    let prose = texts(&conversation(4096)).join("\n");
    group.bench_function("pii_redact_4kb_clean", |b| {
        b.iter(|| black_box(pii::redact(black_box(&prose), pii::Kinds::ALL)))
    });
    for (label, bytes) in [("1kb", 1024), ("50kb", 50 * 1024)] {
        let body = conversation(bytes);
        group.bench_function(format!("clone_only_{label}"), |b| {
            b.iter(|| black_box(body.clone()))
        });
        for name in ["pii", "deny", "cap"] {
            let g = of(name);
            group.bench_function(format!("{name}_request_{label}"), |b| {
                b.iter(|| {
                    let mut body = body.clone();
                    let done = g.request(&mut body, &scope, &connector).now_or_never();
                    black_box((done.map(|r| r.is_ok()), body))
                })
            });
        }
    }
    let g = of("pii");
    let chunk = json!({"id": "c", "object": "chat.completion.chunk", "model": "m",
        "choices": [{"index": 0, "delta": {"content": "The gateway ranks every "}, "finish_reason": null}]});
    let mut stream = g.stream(&scope).unwrap();
    group.bench_function("pii_chunk", |b| {
        b.iter(|| {
            let mut out = Vec::new();
            stream.chunk(chunk.clone(), &mut out).unwrap();
            black_box(out)
        })
    });
    group.finish();
}

/// The semantic cache's lookup and insert (issue 23): a namespace of 1,000
/// and 10,000 entries of 256- and 1536-dimension vectors (OpenAI's
/// text-embedding-3-small asked for `dimensions: 256`, and as it comes),
/// in four exact-match partitions. Vectors are
/// drawn around 200 topics (each a random direction, every vector within
/// cosine ~0.9 of its topic), as prompts' embeddings cluster; the query is
/// a new vector of one topic.
fn semantic_cache(c: &mut Criterion) {
    use rand::{Rng, SeedableRng};
    use switchyard::policy::cache::Cached;
    use switchyard::policy::semantic::{Entry, SemanticCache};
    use switchyard::state::StateStore;
    let answer = Arc::new(Cached {
        provider: "p".into(),
        model: "m".into(),
        body: "{\"choices\":[]}".into(),
        prompt_tokens: 10,
        completion_tokens: 20,
        fresh_until_ms: 0,
    });
    let store = StateStore::memory();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let namespace = "chat\u{0}*\u{0}embed\u{0}0";
    let mut group = c.benchmark_group("semantic_cache");
    for dims in [256usize, 1536] {
        let mut rng = rand::rngs::StdRng::seed_from_u64(23);
        let topics: Vec<Vec<f32>> = (0..200)
            .map(|_| (0..dims).map(|_| rng.gen_range(-1.0f32..1.0)).collect())
            .collect();
        let mut vector = || {
            let topic = &topics[rng.gen_range(0..topics.len())];
            topic
                .iter()
                .map(|x| x + rng.gen_range(-0.5f32..0.5))
                .collect::<Vec<f32>>()
        };
        for n in [1_000usize, 10_000] {
            let cache = SemanticCache::new(1 << 30);
            for i in 0..n {
                let entry = Entry {
                    namespace: namespace.into(),
                    partition: (i % 4) as u64,
                    vector: vector(),
                    answer: answer.clone(),
                    expires_at_ms: u64::MAX,
                };
                rt.block_on(cache.insert(&store, entry));
            }
            let query = vector();
            group.bench_function(format!("lookup_{n}x{dims}"), |b| {
                b.iter(|| black_box(cache.lookup(namespace, 1, black_box(&query), 0.99)))
            });
            let extra = vector();
            group.bench_function(format!("insert_into_{n}x{dims}"), |b| {
                b.iter(|| {
                    let entry = Entry {
                        namespace: namespace.into(),
                        partition: 1,
                        vector: extra.clone(),
                        answer: answer.clone(),
                        expires_at_ms: u64::MAX,
                    };
                    rt.block_on(cache.insert(&store, entry))
                })
            });
        }
    }
    group.finish();
}

criterion_group!(
    benches,
    semantic_cache,
    guardrails,
    tracing_spans,
    responses_and_forms,
    sse,
    relay,
    routing,
    adapters,
    cloud,
    script_hooks,
    token_estimates,
    log_redaction
);
criterion_main!(benches);
