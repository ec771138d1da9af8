//! Tests of the Anthropic Messages adapter, `scripts/providers/anthropic.rhai`,
//! run on the real script file with the gateway's engine.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rhai::{Dynamic, Map};
use serde_json::{json, Value};

use super::adapter::{Adapter, ChunkOut, ScriptError, StreamState};
use super::engine::{build_engine, ScriptLimits};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/scripts/providers/anthropic.rhai"
);

fn adapter() -> Adapter {
    let source = std::fs::read_to_string(SCRIPT).expect("read the anthropic script");
    Adapter::compile(
        "anthropic",
        Path::new(SCRIPT),
        &source,
        Arc::new(build_engine(&ScriptLimits::default())),
        Duration::from_secs(5),
    )
    .expect("the anthropic script compiles")
}

/// `ctx` as `script_ctx()` in src/proxy/forward.rs builds it.
fn ctx_full(endpoint: &str, stream: bool, api_key: Option<&str>, options: Value) -> Map {
    let mut m = Map::new();
    m.insert("endpoint".into(), Dynamic::from(endpoint.to_string()));
    m.insert(
        "model".into(),
        Dynamic::from("claude-sonnet-4-5".to_string()),
    );
    m.insert("stream".into(), Dynamic::from(stream));
    m.insert("include_usage".into(), Dynamic::from(false));
    m.insert("provider".into(), Dynamic::from("anthropic".to_string()));
    m.insert(
        "api_key".into(),
        api_key
            .map(|k| Dynamic::from(k.to_string()))
            .unwrap_or(Dynamic::UNIT),
    );
    let options = rhai::serde::to_dynamic(options).unwrap().cast::<Map>();
    m.insert("options".into(), Dynamic::from_map(options));
    m
}

fn ctx() -> Map {
    ctx_full("chat", false, Some("sk-ant-test"), json!({}))
}

fn ctx_with_options(options: Value) -> Map {
    ctx_full("chat", false, Some("sk-ant-test"), options)
}

/// A minimal valid OpenAI request with `extra` merged in.
fn chat(extra: Value) -> Value {
    let mut body = json!({
        "model": "claude-sonnet-4-5",
        "messages": [{"role": "user", "content": "Hello"}]
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

fn to_anthropic_with(body: Value, ctx: &Map) -> Value {
    adapter()
        .transform_request(&body, ctx)
        .unwrap_or_else(|e| panic!("transform_request failed: {e}"))
        .expect("the script has a transform_request hook")
}

fn to_anthropic(body: Value) -> Value {
    to_anthropic_with(body, &ctx())
}

/// The status and message of a request the script refuses.
fn rejected(body: Value) -> (u16, String) {
    match adapter().transform_request(&body, &ctx()) {
        Err(ScriptError::Rejected { status, message }) => (status, message),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn to_openai(body: Value) -> Value {
    adapter()
        .transform_response(body, &ctx())
        .unwrap_or_else(|e| panic!("transform_response failed: {e}"))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

// ───────────────────────────── request() ─────────────────────────────

#[test]
fn request_targets_messages_with_key_and_default_version() {
    let plan = adapter().request(&ctx()).unwrap();
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
    let plan = adapter().request(&ctx).unwrap();
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
    let plan = adapter().request(&ctx).unwrap();
    assert!(plan.headers.contains(&(
        "anthropic-beta".to_string(),
        "files-api-2025-04-14".to_string()
    )));
}

#[test]
fn embeddings_are_rejected_with_400() {
    let ctx = ctx_full("embeddings", false, Some("k"), json!({}));
    match adapter().request(&ctx) {
        Err(ScriptError::Rejected { status, message }) => {
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

/// A long agent conversation: every turn keeps its place and grouping, and the
/// conversion stays linear (a quadratic one exceeds the 5 s script budget).
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

// ───────────────────────────── streaming ─────────────────────────────

/// One stream: the adapter, its per-stream state and ctx.
struct Stream {
    adapter: Adapter,
    state: StreamState,
    ctx: Map,
}

impl Stream {
    fn new() -> Self {
        let adapter = adapter();
        Self {
            state: adapter.stream_state(),
            adapter,
            ctx: ctx_full("chat", true, Some("sk-ant-test"), json!({})),
        }
    }

    fn feed_raw(&mut self, event: &str, data: &str) -> Vec<ChunkOut> {
        self.adapter
            .transform_chunk(&mut self.state, event, data, &self.ctx)
            .unwrap_or_else(|e| panic!("transform_chunk({event}) failed: {e}"))
    }

    fn feed(&mut self, event: &str, data: Value) -> Vec<ChunkOut> {
        self.feed_raw(event, &data.to_string())
    }

    /// Feeds every `(event, data)` and collects all outputs in order.
    fn run(&mut self, events: &[(&str, Value)]) -> Vec<ChunkOut> {
        events
            .iter()
            .flat_map(|(event, data)| self.feed(event, data.clone()))
            .collect()
    }

    fn finish(&mut self) -> Vec<ChunkOut> {
        self.adapter
            .finish_stream(&mut self.state, &self.ctx)
            .unwrap_or_else(|e| panic!("finish_stream failed: {e}"))
    }
}

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

#[test]
fn unknown_response_format_is_refused_not_dropped() {
    let (status, message) = rejected(chat(json!({"response_format": {"type": "grammar"}})));
    assert_eq!(status, 400);
    assert!(message.contains("grammar"), "{message}");
}
