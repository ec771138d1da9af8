//! Gemini SSE events -> `chat.completion.chunk`s.

use serde_json::{json, Value};

use super::*;

/// A Gemini stream chunk with one candidate.
pub(super) fn gemini_chunk(parts: Value, finish: Option<&str>, usage: Value) -> Value {
    let mut candidate = json!({"index": 0, "content": {"role": "model", "parts": parts}});
    if let Some(f) = finish {
        candidate["finishReason"] = json!(f);
    }
    json!({"candidates": [candidate], "usageMetadata": usage,
           "modelVersion": "gemini-2.5-flash-001", "responseId": "r-42"})
}

/// The JSON chunks of `out`, asserting that the only raw item is a final [DONE].
fn split_done(out: &[ChunkOut]) -> Vec<Value> {
    let (last, rest) = out.split_last().expect("some output");
    assert_eq!(last, &ChunkOut::Raw("[DONE]".into()));
    json_items(rest)
}

fn check_envelopes(chunks: &[Value]) {
    let created = chunks[0]["created"].as_i64().expect("created is a number");
    assert!((now() - created).abs() < 60);
    for c in chunks {
        assert_eq!(c["id"], json!("chatcmpl-r-42"), "{c}");
        assert_eq!(c["object"], json!("chat.completion.chunk"), "{c}");
        assert_eq!(c["created"], json!(created), "{c}");
        assert_eq!(c["model"], json!("gemini-2.5-flash-001"), "{c}");
    }
}

fn choice(delta: Value, finish: Value) -> Value {
    json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}])
}

#[test]
fn text_stream_is_translated() {
    let mut s = Stream::new();
    let mut out = s.run(&[
        gemini_chunk(
            json!([{"text": "Hel"}]),
            None,
            json!({"promptTokenCount": 7, "totalTokenCount": 7}),
        ),
        gemini_chunk(
            json!([{"text": "lo"}]),
            None,
            json!({"promptTokenCount": 7, "totalTokenCount": 7}),
        ),
        gemini_chunk(
            json!([{"text": "!"}]),
            Some("STOP"),
            json!({"promptTokenCount": 7, "candidatesTokenCount": 3, "totalTokenCount": 10}),
        ),
    ]);
    out.extend(s.finish());
    let chunks = split_done(&out);
    check_envelopes(&chunks);
    let choices: Vec<Value> = chunks.iter().map(|c| c["choices"].clone()).collect();
    assert_eq!(
        choices,
        vec![
            choice(json!({"role": "assistant", "content": ""}), Value::Null),
            choice(json!({"content": "Hel"}), Value::Null),
            choice(json!({"content": "lo"}), Value::Null),
            choice(json!({"content": "!"}), Value::Null),
            choice(json!({}), json!("stop")),
            json!([]),
        ]
    );
    assert_eq!(
        chunks[5]["usage"],
        json!({"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10,
               "prompt_tokens_details": {"cached_tokens": 0},
               "completion_tokens_details": {"reasoning_tokens": 0}})
    );
}

