//! Robustness sweeps: many variations of every fixture and of the bodies
//! and events of the other tests — each with one field removed or set to
//! null, to another type, to a huge, negative or fractional number, to an
//! empty string, array or map; random multi-field ones; streams with events
//! broken, dropped or cut — must never panic, and every error must be the
//! right kind: a refused request is a `Rejected` 4xx, a provider answer or
//! event that cannot be read a `Failed`. Also: how deep tool schemas may
//! nest, and a rough timing. The variations come from [`super::mutate`].

use serde_json::{json, Value};

use super::request::refused_requests;
use super::stream::gemini_chunk;
use super::*;
use crate::adapter::sweep::{random_variations, variations};

/// Runs every case, collecting panics and wrong outcomes; fails with them.
fn sweep<T: std::fmt::Debug>(
    what: &str,
    cases: &[T],
    run: impl Fn(&T) -> Result<(), String>,
) -> usize {
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(case)));
        let problem = match outcome {
            Ok(Ok(())) => continue,
            Ok(Err(wrong)) => wrong,
            Err(e) => e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .map(|m| format!("panic: {m}"))
                .unwrap_or_else(|| "panic".into()),
        };
        failures.push(format!("{what} case {i}: {problem}\n  {case:?}"));
    }
    assert!(
        failures.is_empty(),
        "{} of {} {what} cases went wrong:\n{}",
        failures.len(),
        cases.len(),
        failures[..failures.len().min(8)].join("\n")
    );
    cases.len()
}

/// A request may only be refused with a 4xx.
fn refused_or_done(outcome: Result<Option<Value>, AdapterError>) -> Result<(), String> {
    match outcome {
        Ok(Some(_)) => Ok(()),
        Err(AdapterError::Rejected { status, .. }) if (400..500).contains(&status) => Ok(()),
        other => Err(format!("{other:?}")),
    }
}

/// An answer or event may only fail as `Failed` by the gemini adapter.
fn failed_or_done<T>(outcome: Result<T, AdapterError>) -> Result<(), String> {
    match outcome {
        Ok(_) => Ok(()),
        Err(AdapterError::Failed { adapter, .. }) if adapter == "gemini" => Ok(()),
        Err(other) => Err(format!("{other:?}")),
    }
}

/// The streams of the tests and of the fixture, as event lists.
fn sample_streams() -> Vec<Vec<Value>> {
    let fixture: Vec<Value> = sse_events(&file("adapter_stream.gemini.sse"))
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let usage = json!({"promptTokenCount": 7, "candidatesTokenCount": 3, "thoughtsTokenCount": 2,
        "cachedContentTokenCount": 1, "toolUsePromptTokenCount": 4, "totalTokenCount": 10});
    vec![
        fixture,
        vec![
            gemini_chunk(
                json!([{"text": "Pondering", "thought": true}, {"text": "Hel"}]),
                None,
                json!({"promptTokenCount": 7}),
            ),
            gemini_chunk(
                json!([
                    {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "U0lH"},
                    {"functionCall": {"id": "fc-9", "name": "get_time", "args": {"tz": "CET"}}}
                ]),
                Some("STOP"),
                usage.clone(),
            ),
        ],
        vec![
            json!({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
            "usageMetadata": usage.clone(), "responseId": "r-42", "modelVersion": "m"}),
        ],
        vec![
            json!({"candidates": [
                {"index": 0, "content": {"role": "model", "parts": [{"text": "A"}]}, "finishReason": "STOP"},
                {"index": 1, "content": {"role": "model", "parts": [{"text": "B"}]}}
            ], "responseId": "r-42"}),
            json!({"candidates": [{"index": 1, "content": {"role": "model", "parts": [{"text": "!"}]},
                "finishReason": "MAX_TOKENS"}], "usageMetadata": {"promptTokenCount": 1, "totalTokenCount": 3}}),
        ],
        vec![
            gemini_chunk(json!([{"text": "a"}]), None, json!({})),
            json!({"error": {"code": 429, "message": "Quota", "status": "RESOURCE_EXHAUSTED"}}),
        ],
        vec![
            json!({"candidates": [
                {"content": {"parts": [{"text": "x", "thought": false}]}},
                {"index": 0, "content": {"parts": [{"functionCall": {"name": "f", "id": ""}}]}},
                {"index": 1, "finishReason": "STOP"}
            ], "modelVersion": null}),
            json!({"candidates": [{"index": 0, "finishReason": "MAX_TOKENS"},
                                  {"index": 0, "finishReason": "SAFETY"}],
                   "usageMetadata": {"totalTokenCount": null, "promptTokenCount": 2}}),
            json!({"promptFeedback": {"blockReason": "OTHER"}, "candidates": []}),
        ],
    ]
}

