//! Messages stream events → hub chunks.

use serde_json::{json, Value};

use super::*;

fn message_start(id: &str, usage: Value) -> (&'static str, Value) {
    (
        "message_start",
        json!({"type": "message_start", "message": {
            "id": id, "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
            "content": [], "stop_reason": null, "stop_sequence": null, "usage": usage
        }}),
    )
}

fn block_start(index: i64, block: Value) -> (&'static str, Value) {
    (
        "content_block_start",
        json!({"type": "content_block_start", "index": index, "content_block": block}),
    )
}

fn block_delta(index: i64, delta: Value) -> (&'static str, Value) {
    (
        "content_block_delta",
        json!({"type": "content_block_delta", "index": index, "delta": delta}),
    )
}

fn block_stop(index: i64) -> (&'static str, Value) {
    (
        "content_block_stop",
        json!({"type": "content_block_stop", "index": index}),
    )
}

fn message_delta(stop_reason: &str, usage: Value) -> (&'static str, Value) {
    (
        "message_delta",
        json!({"type": "message_delta",
               "delta": {"stop_reason": stop_reason, "stop_sequence": null}, "usage": usage}),
    )
}

fn message_stop() -> (&'static str, Value) {
    ("message_stop", json!({"type": "message_stop"}))
}

fn ping() -> (&'static str, Value) {
    ("ping", json!({"type": "ping"}))
}

/// The JSON chunks of `out`, asserting that the only raw item is a final [DONE].
fn split_done(out: &[ChunkOut]) -> Vec<Value> {
    let (last, rest) = out.split_last().expect("some output");
    assert_eq!(
        last,
        &ChunkOut::Raw("[DONE]".into()),
        "the stream ends with [DONE]"
    );
    rest.iter()
        .map(|c| match c {
            ChunkOut::Json(v) => v.clone(),
            ChunkOut::Raw(s) => panic!("unexpected raw item {s:?} before [DONE]"),
        })
        .collect()
}

/// Checks the fields every chunk shares and returns the choices' deltas.
fn check_envelopes(chunks: &[Value], id: &str) {
    let created = chunks[0]["created"].as_i64().expect("created is a number");
    assert!((now() - created).abs() < 60);
    for c in chunks {
        assert_eq!(c["id"], json!(id), "{c}");
        assert_eq!(c["object"], json!("chat.completion.chunk"), "{c}");
        assert_eq!(c["created"], json!(created), "{c}");
        assert_eq!(c["model"], json!("claude-sonnet-4-5-20250929"), "{c}");
    }
}

fn choice(delta: Value, finish: Value) -> Value {
    json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}])
}

#[test]
fn text_stream_is_translated() {
    let mut s = Stream::new();
    let out = s.run(&[
        message_start(
            "msg_stream1",
            json!({"input_tokens": 25, "output_tokens": 1,
            "cache_creation_input_tokens": 0, "cache_read_input_tokens": 100}),
        ),
        block_start(0, json!({"type": "text", "text": ""})),
        ping(),
        block_delta(0, json!({"type": "text_delta", "text": "Hello"})),
        block_delta(0, json!({"type": "text_delta", "text": ", world"})),
        block_stop(0),
        message_delta("end_turn", json!({"output_tokens": 12})),
        message_stop(),
    ]);
    let chunks = split_done(&out);
    check_envelopes(&chunks, "msg_stream1");
    let choices: Vec<Value> = chunks.iter().map(|c| c["choices"].clone()).collect();
    assert_eq!(
        choices,
        vec![
            choice(json!({"role": "assistant", "content": ""}), Value::Null),
            choice(json!({"content": "Hello"}), Value::Null),
            choice(json!({"content": ", world"}), Value::Null),
            choice(json!({}), json!("stop")),
            json!([]),
        ]
    );
    assert_eq!(
        chunks[4]["usage"],
        json!({"prompt_tokens": 125, "completion_tokens": 12, "total_tokens": 137,
               "prompt_tokens_details": {"cached_tokens": 100, "cache_write_tokens": 0}})
    );
}

