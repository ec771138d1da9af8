//! Provider presets through the real gateway: OpenAI-compatible presets
//! whose base paths differ, Azure's deployment surface, DeepSeek's
//! `reasoning_content` in both directions, and the golden provider payloads
//! in `tests/fixtures/{openai,azure}`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use switchyard::config::catalog::Catalog;
use switchyard::transform::sse::SseParser;
use switchyard_mock::RecordedRequest;

use crate::common::*;

// ───────────────────────── fixtures and a fixture server ─────────────────────────

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(fixtures().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn fixture_json(name: &str) -> Value {
    serde_json::from_str(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The `data` of every event of an SSE fixture, in order.
fn fixture_events(name: &str) -> Vec<String> {
    let mut parser = SseParser::new(1 << 20);
    let mut events = Vec::new();
    parser.feed(fixture(name).as_bytes(), &mut events).unwrap();
    parser.finish(&mut events);
    events.into_iter().map(|e| e.data).collect()
}

/// One request a [`FixtureServer`] received.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    query: Option<String>,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Answers every POST with a fixture file, as the provider would: a
/// `…/embeddings` path gets `embeddings`, a chat request with `"stream":
/// true` gets `stream` (SSE), any other gets `chat`.
struct FixtureServer {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl FixtureServer {
    async fn start(chat: &str, stream: &str, embeddings: &str) -> FixtureServer {
        let files = Arc::new([fixture(chat), fixture(stream), fixture(embeddings)]);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
            let files = files.clone();
            let record = record.clone();
            async move {
                let (parts, body) = req.into_parts();
                let bytes = axum::body::to_bytes(body, 1 << 24)
                    .await
                    .unwrap_or_default();
                let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                let headers = parts
                    .headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                    .collect();
                let path = parts.uri.path().to_string();
                let (text, content_type) = if path.ends_with("/embeddings") {
                    (files[2].clone(), "application/json")
                } else if body["stream"] == true {
                    (files[1].clone(), "text/event-stream")
                } else {
                    (files[0].clone(), "application/json")
                };
                record.lock().unwrap().push(Seen {
                    path,
                    query: parts.uri.query().map(str::to_string),
                    headers,
                    body,
                });
                ([(axum::http::header::CONTENT_TYPE, content_type)], text)
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FixtureServer { addr, seen, task }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn last(&self) -> Seen {
        self.seen
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("a request")
    }
}

impl Drop for FixtureServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The JSON events of a stream (`[DONE]` as the string "[DONE]").
fn events_json(events: &[Received]) -> Vec<Value> {
    events
        .iter()
        .map(|e| serde_json::from_str(&e.event.data).unwrap_or(Value::String(e.event.data.clone())))
        .collect()
}

fn parse_events(data: &[String]) -> Vec<Value> {
    data.iter()
        .map(|d| serde_json::from_str(d).unwrap_or(Value::String(d.clone())))
        .collect()
}

// ───────────────────────────── presets, end to end ─────────────────────────────

/// Presets whose real base URL has this path (checked against the catalog):
/// the mock answers `<path>/chat/completions` through its catch-all.
const PRESET_PATHS: &[(&str, &str, bool)] = &[
    // (preset, base path, sends the key as a bearer token)
    ("groq", "/openai/v1", true),
    ("openrouter", "/api/v1", true),
    ("deepinfra", "/v1/openai", true),
    ("cohere", "/compatibility/v1", true),
    ("zhipu", "/api/paas/v4", true),
    ("qwen", "/compatible-mode/v1", true),
    ("volcengine", "/api/v3", true),
    ("qianfan", "/v2", true),
    ("perplexity", "", true),
    ("ollama", "/v1", false),
];

#[tokio::test]
async fn presets_reach_their_base_paths_with_their_auth_and_the_body_unchanged() {
    let catalog = Catalog::load(&scripts_dir()).unwrap();
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let mut yaml = String::from("providers:\n");
    let mut routes = String::from("routes:\n");
    for (name, path, _) in PRESET_PATHS {
        let base = catalog.presets[*name]
            .base_url
            .trim_end_matches('}')
            .trim_end_matches('/');
        assert!(
            base.ends_with(path),
            "{name}: catalog base_url {base} does not end with {path}"
        );
        yaml.push_str(&format!(
            "  {name}: {{ preset: {name}, api_key: k-{name}, base_url: \"{}{path}\" }}\n",
            mock.url()
        ));
        routes.push_str(&format!(
            "  - match: {{ model: m-{name} }}\n    targets: [{{ provider: {name}, model: {name}-model }}]\n"
        ));
    }
    let gw = Gateway::start(&format!("{yaml}{routes}")).await;
    for (name, path, bearer) in PRESET_PATHS {
        let mut body = chat(&format!("m-{name}"), false);
        body["temperature"] = json!(0.2);
        body["top_k"] = json!(40);
        body["thinking"] = json!({"type": "enabled"});
        let r = gw.post("/v1/chat/completions", &body).await;
        assert_eq!(r.status(), 200, "{name}");
        assert_eq!(r.headers()["x-switchyard-provider"], *name);
        let answer: Value = r.json().await.unwrap();
        assert_eq!(
            answer["choices"][0]["message"]["content"],
            mock_text(5),
            "{name}"
        );

        let seen = mock.last_request().unwrap();
        assert_eq!(seen.path, format!("{path}/chat/completions"), "{name}");
        let key = format!("k-{name}");
        if *bearer {
            assert_eq!(
                seen.header("authorization"),
                Some(format!("Bearer {key}").as_str()),
                "{name}"
            );
        } else {
            assert_eq!(
                seen.header("authorization"),
                None,
                "{name}: a local server gets no key"
            );
        }
        assert!(
            seen.headers
                .iter()
                .filter(|(k, _)| k.as_str() != "authorization")
                .all(|(_, v)| !v.contains(&key)),
            "{name}: the key leaked into another header"
        );
        let mut want = body.clone();
        want["model"] = json!(format!("{name}-model"));
        assert_eq!(
            seen.json().unwrap(),
            want,
            "{name}: the body is passed through"
        );
    }
}

// ───────────────────────────── Azure OpenAI ─────────────────────────────

fn azure_yaml(base: &str) -> String {
    format!(
        "providers:\n  az:\n    preset: azure-openai\n    api_key: az-secret\n    base_url: {base}/openai\n    \
         options:\n      deployments: {{ gpt-4o: prod-4o, text-embedding-3-small: emb-small }}\n\
         routes:\n  - match: {{ model: [gpt-4o, text-embedding-3-small] }}\n    targets: [{{ provider: az }}]\n"
    )
}

#[tokio::test]
async fn azure_calls_the_deployment_with_api_version_and_api_key() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let gw = Gateway::start(&azure_yaml(&mock.url())).await;
    let check = |seen: &RecordedRequest, operation: &str, deployment: &str| {
        assert_eq!(
            seen.path,
            format!("/openai/deployments/{deployment}/{operation}")
        );
        assert_eq!(seen.query.as_deref(), Some("api-version=2024-10-21"));
        assert_eq!(seen.header("api-key"), Some("az-secret"));
        assert_eq!(seen.header("authorization"), None);
    };

    let body = chat("gpt-4o", false);
    let r = gw.post("/v1/chat/completions", &body).await;
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["choices"][0]["message"]["content"], mock_text(5));
    let seen = mock.last_request().unwrap();
    check(&seen, "chat/completions", "prod-4o");
    assert_eq!(
        seen.json().unwrap(),
        body,
        "the OpenAI body is passed through"
    );

    let mut req = chat("gpt-4o", true);
    req["stream_options"] = json!({"include_usage": true});
    let events = read_sse(gw.post("/v1/chat/completions", &req).await).await;
    check(&mock.last_request().unwrap(), "chat/completions", "prod-4o");
    assert_eq!(stream_text(&events), mock_text(5));
    assert_eq!(events.last().unwrap().event.data, "[DONE]");
    assert!(events
        .iter()
        .filter_map(|e| e.json())
        .any(|v| v["usage"]["completion_tokens"] == 5));

    let r = gw
        .post(
            "/v1/embeddings",
            &json!({"model": "text-embedding-3-small", "input": ["a", "b"]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["data"].as_array().unwrap().len(), 2);
    check(&mock.last_request().unwrap(), "embeddings", "emb-small");
}

#[tokio::test]
async fn azure_filter_annotations_are_kept_in_responses_and_dropped_from_streams() {
    let azure = FixtureServer::start(
        "azure/chat_completion.json",
        "azure/chat_stream.sse",
        "azure/embeddings.json",
    )
    .await;
    let gw = Gateway::start(&azure_yaml(&azure.url())).await;

    // Non-streaming: Azure's body as is, filter results included.
    let r = gw
        .post("/v1/chat/completions", &chat("gpt-4o", false))
        .await;
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer, fixture_json("azure/chat_completion.json"));
    assert_eq!(
        azure.last().path,
        "/openai/deployments/prod-4o/chat/completions"
    );

    // Streaming: the prompt-filter event (choices: [], empty id) and the
    // asynchronous-filter event (a choice without delta) are dropped; every
    // other event reaches the client unchanged.
    let mut req = chat("gpt-4o", true);
    req["stream_options"] = json!({"include_usage": true});
    let got = events_json(&read_sse(gw.post("/v1/chat/completions", &req).await).await);
    let upstream = parse_events(&fixture_events("azure/chat_stream.sse"));
    assert_eq!(upstream.len(), 8);
    let want: Vec<Value> = [1, 2, 3, 4, 6, 7]
        .iter()
        .map(|&i| upstream[i].clone())
        .collect();
    assert_eq!(got, want);
    let seen = azure.last();
    assert_eq!(seen.query.as_deref(), Some("api-version=2024-10-21"));
    assert_eq!(seen.header("api-key"), Some("az-secret"));
    assert_eq!(seen.body["stream_options"]["include_usage"], true);

    // Embeddings: Azure's body as is.
    let r = gw
        .post(
            "/v1/embeddings",
            &json!({"model": "text-embedding-3-small", "input": "hi"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        fixture_json("azure/embeddings.json")
    );
    let seen = azure.last();
    assert_eq!(seen.path, "/openai/deployments/emb-small/embeddings");
    assert_eq!(seen.query.as_deref(), Some("api-version=2024-10-21"));
}

// ───────────────────────────── DeepSeek reasoning ─────────────────────────────

/// The mock's reasoning text with `reasoning: true`.
const MOCK_REASONING: &str = "Thinking it over. Done thinking.";

fn deepseek_yaml(base: &str) -> String {
    format!(
        "providers:\n  ds: {{ preset: deepseek, api_key: ds-key, base_url: \"{base}\" }}\n\
         routes:\n  - match: {{ model: deepseek-* }}\n    targets: [{{ provider: ds }}]\n"
    )
}

#[tokio::test]
async fn deepseek_reasoning_content_is_carried_both_ways() {
    let mock = MockServer::start(MockConfig {
        reasoning: true,
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let gw = Gateway::start(&deepseek_yaml(&mock.url())).await;
    // After a tool-call turn DeepSeek wants the reasoning back (wire-formats §6).
    let messages = json!([
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": null, "reasoning_content": "I should call the tool.",
         "tool_calls": [{"id": "call_1", "type": "function",
                         "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18°C"}
    ]);
    let body = json!({"model": "deepseek-reasoner", "messages": messages});
    let r = gw.post("/v1/chat/completions", &body).await;
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().await.unwrap();
    let message = &answer["choices"][0]["message"];
    assert_eq!(message["reasoning_content"], MOCK_REASONING);
    assert_eq!(message["content"], mock_text(5));
    let seen = mock.last_request().unwrap();
    assert_eq!(seen.path, "/chat/completions");
    assert_eq!(seen.header("authorization"), Some("Bearer ds-key"));
    assert_eq!(
        seen.json().unwrap()["messages"],
        messages,
        "reasoning_content reaches DeepSeek unchanged"
    );

    let mut req = body.clone();
    req["stream"] = json!(true);
    let events = read_sse(gw.post("/v1/chat/completions", &req).await).await;
    let deltas: Vec<Value> = events
        .iter()
        .filter_map(|e| e.json())
        .filter_map(|v| v.pointer("/choices/0/delta").cloned())
        .collect();
    let reasoning: String = deltas
        .iter()
        .filter_map(|d| d["reasoning_content"].as_str())
        .collect();
    assert_eq!(reasoning, MOCK_REASONING);
    let last_reasoning = deltas
        .iter()
        .rposition(|d| d["reasoning_content"].is_string())
        .unwrap();
    let first_content = deltas
        .iter()
        .position(|d| d["content"].as_str().is_some_and(|c| !c.is_empty()))
        .unwrap();
    assert!(
        last_reasoning < first_content,
        "reasoning deltas come before the answer"
    );
    assert_eq!(stream_text(&events), mock_text(5));
    assert_eq!(events.last().unwrap().event.data, "[DONE]");
    assert_eq!(
        mock.last_request().unwrap().json().unwrap()["messages"],
        messages
    );
}

// ───────────────────────────── golden fixtures ─────────────────────────────

#[tokio::test]
async fn openai_and_deepseek_golden_payloads_pass_through_unchanged() {
    let openai = FixtureServer::start(
        "openai/chat_completion.json",
        "openai/chat_stream.sse",
        "openai/embeddings.json",
    )
    .await;
    let deepseek = FixtureServer::start(
        "openai/deepseek_reasoner.json",
        "openai/deepseek_reasoner_stream.sse",
        "openai/embeddings.json",
    )
    .await;
    let yaml = format!(
        "providers:\n  oa: {{ preset: openai, api_key: sk-oa, base_url: \"{}/v1\" }}\n  \
         ds: {{ preset: deepseek, api_key: ds-key, base_url: \"{}\" }}\n\
         routes:\n  - match: {{ model: deepseek-* }}\n    targets: [{{ provider: ds }}]\n",
        openai.url(),
        deepseek.url()
    );
    let gw = Gateway::start(&yaml).await;

    let r = gw
        .post("/v1/chat/completions", &chat("gpt-4o", false))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        fixture_json("openai/chat_completion.json")
    );
    assert_eq!(openai.last().path, "/v1/chat/completions");
    assert_eq!(openai.last().header("authorization"), Some("Bearer sk-oa"));

    let mut req = chat("gpt-4o", true);
    req["stream_options"] = json!({"include_usage": true});
    let got = events_json(&read_sse(gw.post("/v1/chat/completions", &req).await).await);
    assert_eq!(got, parse_events(&fixture_events("openai/chat_stream.sse")));

    let r = gw
        .post(
            "/v1/embeddings",
            &json!({"model": "text-embedding-3-small", "input": ["a", "b"]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        fixture_json("openai/embeddings.json")
    );
    assert_eq!(openai.last().path, "/v1/embeddings");

    let r = gw
        .post("/v1/chat/completions", &chat("deepseek-reasoner", false))
        .await;
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer, fixture_json("openai/deepseek_reasoner.json"));
    assert!(answer["choices"][0]["message"]["reasoning_content"].is_string());
    assert_eq!(deepseek.last().path, "/chat/completions");

    let got = events_json(
        &read_sse(
            gw.post("/v1/chat/completions", &chat("deepseek-reasoner", true))
                .await,
        )
        .await,
    );
    assert_eq!(
        got,
        parse_events(&fixture_events("openai/deepseek_reasoner_stream.sse"))
    );
}

const FINISH_REASONS: [&str; 5] = [
    "stop",
    "length",
    "tool_calls",
    "content_filter",
    "function_call",
];

/// A chat.completion as wire-formats §1.2 shapes it.
fn check_completion(name: &str, v: &Value) {
    assert_eq!(v["object"], "chat.completion", "{name}");
    assert!(
        v["id"].as_str().is_some_and(|s| !s.is_empty()),
        "{name}: id"
    );
    assert!(
        v["created"].as_u64().is_some_and(|t| t > 1_600_000_000),
        "{name}: created"
    );
    assert!(v["model"].is_string(), "{name}: model");
    let choices = v["choices"].as_array().unwrap();
    assert!(!choices.is_empty(), "{name}: choices");
    for c in choices {
        assert_eq!(c["message"]["role"], "assistant", "{name}");
        assert!(
            FINISH_REASONS.contains(&c["finish_reason"].as_str().unwrap()),
            "{name}"
        );
    }
    let u = &v["usage"];
    let (p, c, t) = (
        u["prompt_tokens"].as_u64(),
        u["completion_tokens"].as_u64(),
        u["total_tokens"].as_u64(),
    );
    assert_eq!(p.unwrap() + c.unwrap(), t.unwrap(), "{name}: usage adds up");
}

/// A chat stream as wire-formats §1.3 (and §5 for Azure) shapes it.
fn check_stream(name: &str, events: &[String], azure: bool) {
    assert_eq!(
        events.last().map(String::as_str),
        Some("[DONE]"),
        "{name}: ends with [DONE]"
    );
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap_or_else(|e| panic!("{name}: {e}: {d}")))
        .collect();
    let real: Vec<&Value> = chunks.iter().filter(|c| c["id"] != "").collect();
    let ids: Vec<&Value> = real.iter().map(|c| &c["id"]).collect();
    assert!(
        ids.windows(2).all(|w| w[0] == w[1]),
        "{name}: one id per stream"
    );
    for c in &real {
        assert_eq!(c["object"], "chat.completion.chunk", "{name}");
        for choice in c["choices"].as_array().unwrap() {
            assert!(choice["delta"].is_object(), "{name}: {c}");
        }
    }
    let finishes: Vec<&str> = real
        .iter()
        .filter_map(|c| {
            c.pointer("/choices/0/finish_reason")
                .and_then(Value::as_str)
        })
        .collect();
    assert_eq!(finishes.len(), 1, "{name}: one finish_reason");
    assert!(FINISH_REASONS.contains(&finishes[0]), "{name}");
    let filter_only = chunks.len() - real.len();
    if azure {
        assert_eq!(
            filter_only, 2,
            "{name}: the prompt-filter and async-filter events"
        );
        assert_eq!(
            chunks[0]["choices"],
            json!([]),
            "{name}: Azure's first event"
        );
        assert!(chunks[0]["prompt_filter_results"].is_array(), "{name}");
    } else {
        assert_eq!(filter_only, 0, "{name}");
    }
}

#[test]
fn golden_fixtures_have_the_documented_shapes() {
    for name in [
        "openai/chat_completion.json",
        "openai/deepseek_reasoner.json",
        "azure/chat_completion.json",
    ] {
        check_completion(name, &fixture_json(name));
    }
    assert!(
        fixture_json("openai/deepseek_reasoner.json")["choices"][0]["message"]["reasoning_content"]
            .is_string()
    );
    let azure = fixture_json("azure/chat_completion.json");
    assert!(azure["prompt_filter_results"][0]["content_filter_results"].is_object());
    assert!(azure["choices"][0]["content_filter_results"].is_object());

    check_stream(
        "openai/chat_stream.sse",
        &fixture_events("openai/chat_stream.sse"),
        false,
    );
    check_stream(
        "openai/deepseek_reasoner_stream.sse",
        &fixture_events("openai/deepseek_reasoner_stream.sse"),
        false,
    );
    check_stream(
        "azure/chat_stream.sse",
        &fixture_events("azure/chat_stream.sse"),
        true,
    );

    let reasoning: Vec<Value> =
        parse_events(&fixture_events("openai/deepseek_reasoner_stream.sse"));
    assert!(reasoning.iter().any(|c| {
        c.pointer("/choices/0/delta/reasoning_content")
            .and_then(Value::as_str)
            .is_some_and(|r| !r.is_empty())
    }));

    for name in ["openai/embeddings.json", "azure/embeddings.json"] {
        let v = fixture_json(name);
        assert_eq!(v["object"], "list", "{name}");
        for (i, d) in v["data"].as_array().unwrap().iter().enumerate() {
            assert_eq!(d["object"], "embedding", "{name}");
            assert_eq!(d["index"], i, "{name}");
            assert!(
                d["embedding"]
                    .as_array()
                    .is_some_and(|e| e.iter().all(Value::is_f64)),
                "{name}"
            );
        }
        assert!(v["usage"]["prompt_tokens"].is_u64(), "{name}");
    }
}