/// Feeds `events` (raw data) through one stream, then ends it.
fn replay(events: &[String]) -> Result<(), String> {
    let mut s = Stream::new();
    for data in events {
        failed_or_done(s.try_feed(data))?;
    }
    failed_or_done(s.try_finish())
}

#[test]
fn sample_streams_translate_and_complete() {
    for stream in sample_streams() {
        let mut s = Stream::new();
        for event in &stream {
            s.feed_raw(&event.to_string());
        }
        s.finish();
    }
}

#[test]
fn sweep_of_stream_events() {
    let streams = sample_streams();
    let mut cases: Vec<Vec<String>> = Vec::new();
    for (s, stream) in streams.iter().enumerate() {
        let texts: Vec<String> = stream.iter().map(Value::to_string).collect();
        for (k, event) in stream.iter().enumerate() {
            let random = random_variations(event, 150, (s * 31 + k) as u64);
            for variant in variations(event).into_iter().chain(random) {
                let mut events = texts.clone();
                events[k] = variant.to_string();
                cases.push(events);
            }
            // The event dropped, and the stream cut after it.
            let mut dropped = texts.clone();
            dropped.remove(k);
            cases.push(dropped);
            cases.push(texts[..=k].to_vec());
            // The event cut in the middle.
            let cut = texts[k].char_indices().nth(texts[k].chars().count() / 2);
            let mut broken = texts.clone();
            broken[k] = texts[k][..cut.map_or(0, |(i, _)| i)].to_string();
            cases.push(broken);
        }
    }
    // Data that is not a JSON object, and a broken event mid-stream.
    let first = streams[0][0].to_string();
    for raw in [
        "",
        "  ",
        "null",
        "[]",
        "[1]",
        "\"\"",
        "\" \"",
        "\"text\"",
        "5",
        "1.5",
        "true",
        "{",
        "{}",
        "not json",
        "1e400",
        "{\"candidates\": \"\"}",
        "{\"candidates\": \"abc\"}",
        "{\"candidates\": {}}",
        "{\"candidates\": 3}",
        "{\"error\": \"boom\"}",
        "{\"error\": 5}",
        "{\"error\": {\"status\": 5}}",
        "{\"error\": {\"status\": null, \"message\": [1]}}",
        "{\"a\": 1e400}",
        "{\"responseId\": \"\\ud800\"}",
        "{\"responseId\": \"\\ud83d\\ude00\"}",
        "{\"candidates\": [], \"candidates\": [{\"index\": 2}]}",
    ] {
        cases.push(vec![raw.to_string()]);
        cases.push(vec![first.clone(), raw.to_string(), first.clone()]);
    }
    let n = sweep("stream", &cases, |events| replay(events));
    eprintln!("{n} stream cases");
}

/// The response bodies of the tests and of the fixture.
fn sample_responses() -> Vec<Value> {
    vec![
        json_file("adapter_response.gemini.json"),
        json!({"candidates": [{"index": 0, "finishReason": "MAX_TOKENS", "content": {"role": "model", "parts": [
            {"text": "Let me think…", "thought": true}, {"text": "Hello"},
            {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "c2ln"},
            {"functionCall": {"name": "ping"}}]}}],
            "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "thoughtsTokenCount": 20,
                "cachedContentTokenCount": 4, "toolUsePromptTokenCount": 2}}),
        json!({"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 8},
            "modelVersion": "gemini-2.5-flash"}),
        json!({"candidates": [
            {"index": 0, "finishReason": "STOP", "content": {"role": "model", "parts": [{"text": "A"}]}},
            {"finishReason": "IMAGE_SAFETY", "content": {"role": "model", "parts": [{"text": "B"}]}}
        ], "responseId": ""}),
    ]
}

fn sample_embeddings() -> Vec<Value> {
    vec![
        json!({"embeddings": [{"values": [0.25, -1.5, 0]}, {"values": [1.0, 2.0, 3.5]}],
               "usageMetadata": {"promptTokenCount": 3}}),
        json!({"embedding": {"values": [0.5]}}),
    ]
}

