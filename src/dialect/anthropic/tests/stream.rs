//! Hub stream chunks → Anthropic stream events.

use serde_json::{json, Value};

use super::*;

// ───────────────────────────── streams ─────────────────────────────

fn chunk(delta: Value, finish: Option<&str>) -> Value {
    json!({
        "id": "chatcmpl-123", "object": "chat.completion.chunk", "created": 1694268190,
        "model": "gpt-4o-mini", "system_fingerprint": "fp_44709d6fcb",
        "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        "usage": null,
    })
}

fn usage_chunk(prompt: u64, completion: u64, cached: u64) -> Value {
    json!({
        "id": "chatcmpl-123", "object": "chat.completion.chunk", "created": 1694268190,
        "model": "gpt-4o-mini", "choices": [],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                  "total_tokens": prompt + completion,
                  "prompt_tokens_details": {"cached_tokens": cached}},
    })
}

fn tool_delta(index: u64, id: Option<&str>, name: Option<&str>, arguments: &str) -> Value {
    let mut call = json!({"index": index, "function": {"arguments": arguments}});
    if let (Some(id), Some(name)) = (id, name) {
        call["id"] = json!(id);
        call["type"] = json!("function");
        call["function"]["name"] = json!(name);
    }
    chunk(json!({"tool_calls": [call]}), None)
}

/// Every event for these chunks, then `finish()`.
fn encode(chunks: &[Value]) -> Vec<Event> {
    let mut encoder = StreamEncoder::new("claude-sonnet-4-5");
    let mut events: Vec<Event> = chunks.iter().flat_map(|c| encoder.chunk(c)).collect();
    events.extend(encoder.finish());
    events
}

fn names(events: &[Event]) -> Vec<&'static str> {
    events.iter().map(|(name, _)| *name).collect()
}

fn data<'a>(events: &'a [Event], name: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|(n, _)| *n == name)
        .map(|(_, d)| d)
        .collect()
}

#[test]
fn text_stream_is_the_exact_anthropic_sequence() {
    let events = encode(&[
        chunk(json!({"role": "assistant", "content": ""}), None),
        chunk(json!({"content": "Hello"}), None),
        chunk(json!({"content": "!"}), None),
        chunk(json!({}), Some("stop")),
        usage_chunk(25, 2, 0),
    ]);
    let want: Vec<Event> = vec![
        (
            "message_start",
            json!({"type": "message_start", "message": {
            "id": "msg_chatcmpl-123", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 0, "output_tokens": 0,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}}),
        ),
        ("ping", json!({"type": "ping"})),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 0,
                                       "content_block": {"type": "text", "text": ""}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0,
                                       "delta": {"type": "text_delta", "text": "Hello"}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0,
                                       "delta": {"type": "text_delta", "text": "!"}}),
        ),
        (
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ),
        (
            "message_delta",
            json!({"type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": null},
            "usage": {"input_tokens": 25, "output_tokens": 2,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}),
        ),
        ("message_stop", json!({"type": "message_stop"})),
    ];
    assert_eq!(events, want);
}

