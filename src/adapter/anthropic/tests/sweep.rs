//! Robustness sweep: every fixture under `tests/fixtures/anthropic/` and a
//! set of bodies and events that reach every branch of the adapter, each
//! also with every field (one at a time) removed, set to null, to another
//! type, to a huge, negative or float number, to an empty string, array or
//! map, or to one of the words the adapter switches on; streams also cut
//! after every event, with each event dropped, and with each event's data
//! replaced.
//!
//! Nothing may panic, and the error kinds must be right: a hub request is
//! refused with a 4xx (`Rejected`) and fails (`Failed`) only for a bad
//! provider option; a provider's answer or event never gets a `Rejected`
//! (it is not the client's fault). The unchanged inputs translate without
//! error.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{json, Value};

use super::{ctx_full, ANTHROPIC};
use crate::adapter::sweep::{get, mutated, paths, Step};
use crate::adapter::{AdapterError, Ctx, Wire};
use crate::transform::sse::SseParser;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/anthropic")
}

fn fixture_paths() -> Vec<PathBuf> {
    let mut names: Vec<_> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    names
}

/// Every `.json` fixture.
fn json_fixtures() -> Vec<Value> {
    fixture_paths()
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
        .collect()
}

/// `(event, data)` pairs of an SSE transcript.
fn sse_events(text: &str) -> Vec<(String, String)> {
    let mut parser = SseParser::new(1 << 20);
    let mut events = Vec::new();
    parser.feed(text.as_bytes(), &mut events).unwrap();
    parser.finish(&mut events);
    events.into_iter().map(|e| (e.event, e.data)).collect()
}

/// The `.sse` transcripts of Anthropic streams.
fn sse_fixtures() -> Vec<Vec<(String, String)>> {
    fixture_paths()
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "sse"))
        .map(|p| sse_events(&std::fs::read_to_string(p).unwrap()))
        .collect()
}

/// The `.jsonl` chunk lists (hub chunks, not Anthropic events) as events
/// without an `event:` line: hostile input for the translator.
fn jsonl_fixtures() -> Vec<Vec<(String, String)>> {
    fixture_paths()
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .map(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| (String::new(), l.to_string()))
                .collect()
        })
        .collect()
}

/// Values of every type and size.
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

/// The words the adapter compares strings with, for string fields.
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
        "[DONE]",
    ]
    .into_iter()
    .map(Value::from)
    .collect()
}

/// The fields whose string value the adapter compares or parses.
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
        let switched = matches!(path.last(), Some(Step::Key(k)) if SWITCHED.contains(&k.as_str()));
        if current.is_string() && switched {
            for w in &words {
                out.extend(mutated(v, path, Some(w)));
            }
        }
    }
    out
}

/// The contexts hooks are called with: the usual one and odd ones; the
/// last one's options are bad.
fn contexts() -> Vec<Ctx> {
    let mut odd = ctx_full("chat", false, None, json!({"beta": [1, null]}));
    odd.model = String::new();
    vec![
        ctx_full("chat", false, Some("k"), json!({})),
        ctx_full("chat", true, None, json!({"max_tokens": 1000})),
        ctx_full("chat", false, Some("k"), json!({"max_tokens": 1e3})),
        odd,
        ctx_full("chat", false, Some("k"), json!({"max_tokens": "many"})),
    ]
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
            {"type": "tool_use", "id": "t2", "name": "g"},
            {"type": "server_tool_use", "id": "s1", "name": "web_search", "input": {"query": "q"}},
            {"type": "web_search_tool_result", "tool_use_id": "s1",
             "content": {"type": "web_search_tool_result_error", "error_code": "unavailable"}}
        ],
        "usage": {"input_tokens": 10, "cache_creation_input_tokens": 2, "cache_read_input_tokens": 3,
                  "output_tokens": 4, "output_tokens_details": {"thinking_tokens": 1},
                  "server_tool_use": {"web_search_requests": 1}, "service_tier": "standard"}
    })]
}

fn ev(event: &str, data: Value) -> (String, String) {
    (event.to_string(), data.to_string())
}

