//! Messages responses → hub `chat.completion`s.

use serde_json::{json, Value};

use super::*;

// ───────────────────────── transform_response ─────────────────────────

#[test]
fn text_response_is_mapped() {
    let out = to_openai(json!({
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": [{"type": "text", "text": "Hello! "}, {"type": "text", "text": "How can I help?"}],
        "stop_reason": "end_turn",
        "stop_sequence": null,
        "usage": {"input_tokens": 12, "output_tokens": 8,
                  "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
    }));
    let created = out["created"].as_i64().expect("created is a number");
    assert!((now() - created).abs() < 60, "created {created}");
    assert_eq!(out["id"], json!("msg_01XFDUDYJgAACzvnptvVoYEL"));
    assert_eq!(out["object"], json!("chat.completion"));
    assert_eq!(out["model"], json!("claude-sonnet-4-5-20250929"));
    assert_eq!(
        out["choices"],
        json!([{
            "index": 0,
            "message": {"role": "assistant", "content": "Hello! How can I help?", "refusal": null},
            "logprobs": null,
            "finish_reason": "stop"
        }])
    );
    assert_eq!(
        out["usage"],
        json!({"prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20,
               "prompt_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0}})
    );
}

#[test]
fn tool_use_and_thinking_response_is_mapped() {
    let input = json!({"city": "Paris", "units": {"temp": "c"}, "days": [1, 2]});
    let out = to_openai(json!({
        "id": "msg_02",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [
            {"type": "thinking", "thinking": "The user wants weather.", "signature": "EqQB..."},
            {"type": "tool_use", "id": "toolu_01A", "name": "get_weather", "input": input},
            {"type": "tool_use", "id": "toolu_01B", "name": "get_time", "input": {}}
        ],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 400, "output_tokens": 90,
                  "output_tokens_details": {"thinking_tokens": 20}}
    }));
    let choice = &out["choices"][0];
    assert_eq!(choice["finish_reason"], json!("tool_calls"));
    let message = &choice["message"];
    assert_eq!(message["content"], Value::Null);
    assert_eq!(
        message["reasoning_content"],
        json!("The user wants weather.")
    );
    let calls = message["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["id"], json!("toolu_01A"));
    assert_eq!(calls[0]["type"], json!("function"));
    assert_eq!(calls[0]["function"]["name"], json!("get_weather"));
    let args = calls[0]["function"]["arguments"]
        .as_str()
        .expect("arguments is a JSON string");
    assert_eq!(serde_json::from_str::<Value>(args).unwrap(), input);
    assert_eq!(
        calls[1]["function"],
        json!({"name": "get_time", "arguments": "{}"})
    );
    assert_eq!(
        out["usage"]["completion_tokens_details"],
        json!({"reasoning_tokens": 20})
    );
}

#[test]
fn usage_counts_cached_input_as_prompt() {
    let out = to_openai(json!({
        "id": "msg_03", "type": "message", "role": "assistant", "model": "claude-haiku-4-5",
        "content": [{"type": "text", "text": "ok"}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 10, "output_tokens": 50,
                  "cache_creation_input_tokens": 200, "cache_read_input_tokens": 3000}
    }));
    assert_eq!(
        out["usage"],
        json!({"prompt_tokens": 3210, "completion_tokens": 50, "total_tokens": 3260,
               "prompt_tokens_details": {"cached_tokens": 3000, "cache_write_tokens": 200}})
    );
}

#[test]
fn every_stop_reason_is_mapped() {
    let cases = [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
    ];
    for (stop_reason, finish) in cases {
        let out = to_openai(json!({
            "id": "msg_x", "type": "message", "role": "assistant", "model": "claude-opus-4-1",
            "content": [{"type": "text", "text": "…"}],
            "stop_reason": stop_reason,
            "usage": {"input_tokens": 1, "output_tokens": 1}
        }));
        assert_eq!(
            out["choices"][0]["finish_reason"],
            json!(finish),
            "{stop_reason}"
        );
    }
}