#[test]
fn tool_call_stream_opens_one_block_per_call_with_concatenable_json() {
    let events = encode(&[
        chunk(
            json!({"role": "assistant", "content": "Let me look."}),
            None,
        ),
        tool_delta(0, Some("call_a"), Some("get_weather"), ""),
        tool_delta(0, None, None, "{\"location\""),
        tool_delta(0, None, None, ": \"Paris\"}"),
        tool_delta(
            1,
            Some("call_b"),
            Some("get_time"),
            "{\"tz\": \"Europe/Paris\"}",
        ),
        chunk(json!({}), Some("tool_calls")),
        usage_chunk(80, 40, 0),
    ]);
    assert_eq!(
        names(&events),
        [
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
    );
    let starts = data(&events, "content_block_start");
    assert_eq!(starts[1]["index"], 1);
    assert_eq!(
        starts[1]["content_block"],
        json!({"type": "tool_use", "id": "call_a", "name": "get_weather", "input": {}})
    );
    assert_eq!(starts[2]["index"], 2);
    assert_eq!(starts[2]["content_block"]["id"], "call_b");
    let stops: Vec<&Value> = data(&events, "content_block_stop")
        .iter()
        .map(|d| &d["index"])
        .collect();
    assert_eq!(stops, [&json!(0), &json!(1), &json!(2)]);
    for (index, want) in [
        (1, json!({"location": "Paris"})),
        (2, json!({"tz": "Europe/Paris"})),
    ] {
        let joined: String = data(&events, "content_block_delta")
            .iter()
            .filter(|d| d["index"] == index)
            .map(|d| {
                assert_eq!(d["delta"]["type"], "input_json_delta");
                d["delta"]["partial_json"].as_str().unwrap().to_string()
            })
            .collect();
        assert_eq!(serde_json::from_str::<Value>(&joined).unwrap(), want);
    }
    let delta = data(&events, "message_delta")[0];
    assert_eq!(delta["delta"]["stop_reason"], "tool_use");
    assert_eq!(delta["usage"]["output_tokens"], 40);
}

#[test]
fn reasoning_opens_a_thinking_block_before_the_text() {
    let events = encode(&[
        chunk(
            json!({"role": "assistant", "content": null, "reasoning_content": "Think"}),
            None,
        ),
        chunk(json!({"content": null, "reasoning_content": "ing."}), None),
        chunk(json!({"content": "Answer."}), Some("stop")),
    ]);
    let starts = data(&events, "content_block_start");
    assert_eq!(starts[0]["index"], 0);
    assert_eq!(
        starts[0]["content_block"],
        json!({"type": "thinking", "thinking": "", "signature": ""})
    );
    assert_eq!(starts[1]["index"], 1);
    assert_eq!(
        starts[1]["content_block"],
        json!({"type": "text", "text": ""})
    );
    let deltas = data(&events, "content_block_delta");
    assert_eq!(
        deltas[0]["delta"],
        json!({"type": "thinking_delta", "thinking": "Think"})
    );
    assert_eq!(
        deltas[1]["delta"],
        json!({"type": "thinking_delta", "thinking": "ing."})
    );
    assert_eq!(deltas[2]["index"], 1);
    assert_eq!(
        deltas[2]["delta"],
        json!({"type": "text_delta", "text": "Answer."})
    );
    // The thinking block closes before the text block opens.
    let order: Vec<_> = events
        .iter()
        .map(|(n, d)| (*n, d["index"].clone()))
        .collect();
    let stop0 = order
        .iter()
        .position(|e| *e == ("content_block_stop", json!(0)))
        .unwrap();
    let start1 = order
        .iter()
        .position(|e| *e == ("content_block_start", json!(1)))
        .unwrap();
    assert!(stop0 < start1);
}

#[test]
fn stream_usage_separates_cached_input_and_stop_reasons_map() {
    let events = encode(&[
        chunk(json!({"content": "a"}), Some("length")),
        usage_chunk(2006, 300, 1920),
    ]);
    let delta = data(&events, "message_delta")[0];
    assert_eq!(delta["delta"]["stop_reason"], "max_tokens");
    assert_eq!(
        delta["usage"],
        json!({"input_tokens": 86, "output_tokens": 300,
               "cache_creation_input_tokens": 0, "cache_read_input_tokens": 1920})
    );
    let events = encode(&[chunk(json!({"content": "a"}), Some("content_filter"))]);
    assert_eq!(
        data(&events, "message_delta")[0]["delta"]["stop_reason"],
        "refusal"
    );
    // Tool calls closed by a plain `stop`, or by no finish reason at all.
    for finish in [Some("stop"), None] {
        let events = encode(&[
            tool_delta(0, Some("call_1"), Some("f"), "{}"),
            chunk(json!({}), finish),
        ]);
        assert_eq!(
            data(&events, "message_delta")[0]["delta"]["stop_reason"],
            "tool_use"
        );
    }
}

#[test]
fn missing_usage_is_estimated_from_streamed_text() {
    let events = encode(&[chunk(json!({"content": "abcdefghij"}), Some("stop"))]);
    assert_eq!(
        data(&events, "message_delta")[0]["usage"],
        json!({"output_tokens": 3})
    );
}

#[test]
fn usage_on_the_finish_chunk_is_used_too() {
    let mut last = chunk(json!({"content": "hi"}), Some("stop"));
    last["usage"] = json!({"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10});
    let events = encode(&[last]);
    assert_eq!(
        data(&events, "message_delta")[0]["usage"]["input_tokens"],
        9
    );
    assert_eq!(
        data(&events, "message_delta")[0]["usage"]["output_tokens"],
        1
    );
}

#[test]
fn an_empty_stream_is_still_a_whole_message() {
    let events = encode(&[]);
    assert_eq!(
        names(&events),
        ["message_start", "ping", "message_delta", "message_stop"]
    );
    assert!(events[0].1["message"]["id"]
        .as_str()
        .unwrap()
        .starts_with("msg_"));
    assert_eq!(events[2].1["delta"]["stop_reason"], "end_turn");
}

#[test]
fn chunks_without_choices_or_delta_are_tolerated() {
    // Azure's first chunk: empty id and choices, filter results only.
    let azure = json!({"id": "", "object": "", "created": 0, "model": "", "choices": [],
                       "prompt_filter_results": [{"prompt_index": 0}]});
    let filter_only =
        json!({"id": "chatcmpl-9", "choices": [{"index": 0, "content_filter_results": {}}]});
    let events = encode(&[
        azure,
        filter_only,
        chunk(json!({"content": "ok"}), Some("stop")),
    ]);
    assert_eq!(
        names(&events),
        [
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
    );
    let id = events[0].1["message"]["id"].as_str().unwrap();
    assert!(id.starts_with("msg_") && id.len() > 4, "{id}");
}

#[test]
fn tool_deltas_without_index_or_with_repeated_ids_are_grouped() {
    let no_index = |id: Option<&str>, arguments: &str| {
        let mut call = json!({"function": {"arguments": arguments}});
        if let Some(id) = id {
            call["id"] = json!(id);
            call["function"]["name"] = json!("f");
        }
        chunk(json!({"tool_calls": [call]}), None)
    };
    let events = encode(&[
        no_index(Some("call_1"), "{\"a\":"),
        no_index(None, "1}"),
        no_index(Some("call_2"), "{}"),
        // Some servers repeat id and name on every delta of a call.
        tool_delta(1, Some("call_2"), Some("f"), ""),
    ]);
    let starts = data(&events, "content_block_start");
    assert_eq!(starts.len(), 2);
    assert_eq!(starts[0]["content_block"]["id"], "call_1");
    assert_eq!(starts[1]["content_block"]["id"], "call_2");
    let first: String = data(&events, "content_block_delta")
        .iter()
        .filter(|d| d["index"] == 0)
        .map(|d| d["delta"]["partial_json"].as_str().unwrap())
        .collect();
    assert_eq!(first, "{\"a\":1}");
}

#[test]
fn in_band_errors_end_the_stream() {
    let mut encoder = StreamEncoder::new("m");
    let started = encoder.chunk(&chunk(json!({"content": "partial"}), None));
    assert_eq!(
        names(&started),
        [
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta"
        ]
    );
    let error = encoder.error("Overloaded", "overloaded_error");
    assert_eq!(
        error,
        vec![(
            "error",
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
        )]
    );
    assert!(encoder
        .chunk(&chunk(json!({"content": "more"}), None))
        .is_empty());
    assert!(encoder.finish().is_empty());
    assert!(encoder.error("again", "api_error").is_empty());
}

#[test]
fn hub_error_chunks_become_error_events() {
    let mut encoder = StreamEncoder::new("m");
    encoder.chunk(&chunk(json!({"content": "a"}), None));
    let hub_error = json!({"error": {"message": "upstream timed out", "type": "timeout_error", "code": "upstream_timeout"}});
    let events = encoder.chunk(&hub_error);
    assert_eq!(
        events,
        vec![(
            "error",
            json!({"type": "error", "error": {"type": "timeout_error", "message": "upstream timed out"}})
        )]
    );
    let mut encoder = StreamEncoder::new("m");
    let events = encoder.chunk(&json!({"error": {"message": "boom", "type": "server_error"}}));
    assert_eq!(events[0].1["error"]["type"], "api_error");
    assert!(encoder.finish().is_empty());
}

#[test]
fn finish_is_idempotent_and_later_chunks_are_ignored() {
    let mut encoder = StreamEncoder::new("m");
    encoder.chunk(&chunk(json!({"content": "a"}), Some("stop")));
    assert_eq!(
        names(&encoder.finish()),
        ["content_block_stop", "message_delta", "message_stop"]
    );
    assert!(encoder.finish().is_empty());
    assert!(encoder
        .chunk(&chunk(json!({"content": "b"}), None))
        .is_empty());
    assert!(encoder.chunk(&json!("[DONE]")).is_empty());
}
