//! Hub answers → Anthropic responses, error bodies, SSE framing, token
//! counting, and the golden fixtures in `tests/fixtures/anthropic/`.

use serde_json::{json, Value};

use super::*;

// ───────────────────────────── responses ─────────────────────────────

fn completion(message: Value, finish: Value, usage: Value) -> Value {
    json!({
        "id": "chatcmpl-abc123",
        "object": "chat.completion",
        "created": 1741569952,
        "model": "gpt-4.1-2025-04-14",
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
        "usage": usage,
    })
}

fn text_completion(finish: &str) -> Value {
    let message = json!({"role": "assistant", "content": "Hello!", "refusal": null});
    let usage = json!({"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15});
    completion(message, json!(finish), usage)
}

#[test]
fn text_response_has_anthropic_shape() {
    let got = response_from_hub(&text_completion("stop"), "claude-haiku-4-5");
    assert_eq!(
        got,
        json!({
            "id": "msg_chatcmpl-abc123",
            "type": "message",
            "role": "assistant",
            "model": "claude-haiku-4-5",
            "content": [{"type": "text", "text": "Hello!"}],
            "stop_reason": "end_turn",
            "stop_sequence": null,
            "usage": {"input_tokens": 12, "output_tokens": 3,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
        })
    );
}

#[test]
fn every_finish_reason_maps_to_a_stop_reason() {
    let cases = [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("function_call", "tool_use"),
        ("content_filter", "refusal"),
        ("eos", "end_turn"),
    ];
    for (finish, want) in cases {
        let got = response_from_hub(&text_completion(finish), "m");
        assert_eq!(got["stop_reason"], want, "{finish}");
    }
    let no_finish = completion(
        json!({"role": "assistant", "content": "x"}),
        Value::Null,
        Value::Null,
    );
    assert_eq!(
        response_from_hub(&no_finish, "m")["stop_reason"],
        "end_turn"
    );
}

#[test]
fn tool_calls_answered_with_finish_stop_are_still_tool_use() {
    let message = json!({"role": "assistant", "content": null, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]});
    let got = response_from_hub(
        &completion(message.clone(), json!("stop"), Value::Null),
        "m",
    );
    assert_eq!(got["stop_reason"], "tool_use");
    let got = response_from_hub(&completion(message, json!("length"), Value::Null), "m");
    assert_eq!(got["stop_reason"], "max_tokens");
}

#[test]
fn usage_separates_cached_input() {
    let usage = json!({
        "prompt_tokens": 2006, "completion_tokens": 300, "total_tokens": 2306,
        "prompt_tokens_details": {"cached_tokens": 1920, "cache_write_tokens": 50},
        "completion_tokens_details": {"reasoning_tokens": 256},
    });
    let message = json!({"role": "assistant", "content": "ok"});
    let got = response_from_hub(&completion(message.clone(), json!("stop"), usage), "m");
    assert_eq!(
        got["usage"],
        json!({"input_tokens": 36, "output_tokens": 300, "cache_creation_input_tokens": 50,
               "cache_read_input_tokens": 1920, "output_tokens_details": {"thinking_tokens": 256}})
    );
    // DeepSeek reports cache hits beside prompt_tokens.
    let deepseek = json!({"prompt_tokens": 100, "completion_tokens": 5, "prompt_cache_hit_tokens": 64,
                          "prompt_cache_miss_tokens": 36});
    let got = response_from_hub(&completion(message.clone(), json!("stop"), deepseek), "m");
    assert_eq!(got["usage"]["input_tokens"], 36);
    assert_eq!(got["usage"]["cache_read_input_tokens"], 64);
    let got = response_from_hub(&completion(message, json!("stop"), Value::Null), "m");
    assert_eq!(got["usage"]["input_tokens"], 0);
    assert_eq!(got["usage"]["output_tokens"], 0);
}

#[test]
fn reasoning_text_and_tool_calls_become_blocks_in_order() {
    let message = json!({
        "role": "assistant",
        "reasoning_content": "The user wants the weather.",
        "content": "Let me check.",
        "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"location\": \"Paris\"}"}},
            {"id": "", "type": "function", "function": {"name": "broken", "arguments": "{\"location\": "}},
            {"id": "call_3", "type": "function", "function": {"name": "no_args", "arguments": ""}},
        ],
    });
    let got = response_from_hub(&completion(message, json!("tool_calls"), Value::Null), "m");
    let content = got["content"].as_array().unwrap();
    assert_eq!(
        content[0],
        json!({"type": "thinking", "thinking": "The user wants the weather.", "signature": ""})
    );
    assert_eq!(content[1], json!({"type": "text", "text": "Let me check."}));
    assert_eq!(
        content[2],
        json!({"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"location": "Paris"}})
    );
    // Invalid JSON arguments: `{}` (Anthropic promises an object); a missing id is minted.
    assert_eq!(content[3]["input"], json!({}));
    assert!(content[3]["id"].as_str().unwrap().starts_with("toolu_"));
    assert_eq!(content[4]["input"], json!({}));
    assert_eq!(content.len(), 5);
    assert_eq!(got["stop_reason"], "tool_use");
}

#[test]
fn ids_refusals_and_empty_answers() {
    let mut body = text_completion("stop");
    body["id"] = json!("msg_01XFDUDYJgAACzvnptvVoYEL");
    assert_eq!(
        response_from_hub(&body, "m")["id"],
        "msg_01XFDUDYJgAACzvnptvVoYEL"
    );
    body.as_object_mut().unwrap().remove("id");
    assert!(response_from_hub(&body, "m")["id"]
        .as_str()
        .unwrap()
        .starts_with("msg_"));

    let refusal =
        json!({"role": "assistant", "content": null, "refusal": "I can't help with that."});
    let got = response_from_hub(
        &completion(refusal, json!("content_filter"), Value::Null),
        "m",
    );
    assert_eq!(
        got["content"],
        json!([{"type": "text", "text": "I can't help with that."}])
    );
    assert_eq!(got["stop_reason"], "refusal");

    let empty = json!({"role": "assistant", "content": ""});
    let got = response_from_hub(&completion(empty, json!("stop"), Value::Null), "m");
    assert_eq!(got["content"], json!([]));
    assert_eq!(response_from_hub(&json!({}), "m")["content"], json!([]));
}

#[test]
fn tool_round_trip_keeps_ids_and_arguments() {
    // The hub answers with a tool call; the client runs it and sends the
    // result back: the hub must see the same call id and arguments.
    let arguments = "{\"location\":\"Paris, France\",\"unit\":\"celsius\"}";
    let message = json!({"role": "assistant", "content": "Checking.", "tool_calls": [
        {"id": "call_Dd9", "type": "function", "function": {"name": "get_weather", "arguments": arguments}}]});
    let answer = response_from_hub(
        &completion(message, json!("tool_calls"), Value::Null),
        "claude",
    );
    let tool_use = answer["content"][1].clone();
    let next = json!({
        "model": "claude",
        "max_tokens": 256,
        "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": answer["content"]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": tool_use["id"], "content": "15°C"}]},
        ],
    });
    let hub = request_to_hub(next).unwrap();
    let call = &hub["messages"][1]["tool_calls"][0];
    assert_eq!(call["id"], "call_Dd9");
    assert_eq!(call["function"]["name"], "get_weather");
    let sent: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(sent, serde_json::from_str::<Value>(arguments).unwrap());
    assert_eq!(
        hub["messages"][2],
        json!({"role": "tool", "tool_call_id": "call_Dd9", "content": "15°C"})
    );
}

