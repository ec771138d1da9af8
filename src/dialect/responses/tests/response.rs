//! Hub answers → Response objects, ids and SSE framing.

use serde_json::{json, Value};

use super::*;

pub(super) fn meta(request: Value) -> Meta {
    Meta {
        id: "resp_1".into(),
        created_at: 1741476542,
        model: "gpt-4.1".into(),
        request,
    }
}

pub(super) fn completion(message: Value, finish: &str, usage: Value) -> Value {
    json!({
        "id": "chatcmpl-abc123", "object": "chat.completion", "created": 1741569952,
        "model": "gpt-4.1-2025-04-14",
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
        "usage": usage,
    })
}

/// The output with every item id checked (prefix by type) and replaced by
/// its type's prefix.
pub(super) fn output(response: &Value) -> Value {
    let mut output = response["output"].clone();
    for item in output.as_array_mut().into_iter().flatten() {
        let prefix = match item["type"].as_str() {
            Some("message") => "msg",
            Some("reasoning") => "rs",
            Some("function_call") => "fc",
            Some("custom_tool_call") => "ctc",
            other => panic!("unexpected item type {other:?}"),
        };
        assert!(is_id(&item["id"], prefix), "{item}");
        item["id"] = json!(prefix);
    }
    output
}

#[test]
fn text_answer_is_a_completed_response_with_openai_defaults() {
    let hub = completion(
        json!({"role": "assistant", "content": "Hello!", "refusal": null}),
        "stop",
        json!({"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}),
    );
    let got = response_from_hub(&hub, &meta(json!({"model": "gpt-4.1", "input": "Hi"})));
    assert_eq!(
        output(&got),
        json!([{"id": "msg", "type": "message", "status": "completed", "role": "assistant",
                "content": [{"type": "output_text", "text": "Hello!", "annotations": [], "logprobs": []}]}])
    );
    let mut got = got;
    got["output"] = json!([]);
    assert_eq!(
        got,
        json!({
            "id": "resp_1", "object": "response", "created_at": 1741476542, "status": "completed",
            "background": false, "error": null, "incomplete_details": null, "instructions": null,
            "max_output_tokens": null, "max_tool_calls": null, "model": "gpt-4.1", "output": [],
            "parallel_tool_calls": true, "previous_response_id": null, "prompt_cache_key": null,
            "reasoning": {"effort": null, "summary": null}, "safety_identifier": null,
            "service_tier": "default", "store": true, "temperature": 1.0,
            "text": {"format": {"type": "text"}}, "tool_choice": "auto", "tools": [],
            "top_logprobs": 0, "top_p": 1.0, "truncation": "disabled",
            "usage": {"input_tokens": 12, "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                      "output_tokens": 3, "output_tokens_details": {"reasoning_tokens": 0},
                      "total_tokens": 15},
            "user": null, "metadata": {},
        })
    );
}

#[test]
fn request_fields_are_echoed() {
    let request = json!({
        "model": "gpt-4.1", "input": "Hi", "instructions": "Be brief.", "temperature": 0.3,
        "top_p": 0.8, "max_output_tokens": 100, "tool_choice": "required",
        "tools": [{"type": "function", "name": "f", "parameters": {}, "strict": true}],
        "text": {"verbosity": "low"}, "reasoning": {"effort": "high"}, "metadata": {"k": "v"},
        "previous_response_id": "resp_0", "store": false, "parallel_tool_calls": false,
        "truncation": "auto", "user": "u", "service_tier": "flex",
    });
    let got = response_from_hub(
        &completion(json!({}), "stop", json!(null)),
        &meta(request.clone()),
    );
    for field in [
        "instructions",
        "temperature",
        "top_p",
        "max_output_tokens",
        "tool_choice",
        "tools",
        "reasoning",
        "metadata",
        "previous_response_id",
        "store",
        "parallel_tool_calls",
        "truncation",
        "user",
        "service_tier",
    ] {
        assert_eq!(got[field], request[field], "{field}");
    }
    assert_eq!(
        got["text"],
        json!({"verbosity": "low", "format": {"type": "text"}})
    );
    assert_eq!(got["output"], json!([]));
}

#[test]
fn reasoning_text_and_tool_calls_become_items_in_order() {
    let hub = completion(
        json!({
            "role": "assistant", "reasoning_content": "Two cities.", "content": "Checking.",
            "tool_calls": [
                {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "call_b", "type": "function", "function": {"name": "now", "arguments": ""}},
            ],
        }),
        "tool_calls",
        json!({"prompt_tokens": 40, "completion_tokens": 30, "total_tokens": 70,
               "prompt_tokens_details": {"cached_tokens": 32},
               "completion_tokens_details": {"reasoning_tokens": 12}}),
    );
    let got = response_from_hub(&hub, &meta(json!({})));
    assert_eq!(got["status"], "completed");
    assert_eq!(
        output(&got),
        json!([
            {"id": "rs", "type": "reasoning", "summary": [], "status": "completed",
             "content": [{"type": "reasoning_text", "text": "Two cities."}]},
            {"id": "msg", "type": "message", "status": "completed", "role": "assistant",
             "content": [{"type": "output_text", "text": "Checking.", "annotations": [], "logprobs": []}]},
            {"id": "fc", "type": "function_call", "status": "completed", "call_id": "call_a",
             "name": "get_weather", "arguments": "{\"city\":\"Paris\"}"},
            {"id": "fc", "type": "function_call", "status": "completed", "call_id": "call_b",
             "name": "now", "arguments": "{}"},
        ])
    );
    assert_eq!(
        got["usage"],
        json!({"input_tokens": 40, "input_tokens_details": {"cached_tokens": 32, "cache_write_tokens": 0},
               "output_tokens": 30, "output_tokens_details": {"reasoning_tokens": 12}, "total_tokens": 70})
    );
}

#[test]
fn vllm_reasoning_field_and_refusals_are_read() {
    let hub = completion(
        json!({"role": "assistant", "reasoning": "Hmm.", "content": null, "refusal": "I can't help."}),
        "stop",
        json!(null),
    );
    let got = response_from_hub(&hub, &meta(json!({})));
    assert_eq!(
        output(&got),
        json!([
            {"id": "rs", "type": "reasoning", "summary": [], "status": "completed",
             "content": [{"type": "reasoning_text", "text": "Hmm."}]},
            {"id": "msg", "type": "message", "status": "completed", "role": "assistant",
             "content": [{"type": "refusal", "refusal": "I can't help."}]},
        ])
    );
    assert_eq!(got["usage"]["total_tokens"], 0);
}

#[test]
fn length_and_content_filter_make_the_response_incomplete() {
    for (finish, reason) in [
        ("length", "max_output_tokens"),
        ("content_filter", "content_filter"),
    ] {
        let message =
            json!({"role": "assistant", "reasoning_content": "a", "content": "Once upon"});
        let got = response_from_hub(&completion(message, finish, json!(null)), &meta(json!({})));
        assert_eq!(got["status"], "incomplete", "{finish}");
        assert_eq!(got["incomplete_details"], json!({"reason": reason}));
        assert_eq!(got["output"][0]["status"], "completed");
        assert_eq!(got["output"][1]["status"], "incomplete");
    }
}

#[test]
fn tool_calls_without_ids_get_call_ids_and_deepseek_cache_hits_count() {
    let message = json!({"role": "assistant", "content": "",
        "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": {"a": 1}}}]});
    let usage = json!({"prompt_tokens": 10, "completion_tokens": 2, "prompt_cache_hit_tokens": 8});
    let got = response_from_hub(&completion(message, "tool_calls", usage), &meta(json!({})));
    let items = output(&got);
    assert_eq!(items.as_array().map(Vec::len), Some(1));
    assert!(is_id(&got["output"][0]["call_id"], "call"));
    assert_eq!(items[0]["arguments"], "{\"a\":1}");
    assert_eq!(got["usage"]["input_tokens_details"]["cached_tokens"], 8);
    assert_eq!(got["usage"]["total_tokens"], 12);
}

#[test]
fn ids_are_prefixed_random_hex() {
    let (a, b) = (new_id("resp"), new_id("resp"));
    assert!(is_id(&json!(a), "resp"), "{a}");
    assert_ne!(a, b);
}

#[test]
fn events_are_framed_with_their_name_on_one_data_line() {
    let data = json!({"type": "response.output_text.delta", "delta": "a\nb"});
    let mut out = Vec::new();
    write_event(&mut out, "response.output_text.delta", &data);
    let text = String::from_utf8(out).unwrap();
    let frame = text.strip_suffix("\n\n").unwrap();
    let (event, json) = frame.split_once('\n').unwrap();
    assert_eq!(event, "event: response.output_text.delta");
    let json = json.strip_prefix("data: ").unwrap();
    assert!(!json.contains('\n'));
    assert_eq!(serde_json::from_str::<Value>(json).unwrap(), data);
}