#[test]
fn sweep_of_responses() {
    let chat_ctx = ctx();
    let mut cases: Vec<(Value, &Ctx)> = Vec::new();
    for (i, body) in sample_responses().into_iter().enumerate() {
        GEMINI
            .response(body.clone(), &chat_ctx)
            .unwrap_or_else(|e| panic!("{body}: {e}"));
        for variant in variations(&body) {
            cases.push((variant, &chat_ctx));
        }
        for variant in random_variations(&body, 400, i as u64) {
            cases.push((variant, &chat_ctx));
        }
    }
    let embeddings = [None, Some("base64"), Some("float")].map(embeddings_ctx);
    for body in sample_embeddings() {
        for ctx in &embeddings {
            GEMINI
                .response(body.clone(), ctx)
                .unwrap_or_else(|e| panic!("{body}: {e}"));
        }
        for variant in variations(&body) {
            for ctx in &embeddings {
                cases.push((variant.clone(), ctx));
            }
        }
    }
    let n = sweep("response", &cases, |(body, ctx)| {
        failed_or_done(GEMINI.response(body.clone(), ctx))
    });
    eprintln!("{n} response cases");
}

/// Chat requests of the tests and of the fixture.
fn sample_requests() -> Vec<Value> {
    vec![
        json_file("adapter_request.openai.json"),
        json!({"model": MODEL, "messages": [
            {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
            {"role": "user", "content": [
                {"type": "text", "text": "Compare"},
                {"type": "image_url", "image_url": {"url": "https://example.com/a/cat.JPG?size=large#top"}},
                {"type": "image_url", "image_url": "http://example.com/dog.webp"},
                {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "mp3"}},
                {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0="}}]},
            {"role": "assistant", "content": [{"type": "refusal", "refusal": "No."}, {"type": "text", "text": "ok"}],
             "tool_calls": [
                {"id": "fc-77", "type": "function", "function": {"name": "get_time", "arguments": {"tz": "CET"}}},
                {"id": "toolu_9.ts.c2ln", "type": "function", "function": {"name": "lookup", "arguments": " "}}]},
            {"role": "tool", "tool_call_id": "toolu_9.ts.c2ln", "content": [{"type": "text", "text": "[20, 21]"}]},
            {"role": "user", "content": "and?"},
            {"role": "tool", "tool_call_id": "fc-77", "content": "{\"time\": \"14:05\"}"},
            {"role": "tool", "tool_call_id": "call_x", "name": "orphan", "content": null}
        ],
        "tools": [
            {"type": "function", "function": {"name": "get_time", "description": "Time",
                "parameters": {"type": ["object", "null"], "title": "T", "properties": {
                    "tz": {"type": "string", "format": "date-time", "const": "CET", "default": "x"},
                    "when": {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "null"}]},
                    "tags": {"type": "array", "items": {"type": "string", "oneOf": [{"type": "string"}]}}},
                "required": ["tz"], "additionalProperties": false}}},
            {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}},
            {"type": "function", "function": {"name": "refd", "parameters": {"$defs": {"a": {"type": "string"}},
                "type": "object", "properties": {"a": {"$ref": "#/$defs/a"}}}}}
        ],
        "tool_choice": {"type": "allowed_tools", "allowed_tools": {"mode": "required",
            "tools": [{"type": "function", "function": {"name": "get_time"}}, {"name": "refd"}]}},
        "response_format": {"type": "json_object"},
        "reasoning_effort": "minimal",
        "max_tokens": 5, "stop": "END", "n": 1, "seed": 3, "presence_penalty": 0.5, "frequency_penalty": 0}),
        // Duplicate call ids, results out of order around other parts.
        json!({"model": MODEL, "messages": [
            {"role": "assistant", "tool_calls": [
                {"id": "a", "function": {"name": "f", "arguments": "{}"}},
                {"id": "a", "function": {"name": "g", "arguments": ""}},
                {"id": "b.ts.", "function": {"name": "h", "arguments": "{\"x\": 1e2}"}}]},
            {"role": "tool", "tool_call_id": "b.ts.", "content": " {\"n\": 18446744073709551615} "},
            {"role": "user", "content": [{"type": "text", "text": ""}, {"type": "text", "text": "go"}]},
            {"role": "tool", "tool_call_id": "a", "content": [{"type": "text", "text": "{"}, {"type": "text", "text": "}"}]},
            {"role": "assistant", "content": ""},
            {"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": "data:Image/PNG;BASE64,AAA,B"}},
                {"type": "image_url", "image_url": {"url": "HTTPS://x.example/p.HEIF#a.png"}}]}
        ], "tool_choice": "none", "tools": [], "stop": [], "response_format": {"type": "json_schema"}}),
        json!({"model": MODEL, "messages": [{"role": "user", "content": "Hi"}],
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object",
                "properties": {"x": {"type": "string"}}}}}],
            "tool_choice": {"type": "function", "function": {"name": "f"}},
            "response_format": {"type": "text"}, "reasoning_effort": "high"}),
    ]
}

