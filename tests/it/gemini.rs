//! The `gemini` adapter end to end: OpenAI requests through the real
//! gateway to the Gemini-format mock (`/v1beta/models/{model}:{method}`)
//! and back, streams, tools, images, JSON mode, safety blocks, embeddings
//! and upstream errors included.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::*;

const KEY: &str = "AIza-it-secret-key";

async fn setup(cfg: MockConfig) -> (MockServer, Gateway) {
    let mock = MockServer::start(MockConfig {
        api_key: Some(KEY.into()),
        ..cfg
    })
    .await
    .unwrap();
    let yaml = format!(
        "providers:\n  gem:\n    adapter: gemini\n    base_url: {}/v1beta\n    api_key: {KEY}\n\
         routes:\n  - match: {{ model: g }}\n    targets: [{{ provider: gem, model: gemini-2.5-flash }}]\n\
         \x20 - match: {{ model: emb }}\n    targets: [{{ provider: gem, model: text-embedding-004 }}]\n",
        mock.url()
    );
    (mock, Gateway::start(&yaml).await)
}

fn weather_tools() -> Value {
    json!([{"type": "function", "function": {"name": "get_weather", "description": "Weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"], "additionalProperties": false}}}])
}

async fn json_of(r: reqwest::Response) -> Value {
    r.json().await.expect("a JSON body")
}

/// The JSON chunks of a stream.
fn chunks_of(events: &[Received]) -> Vec<Value> {
    events.iter().filter_map(Received::json).collect()
}

