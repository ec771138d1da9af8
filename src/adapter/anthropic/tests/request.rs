//! Requests: the head (`plan`), capabilities, and hub requests → Messages
//! request bodies, refusals included.

use serde_json::{json, Value};

use super::*;

#[test]
fn capabilities_are_chat_with_tools_vision_json_and_reasoning_but_no_embeddings() {
    let caps = ANTHROPIC.capabilities();
    let on: Vec<&str> = caps
        .iter()
        .filter(|(_, v)| **v)
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(
        on,
        ["chat", "json", "reasoning", "stream", "tools", "vision"]
    );
    assert_eq!(caps.get("embeddings"), Some(&false));
}

// ───────────────────────────── request() ─────────────────────────────

#[test]
fn request_targets_messages_with_key_and_default_version() {
    let plan = ANTHROPIC.plan(&ctx()).unwrap();
    assert_eq!(plan.method, http::Method::POST);
    assert_eq!(plan.path, "/v1/messages");
    let mut headers = plan.headers.clone();
    headers.sort();
    assert_eq!(
        headers,
        vec![
            ("anthropic-version".to_string(), "2023-06-01".to_string()),
            ("x-api-key".to_string(), "sk-ant-test".to_string()),
        ]
    );
}

#[test]
fn request_options_set_version_and_beta_and_no_key_means_no_header() {
    let ctx = ctx_full(
        "chat",
        true,
        None,
        json!({"version": "2024-01-01", "beta": ["prompt-caching-2024-07-31", "output-128k-2025-02-19"]}),
    );
    let plan = ANTHROPIC.plan(&ctx).unwrap();
    let mut headers = plan.headers.clone();
    headers.sort();
    assert_eq!(
        headers,
        vec![
            (
                "anthropic-beta".to_string(),
                "prompt-caching-2024-07-31,output-128k-2025-02-19".to_string()
            ),
            ("anthropic-version".to_string(), "2024-01-01".to_string()),
        ]
    );

    let ctx = ctx_with_options(json!({"beta": "files-api-2025-04-14"}));
    let plan = ANTHROPIC.plan(&ctx).unwrap();
    assert!(plan.headers.contains(&(
        "anthropic-beta".to_string(),
        "files-api-2025-04-14".to_string()
    )));
}

#[test]
fn embeddings_are_rejected_with_400() {
    let ctx = ctx_full("embeddings", false, Some("k"), json!({}));
    match ANTHROPIC.plan(&ctx) {
        Err(AdapterError::Rejected { status, message }) => {
            assert_eq!(status, 400);
            assert!(message.contains("no embeddings API"), "{message}");
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
}

// ───────────────────────── transform_request ─────────────────────────

#[test]
fn full_conversation_is_mapped_exactly() {
    let body = json!({
        "model": "claude-sonnet-4-5",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Hi"},
            {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
            {"role": "user", "content": [{"type": "text", "text": "What is 2+2?"}]},
            {"role": "assistant", "content": "4"},
            {"role": "assistant", "content": [{"type": "text", "text": "Quatre."}]},
            {"role": "user", "content": "Merci"}
        ],
        "seed": 7,
        "logprobs": true,
        "top_logprobs": 2,
        "frequency_penalty": 0.5,
        "presence_penalty": 0.1,
        "logit_bias": {"50256": -100},
        "stream_options": {"include_usage": true},
        "reasoning_effort": "low",
        "n": 1
    });
    assert_eq!(
        to_anthropic(body),
        json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 4096,
            "system": [
                {"type": "text", "text": "You are terse."},
                {"type": "text", "text": "Answer in French."}
            ],
            "messages": [
                {"role": "user", "content": [
                    {"type": "text", "text": "Hi"},
                    {"type": "text", "text": "What is 2+2?"}
                ]},
                {"role": "assistant", "content": [
                    {"type": "text", "text": "4"},
                    {"type": "text", "text": "Quatre."}
                ]},
                {"role": "user", "content": [{"type": "text", "text": "Merci"}]}
            ]
        })
    );
}

