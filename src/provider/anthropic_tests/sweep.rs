//! Differential sweep: every fixture under `tests/fixtures/anthropic/` and
//! a set of bodies and events that reach every branch of the script, each
//! also with every field (one at a time) removed, set to null, to another
//! type, to a huge, negative or float number, to an empty string, array or
//! map, or to one of the words the script switches on. [`Differential`]
//! panics on the first case where the native twin and the script disagree.

use std::path::Path;

use rhai::{Dynamic, Map};
use serde_json::{json, Value};

use super::super::differential::mutate::{get, mutated, paths, Step};
use super::super::differential::Differential;
use super::ctx_full;
use crate::transform::sse::SseParser;

fn fixtures_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/anthropic")
}

/// Every `.json` fixture.
fn json_fixtures() -> Vec<Value> {
    let mut out = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for path in names {
        if path.extension().is_some_and(|e| e == "json") {
            out.push(serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap());
        }
    }
    out
}

/// Every stream fixture as `(event, data)` pairs: the `.sse` transcripts,
/// and the `.jsonl` chunk lists as events without an `event:` line.
fn stream_fixtures() -> Vec<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for path in names {
        let text = std::fs::read_to_string(&path).unwrap();
        match path.extension().and_then(|e| e.to_str()) {
            Some("sse") => {
                let mut parser = SseParser::new(1 << 20);
                let mut events = Vec::new();
                parser.feed(text.as_bytes(), &mut events).unwrap();
                parser.finish(&mut events);
                out.push(events.into_iter().map(|e| (e.event, e.data)).collect());
            }
            Some("jsonl") => out.push(
                text.lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(|l| (String::new(), l.to_string()))
                    .collect(),
            ),
            _ => {}
        }
    }
    out
}

/// Values of every type and size the script might be handed.
fn odd_values() -> Vec<Value> {
    vec![
        Value::Null,
        json!(true),
        json!(0),
        json!(-1),
        json!(2),
        json!(1.0),
        json!(1.5),
        json!(1e20),
        json!(i64::MAX),
        json!(u64::MAX),
        json!(""),
        json!("x"),
        json!([]),
        json!([null]),
        json!(["x"]),
        json!({}),
        json!({"type": "text"}),
    ]
}

/// The words the script compares strings with, for string fields.
fn words() -> Vec<Value> {
    [
        "user",
        "assistant",
        "tool",
        "system",
        "developer",
        "text",
        "image_url",
        "file",
        "input_audio",
        "refusal",
        "function",
        "custom",
        "allowed_tools",
        "auto",
        "required",
        "none",
        "json_object",
        "json_schema",
        "tool_use",
        "tool_result",
        "thinking",
        "redacted_thinking",
        "error",
        "ping",
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
        "text_delta",
        "thinking_delta",
        "input_json_delta",
        "signature_delta",
        "max_tokens",
        "model_context_window_exceeded",
        "end_turn",
        "data:image/jpg;base64,AAAA",
        "data:image/svg+xml;base64,AAAA",
        "DATA:image/png;base64,AAAA",
        "data:Image/PNG;Base64,AAAA",
        "data:application/pdf;base64,JVBE",
        "data:application/pdf,JVBE",
        "data:image/png;base64",
        "data:,x",
        "HTTPS://Example.com/a.png",
        "ftp://x",
        "https:/",
        "{\"a\": 1}",
        "  {\"a\": [1, 2.5, 18446744073709551615]}  ",
        "[1]",
        "{\"a\":",
        "İstanbul",
        "0",
    ]
    .into_iter()
    .map(Value::from)
    .collect()
}

/// The fields whose string value the script compares or parses.
const SWITCHED: &[&str] = &[
    "type",
    "role",
    "mode",
    "tool_choice",
    "stop_reason",
    "url",
    "image_url",
    "file_data",
    "arguments",
    "partial_json",
    "content",
    "text",
    "name",
];

/// Every one-field variation of `v` (and `v` itself).
fn variations(v: &Value) -> Vec<Value> {
    let odd = odd_values();
    let words = words();
    let mut out = vec![v.clone()];
    for path in &paths(v) {
        let current = get(v, path);
        out.extend(mutated(v, path, None));
        for w in &odd {
            out.extend(mutated(v, path, Some(w)));
        }
        // The words go where the script compares: a `type`, `role` and the like.
        let switched = matches!(path.last(), Some(Step::Key(k)) if SWITCHED.contains(&k.as_str()));
        if current.is_string() && switched {
            for w in &words {
                out.extend(mutated(v, path, Some(w)));
            }
        }
    }
    out
}