// ───────────────────────────── errors, SSE, token counting ─────────────────────────────

#[test]
fn error_body_has_anthropic_shape_and_type_by_status() {
    let cases = [
        (
            GatewayError::bad_request("max_tokens: Field required"),
            "invalid_request_error",
        ),
        (
            GatewayError::UnknownModel("claude-9".into()),
            "not_found_error",
        ),
        (
            GatewayError::PayloadTooLarge { limit: 10 },
            "request_too_large",
        ),
        (
            GatewayError::NoUsableProvider("no provider".into()),
            "api_error",
        ),
        (
            GatewayError::UpstreamTimeout("slow".into()),
            "timeout_error",
        ),
        (GatewayError::BadGateway("broken".into()), "api_error"),
        (GatewayError::Internal("bug".into()), "api_error"),
        (
            GatewayError::Upstream {
                status: 429,
                message: "slow down".into(),
                code: None,
                retry_after: None,
            },
            "rate_limit_error",
        ),
        (
            GatewayError::Upstream {
                status: 401,
                message: "bad key".into(),
                code: None,
                retry_after: None,
            },
            "authentication_error",
        ),
        (
            GatewayError::Rejected {
                status: 403,
                message: "no".into(),
            },
            "permission_error",
        ),
        (
            GatewayError::Rejected {
                status: 422,
                message: "no".into(),
            },
            "invalid_request_error",
        ),
    ];
    for (err, kind) in cases {
        assert_eq!(
            error_body(&err),
            json!({"type": "error", "error": {"type": kind, "message": err.to_string()}}),
            "{err:?}"
        );
    }
    assert_eq!(error_type(402), "billing_error");
    assert_eq!(error_type(529), "overloaded_error");
}