#[test]
fn conversation_starting_with_assistant_is_kept_as_is() {
    let out = to_anthropic(chat(json!({"messages": [
        {"role": "assistant", "content": "Hello, how can I help?"},
        {"role": "user", "content": "Tell me a joke"}
    ]})));
    assert_eq!(
        out["messages"],
        json!([
            {"role": "assistant", "content": [{"type": "text", "text": "Hello, how can I help?"}]},
            {"role": "user", "content": [{"type": "text", "text": "Tell me a joke"}]}
        ])
    );
    assert!(out.get("system").is_none());
}

#[test]
fn tool_calls_and_results_are_grouped() {
    let body = chat(json!({"messages": [
        {"role": "user", "content": "Weather in Paris and the time?"},
        {"role": "assistant", "content": "Let me check.", "tool_calls": [
            {"id": "toolu_01", "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\",\"unit\":\"c\"}"}},
            {"id": "toolu_02", "type": "function",
             "function": {"name": "get_time", "arguments": ""}}
        ]},
        {"role": "tool", "tool_call_id": "toolu_01", "content": "18°C, cloudy"},
        {"role": "tool", "tool_call_id": "toolu_02", "content": [{"type": "text", "text": "14:05"}]},
        {"role": "user", "content": "Thanks! And tomorrow?"},
        {"role": "assistant", "content": null, "tool_calls": [
            {"id": "toolu_03", "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\",\"day\":1}"}}
        ]},
        {"role": "tool", "tool_call_id": "toolu_03", "content": "20°C"}
    ]}));
    assert_eq!(
        to_anthropic(body)["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and the time?"}]},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Let me check."},
                {"type": "tool_use", "id": "toolu_01", "name": "get_weather",
                 "input": {"city": "Paris", "unit": "c"}},
                {"type": "tool_use", "id": "toolu_02", "name": "get_time", "input": {}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01", "content": "18°C, cloudy"},
                {"type": "tool_result", "tool_use_id": "toolu_02",
                 "content": [{"type": "text", "text": "14:05"}]},
                {"type": "text", "text": "Thanks! And tomorrow?"}
            ]},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "toolu_03", "name": "get_weather",
                 "input": {"city": "Paris", "day": 1}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_03", "content": "20°C"}
            ]}
        ])
    );
}

#[test]
fn assistant_empty_content_next_to_tool_calls_makes_no_text_block() {
    let out = to_anthropic(chat(json!({"messages": [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "toolu_9", "type": "function", "function": {"name": "run", "arguments": "{}"}}
        ]},
        {"role": "tool", "tool_call_id": "toolu_9", "content": "ok"}
    ]})));
    assert_eq!(
        out["messages"][1],
        json!({"role": "assistant", "content": [
            {"type": "tool_use", "id": "toolu_9", "name": "run", "input": {}}
        ]})
    );
}