/// The contexts hooks are called with: the usual one and odd ones.
fn contexts() -> Vec<Map> {
    let mut out = vec![
        ctx_full("chat", false, Some("k"), json!({})),
        ctx_full("chat", true, None, json!({"max_tokens": 1000})),
        ctx_full("chat", false, Some("k"), json!({"max_tokens": "many"})),
        ctx_full("chat", false, Some("k"), json!({"max_tokens": 1e3})),
        Map::new(),
    ];
    let mut odd = ctx_full("chat", false, Some("k"), json!({}));
    odd.insert("options".into(), Dynamic::from("not a map"));
    odd.insert("model".into(), Dynamic::from(7_i64));
    out.push(odd);
    out
}

/// Bodies that reach the branches no fixture reaches.
fn extra_requests() -> Vec<Value> {
    vec![
        json!({
            "model": "m", "n": 1, "max_tokens": 10, "stop": "END", "temperature": 1.7,
            "top_p": 0.5, "user": "u1", "stream": true, "parallel_tool_calls": false,
            "tool_choice": {"type": "function", "function": {"name": "a"}},
            "tools": [
                {"type": "function", "function": {"name": "a", "description": "d",
                  "parameters": {"type": "object", "properties": {}}}},
                {"function": {"name": "b"}}
            ],
            "response_format": {"type": "json_object"},
            "messages": [
                {"role": "developer", "content": [{"type": "text", "text": "s", "cache_control": {"type": "ephemeral"}}]},
                {"role": "user", "content": [
                    {"type": "text", "text": "hi"},
                    {"type": "image_url", "image_url": "data:image/jpg;base64,AAAA"},
                    {"type": "image_url", "image_url": {"url": "HTTP://x/y.png"}, "cache_control": {"type": "ephemeral"}},
                    {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBE"}}
                ]},
                {"role": "assistant", "content": [{"type": "refusal", "refusal": "no"}, {"type": "text", "text": ""}],
                 "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "a", "arguments": " {\"x\": 1} "}},
                    {"id": "c2", "function": {"name": "b", "arguments": {"y": 2}}},
                    {"id": "c3", "function": {"name": "b"}}
                 ]},
                {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "r1"}]},
                {"role": "user", "content": "after"},
                {"role": "tool", "tool_call_id": "c2", "content": 42},
                {"role": "tool", "tool_call_id": "c3", "content": ""}
            ]
        }),
        json!({
            "safety_identifier": 12, "temperature": -1, "stop": ["a", "b"],
            "max_completion_tokens": 99, "parallel_tool_calls": false,
            "tool_choice": {"type": "allowed_tools", "allowed_tools": {"mode": "required",
                "tools": [{"type": "function", "function": {"name": "b"}}, {"name": "c"}]}},
            "tools": [{"function": {"name": "a"}}, {"function": {"name": "b", "parameters": {}}},
                      {"function": {"name": "c", "parameters": {"properties": {}}}}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
            "messages": [
                {"role": "system", "content": "s"},
                {"role": "assistant", "content": "first"},
                {"role": "assistant", "content": "", "tool_calls": []},
                {"role": "user", "content": [{"type": "text", "text": "q"}]}
            ]
        }),
        json!({
            "tool_choice": "none", "parallel_tool_calls": false,
            "tools": [{"type": "function", "function": {"name": "a"}}],
            "response_format": {"type": "text"},
            "messages": [{"role": "user", "content": "x"}]
        }),
    ]
}

fn extra_responses() -> Vec<Value> {
    vec![json!({
        "id": "msg_1", "model": "claude", "stop_reason": "tool_use",
        "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "s"},
            {"type": "redacted_thinking", "data": "x"},
            {"type": "text", "text": "a"},
            {"type": "text", "text": "b"},
            {"type": "tool_use", "id": "t1", "name": "f", "input": {"q": [1, 2.5, null]}},
            {"type": "tool_use", "id": "t2", "name": "g"}
        ],
        "usage": {"input_tokens": 10, "cache_creation_input_tokens": 2, "cache_read_input_tokens": 3,
                  "output_tokens": 4, "output_tokens_details": {"thinking_tokens": 1}}
    })]
}