#[test]
fn write_event_frames_with_an_event_line() {
    let mut out = Vec::new();
    write_event(&mut out, "ping", &json!({"type": "ping"}));
    write_event(&mut out, "content_block_delta", &json!({"text": "a\nb"}));
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "event: ping\ndata: {\"type\":\"ping\"}\n\nevent: content_block_delta\ndata: {\"text\":\"a\\nb\"}\n\n"
    );
}

#[test]
fn count_tokens_counts_all_text_by_four_chars() {
    let body = json!({
        "model": "claude-sonnet-4-5",
        "system": "12345678",                                         // 8
        "messages": [
            {"role": "user", "content": "abcd"},                       // 4
            {"role": "assistant", "content": [
                {"type": "text", "text": "abcd"},                      // 4
                {"type": "tool_use", "id": "t", "name": "f", "input": {"a": 1}}, // 1 + 7
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": "xy"}]}, // 2
            ]},
        ],
        "tools": [{"name": "f", "description": "dd", "input_schema": {"type": "object"}}], // 1 + 2 + 17
    });
    // 8 + 4 + 4 + 8 + 2 + 20 = 46 chars → ⌈46 / 4⌉ = 12
    assert_eq!(count_tokens(&body).unwrap(), json!({"input_tokens": 12}));
    let image = json!({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}}]}]});
    assert_eq!(count_tokens(&image).unwrap()["input_tokens"], 1600);
    let empty = json!({"model": "m", "messages": [{"role": "user", "content": ""}]});
    assert_eq!(count_tokens(&empty).unwrap()["input_tokens"], 1);
}

#[test]
fn count_tokens_validates_model_messages_and_roles() {
    let no_model = json!({"messages": []});
    assert!(matches!(
        count_tokens(&no_model),
        Err(GatewayError::BadRequest { .. })
    ));
    let no_messages = json!({"model": "m"});
    assert!(matches!(
        count_tokens(&no_messages),
        Err(GatewayError::BadRequest { .. })
    ));
    let bad_role = json!({"model": "m", "messages": [{"role": "system", "content": "x"}]});
    match count_tokens(&bad_role) {
        Err(GatewayError::BadRequest { param, .. }) => {
            assert_eq!(param.as_deref(), Some("messages.0.role"))
        }
        other => panic!("expected a 400, got {other:?}"),
    }
}

// ───────────────────────────── golden fixtures ─────────────────────────────

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/anthropic/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn fixture_json(name: &str) -> Value {
    serde_json::from_str(&fixture(name)).unwrap()
}

#[test]
fn golden_messages_request_to_hub_request() {
    let got = request_to_hub(fixture_json("messages_request.json")).unwrap();
    assert_eq!(got, fixture_json("hub_request.json"));
}

#[test]
fn golden_hub_response_to_messages_response() {
    let got = response_from_hub(&fixture_json("hub_response.json"), "claude-sonnet-4-5");
    assert_eq!(got, fixture_json("messages_response.json"));
}

/// The events of an `.sse` text: (event line, parsed data) per frame; every
/// frame must be exactly `event: …\ndata: …\n\n`.
fn parse_sse(text: &str) -> Vec<(String, Value)> {
    assert!(text.ends_with("\n\n"), "unterminated last event");
    text.trim_end_matches('\n')
        .split("\n\n")
        .map(|frame| {
            let (event, data) = frame.split_once('\n').unwrap();
            let event = event.strip_prefix("event: ").unwrap().to_string();
            let data = serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
            (event, data)
        })
        .collect()
}

#[test]
fn golden_hub_stream_to_messages_stream() {
    let mut encoder = StreamEncoder::new("claude-sonnet-4-5");
    let mut out = Vec::new();
    let mut events = Vec::new();
    for line in fixture("hub_stream.jsonl").lines() {
        events.extend(encoder.chunk(&serde_json::from_str(line).unwrap()));
    }
    events.extend(encoder.finish());
    for (name, data) in &events {
        write_event(&mut out, name, data);
    }
    let got = parse_sse(&String::from_utf8(out).unwrap());
    let want = parse_sse(&fixture("messages_stream.sse"));
    assert_eq!(got.len(), want.len(), "event count");
    for (i, (got, want)) in got.iter().zip(&want).enumerate() {
        assert_eq!(got, want, "event {i}");
        assert_eq!(
            got.1["type"],
            got.0.as_str(),
            "data.type repeats the event name"
        );
    }
}

#[test]
fn count_tokens_counts_blocks_it_does_not_know_by_their_json() {
    let block =
        json!({"type": "search_result", "source": "https://x", "title": "t", "content": []});
    let body = json!({"model": "m", "messages": [{"role": "user", "content": [block.clone()]}]});
    let chars = block.to_string().chars().count() as u64;
    assert_eq!(
        count_tokens(&body).unwrap()["input_tokens"],
        chars.div_ceil(4)
    );
}