#[test]
fn tool_call_stream_is_translated() {
    let weather_args = r#"{"city": "Paris", "unit": "celsius"}"#;
    let time_args = r#"{"tz":"Europe/Paris"}"#;
    let mut s = Stream::new();
    let out = s.run(&[
        message_start(
            "msg_tools",
            json!({"input_tokens": 300, "output_tokens": 2}),
        ),
        block_start(0, json!({"type": "text", "text": ""})),
        block_delta(0, json!({"type": "text_delta", "text": "Checking."})),
        block_stop(0),
        block_start(
            1,
            json!({"type": "tool_use", "id": "toolu_A", "name": "get_weather", "input": {}}),
        ),
        block_delta(1, json!({"type": "input_json_delta", "partial_json": ""})),
        block_delta(
            1,
            json!({"type": "input_json_delta", "partial_json": &weather_args[..9]}),
        ),
        ping(),
        block_delta(
            1,
            json!({"type": "input_json_delta", "partial_json": &weather_args[9..20]}),
        ),
        block_delta(
            1,
            json!({"type": "input_json_delta", "partial_json": &weather_args[20..]}),
        ),
        block_stop(1),
        block_start(
            2,
            json!({"type": "tool_use", "id": "toolu_B", "name": "get_time", "input": {}}),
        ),
        block_delta(
            2,
            json!({"type": "input_json_delta", "partial_json": time_args}),
        ),
        block_stop(2),
        message_delta("tool_use", json!({"output_tokens": 77})),
        message_stop(),
    ]);
    let chunks = split_done(&out);
    check_envelopes(&chunks, "msg_tools");
    assert_eq!(
        chunks[0]["choices"],
        choice(json!({"role": "assistant", "content": ""}), Value::Null)
    );
    assert_eq!(
        chunks[1]["choices"],
        choice(json!({"content": "Checking."}), Value::Null)
    );
    assert_eq!(
        chunks[2]["choices"],
        choice(
            json!({"tool_calls": [{"index": 0, "id": "toolu_A", "type": "function",
                                   "function": {"name": "get_weather", "arguments": ""}}]}),
            Value::Null
        )
    );

    // Tool-call deltas: the OpenAI index counts calls, not Anthropic blocks.
    let mut args: Vec<String> = vec![String::new(); 2];
    let mut ids = Vec::new();
    let mut tool_chunks = 0;
    for c in &chunks[2..chunks.len() - 2] {
        let delta = &c["choices"][0]["delta"];
        assert_eq!(c["choices"][0]["finish_reason"], Value::Null);
        let calls = delta["tool_calls"]
            .as_array()
            .unwrap_or_else(|| panic!("tool-call delta expected: {c}"));
        assert_eq!(calls.len(), 1);
        let call = &calls[0];
        let index = call["index"].as_u64().unwrap() as usize;
        if let Some(id) = call.get("id") {
            ids.push((index, id.clone(), call["function"]["name"].clone()));
        }
        let fragment = call["function"]["arguments"].as_str().unwrap();
        assert!(
            fragment.is_empty() == call.get("id").is_some(),
            "only the opening delta is empty: {c}"
        );
        args[index].push_str(fragment);
        tool_chunks += 1;
    }
    // 2 openings + 3 weather fragments (the empty one skipped) + 1 time fragment.
    assert_eq!(tool_chunks, 6);
    assert_eq!(
        ids,
        vec![
            (0, json!("toolu_A"), json!("get_weather")),
            (1, json!("toolu_B"), json!("get_time")),
        ]
    );
    assert_eq!(args, vec![weather_args.to_string(), time_args.to_string()]);

    let n = chunks.len();
    assert_eq!(
        chunks[n - 2]["choices"],
        choice(json!({}), json!("tool_calls"))
    );
    assert_eq!(chunks[n - 1]["choices"], json!([]));
    assert_eq!(
        chunks[n - 1]["usage"],
        json!({"prompt_tokens": 300, "completion_tokens": 77, "total_tokens": 377,
               "prompt_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0}})
    );
}

#[test]
fn thinking_stream_becomes_reasoning_content() {
    let mut s = Stream::new();
    let out = s.run(&[
        message_start("msg_think", json!({"input_tokens": 5, "output_tokens": 0})),
        block_start(
            0,
            json!({"type": "thinking", "thinking": "", "signature": ""}),
        ),
        block_delta(
            0,
            json!({"type": "thinking_delta", "thinking": "Let me think."}),
        ),
        block_delta(
            0,
            json!({"type": "signature_delta", "signature": "EqQBCgIYAhIM"}),
        ),
        block_stop(0),
        block_start(1, json!({"type": "text", "text": ""})),
        block_delta(1, json!({"type": "text_delta", "text": "42"})),
        block_stop(1),
        message_delta("max_tokens", json!({"output_tokens": 30})),
        message_stop(),
    ]);
    let chunks = split_done(&out);
    let deltas: Vec<Value> = chunks
        .iter()
        .map(|c| c["choices"][0]["delta"].clone())
        .collect();
    assert_eq!(
        deltas,
        vec![
            json!({"role": "assistant", "content": ""}),
            json!({"reasoning_content": "Let me think."}),
            json!({"content": "42"}),
            json!({}),
            Value::Null, // the usage chunk has no choices
        ]
    );
    assert_eq!(chunks[3]["choices"][0]["finish_reason"], json!("length"));
}

#[test]
fn ping_and_unknown_events_produce_nothing() {
    let mut s = Stream::new();
    s.run(&[message_start(
        "msg_p",
        json!({"input_tokens": 1, "output_tokens": 1}),
    )]);
    assert!(s.feed("ping", json!({"type": "ping"})).is_empty());
    assert!(s
        .feed(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0})
        )
        .is_empty());
    assert!(s
        .feed("brand_new_event", json!({"type": "brand_new_event"}))
        .is_empty());
    assert!(s.feed_raw("ping", "not json").is_empty());
}