#[tokio::test]
async fn non_stream_is_translated_both_ways_and_the_key_stays_in_a_header() {
    let (mock, gw) = setup(MockConfig::default()).await;
    let r = gw.post("/v1/chat/completions", &chat("g", false)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-switchyard-provider"], "gem");
    let body = json_of(r).await;
    assert_eq!(body["object"], "chat.completion");
    assert!(body["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(body["model"], "gemini-2.5-flash");
    let choice = &body["choices"][0];
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], mock_text(5));
    assert_eq!(choice["finish_reason"], "stop");
    // "You are terse." + "Say hello" = 23 characters -> 5 prompt tokens.
    assert_eq!(body["usage"]["prompt_tokens"], 5);
    assert_eq!(body["usage"]["completion_tokens"], 5);
    assert_eq!(body["usage"]["total_tokens"], 10);

    let seen = mock.last_request().unwrap();
    assert_eq!(seen.path, "/v1beta/models/gemini-2.5-flash:generateContent");
    assert_eq!(seen.query, None, "no key (or anything) in the URL");
    assert_eq!(seen.header("x-goog-api-key"), Some(KEY));
    assert_eq!(seen.header("authorization"), None);
    assert_eq!(
        seen.json().unwrap(),
        json!({
            "systemInstruction": {"parts": [{"text": "You are terse."}]},
            "contents": [{"role": "user", "parts": [{"text": "Say hello"}]}]
        })
    );
}

/// With 100 ms between 6 upstream chunks, the first content chunk reaches
/// the client at least 400 ms before the last one: nothing is buffered.
#[tokio::test]
async fn stream_is_translated_as_it_arrives() {
    let (mock, gw) = setup(MockConfig {
        chunks: 6,
        chunk_delay: Duration::from_millis(100),
        ..MockConfig::default()
    })
    .await;
    let mut req = chat("g", true);
    req["stream_options"] = json!({"include_usage": true});
    let r = gw.post("/v1/chat/completions", &req).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let events = read_sse(r).await;
    let content: Vec<&Received> = events
        .iter()
        .filter(|e| {
            e.json()
                .and_then(|v| {
                    v.pointer("/choices/0/delta/content")?
                        .as_str()
                        .map(|s| !s.is_empty())
                })
                .unwrap_or(false)
        })
        .collect();
    assert_eq!(content.len(), 6, "{events:?}");
    let held = content[5].at - content[0].at;
    assert!(
        held >= Duration::from_millis(400),
        "first chunk only {held:?} before the last"
    );
    assert_eq!(stream_text(&events), mock_text(6));

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
    let usage = &chunks.last().unwrap()["usage"];
    assert_eq!(chunks.last().unwrap()["choices"], json!([]));
    assert_eq!(usage["completion_tokens"], 6);
    assert_eq!(usage["total_tokens"], 5 + 6);
    let ids: std::collections::HashSet<&str> =
        chunks.iter().filter_map(|c| c["id"].as_str()).collect();
    assert_eq!(ids.len(), 1, "one id for the whole stream");
    assert_eq!(events.last().unwrap().event.data, "[DONE]");

    let seen = mock.last_request().unwrap();
    assert_eq!(
        seen.path,
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    );
    assert_eq!(seen.query.as_deref(), Some("alt=sse"));
    assert_eq!(seen.header("x-goog-api-key"), Some(KEY));
}

#[tokio::test]
async fn stream_without_include_usage_has_no_usage_chunk() {
    let (_mock, gw) = setup(MockConfig {
        split_events: true,
        ..MockConfig::default()
    })
    .await;
    let events = read_sse(gw.post("/v1/chat/completions", &chat("g", true)).await).await;
    assert_eq!(
        stream_text(&events),
        mock_text(5),
        "split CRLF events reassembled"
    );
    assert!(chunks_of(&events)
        .iter()
        .all(|c| c.get("usage").is_none_or(Value::is_null)));
    assert_eq!(events.last().unwrap().event.data, "[DONE]");
}

#[tokio::test]
async fn tools_are_translated_in_both_directions() {
    let (mock, gw) = setup(MockConfig::default()).await;
    let mut req = chat("g", false);
    req["tools"] = weather_tools();
    req["tool_choice"] = json!("required");
    let body = json_of(gw.post("/v1/chat/completions", &req).await).await;
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
    let msg = body["choices"][0]["message"].clone();
    assert_eq!(msg["content"], Value::Null);
    let call = &msg["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"city": "Paris", "unit": "c"}));
    let sent = mock.last_request().unwrap().json().unwrap();
    assert_eq!(
        sent["tools"],
        json!([{"functionDeclarations": [{"name": "get_weather", "description": "Weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]}])
    );
    assert_eq!(
        sent["toolConfig"],
        json!({"functionCallingConfig": {"mode": "ANY"}})
    );

    // The result goes back as a functionResponse named after the call, the
    // call with its thought signature (the mock refuses the turn without it).
    let call_id = call["id"].as_str().unwrap().to_string();
    let mut follow = chat("g", false);
    follow["tools"] = weather_tools();
    follow["messages"].as_array_mut().unwrap().extend([
        json!({"role": "assistant", "content": null, "tool_calls": msg["tool_calls"].clone()}),
        json!({"role": "tool", "tool_call_id": call_id, "content": "18C and sunny"}),
    ]);
    let r = gw.post("/v1/chat/completions", &follow).await;
    assert_eq!(r.status(), 200);
    let body = json_of(r).await;
    assert_eq!(body["choices"][0]["message"]["content"], mock_text(5));
    let sent = mock.last_request().unwrap().json().unwrap();
    let contents = sent["contents"].as_array().unwrap();
    assert_eq!(contents.len(), 3);
    assert_eq!(contents[1]["role"], "model");
    assert!(contents[1]["parts"][0]["thoughtSignature"].is_string());
    assert_eq!(
        contents[2],
        json!({"role": "user", "parts": [{"functionResponse": {"name": "get_weather",
            "response": {"output": "18C and sunny"}}}]})
    );

    // Streamed: the whole call in one delta.
    req["stream"] = json!(true);
    let events = read_sse(gw.post("/v1/chat/completions", &req).await).await;
    let chunks = chunks_of(&events);
    let calls: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c.pointer("/choices/0/delta/tool_calls/0"))
        .collect();
    assert_eq!(calls.len(), 1, "{chunks:?}");
    assert_eq!(calls[0]["index"], 0);
    assert_eq!(calls[0]["function"]["name"], "get_weather");
    assert!(calls[0]["id"].as_str().is_some_and(|id| !id.is_empty()));
    let args: Value =
        serde_json::from_str(calls[0]["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"city": "Paris", "unit": "c"}));
    assert!(chunks
        .iter()
        .any(|c| c["choices"][0]["finish_reason"] == "tool_calls"));
    assert_eq!(events.last().unwrap().event.data, "[DONE]");
}

#[tokio::test]
async fn images_are_sent_as_inline_or_file_data() {
    let (mock, gw) = setup(MockConfig::default()).await;
    let req = json!({"model": "g", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "what are these?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpeg?w=200"}}
    ]}]});
    assert_eq!(gw.post("/v1/chat/completions", &req).await.status(), 200);
    let sent = mock.last_request().unwrap().json().unwrap();
    assert_eq!(
        sent["contents"][0]["parts"],
        json!([
            {"text": "what are these?"},
            {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
            {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/cat.jpeg?w=200"}}
        ])
    );

    let hits = mock.hits();
    let unknown = json!({"model": "g", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://example.com/render?id=4"}}
    ]}]});
    let r = gw.post("/v1/chat/completions", &unknown).await;
    assert_eq!(r.status(), 400);
    let body = json_of(r).await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("image type"),
        "{body}"
    );
    assert_eq!(mock.hits(), hits, "refused before any call");
}

#[tokio::test]
async fn json_mode_sets_the_response_mime_type_and_schema() {
    let (mock, gw) = setup(MockConfig::default()).await;
    let mut req = chat("g", false);
    req["response_format"] = json!({"type": "json_object"});
    req["max_tokens"] = json!(64);
    assert_eq!(gw.post("/v1/chat/completions", &req).await.status(), 200);
    let sent = mock.last_request().unwrap().json().unwrap();
    assert_eq!(
        sent["generationConfig"],
        json!({"responseMimeType": "application/json", "maxOutputTokens": 64})
    );

    let schema = json!({"type": "object", "properties": {"greeting": {"type": "string"}},
                        "required": ["greeting"], "additionalProperties": false});
    req["response_format"] = json!({"type": "json_schema",
        "json_schema": {"name": "hello", "strict": true, "schema": schema}});
    assert_eq!(gw.post("/v1/chat/completions", &req).await.status(), 200);
    let sent = mock.last_request().unwrap().json().unwrap();
    assert_eq!(
        sent["generationConfig"]["responseMimeType"],
        "application/json"
    );
    assert_eq!(sent["generationConfig"]["responseJsonSchema"], schema);
}

#[tokio::test]
async fn safety_blocks_finish_with_content_filter() {
    let (_mock, gw) = setup(MockConfig::default()).await;
    let req = json!({"model": "g", "messages": [{"role": "user", "content": "BLOCKME please"}]});
    let body = json_of(gw.post("/v1/chat/completions", &req).await).await;
    assert_eq!(body["choices"][0]["finish_reason"], "content_filter");
    assert_eq!(body["choices"][0]["message"]["content"], "");

    let mut streamed = req.clone();
    streamed["stream"] = json!(true);
    let events = read_sse(gw.post("/v1/chat/completions", &streamed).await).await;
    let chunks = chunks_of(&events);
    assert!(chunks
        .iter()
        .any(|c| c["choices"][0]["finish_reason"] == "content_filter"));
    assert_eq!(stream_text(&events), "");
    assert_eq!(events.last().unwrap().event.data, "[DONE]");
}

#[tokio::test]
async fn embeddings_come_back_as_floats_in_request_order() {
    let (mock, gw) = setup(MockConfig::default()).await;
    let req = json!({"model": "emb", "input": ["alpha", "beta"], "encoding_format": "float"});
    let r = gw.post("/v1/embeddings", &req).await;
    assert_eq!(r.status(), 200);
    let floats = json_of(r).await;
    assert_eq!(floats["object"], "list");
    assert_eq!(floats["model"], "text-embedding-004");
    let data = floats["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    for (i, item) in data.iter().enumerate() {
        assert_eq!(item["object"], "embedding");
        assert_eq!(item["index"], i);
        assert_eq!(item["embedding"].as_array().unwrap().len(), 8);
    }
    assert_ne!(data[0]["embedding"], data[1]["embedding"]);
    assert_eq!(
        floats["usage"],
        json!({"prompt_tokens": 0, "total_tokens": 0})
    );
    let seen = mock.last_request().unwrap();
    assert_eq!(
        seen.path,
        "/v1beta/models/text-embedding-004:batchEmbedContents"
    );
    assert_eq!(seen.query, None);
    assert_eq!(
        seen.json().unwrap()["requests"][1],
        json!({"model": "models/text-embedding-004", "content": {"parts": [{"text": "beta"}]}})
    );

    let r = gw
        .post(
            "/v1/embeddings",
            &json!({"model": "emb", "input": [[1, 2, 3]]}),
        )
        .await;
    assert_eq!(r.status(), 400, "token ids have no Gemini form");

    let req = json!({"model": "emb", "input": "alpha", "dimensions": 16});
    let body = json_of(gw.post("/v1/embeddings", &req).await).await;
    assert_eq!(body["data"][0]["embedding"].as_array().unwrap().len(), 16);
}

/// `encoding_format: "base64"`: the floats Gemini sent, packed as
/// little-endian f32s. The adapter reads the format from
/// `ctx.encoding_format`, which src/proxy/attempts/request.rs must provide.
#[tokio::test]
async fn embeddings_in_base64_are_packed_f32s() {
    let (_mock, gw) = setup(MockConfig::default()).await;
    let req = json!({"model": "emb", "input": ["alpha", "beta"], "encoding_format": "float"});
    let floats = json_of(gw.post("/v1/embeddings", &req).await).await;
    let data = floats["data"].as_array().unwrap();
    let req = json!({"model": "emb", "input": ["alpha", "beta"], "encoding_format": "base64"});
    let packed = json_of(gw.post("/v1/embeddings", &req).await).await;
    for (i, item) in packed["data"].as_array().unwrap().iter().enumerate() {
        let b64 = item["embedding"]
            .as_str()
            .unwrap_or_else(|| panic!("base64 string: {item}"));
        let expected: Vec<f32> = data[i]["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(decode_f32s(b64), expected, "item {i}");
    }
}

/// Little-endian f32s from standard base64.
fn decode_f32s(b64: &str) -> Vec<f32> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let sextets: Vec<u32> = b64
        .bytes()
        .filter(|b| *b != b'=')
        .map(|b| ALPHABET.iter().position(|a| *a == b).expect("base64") as u32)
        .collect();
    let mut bytes = Vec::new();
    for group in sextets.chunks(4) {
        let n = group
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, s)| n | s << (18 - 6 * i));
        bytes.extend_from_slice(&n.to_be_bytes()[1..group.len()]);
    }
    bytes
        .chunks(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

#[tokio::test]
async fn upstream_error_statuses_are_mapped() {
    let (mock, gw) = setup(MockConfig::default()).await;
    let cases = [
        (404, 404),
        (400, 400),
        // The gateway's key refused: the provider's fault, so 502.
        (403, 502),
        (500, 502),
        (503, 502),
        (429, 429),
    ];
    for (upstream, expected) in cases {
        // A Retry-After benches the backend, so only the last case has one.
        mock.set_fault(Some(Fault::Status {
            code: upstream,
            retry_after: (upstream == 429).then_some(3),
        }));
        let r = gw.post("/v1/chat/completions", &chat("g", false)).await;
        assert_eq!(r.status(), expected, "upstream {upstream}");
        if upstream == 429 {
            assert_eq!(r.headers()["retry-after"], "3");
        }
        let body = json_of(r).await;
        let message = body["error"]["message"].as_str().unwrap();
        assert!(!message.contains(KEY), "{message}");
        if upstream == 429 {
            assert!(message.contains("Resource has been exhausted"), "{message}");
        }
    }
}

#[tokio::test]
async fn a_wrong_key_is_refused_without_failover_and_never_echoed() {
    let (mock, gw) = setup(MockConfig::default()).await;
    mock.set_config(MockConfig {
        api_key: Some("AIza-another-key".into()),
        ..MockConfig::default()
    });
    let r = gw.post("/v1/chat/completions", &chat("g", false)).await;
    // Gemini answers a bad key with 400 INVALID_ARGUMENT (reason
    // API_KEY_INVALID): the gateway's own key was refused, which is the
    // provider's side, not the client's: 502 provider_auth_failed.
    assert_eq!(r.status().as_u16(), 502);
    let text = r.text().await.unwrap();
    assert!(text.contains("provider_auth_failed"), "{text}");
    assert!(text.contains("API key not valid"), "{text}");
    assert!(!text.contains(KEY));
    assert_eq!(mock.hits(), 1);
}

#[tokio::test]
async fn stream_failures_are_reported_in_band_never_as_done() {
    let faults = [
        (Fault::StreamError { after: 2 }, "internal"),
        (Fault::DropMidStream { after: 2 }, ""),
        (Fault::Malformed, "not JSON"),
    ];
    for (fault, expected) in faults {
        let (_mock, gw) = setup(MockConfig {
            fault: Some(fault.clone()),
            ..MockConfig::default()
        })
        .await;
        let r = gw.post("/v1/chat/completions", &chat("g", true)).await;
        assert_eq!(r.status(), 200, "{fault}");
        let events = read_sse(r).await;
        assert!(
            events.iter().all(|e| e.event.data != "[DONE]"),
            "{fault}: {events:?}"
        );
        let last = events
            .last()
            .and_then(Received::json)
            .expect("an error event");
        let error = &last["error"];
        assert!(error.is_object(), "{fault}: {last}");
        let text = error.to_string();
        assert!(text.contains(expected), "{fault}: {text}");
        if matches!(
            fault,
            Fault::StreamError { .. } | Fault::DropMidStream { .. }
        ) {
            assert_eq!(stream_text(&events), mock_text(2), "{fault}");
        }
    }
}
