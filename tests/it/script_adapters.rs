//! Script adapters for providers the gateway does not build in, end to end:
//! OpenAI requests through the real gateway, `scripts/providers/cohere.rhai`
//! and `ollama.rhai`, to the mock's Cohere v2 (`/v2/chat`) and Ollama
//! (`/api/chat`) endpoints and back — a chat, a stream relayed as it is
//! generated, a tool-call round trip, usage recorded — and a new script
//! dropped into a running gateway's `scripts/providers/` and used after a
//! routes.yaml edit, without a restart.
//!
//! Ollama streams newline-delimited JSON; its stream test needs the relay's
//! NDJSON framing (a script's `fn framing() { "ndjson" }`).

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{json, Value};
use switchyard::transform::sse::SseParser;

use crate::common::*;

const COHERE_KEY: &str = "co-it-secret-key";

/// One provider under test.
#[derive(Clone, Copy)]
struct Script {
    /// Provider name in routes.yaml.
    provider: &'static str,
    adapter: &'static str,
    /// The model at the provider.
    model: &'static str,
    /// The chat path the mock must see.
    path: &'static str,
    key: Option<&'static str>,
}

const COHERE: Script = Script {
    provider: "co",
    adapter: "cohere",
    model: "command-a-03-2025",
    path: "/v2/chat",
    key: Some(COHERE_KEY),
};

const OLLAMA: Script = Script {
    provider: "ol",
    adapter: "ollama",
    model: "llama3.2",
    path: "/api/chat",
    key: None,
};

/// routes.yaml: model `m` goes to `script`'s provider on `mock`.
fn routes(script: Script, adapter: &str, mock: &MockServer) -> String {
    let auth = match script.key {
        Some(key) => format!("    api_key: {key}\n"),
        None => "    options: { auth: none }\n".to_string(),
    };
    format!(
        "providers:\n  {p}:\n    adapter: {adapter}\n    base_url: {url}\n{auth}\
         routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: {p}, model: {model} }}]\n",
        p = script.provider,
        url = mock.url(),
        model = script.model,
    )
}

async fn setup(script: Script, cfg: MockConfig) -> (MockServer, Gateway) {
    let mock = MockServer::start(MockConfig {
        api_key: script.key.map(str::to_string),
        ..cfg
    })
    .await
    .unwrap();
    let gw = Gateway::start(&routes(script, script.adapter, &mock)).await;
    (mock, gw)
}