#[test]
fn whole_function_calls_become_one_delta_each() {
    let mut s = Stream::new();
    let mut out = s.run(&[
        gemini_chunk(json!([{"text": "Checking."}]), None, json!({})),
        gemini_chunk(
            json!([
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "U0lH"},
                {"functionCall": {"id": "fc-9", "name": "get_time", "args": {"tz": "CET"}}}
            ]),
            Some("STOP"),
            json!({"promptTokenCount": 30, "candidatesTokenCount": 12, "thoughtsTokenCount": 5, "totalTokenCount": 47}),
        ),
    ]);
    out.extend(s.finish());
    let chunks = split_done(&out);
    check_envelopes(&chunks);
    assert_eq!(
        chunks[1]["choices"],
        choice(json!({"content": "Checking."}), Value::Null)
    );
    let first = &chunks[2]["choices"][0]["delta"]["tool_calls"];
    let id = first[0]["id"].as_str().unwrap();
    let (minted, signature) = id.split_once(".ts.").unwrap();
    assert!(is_minted(minted) && signature == "U0lH", "{id}");
    assert_eq!(
        chunks[2]["choices"],
        choice(
            json!({"tool_calls": [{"index": 0, "id": id, "type": "function",
                   "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]}),
            Value::Null
        )
    );
    assert_eq!(
        chunks[3]["choices"],
        choice(
            json!({"tool_calls": [{"index": 1, "id": "fc-9", "type": "function",
                   "function": {"name": "get_time", "arguments": "{\"tz\":\"CET\"}"}}]}),
            Value::Null
        )
    );
    assert_eq!(chunks[4]["choices"], choice(json!({}), json!("tool_calls")));
    assert_eq!(chunks[5]["choices"], json!([]));
    assert_eq!(
        chunks[5]["usage"],
        json!({"prompt_tokens": 30, "completion_tokens": 17, "total_tokens": 47,
               "prompt_tokens_details": {"cached_tokens": 0},
               "completion_tokens_details": {"reasoning_tokens": 5}})
    );
    assert_eq!(chunks.len(), 6);
}

#[test]
fn a_stream_without_finish_reason_is_left_truncated() {
    let mut s = Stream::new();
    let out = s.run(&[gemini_chunk(json!([{"text": "partial"}]), None, json!({}))]);
    assert_eq!(out.len(), 2, "role and content chunks");
    assert!(s.finish().is_empty(), "no fake stop, no [DONE]");
    // Nothing at all.
    assert!(Stream::new().finish().is_empty());
}

#[test]
fn stream_errors_are_reported_in_band() {
    let mut s = Stream::new();
    s.run(&[gemini_chunk(json!([{"text": "a"}]), None, json!({}))]);
    let out = s.run(&[json!({"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}})]);
    assert_eq!(
        json_items(&out),
        vec![
            json!({"error": {"message": "The model is overloaded.", "type": "api_error",
                             "param": null, "code": "unavailable"}})
        ]
    );
    let out = s.run(&[
        json!({"error": {"code": 429, "message": "Quota", "status": "RESOURCE_EXHAUSTED"}}),
    ]);
    assert_eq!(
        json_items(&out)[0]["error"]["code"],
        json!("rate_limit_exceeded")
    );
    assert_eq!(
        json_items(&out)[0]["error"]["type"],
        json!("rate_limit_error")
    );
    let out = s.run(&[json!({"error": {"code": 400}})]);
    assert_eq!(
        json_items(&out),
        vec![
            json!({"error": {"message": "the provider reported an error during the stream",
                             "type": "api_error", "param": null, "code": "internal"}})
        ]
    );
    for status in [
        ("INVALID_ARGUMENT", "invalid_request_error"),
        ("FAILED_PRECONDITION", "invalid_request_error"),
        ("OUT_OF_RANGE", "invalid_request_error"),
        ("UNAUTHENTICATED", "authentication_error"),
        ("PERMISSION_DENIED", "permission_error"),
        ("NOT_FOUND", "not_found_error"),
        ("DEADLINE_EXCEEDED", "timeout_error"),
    ] {
        let out = s.run(&[json!({"error": {"status": status.0, "message": "m"}})]);
        assert_eq!(json_items(&out)[0]["error"]["type"], json!(status.1));
        assert_eq!(
            json_items(&out)[0]["error"]["code"],
            json!(status.0.to_lowercase())
        );
    }
    for raw in [
        "{\"candidates\": [{\"content\":",
        "not json",
        "[]",
        "5",
        "null",
    ] {
        let out = Stream::new().feed_raw(raw);
        assert_eq!(
            json_items(&out)[0]["error"]["message"],
            json!("Gemini sent a stream event that is not JSON"),
            "{raw}"
        );
        assert_eq!(
            json_items(&out)[0]["error"]["code"],
            json!("malformed_event")
        );
    }
    assert!(Stream::new().feed_raw("  ").is_empty());
    assert!(Stream::new().feed_raw("").is_empty());
}

#[test]
fn an_event_of_the_wrong_shape_fails_the_stream() {
    for raw in [
        "{\"candidates\": \"abc\"}",
        "{\"candidates\": [{\"index\": -1}]}",
        "{\"error\": \"boom\"}",
        "{\"usageMetadata\": {\"totalTokenCount\": 1.5}}",
    ] {
        match Stream::new().try_feed(raw) {
            Err(AdapterError::Failed {
                adapter,
                hook: "stream",
                ..
            }) => assert_eq!(adapter, "gemini"),
            other => panic!("{raw}: {other:?}"),
        }
    }
}

#[test]
fn blocked_streams_finish_with_content_filter() {
    let mut s = Stream::new();
    let mut out = s.run(&[
        json!({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
        "usageMetadata": {"promptTokenCount": 5, "totalTokenCount": 5}, "responseId": "r-42",
        "modelVersion": "gemini-2.5-flash-001"}),
    ]);
    out.extend(s.finish());
    let chunks = split_done(&out);
    check_envelopes(&chunks);
    assert_eq!(
        chunks[1]["choices"],
        choice(json!({}), json!("content_filter"))
    );
    assert_eq!(chunks[2]["usage"]["prompt_tokens"], json!(5));

    let mut s = Stream::new();
    let mut out = s.run(&[
        json!({"candidates": [{"index": 0, "finishReason": "SAFETY"}],
        "responseId": "r-42", "modelVersion": "gemini-2.5-flash-001"}),
    ]);
    out.extend(s.finish());
    let chunks = split_done(&out);
    assert_eq!(chunks.len(), 2, "no usage known, no usage chunk");
    assert_eq!(
        chunks[1]["choices"],
        choice(json!({}), json!("content_filter"))
    );
}

#[test]
fn thoughts_stream_as_reasoning_content_and_the_last_usage_wins() {
    let mut s = Stream::new();
    let mut out = s.run(&[
        gemini_chunk(
            json!([{"text": "Pondering", "thought": true}]),
            None,
            json!({"promptTokenCount": 4, "totalTokenCount": 4}),
        ),
        gemini_chunk(
            json!([{"text": "42"}]),
            Some("STOP"),
            json!({"promptTokenCount": 4, "candidatesTokenCount": 1, "thoughtsTokenCount": 9, "totalTokenCount": 14}),
        ),
    ]);
    out.extend(s.finish());
    let chunks = split_done(&out);
    let deltas: Vec<Value> = chunks
        .iter()
        .map(|c| c["choices"][0]["delta"].clone())
        .collect();
    assert_eq!(
        deltas,
        vec![
            json!({"role": "assistant", "content": ""}),
            json!({"reasoning_content": "Pondering"}),
            json!({"content": "42"}),
            json!({}),
            Value::Null,
        ]
    );
    assert_eq!(chunks[4]["usage"]["completion_tokens"], json!(10));
    assert_eq!(chunks[4]["usage"]["total_tokens"], json!(14));
}

#[test]
fn several_candidates_finish_only_when_all_did() {
    let mut s = Stream::new();
    let both = json!({"candidates": [
        {"index": 0, "content": {"role": "model", "parts": [{"text": "A"}]}, "finishReason": "STOP"},
        {"index": 1, "content": {"role": "model", "parts": [{"text": "B"}]}}
    ], "responseId": "r-42"});
    let out = json_items(&s.run(&[both]));
    let indexes: Vec<Value> = out
        .iter()
        .map(|c| c["choices"][0]["index"].clone())
        .collect();
    assert_eq!(indexes, [0, 0, 0, 1, 1].map(|i| json!(i)));
    assert!(s.finish().is_empty(), "candidate 1 never finished");
    let last = json!({"candidates": [{"index": 1, "content": {"role": "model", "parts": [{"text": "!"}]},
        "finishReason": "STOP"}], "usageMetadata": {"promptTokenCount": 1, "totalTokenCount": 3}});
    s.run(&[last]);
    let done = s.finish();
    assert_eq!(done.last(), Some(&ChunkOut::Raw("[DONE]".into())));
}

#[test]
fn only_the_first_finish_reason_counts_and_candidates_without_index_use_their_position() {
    let mut s = Stream::new();
    let out = json_items(&s.run(&[
        json!({"candidates": [{"content": {"parts": [{"text": "x"}]}}, {"finishReason": "STOP"}]}),
        json!({"candidates": [{"index": 0, "finishReason": "MAX_TOKENS"},
                              {"index": 0, "finishReason": "SAFETY"}]}),
        json!({"promptFeedback": {"blockReason": "OTHER"}, "candidates": []}),
    ]));
    let seen: Vec<(Value, Value, Value)> = out
        .iter()
        .map(|c| {
            let choice = &c["choices"][0];
            (
                choice["index"].clone(),
                choice["delta"].clone(),
                choice["finish_reason"].clone(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (
                json!(0),
                json!({"role": "assistant", "content": ""}),
                Value::Null
            ),
            (json!(0), json!({"content": "x"}), Value::Null),
            (
                json!(1),
                json!({"role": "assistant", "content": ""}),
                Value::Null
            ),
            (json!(1), json!({}), json!("stop")),
            (json!(0), json!({}), json!("length")),
        ]
    );
    assert_eq!(s.finish(), vec![ChunkOut::Raw("[DONE]".into())]);
}