fn extra_streams() -> Vec<Vec<(String, String)>> {
    let ev = |e: &str, d: Value| (e.to_string(), d.to_string());
    vec![
        vec![
            ev("ping", json!({"type": "ping"})),
            ev(
                "message_start",
                json!({"type": "message_start", "message": {"usage": {"input_tokens": 5, "cache_read_input_tokens": 1}}}),
            ),
            ev(
                "content_block_start",
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": "Hi"}}),
            ),
            ev(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "!"}}),
            ),
            ev(
                "content_block_start",
                json!({"type": "content_block_start", "index": 1, "content_block": {"type": "thinking", "thinking": ""}}),
            ),
            ev(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 1, "delta": {"type": "thinking_delta", "thinking": "so"}}),
            ),
            ev(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 1, "delta": {"type": "signature_delta", "signature": "x"}}),
            ),
            ev(
                "content_block_start",
                json!({"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "t", "name": "f", "input": {}}}),
            ),
            ev(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "{\"a\":"}}),
            ),
            ev(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": ""}}),
            ),
            ev(
                "content_block_stop",
                json!({"type": "content_block_stop", "index": 2}),
            ),
            ev(
                "",
                json!({"type": "message_delta", "delta": {"stop_reason": "max_tokens"}, "usage": {"output_tokens": 7, "input_tokens": 0, "x": null, "cache_read_input_tokens": 2.5}}),
            ),
        ],
        vec![
            ev(
                "error",
                json!({"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}),
            ),
            ("error".to_string(), "not json".to_string()),
            ("".to_string(), "null".to_string()),
            ev("", json!({"type": "error"})),
            ev("message_stop", json!({"type": "message_stop"})),
            ev(
                "message_start",
                json!({"type": "message_start", "message": {"id": "m2"}}),
            ),
            ev("message_stop", json!({})),
        ],
    ]
}

fn check_requests(a: &Differential, bodies: &[Value]) -> usize {
    let ctxs = contexts();
    let mut n = 0;
    for body in bodies {
        for (i, v) in variations(body).iter().enumerate() {
            let _ = a.transform_request(v, &ctxs[i % ctxs.len()]);
            n += 1;
        }
    }
    for ctx in &ctxs {
        for body in bodies {
            let _ = a.transform_request(body, ctx);
            n += 1;
        }
    }
    n
}

fn check_responses(a: &Differential, bodies: &[Value]) -> usize {
    let ctxs = contexts();
    let mut n = 0;
    for body in bodies {
        for (i, v) in variations(body).into_iter().enumerate() {
            let _ = a.transform_response(v, &ctxs[i % ctxs.len()]);
            n += 1;
        }
    }
    n
}

/// Runs `events` through one stream, then finishes it.
fn run_stream(a: &Differential, events: &[(String, String)], ctx: &Map) {
    let mut state = a.stream_state();
    for (event, data) in events {
        let _ = a.transform_chunk(&mut state, event, data, ctx);
    }
    let _ = a.finish_stream(&mut state, ctx);
}

fn check_streams(a: &Differential, streams: &[Vec<(String, String)>]) -> usize {
    let ctxs = contexts();
    let mut n = 0;
    for events in streams {
        for ctx in &ctxs {
            run_stream(a, events, ctx);
        }
        // Cut short after every event; each event dropped.
        for cut in 0..events.len() {
            run_stream(a, &events[..cut], &ctxs[0]);
            let mut dropped = events.clone();
            dropped.remove(cut);
            run_stream(a, &dropped, &ctxs[0]);
            n += 2;
        }
        for (i, (event, data)) in events.iter().enumerate() {
            let mut datas: Vec<String> = [
                "",
                "null",
                "[]",
                "5",
                "\"text\"",
                "{",
                "{}",
                "{\"type\":\"error\"}",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            if let Ok(v) = serde_json::from_str::<Value>(data) {
                datas.extend(variations(&v).iter().map(Value::to_string));
            }
            let names = [
                event.as_str(),
                "",
                "error",
                "message_start",
                "content_block_delta",
            ];
            // The events before it, the changed event, and the stream's last
            // two events (how it ends depends on the state it left).
            let tail = events.len().saturating_sub(2).max(i + 1);
            for (j, new_data) in datas.iter().enumerate() {
                let mut changed = events[..=i].to_vec();
                changed[i] = (names[j % names.len()].to_string(), new_data.clone());
                changed.extend_from_slice(&events[tail..]);
                run_stream(a, &changed, &ctxs[j % 2]);
                n += 1;
            }
        }
    }
    n
}

#[test]
fn sweep_requests_agree_with_the_script() {
    let a = Differential::shipped("anthropic");
    let mut bodies = json_fixtures();
    bodies.extend(extra_requests());
    let started = std::time::Instant::now();
    let n = check_requests(&a, &bodies);
    eprintln!("{n} requests in {:?}", started.elapsed());
    assert!(n > 1000, "{n} cases");
}

#[test]
fn sweep_responses_agree_with_the_script() {
    let a = Differential::shipped("anthropic");
    let mut bodies = json_fixtures();
    bodies.extend(extra_responses());
    let started = std::time::Instant::now();
    let n = check_responses(&a, &bodies);
    eprintln!("{n} responses in {:?}", started.elapsed());
    assert!(n > 1000, "{n} cases");
}

#[test]
fn sweep_streams_agree_with_the_script() {
    let a = Differential::shipped("anthropic");
    let mut streams = stream_fixtures();
    streams.extend(extra_streams());
    let started = std::time::Instant::now();
    let n = check_streams(&a, &streams);
    eprintln!("{n} streams in {:?}", started.elapsed());
    assert!(n > 1000, "{n} cases");
}