fn weather_tools() -> Value {
    json!([{"type": "function", "function": {"name": "get_weather", "description": "Weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}])
}

async fn json_of(r: reqwest::Response) -> Value {
    r.json().await.expect("a JSON body")
}

/// The JSON chunks of a stream.
fn chunks_of(events: &[Received]) -> Vec<Value> {
    events.iter().filter_map(Received::json).collect()
}

// ───────────────────────────── chat ─────────────────────────────

async fn chat_is_translated_both_ways_and_usage_is_recorded(script: Script) {
    let (mock, gw) = setup(script, MockConfig::default()).await;
    let r = gw.post("/v1/chat/completions", &chat("m", false)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-switchyard-provider"], script.provider);
    let body = json_of(r).await;
    assert_eq!(body["object"], "chat.completion");
    assert!(body["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(body["model"], script.model);
    let choice = &body["choices"][0];
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], mock_text(5));
    assert_eq!(choice["finish_reason"], "stop");
    // "You are terse." + "Say hello" = 23 characters -> 5 prompt tokens.
    assert_eq!(body["usage"]["prompt_tokens"], 5);
    assert_eq!(body["usage"]["completion_tokens"], 5);
    assert_eq!(body["usage"]["total_tokens"], 10);

    let seen = mock.last_request().unwrap();
    assert_eq!(seen.path, script.path);
    match script.key {
        Some(key) => assert_eq!(
            seen.header("authorization"),
            Some(format!("Bearer {key}").as_str())
        ),
        None => assert_eq!(seen.header("authorization"), None),
    }
    let sent = seen.json().unwrap();
    assert_eq!(sent["model"], script.model);
    assert_eq!(sent["stream"], false);
    assert_eq!(
        sent["messages"],
        json!([{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say hello"}])
    );

    let metrics = gw.metrics().await;
    for (kind, n) in [("prompt", 5), ("completion", 5)] {
        let series = format!(
            "gateway_tokens_total{{model=\"{}\",provider=\"{}\",type=\"{kind}\"}} {n}",
            script.model, script.provider
        );
        assert!(metrics.contains(&series), "{series} not in:\n{metrics}");
    }
}

#[tokio::test]
async fn cohere_chat_is_translated_both_ways_and_usage_is_recorded() {
    chat_is_translated_both_ways_and_usage_is_recorded(COHERE).await;
}

#[tokio::test]
async fn ollama_chat_is_translated_both_ways_and_usage_is_recorded() {
    chat_is_translated_both_ways_and_usage_is_recorded(OLLAMA).await;
}

// ───────────────────────────── streams ─────────────────────────────

/// With 100 ms between 6 upstream deltas: when the first content chunk
/// reaches the client the mock is still sending (its stream is in flight),
/// the last one comes at least 400 ms later, and the stream closes with the
/// usage chunk (asked for) and `[DONE]`; the usage is recorded too.
async fn stream_is_relayed_as_it_is_generated(script: Script) {
    let (mock, gw) = setup(
        script,
        MockConfig {
            chunks: 6,
            chunk_delay: Duration::from_millis(100),
            ..MockConfig::default()
        },
    )
    .await;
    let mut req = chat("m", true);
    req["stream_options"] = json!({"include_usage": true});
    let r = gw.post("/v1/chat/completions", &req).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");

    let mut parser = SseParser::new(1 << 20);
    let mut body = r.bytes_stream();
    let mut events = Vec::new();
    let mut content_at: Vec<Instant> = Vec::new();
    let mut first_while_streaming = None;
    while let Some(Ok(bytes)) = body.next().await {
        let mut new = Vec::new();
        parser.feed(&bytes, &mut new).expect("event size");
        for event in new {
            let v: Value = serde_json::from_str(&event.data).unwrap_or(Value::Null);
            let text = v
                .pointer("/choices/0/delta/content")
                .and_then(Value::as_str);
            if text.is_some_and(|t| !t.is_empty()) {
                if content_at.is_empty() {
                    // The mock has not sent its last event yet.
                    first_while_streaming = Some(mock.in_flight() == 1);
                }
                content_at.push(Instant::now());
            }
            events.push(Received {
                at: Instant::now(),
                event,
            });
        }
    }
    assert_eq!(stream_text(&events), mock_text(6), "{events:?}");
    assert_eq!(
        first_while_streaming,
        Some(true),
        "first chunk only after the mock finished"
    );
    let held = content_at[5] - content_at[0];
    assert!(
        held >= Duration::from_millis(400),
        "first chunk only {held:?} before the last"
    );

    let chunks = chunks_of(&events);
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let finishes: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| {
            c.pointer("/choices/0/finish_reason")
                .filter(|f| !f.is_null())
        })
        .collect();
    assert_eq!(finishes, [&json!("stop")]);
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert_eq!(last["usage"]["completion_tokens"], 6);
    assert_eq!(last["usage"]["total_tokens"], 5 + 6);
    let ids: std::collections::HashSet<&str> =
        chunks.iter().filter_map(|c| c["id"].as_str()).collect();
    assert_eq!(ids.len(), 1, "one id for the whole stream");
    assert_eq!(events.last().unwrap().event.data, "[DONE]");

    let seen = mock.last_request().unwrap();
    assert_eq!(seen.path, script.path);
    assert_eq!(seen.json().unwrap()["stream"], true);
    let series = format!(
        "gateway_tokens_total{{model=\"{}\",provider=\"{}\",type=\"completion\"}} 6",
        script.model, script.provider
    );
    assert!(gw.metrics().await.contains(&series), "{series}");
}

#[tokio::test]
async fn cohere_stream_is_relayed_as_it_is_generated() {
    stream_is_relayed_as_it_is_generated(COHERE).await;
}

/// Needs the relay's NDJSON framing: until then the gateway reads Ollama's
/// `application/x-ndjson` lines as (invalid) server-sent events.
#[tokio::test]
async fn ollama_stream_is_relayed_as_it_is_generated() {
    stream_is_relayed_as_it_is_generated(OLLAMA).await;
}

// ───────────────────────────── tools ─────────────────────────────

/// The mock calls the first tool; the client runs it and sends the result
/// back, which the provider sees paired with its call; the answer is text.
async fn tool_call_round_trip(script: Script) {
    let (mock, gw) = setup(script, MockConfig::default()).await;
    let mut req = chat("m", false);
    req["tools"] = weather_tools();
    let body = json_of(gw.post("/v1/chat/completions", &req).await).await;
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls", "{body}");
    let msg = body["choices"][0]["message"].clone();
    let call = &msg["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"city": "Paris", "unit": "c"}));
    let call_id = call["id"].as_str().unwrap().to_string();
    assert!(!call_id.is_empty());
    let sent = mock.last_request().unwrap().json().unwrap();
    assert_eq!(sent["tools"][0]["function"]["name"], "get_weather");

    let mut follow = chat("m", false);
    follow["tools"] = weather_tools();
    follow["messages"].as_array_mut().unwrap().extend([
        json!({"role": "assistant", "content": msg["content"].clone(), "tool_calls": msg["tool_calls"].clone()}),
        json!({"role": "tool", "tool_call_id": call_id, "content": "18C and sunny"}),
    ]);
    let r = gw.post("/v1/chat/completions", &follow).await;
    assert_eq!(r.status(), 200);
    let body = json_of(r).await;
    assert_eq!(body["choices"][0]["message"]["content"], mock_text(5));
    assert_eq!(body["choices"][0]["finish_reason"], "stop");

    let sent = mock.last_request().unwrap().json().unwrap();
    let messages = sent["messages"].as_array().unwrap();
    let (assistant, result) = (&messages[2], &messages[3]);
    assert_eq!(assistant["role"], "assistant");
    assert_eq!(assistant["tool_calls"][0]["id"], call_id.as_str());
    assert_eq!(result["role"], "tool");
    assert_eq!(result["tool_call_id"], call_id.as_str());
    assert_eq!(result["content"], "18C and sunny");
}

#[tokio::test]
async fn cohere_tool_call_round_trip() {
    tool_call_round_trip(COHERE).await;
}

#[tokio::test]
async fn ollama_tool_call_round_trip() {
    tool_call_round_trip(OLLAMA).await;
}

// ───────────────────────────── drop in a script ─────────────────────────────

/// A new adapter (a copy of cohere.rhai under another name) written into a
/// running gateway's scripts folder, then routes.yaml edited to use it: the
/// next request streams through it, with no restart.
#[tokio::test]
async fn a_script_dropped_into_a_running_gateway_serves_a_stream_without_a_restart() {
    let cohere = MockServer::start(MockConfig {
        api_key: Some(COHERE_KEY.into()),
        chunks: 4,
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let other = MockServer::start(MockConfig::default()).await.unwrap();
    let before = format!(
        "providers:\n{}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: oa, model: gpt-4o-mini }}]\n",
        provider("oa", "openai", &other, None)
    );
    let gw = Gateway::start(&before).await;
    let pid = gw.pid();
    let v1 = gw.version().await;
    assert_eq!(
        gw.post("/v1/chat/completions", &chat("m", false))
            .await
            .headers()["x-switchyard-provider"],
        "oa"
    );

    let source = std::fs::read_to_string(scripts_dir().join("cohere.rhai")).unwrap();
    gw.write_script("my-cohere", &source);
    gw.write_config(&routes(COHERE, "my-cohere", &cohere));
    assert!(
        gw.wait_for_new_version(&v1, Duration::from_secs(5)).await,
        "no reload:\n{}",
        gw.logs()
    );
    // The script and the config may land in one reload or two.
    let switched = eventually(Duration::from_secs(5), || async {
        let r = gw.post("/v1/chat/completions", &chat("m", false)).await;
        r.headers()["x-switchyard-provider"] == COHERE.provider
    })
    .await;
    assert!(switched, "routes.yaml edit not applied:\n{}", gw.logs());

    let r = gw.post("/v1/chat/completions", &chat("m", true)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-switchyard-provider"], COHERE.provider);
    let events = read_sse(r).await;
    assert_eq!(stream_text(&events), mock_text(4));
    assert_eq!(events.last().unwrap().event.data, "[DONE]");
    let seen = cohere.last_request().unwrap();
    assert_eq!(seen.path, "/v2/chat");
    assert_eq!(seen.json().unwrap()["stream"], true);
    assert_eq!(gw.pid(), pid, "the same process");
}