/// A long agent conversation: every turn keeps its place and grouping.
#[test]
fn long_agent_conversation_keeps_order_and_grouping() {
    let rounds = 750;
    let mut messages = vec![json!({"role": "user", "content": "start"})];
    for i in 0..rounds {
        messages.push(json!({"role": "assistant", "content": "ok", "tool_calls": [
            {"id": format!("t{i}a"), "type": "function",
             "function": {"name": "f", "arguments": "{\"a\":{\"b\":[1,2,3]},\"d\":[{\"e\":1}]}"}},
            {"id": format!("t{i}b"), "type": "function", "function": {"name": "g", "arguments": "{}"}}
        ]}));
        messages
            .push(json!({"role": "tool", "tool_call_id": format!("t{i}a"), "content": "result a"}));
        messages
            .push(json!({"role": "tool", "tool_call_id": format!("t{i}b"), "content": "result b"}));
        messages.push(json!({"role": "user", "content": format!("next {i}")}));
    }
    let out = to_anthropic(chat(json!({"messages": messages})));
    let turns = out["messages"].as_array().unwrap();
    assert_eq!(turns.len(), 1 + 2 * rounds);
    assert_eq!(
        turns[0]["content"],
        json!([{"type": "text", "text": "start"}])
    );
    for i in 0..rounds {
        let assistant = &turns[1 + 2 * i];
        assert_eq!(assistant["role"], json!("assistant"), "round {i}");
        assert_eq!(
            assistant["content"][1]["id"],
            json!(format!("t{i}a")),
            "round {i}"
        );
        assert_eq!(
            assistant["content"][1]["input"],
            json!({"a": {"b": [1, 2, 3]}, "d": [{"e": 1}]})
        );
        let user = &turns[2 + 2 * i];
        assert_eq!(
            user,
            &json!({"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": format!("t{i}a"), "content": "result a"},
                {"type": "tool_result", "tool_use_id": format!("t{i}b"), "content": "result b"},
                {"type": "text", "text": format!("next {i}")}
            ]}),
            "round {i}"
        );
    }
}

#[test]
fn tool_results_come_first_in_their_user_turn() {
    // A user message squeezed between the call and its result.
    let out = to_anthropic(chat(json!({"messages": [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": null, "tool_calls": [
            {"id": "toolu_1", "type": "function", "function": {"name": "run", "arguments": "{}"}}
        ]},
        {"role": "user", "content": "hurry"},
        {"role": "tool", "tool_call_id": "toolu_1", "content": "done"}
    ]})));
    assert_eq!(
        out["messages"][2]["content"],
        json!([
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "done"},
            {"type": "text", "text": "hurry"}
        ])
    );
}

#[test]
fn invalid_tool_arguments_are_rejected_with_400() {
    for args in ["{\"city\": \"Par", "[1, 2]", "not json"] {
        let (status, message) = rejected(chat(json!({"messages": [
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": args}}
            ]},
            {"role": "tool", "tool_call_id": "toolu_1", "content": "x"}
        ]})));
        assert_eq!(status, 400, "{args}");
        assert!(message.contains("get_weather"), "{message}");
    }
}