#[test]
fn sweep_of_requests() {
    let contexts = [
        with_options(json!({})),
        with_options(
            json!({"tool_schema": "json_schema", "include_thoughts": true,
            "safety_settings": [{"category": "X"}]}),
        ),
    ];
    for body in sample_requests() {
        for ctx in &contexts {
            GEMINI
                .request(&body, ctx)
                .unwrap_or_else(|e| panic!("{body}: {e}"));
        }
    }
    let mut cases: Vec<(Value, &Ctx)> = Vec::new();
    for (i, body) in sample_requests().into_iter().enumerate() {
        for variant in variations(&body) {
            cases.push((variant, &contexts[0]));
        }
        for variant in random_variations(&body, 600, i as u64) {
            cases.push((variant.clone(), &contexts[0]));
            cases.push((variant, &contexts[1]));
        }
    }
    for body in refused_requests() {
        cases.push((body, &contexts[0]));
    }
    let embeddings_ctx = TestCtx {
        endpoint: "embeddings",
        options: json!({"task_type": "RETRIEVAL_QUERY"}),
        ..TestCtx::default()
    }
    .build();
    let embeddings = [
        json!({"model": MODEL, "input": ["a", "b"], "dimensions": 8, "encoding_format": "base64"}),
        json!({"model": MODEL, "input": "one", "encoding_format": "float"}),
    ];
    for body in &embeddings {
        for variant in variations(body) {
            cases.push((variant, &embeddings_ctx));
        }
    }
    let n = sweep("request", &cases, |(body, ctx)| {
        refused_or_done(GEMINI.request(body, ctx))
    });
    eprintln!("{n} request cases");
}

/// A tool whose schema nests `n` levels of `kind` around a nullable type.
fn nested_schema_request(kind: &str, n: usize) -> Value {
    let mut schema = json!({"type": ["string", "null"]});
    for _ in 0..n {
        schema = match kind {
            "items" => json!({"items": schema}),
            "properties" => json!({"properties": {"p": schema}}),
            _ => json!({"anyOf": [schema]}),
        };
    }
    let schema = json!({"type": "object", "properties": {"x": schema}});
    chat(json!({"tools": [{"type": "function", "function": {"name": "f", "parameters": schema}}]}))
}

/// Nested schemas are converted down to MAX_SCHEMA_DEPTH levels (the root
/// is level 0, `x` level 1, the innermost level n + 1); deeper ones are
/// refused with a 400 that says so.
#[test]
fn nested_schemas_stop_at_the_depth_limit() {
    let last_ok = super::super::tools::MAX_SCHEMA_DEPTH - 2;
    for kind in ["items", "properties", "anyOf"] {
        let out = to_gemini(nested_schema_request(kind, last_ok));
        let mut inner =
            &out["tools"][0]["functionDeclarations"][0]["parameters"]["properties"]["x"];
        for _ in 0..last_ok {
            inner = match kind {
                "items" => &inner["items"],
                "properties" => &inner["properties"]["p"],
                _ => &inner["anyOf"][0],
            };
        }
        assert_eq!(
            inner,
            &json!({"type": "string", "nullable": true}),
            "{kind}"
        );
        let (status, message) = rejected(nested_schema_request(kind, last_ok + 1));
        assert_eq!(status, 400);
        assert!(message.contains("nests deeper than 64 levels"), "{message}");
        assert!(message.contains("'f'"), "{message}");
    }
    // As full JSON Schema, the schema is not walked.
    let ctx = with_options(json!({"tool_schema": "json_schema"}));
    to_gemini_with(nested_schema_request("items", 100), &ctx);
}

/// Rough cost per request, response and stream event on the golden
/// fixtures (run with `--ignored`; a debug build's figures only compare).
#[test]
#[ignore]
fn timing() {
    let rounds = 2000u32;
    let request = json_file("adapter_request.openai.json");
    let response = json_file("adapter_response.gemini.json");
    let events = sse_events(&file("adapter_stream.gemini.sse"));
    let ctx = ctx();
    let started = std::time::Instant::now();
    for _ in 0..rounds {
        GEMINI.request(&request, &ctx).unwrap();
    }
    let per_request = started.elapsed() / rounds;
    let started = std::time::Instant::now();
    for _ in 0..rounds {
        GEMINI.response(response.clone(), &ctx).unwrap();
    }
    let per_response = started.elapsed() / rounds;
    let started = std::time::Instant::now();
    for _ in 0..rounds {
        let mut s = Stream::new();
        for data in &events {
            s.feed_raw(data);
        }
        s.finish();
    }
    let per_event = started.elapsed() / (rounds * events.len() as u32);
    eprintln!("{per_request:?} per request, {per_response:?} per response (with its clone), {per_event:?} per stream event");
}
