//! Hub stream chunks → Responses stream events.

use serde_json::{json, Value};

use super::response::{meta, output};
use super::*;

pub(super) fn chunk(delta: Value, finish: Option<&str>) -> Value {
    json!({
        "id": "chatcmpl-123", "object": "chat.completion.chunk", "created": 1694268190,
        "model": "gpt-4o-mini", "system_fingerprint": "fp_44709d6fcb",
        "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        "usage": null,
    })
}

pub(super) fn usage_chunk(prompt: u64, completion: u64) -> Value {
    json!({
        "id": "chatcmpl-123", "object": "chat.completion.chunk", "created": 1694268190,
        "model": "gpt-4o-mini", "choices": [],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                  "total_tokens": prompt + completion,
                  "prompt_tokens_details": {"cached_tokens": 0}},
    })
}

pub(super) fn tool_delta(
    index: u64,
    id: Option<&str>,
    name: Option<&str>,
    arguments: &str,
) -> Value {
    let mut call = json!({"index": index, "function": {"arguments": arguments}});
    if let (Some(id), Some(name)) = (id, name) {
        call["id"] = json!(id);
        call["type"] = json!("function");
        call["function"]["name"] = json!(name);
    }
    chunk(json!({"tool_calls": [call]}), None)
}

/// Every event for these chunks, then `finish()`; checks the invariants
/// every stream keeps.
pub(super) fn encode(chunks: &[Value]) -> (Vec<Event>, Value) {
    encode_for(json!({"model": "gpt-4.1", "input": "Hi"}), chunks)
}

/// [`encode`] for a stream answering `request`.
pub(super) fn encode_for(request: Value, chunks: &[Value]) -> (Vec<Event>, Value) {
    let mut encoder = StreamEncoder::new(meta(request.clone()));
    let mut events: Vec<Event> = chunks.iter().flat_map(|c| encoder.chunk(c)).collect();
    events.extend(encoder.finish());
    assert!(encoder.finish().is_empty() && encoder.chunk(&chunks[0]).is_empty());
    check_invariants(&events);
    // The wire path, from `Value`s and from text, writes the same events.
    let mut from_values = StreamEncoder::new(meta(request.clone()));
    let mut from_text = StreamEncoder::new(meta(request));
    let (mut values_wire, mut text_wire) = (Vec::new(), Vec::new());
    for c in chunks {
        from_values.chunk_into(c, &mut values_wire);
        from_text.chunk_text_into(&c.to_string(), &mut text_wire);
    }
    from_values.finish_into(&mut values_wire);
    from_text.finish_into(&mut text_wire);
    assert_same_on_wire(&events, &values_wire);
    assert_same_on_wire(&events, &text_wire);
    let response = encoder.response().unwrap().clone();
    assert_eq!(&events.last().unwrap().1["response"], &response);
    (events, response)
}

/// `wire` holds `events`, but for random ids.
pub(super) fn assert_same_on_wire(events: &[Event], wire: &[u8]) {
    let mut parsed = Vec::new();
    let mut parser = crate::transform::sse::SseParser::new(usize::MAX);
    parser.feed(wire, &mut parsed).unwrap();
    parser.finish(&mut parsed);
    assert_eq!(parsed.len(), events.len());
    for (got, (name, data)) in parsed.iter().zip(events) {
        assert_eq!(got.event, *name);
        let mut back: Value = serde_json::from_str(&got.data).unwrap();
        let mut data = data.clone();
        without_ids(&mut back);
        without_ids(&mut data);
        assert_eq!(back, data, "{name}");
    }
}