#[test]
fn events_without_an_event_line_dispatch_on_the_json_type() {
    let mut s = Stream::new();
    let (_, start) = message_start("msg_noev", json!({"input_tokens": 2, "output_tokens": 1}));
    let (_, delta) = block_delta(0, json!({"type": "text_delta", "text": "hi"}));
    let out: Vec<ChunkOut> = [start, delta]
        .into_iter()
        .flat_map(|data| s.feed("", data))
        .collect();
    match out.as_slice() {
        [ChunkOut::Json(first), ChunkOut::Json(second)] => {
            assert_eq!(first["choices"][0]["delta"]["role"], json!("assistant"));
            assert_eq!(second["choices"][0]["delta"], json!({"content": "hi"}));
            assert_eq!(second["id"], json!("msg_noev"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn error_event_becomes_an_in_band_error() {
    let mut s = Stream::new();
    s.run(&[
        message_start("msg_e", json!({"input_tokens": 1, "output_tokens": 1})),
        block_start(0, json!({"type": "text", "text": ""})),
    ]);
    let out = s.feed(
        "error",
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    );
    assert_eq!(
        out,
        vec![ChunkOut::Json(json!({"error": {
            "message": "Overloaded", "type": "overloaded_error", "param": null, "code": "overloaded_error"
        }}))]
    );
    // A non-JSON error payload still ends the stream with an error.
    let out = Stream::new().feed_raw("error", "upstream exploded");
    match out.as_slice() {
        [ChunkOut::Json(v)] => assert_eq!(v["error"]["message"], json!("upstream exploded")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn stream_usage_from_message_delta_is_cumulative() {
    let mut s = Stream::new();
    let out = s.run(&[
        message_start("msg_u", json!({"input_tokens": 0, "output_tokens": 1})),
        block_start(0, json!({"type": "text", "text": ""})),
        block_delta(0, json!({"type": "text_delta", "text": "x"})),
        message_delta(
            "end_turn",
            json!({"input_tokens": 40, "output_tokens": 9,
            "cache_read_input_tokens": 60}),
        ),
        message_stop(),
    ]);
    let chunks = split_done(&out);
    assert_eq!(
        chunks.last().unwrap()["usage"],
        json!({"prompt_tokens": 100, "completion_tokens": 9, "total_tokens": 109,
               "prompt_tokens_details": {"cached_tokens": 60, "cache_write_tokens": 0}})
    );
}

#[test]
fn stream_cut_before_finish_is_left_truncated_but_finished_one_is_closed() {
    // Cut in the middle of the text: nothing to add, the gateway reports truncation.
    let mut s = Stream::new();
    s.run(&[
        message_start("msg_cut", json!({"input_tokens": 3, "output_tokens": 1})),
        block_start(0, json!({"type": "text", "text": ""})),
        block_delta(0, json!({"type": "text_delta", "text": "partial"})),
    ]);
    assert!(s.finish().is_empty());

    // message_delta arrived but message_stop did not: the answer is complete.
    let mut s = Stream::new();
    s.run(&[
        message_start("msg_end", json!({"input_tokens": 3, "output_tokens": 1})),
        message_delta("end_turn", json!({"output_tokens": 4})),
    ]);
    let chunks = split_done(&s.finish());
    assert_eq!(chunks.len(), 1);
    assert_eq!(chunks[0]["choices"], json!([]));
    assert_eq!(chunks[0]["usage"]["total_tokens"], json!(7));
}