#[test]
fn tools_are_converted() {
    let out = to_anthropic(chat(json!({
        "tools": [
            {"type": "function", "function": {
                "name": "get_weather",
                "description": "Current weather for a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
                "strict": true
            }},
            {"type": "function", "function": {"name": "get_time"}},
            {"type": "function", "function": {"name": "ping", "parameters": {}}}
        ]
    })));
    assert_eq!(
        out["tools"],
        json!([
            {"name": "get_weather", "description": "Current weather for a city",
             "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
            {"name": "get_time", "input_schema": {"type": "object"}},
            {"name": "ping", "input_schema": {"type": "object"}}
        ])
    );
    // No tool_choice and parallel calls allowed: Anthropic's default applies.
    assert!(out.get("tool_choice").is_none());
}

#[test]
fn tool_choice_and_parallel_tool_calls_are_mapped() {
    let tools = json!([{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]);
    let cases = [
        (json!("auto"), Value::Null, json!({"type": "auto"})),
        (json!("required"), Value::Null, json!({"type": "any"})),
        (json!("none"), Value::Null, json!({"type": "none"})),
        (
            json!({"type": "function", "function": {"name": "get_weather"}}),
            Value::Null,
            json!({"type": "tool", "name": "get_weather"}),
        ),
        (
            Value::Null,
            json!(false),
            json!({"type": "auto", "disable_parallel_tool_use": true}),
        ),
        (
            json!("required"),
            json!(false),
            json!({"type": "any", "disable_parallel_tool_use": true}),
        ),
        (
            json!({"type": "function", "function": {"name": "get_weather"}}),
            json!(false),
            json!({"type": "tool", "name": "get_weather", "disable_parallel_tool_use": true}),
        ),
        (json!("auto"), json!(true), json!({"type": "auto"})),
    ];
    for (choice, parallel, expected) in cases {
        let mut extra = json!({"tools": tools});
        if !choice.is_null() {
            extra["tool_choice"] = choice.clone();
        }
        if !parallel.is_null() {
            extra["parallel_tool_calls"] = parallel.clone();
        }
        let out = to_anthropic(chat(extra));
        assert_eq!(
            out["tool_choice"], expected,
            "tool_choice {choice} parallel {parallel}"
        );
    }
    // Without tools there is no tool_choice at all (Anthropic would refuse it).
    let out = to_anthropic(chat(
        json!({"tool_choice": "none", "parallel_tool_calls": false}),
    ));
    assert!(
        out.get("tool_choice").is_none() && out.get("tools").is_none(),
        "{out}"
    );
}

#[test]
fn allowed_tools_narrows_the_tool_list() {
    let out = to_anthropic(chat(json!({
        "tools": [
            {"type": "function", "function": {"name": "a"}},
            {"type": "function", "function": {"name": "b"}}
        ],
        "tool_choice": {"type": "allowed_tools", "allowed_tools": {
            "mode": "required", "tools": [{"type": "function", "function": {"name": "b"}}]
        }}
    })));
    assert_eq!(
        out["tools"],
        json!([{"name": "b", "input_schema": {"type": "object"}}])
    );
    assert_eq!(out["tool_choice"], json!({"type": "any"}));
}

#[test]
fn images_become_base64_or_url_sources() {
    let out = to_anthropic(chat(json!({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "Compare these"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "high"}},
        {"type": "image_url", "image_url": {"url": "data:image/jpg;base64,/9j/4AAQ"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.webp"}},
        {"type": "image_url", "image_url": {"url": "http://example.com/dog.gif"}}
    ]}]})));
    assert_eq!(
        out["messages"],
        json!([{"role": "user", "content": [
            {"type": "text", "text": "Compare these"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
            {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQ"}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.webp"}},
            {"type": "image", "source": {"type": "url", "url": "http://example.com/dog.gif"}}
        ]}])
    );
}

#[test]
fn bad_images_are_rejected_with_400() {
    for url in [
        "data:image/bmp;base64,Qk0=",
        "data:image/svg+xml,<svg/>",
        "ftp://example.com/a.png",
    ] {
        let (status, _) = rejected(chat(json!({"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": url}}
        ]}]})));
        assert_eq!(status, 400, "{url}");
    }
    let (status, message) = rejected(chat(json!({"messages": [{"role": "user", "content": [
        {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}
    ]}]})));
    assert_eq!(status, 400);
    assert!(message.contains("audio"), "{message}");
}

#[test]
fn pdf_file_becomes_a_document_block() {
    let out = to_anthropic(chat(json!({"messages": [{"role": "user", "content": [
        {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0x"}},
        {"type": "text", "text": "Summarize"}
    ]}]})));
    assert_eq!(
        out["messages"][0]["content"][0],
        json!({"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"}})
    );
}

#[test]
fn cache_control_on_parts_is_passed_on() {
    let out = to_anthropic(chat(json!({"messages": [
        {"role": "system", "content": [
            {"type": "text", "text": "Long reference text", "cache_control": {"type": "ephemeral"}}
        ]},
        {"role": "user", "content": [{"type": "text", "text": "Q", "cache_control": {"type": "ephemeral"}}]}
    ]})));
    assert_eq!(
        out["system"],
        json!([{"type": "text", "text": "Long reference text", "cache_control": {"type": "ephemeral"}}])
    );
    assert_eq!(
        out["messages"][0]["content"],
        json!([{"type": "text", "text": "Q", "cache_control": {"type": "ephemeral"}}])
    );
}