/// Every generated id (`msg_…`, `rs_…`, `fc_…`, `ctc_…`, `call_…`) → `ID`.
pub(super) fn without_ids(value: &mut Value) {
    match value {
        Value::String(s) => {
            let generated = ["msg_", "rs_", "fc_", "ctc_", "call_"].iter().any(|p| {
                s.strip_prefix(p).is_some_and(|hex| {
                    hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())
                })
            });
            if generated {
                *s = "ID".into();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(without_ids),
        Value::Object(map) => map.values_mut().for_each(without_ids),
        _ => {}
    }
}

/// Types repeat names, sequence numbers count from 0, and every `.added`
/// has its `.done`.
fn check_invariants(events: &[Event]) {
    for (i, (name, data)) in events.iter().enumerate() {
        assert_eq!(data["type"], *name);
        assert_eq!(data["sequence_number"], i, "{name}");
    }
    for (added, done) in [
        ("response.output_item.added", "response.output_item.done"),
        ("response.content_part.added", "response.content_part.done"),
    ] {
        let key = |d: &Value| (d["output_index"].clone(), d["content_index"].clone());
        let mut opened: Vec<_> = data(events, added).into_iter().map(key).collect();
        let mut closed: Vec<_> = data(events, done).into_iter().map(key).collect();
        opened.sort_by_key(|k| k.0.as_u64());
        closed.sort_by_key(|k| k.0.as_u64());
        assert_eq!(opened, closed, "{added}");
    }
}

pub(super) fn names(events: &[Event]) -> Vec<&'static str> {
    events.iter().map(|(name, _)| *name).collect()
}

pub(super) fn data<'a>(events: &'a [Event], name: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|(n, _)| *n == name)
        .map(|(_, d)| d)
        .collect()
}

