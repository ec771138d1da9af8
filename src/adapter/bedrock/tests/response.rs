use serde_json::json;

use super::*;

fn answer(content: Value, stop: &str) -> Value {
    json!({
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop,
        "usage": {"inputTokens": 10, "outputTokens": 5, "totalTokens": 15},
        "metrics": {"latencyMs": 120}
    })
}

#[test]
fn text_answer() {
    let got = to_openai(answer(
        json!([{"text": "Hello"}, {"text": " there"}]),
        "end_turn",
    ));
    assert_eq!(got["object"], "chat.completion");
    assert_eq!(got["model"], MODEL);
    assert!(got["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert!(got["created"].as_i64().unwrap() > 0);
    let choice = &got["choices"][0];
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], "Hello there");
    assert_eq!(choice["finish_reason"], "stop");
    assert_eq!(
        got["usage"],
        json!({"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15,
            "prompt_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0}})
    );
}

#[test]
fn tool_use_answer() {
    let got = to_openai(answer(
        json!([
            {"text": "Let me check."},
            {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "Paris"}}},
            {"toolUse": {"toolUseId": "tooluse_2", "name": "noop", "input": {}}}
        ]),
        "tool_use",
    ));
    let message = &got["choices"][0]["message"];
    assert_eq!(message["content"], "Let me check.");
    assert_eq!(
        message["tool_calls"],
        json!([
            {"id": "tooluse_1", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
            {"id": "tooluse_2", "type": "function", "function": {"name": "noop", "arguments": "{}"}}
        ])
    );
    assert_eq!(got["choices"][0]["finish_reason"], "tool_calls");
}

#[test]
fn reasoning_answer() {
    let got = to_openai(answer(
        json!([
            {"reasoningContent": {"reasoningText": {"text": "Think", "signature": "sig"}}},
            {"reasoningContent": {"redactedContent": "AAAA"}},
            {"text": "42"}
        ]),
        "end_turn",
    ));
    let message = &got["choices"][0]["message"];
    assert_eq!(message["reasoning_content"], "Think");
    assert_eq!(message["content"], "42");
}

#[test]
fn every_stop_reason() {
    for (stop, finish) in [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("tool_use", "tool_calls"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("guardrail_intervened", "content_filter"),
        ("content_filtered", "content_filter"),
        ("malformed_model_output", "stop"),
        ("something_new", "stop"),
    ] {
        let got = to_openai(answer(json!([{"text": "x"}]), stop));
        assert_eq!(got["choices"][0]["finish_reason"], finish, "{stop}");
    }
}

#[test]
fn usage_with_cache_fields_counts_them_in_the_prompt() {
    let mut body = answer(json!([{"text": "x"}]), "end_turn");
    body["usage"] = json!({"inputTokens": 10, "outputTokens": 5, "totalTokens": 1315,
        "cacheReadInputTokens": 1000, "cacheWriteInputTokens": 300});
    let got = to_openai(body);
    assert_eq!(
        got["usage"],
        json!({"prompt_tokens": 1310, "completion_tokens": 5, "total_tokens": 1315,
            "prompt_tokens_details": {"cached_tokens": 1000, "cache_write_tokens": 300}})
    );
}

#[test]
fn malformed_answers_fail() {
    for body in [
        json!([]),
        json!({}),
        json!({"output": {}}),
        json!({"output": {"message": {"content": "text"}}}),
        json!({"output": {"message": {"content": [{"toolUse": {"name": "f"}}]}}}),
        json!({"output": {"message": {"content": []}}, "usage": {"inputTokens": "ten"}}),
    ] {
        match BEDROCK.response(body.clone(), &ctx()) {
            Err(AdapterError::Failed { adapter, hook, .. }) => {
                assert_eq!((adapter.as_str(), hook), ("bedrock", "response"), "{body}");
            }
            other => panic!("{body}: {other:?}"),
        }
    }
}