/// Well-formed streams that reach the branches no fixture reaches.
fn extra_streams() -> Vec<Vec<(String, String)>> {
    vec![vec![
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
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 2, "delta": {"type": "citations_delta", "citation": {}}}),
        ),
        ev(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 2}),
        ),
        ev(
            "",
            json!({"type": "message_delta", "delta": {"stop_reason": "max_tokens"}, "usage": {"output_tokens": 7, "input_tokens": null, "x": null, "cache_read_input_tokens": 2}}),
        ),
        ev(
            "",
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}),
        ),
        ev("error", json!({"type": "error"})),
        ("error".to_string(), "not json".to_string()),
        ev("brand_new", json!({"type": "brand_new"})),
        ("".to_string(), "[DONE]".to_string()),
        ev("message_stop", json!({"type": "message_stop"})),
        ev(
            "message_start",
            json!({"type": "message_start", "message": {"id": "m2"}}),
        ),
        ev("message_stop", json!({})),
    ]]
}

/// Checks a hook's outcome: `allowed` says which error kinds may occur.
fn check(result: Result<(), AdapterError>, rejected_ok: bool, failed_ok: bool, what: &str) {
    match result {
        Ok(()) => {}
        Err(AdapterError::Rejected { status, .. }) => {
            assert!(rejected_ok, "{what}: a Rejected");
            assert!((400..500).contains(&status), "{what}: status {status}");
        }
        Err(AdapterError::Failed { adapter, .. }) => {
            assert!(failed_ok, "{what}: a Failed");
            assert_eq!(adapter, "anthropic");
        }
    }
}

/// Whether `ctx`'s options are ones the adapter can fail on.
fn bad_options(ctx: &Ctx) -> bool {
    ctx.options.get("max_tokens").is_some_and(Value::is_string)
}

fn request(body: &Value, ctx: &Ctx) -> Result<(), AdapterError> {
    let out = ANTHROPIC.request(body, ctx)?.expect("a body");
    for key in ["model", "max_tokens", "messages"] {
        assert!(out.get(key).is_some(), "no {key}: {out}");
    }
    Ok(())
}

#[test]
fn sweep_requests_are_translated_or_refused() {
    let ctxs = contexts();
    let mut bodies = json_fixtures();
    bodies.extend(extra_requests());
    for body in &extra_requests() {
        for ctx in &ctxs[..4] {
            request(body, ctx).unwrap_or_else(|e| panic!("{e}: {body}"));
        }
    }
    let mut n = 0;
    for body in &bodies {
        for (i, v) in variations(body).iter().enumerate() {
            let ctx = &ctxs[i % ctxs.len()];
            check(request(v, ctx), true, bad_options(ctx), &v.to_string());
            n += 1;
        }
    }
    assert!(n > 1000, "{n} cases");
}

#[test]
fn sweep_responses_are_translated_or_fail() {
    let ctx = &contexts()[0];
    let mut bodies = json_fixtures();
    bodies.extend(extra_responses());
    for body in &extra_responses() {
        ANTHROPIC.response(body.clone(), ctx).unwrap();
    }
    let mut n = 0;
    for body in &bodies {
        for v in variations(body) {
            let what = v.to_string();
            let result = ANTHROPIC.response(v, ctx).map(|out| {
                assert_eq!(out["object"], "chat.completion");
            });
            check(result, false, true, &what);
            n += 1;
        }
    }
    assert!(n > 1000, "{n} cases");
}

/// Runs `events` through one stream, then finishes it; every error must
/// be a `Failed`. Returns whether there was none.
fn run_stream(events: &[(String, String)], ctx: &Arc<Ctx>) -> bool {
    let mut translator = ANTHROPIC.stream(ctx).expect("a translator");
    let mut out = Vec::new();
    let mut clean = true;
    for (event, data) in events {
        let result = translator.event(event, data, &mut out);
        clean &= result.is_ok();
        check(result, false, true, &format!("{event}: {data}"));
    }
    let result = translator.finish(&mut out);
    clean &= result.is_ok();
    check(result, false, true, "finish");
    clean
}

#[test]
fn sweep_streams_are_translated_or_fail() {
    let ctxs: Vec<Arc<Ctx>> = contexts().into_iter().map(Arc::new).collect();
    let mut streams = sse_fixtures();
    streams.extend(extra_streams());
    for events in &streams {
        assert!(run_stream(events, &ctxs[0]), "{events:?}");
    }
    streams.extend(jsonl_fixtures());
    let mut n = 0;
    for events in &streams {
        // Cut short after every event; each event dropped.
        for cut in 0..events.len() {
            run_stream(&events[..cut], &ctxs[0]);
            let mut dropped = events.clone();
            dropped.remove(cut);
            run_stream(&dropped, &ctxs[1]);
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
                "{\"type\":\"content_block_delta\"} x",
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
                run_stream(&changed, &ctxs[j % ctxs.len()]);
                n += 1;
            }
        }
    }
    assert!(n > 1000, "{n} cases");
}