#[test]
fn max_tokens_precedence_and_default() {
    assert_eq!(to_anthropic(chat(json!({})))["max_tokens"], json!(4096));
    let ctx = ctx_with_options(json!({"max_tokens": 8192}));
    assert_eq!(
        to_anthropic_with(chat(json!({})), &ctx)["max_tokens"],
        json!(8192)
    );
    assert_eq!(
        to_anthropic_with(chat(json!({"max_tokens": 300})), &ctx)["max_tokens"],
        json!(300)
    );
    assert_eq!(
        to_anthropic(chat(
            json!({"max_tokens": 300, "max_completion_tokens": 1200})
        ))["max_tokens"],
        json!(1200)
    );
}

#[test]
fn stop_becomes_stop_sequences() {
    assert_eq!(
        to_anthropic(chat(json!({"stop": "END"})))["stop_sequences"],
        json!(["END"])
    );
    assert_eq!(
        to_anthropic(chat(json!({"stop": ["END", "###"]})))["stop_sequences"],
        json!(["END", "###"])
    );
    let out = to_anthropic(chat(json!({"stop": null})));
    assert!(out.get("stop_sequences").is_none(), "{out}");
}

#[test]
fn sampling_fields_are_mapped_and_temperature_clamped() {
    let out = to_anthropic(chat(json!({"temperature": 1.7, "top_p": 0.9})));
    assert_eq!(out["temperature"], json!(1.0));
    assert_eq!(out["top_p"], json!(0.9));
    assert_eq!(
        to_anthropic(chat(json!({"temperature": 2})))["temperature"],
        json!(1.0)
    );
    assert_eq!(
        to_anthropic(chat(json!({"temperature": 0.3})))["temperature"],
        json!(0.3)
    );
    assert_eq!(
        to_anthropic(chat(json!({"temperature": 0})))["temperature"],
        json!(0)
    );
    assert!(to_anthropic(chat(json!({}))).get("temperature").is_none());
}

#[test]
fn user_or_safety_identifier_becomes_metadata_user_id() {
    assert_eq!(
        to_anthropic(chat(json!({"user": "user-42"})))["metadata"],
        json!({"user_id": "user-42"})
    );
    assert_eq!(
        to_anthropic(chat(json!({"safety_identifier": "sid-7", "user": "old"})))["metadata"],
        json!({"user_id": "sid-7"})
    );
    assert!(to_anthropic(chat(json!({}))).get("metadata").is_none());
}

#[test]
fn json_schema_response_format_becomes_output_config() {
    let schema = json!({"type": "object", "properties": {"answer": {"type": "string"}},
                        "required": ["answer"], "additionalProperties": false});
    let out = to_anthropic(chat(json!({"response_format": {
        "type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": true}
    }})));
    assert_eq!(
        out["output_config"],
        json!({"format": {"type": "json_schema", "schema": schema}})
    );
    let out = to_anthropic(chat(json!({"response_format": {"type": "json_object"}})));
    assert_eq!(
        out["output_config"],
        json!({"format": {"type": "json_schema", "schema": {"type": "object"}}})
    );
    let out = to_anthropic(chat(json!({"response_format": {"type": "text"}})));
    assert!(out.get("output_config").is_none(), "{out}");
}

#[test]
fn stream_flag_is_copied() {
    assert_eq!(
        to_anthropic(chat(json!({"stream": true})))["stream"],
        json!(true)
    );
    assert_eq!(
        to_anthropic(chat(json!({"stream": false})))["stream"],
        json!(false)
    );
    assert!(to_anthropic(chat(json!({}))).get("stream").is_none());
}

#[test]
fn n_greater_than_one_is_rejected_with_400() {
    let (status, message) = rejected(chat(json!({"n": 3})));
    assert_eq!(status, 400);
    assert!(message.contains("n > 1"), "{message}");
}

#[test]
fn unknown_response_format_is_refused_not_dropped() {
    let (status, message) = rejected(chat(json!({"response_format": {"type": "grammar"}})));
    assert_eq!(status, 400);
    assert!(message.contains("grammar"), "{message}");
}