#[test]
fn text_stream_is_openais_exact_sequence() {
    let (events, response) = encode(&[
        chunk(json!({"role": "assistant", "content": ""}), None),
        chunk(json!({"content": "Hello"}), None),
        chunk(json!({"content": "!"}), None),
        chunk(json!({}), Some("stop")),
        usage_chunk(25, 2),
    ]);
    assert_eq!(
        names(&events),
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    let created = &events[0].1["response"];
    assert_eq!(created["status"], "in_progress");
    assert_eq!(created["output"], json!([]));
    assert_eq!(created["usage"], Value::Null);
    assert_eq!(events[1].1["response"], *created);
    let item_id = events[2].1["item"]["id"].clone();
    assert_eq!(
        events[2].1,
        json!({"type": "response.output_item.added", "sequence_number": 2, "output_index": 0,
               "item": {"id": item_id, "type": "message", "status": "in_progress", "role": "assistant", "content": []}})
    );
    assert_eq!(
        events[3].1,
        json!({"type": "response.content_part.added", "sequence_number": 3, "item_id": item_id,
               "output_index": 0, "content_index": 0,
               "part": {"type": "output_text", "text": "", "annotations": [], "logprobs": []}})
    );
    assert_eq!(
        events[4].1,
        json!({"type": "response.output_text.delta", "sequence_number": 4, "item_id": item_id,
               "output_index": 0, "content_index": 0, "delta": "Hello", "logprobs": []})
    );
    assert_eq!(
        events[6].1,
        json!({"type": "response.output_text.done", "sequence_number": 6, "item_id": item_id,
               "output_index": 0, "content_index": 0, "text": "Hello!", "logprobs": []})
    );
    assert_eq!(events[7].1["part"]["text"], "Hello!");
    let done = &events[8].1["item"];
    assert_eq!(done["status"], "completed");
    assert_eq!(response["output"], json!([done]));
    assert_eq!(response["status"], "completed");
    assert_eq!(response["usage"]["input_tokens"], 25);
    assert_eq!(response["usage"]["output_tokens"], 2);
    assert_eq!(response["id"], "resp_1");
}

#[test]
fn tool_calls_stream_arguments_in_fragments_one_item_per_call() {
    let (events, response) = encode(&[
        chunk(
            json!({"role": "assistant", "content": "Let me look."}),
            None,
        ),
        tool_delta(0, Some("call_a"), Some("get_weather"), ""),
        tool_delta(0, None, None, "{\"city\""),
        tool_delta(0, None, None, ": \"Paris\"}"),
        tool_delta(1, Some("call_b"), Some("get_time"), "{}"),
        chunk(json!({}), Some("tool_calls")),
        usage_chunk(10, 20),
    ]);
    assert_eq!(
        output(&response),
        json!([
            {"id": "msg", "type": "message", "status": "completed", "role": "assistant",
             "content": [{"type": "output_text", "text": "Let me look.", "annotations": [], "logprobs": []}]},
            {"id": "fc", "type": "function_call", "status": "completed", "call_id": "call_a",
             "name": "get_weather", "arguments": "{\"city\": \"Paris\"}"},
            {"id": "fc", "type": "function_call", "status": "completed", "call_id": "call_b",
             "name": "get_time", "arguments": "{}"},
        ])
    );
    // The message closes before the first call opens.
    let order: Vec<_> = names(&events)[2..].to_vec();
    let message_done = order.iter().position(|n| *n == "response.output_item.done");
    let call_added = order
        .iter()
        .rposition(|n| *n == "response.output_item.added");
    assert!(message_done < call_added);
    let deltas = data(&events, "response.function_call_arguments.delta");
    let joined: String = deltas
        .iter()
        .filter(|d| d["output_index"] == 1)
        .map(|d| d["delta"].as_str().unwrap())
        .collect();
    assert_eq!(joined, "{\"city\": \"Paris\"}");
    let dones = data(&events, "response.function_call_arguments.done");
    assert_eq!(dones[0]["arguments"], "{\"city\": \"Paris\"}");
    assert_eq!(dones[0]["item_id"], response["output"][1]["id"]);
    let added = data(&events, "response.output_item.added");
    assert_eq!(added[1]["item"]["status"], "in_progress");
    assert_eq!(added[1]["item"]["arguments"], "");
    assert_eq!(added[1]["item"]["call_id"], "call_a");
}

#[test]
fn interleaved_tool_calls_stay_open_together_until_the_end() {
    let (events, response) = encode(&[
        tool_delta(0, Some("call_a"), Some("f"), "{\"a\":"),
        tool_delta(1, Some("call_b"), Some("g"), "{\"b\":"),
        tool_delta(0, None, None, "1}"),
        tool_delta(1, None, None, "2}"),
        chunk(json!({}), Some("tool_calls")),
    ]);
    let args: Vec<_> = response["output"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["arguments"].clone())
        .collect();
    assert_eq!(args, [json!("{\"a\":1}"), json!("{\"b\":2}")]);
    let tail = &names(&events)[events.len() - 5..];
    assert_eq!(
        tail,
        [
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    let deltas = data(&events, "response.function_call_arguments.delta");
    let indexes: Vec<_> = deltas.iter().map(|d| d["output_index"].clone()).collect();
    assert_eq!(indexes, [json!(0), json!(1), json!(0), json!(1)]);
}

#[test]
fn reasoning_then_text_closes_the_reasoning_item_first() {
    let (events, response) = encode(&[
        chunk(
            json!({"role": "assistant", "reasoning_content": "Think"}),
            None,
        ),
        chunk(json!({"reasoning_content": "ing."}), None),
        chunk(json!({"content": "Answer."}), None),
        chunk(json!({}), Some("stop")),
    ]);
    assert_eq!(
        names(&events)[2..],
        [
            "response.output_item.added",
            "response.content_part.added",
            "response.reasoning_text.delta",
            "response.reasoning_text.delta",
            "response.reasoning_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    assert_eq!(
        events[3].1["part"],
        json!({"type": "reasoning_text", "text": ""})
    );
    assert_eq!(
        data(&events, "response.reasoning_text.done")[0]["text"],
        "Thinking."
    );
    assert_eq!(
        output(&response)[0],
        json!({"id": "rs", "type": "reasoning", "summary": [], "status": "completed",
               "content": [{"type": "reasoning_text", "text": "Thinking."}]})
    );
    assert_eq!(response["output"][1]["content"][0]["text"], "Answer.");
    assert_eq!(
        data(&events, "response.output_item.added")[1]["output_index"],
        1
    );
}

#[test]
fn usage_after_the_finish_chunk_reaches_the_completed_event() {
    let mut encoder = StreamEncoder::new(meta(json!({})));
    let mut events = encoder.chunk(&chunk(json!({"content": "Hi"}), Some("stop")));
    events.extend(encoder.chunk(&usage_chunk(7, 1)));
    assert!(!names(&events).contains(&"response.completed"));
    events.extend(encoder.finish());
    let (name, last) = events.last().unwrap();
    assert_eq!(*name, "response.completed");
    assert_eq!(
        last["response"]["usage"],
        json!({"input_tokens": 7, "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
               "output_tokens": 1, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 8})
    );
}

#[test]
fn a_stream_without_usage_gets_an_estimate() {
    let (_, response) = encode(&[chunk(json!({"content": "abcdefghi"}), Some("stop"))]);
    assert_eq!(response["usage"]["input_tokens"], 0);
    assert_eq!(response["usage"]["output_tokens"], 3);
    assert_eq!(response["usage"]["total_tokens"], 3);
}

#[test]
fn length_finish_makes_the_stream_incomplete() {
    let (events, response) = encode(&[
        chunk(json!({"content": "Once upon"}), Some("length")),
        usage_chunk(5, 2),
    ]);
    assert_eq!(events.last().unwrap().0, "response.incomplete");
    assert_eq!(response["status"], "incomplete");
    assert_eq!(
        response["incomplete_details"],
        json!({"reason": "max_output_tokens"})
    );
    assert_eq!(
        data(&events, "response.output_item.done")[0]["item"]["status"],
        "incomplete"
    );
}

#[test]
fn refusals_stream_as_a_refusal_part() {
    let (events, response) = encode(&[
        chunk(json!({"content": "Well, "}), None),
        chunk(json!({"refusal": "I can't."}), None),
        chunk(json!({}), Some("stop")),
    ]);
    assert_eq!(
        data(&events, "response.refusal.delta")[0]["content_index"],
        1
    );
    assert_eq!(
        data(&events, "response.refusal.done")[0]["refusal"],
        "I can't."
    );
    assert_eq!(
        response["output"][0]["content"],
        json!([{"type": "output_text", "text": "Well, ", "annotations": [], "logprobs": []},
               {"type": "refusal", "refusal": "I can't."}])
    );
}

#[test]
fn other_choices_and_non_objects_are_ignored() {
    let mut encoder = StreamEncoder::new(meta(json!({})));
    assert!(encoder.chunk(&json!("[DONE]")).is_empty());
    let mut other = chunk(json!({"content": "x"}), None);
    other["choices"][0]["index"] = json!(1);
    assert_eq!(
        names(&encoder.chunk(&other)),
        ["response.created", "response.in_progress"]
    );
    let events = encoder.finish();
    assert_eq!(events.last().unwrap().1["response"]["output"], json!([]));
}

/// Chunk text with escapes, fields of unexpected types (read like a
/// `Value`: as absent), other choices and non-objects: the text path
/// writes what the `Value` path does.
#[test]
fn chunk_text_reads_like_a_value() {
    let lines = [
        r#"{"choices":[{"index":0,"delta":{"content":"a\n\"b\" \u00e9\ud83d\ude00"}}]}"#,
        r#"{"choices":[{"index":1,"delta":{"content":"other choice"}}]}"#,
        r#"{"choices":[{"index":"0","delta":{"content":"string index"}}]}"#,
        r#"{"choices":[{"delta":{"content":["parts"],"refusal":7}}]}"#,
        r#"{"choices":[{"delta":{"reasoning_content":"","reasoning":"r"}}]}"#,
        r#"{"choices":[{"delta":{"reasoning_content":5,"reasoning":"r2"}}]}"#,
        r#"{"choices":[{"delta":{"tool_calls":[{"id":"c1","function":{"name":"f","arguments":{"x":1}}}]}}]}"#,
        r#"{"choices":[{"delta":{"tool_calls":[{"function":{"arguments":"{\"a\":1}"}}]}}]}"#,
        r#"[null, null, [{"index":0,"delta":{"content":"positional"}}]]"#,
        r#""just a string""#,
        r#"{"choices":"nope","usage":{"prompt_tokens":3,"completion_tokens":4}}"#,
        r#"{"choices":[{"delta":{"content":"x"},"delta":{"content":"dup"}}]}"#,
        r#"{"choices":[{"delta":null,"finish_reason":"length"}],"usage":null}"#,
        "not json",
    ];
    let mut encoder = StreamEncoder::new(meta(json!({"model": "gpt-4.1", "input": "Hi"})));
    let mut wire_encoder = StreamEncoder::new(meta(json!({"model": "gpt-4.1", "input": "Hi"})));
    let (mut events, mut wire) = (Vec::new(), Vec::new());
    for line in lines {
        if let Ok(value) = serde_json::from_str::<Value>(line) {
            events.extend(encoder.chunk(&value));
        }
        wire_encoder.chunk_text_into(line, &mut wire);
    }
    events.extend(encoder.finish());
    wire_encoder.finish_into(&mut wire);
    assert_same_on_wire(&events, &wire);
    let text = &data(&events, "response.output_text.delta")[0]["delta"];
    assert_eq!(text, "a\n\"b\" é😀");
    assert_eq!(events.last().unwrap().0, "response.incomplete");
}
