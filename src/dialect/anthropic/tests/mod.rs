//! Requests, Anthropic → hub: validation and top-level fields. Content
//! blocks are in [`content`], responses, errors, token counting and golden
//! fixtures in [`response`], streams in [`stream`].

use serde_json::{json, Value};

use super::*;

mod content;
mod response;
mod stream;

/// A valid request with `extra` merged in (a `null` removes the field).
pub(super) fn request(extra: Value) -> Value {
    let mut body = json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": "Hello, Claude"}],
    });
    for (k, v) in extra.as_object().into_iter().flatten() {
        match v {
            Value::Null => body.as_object_mut().map(|b| b.remove(k)),
            _ => body.as_object_mut().map(|b| b.insert(k.clone(), v.clone())),
        };
    }
    body
}

pub(super) fn hub(extra: Value) -> Value {
    request_to_hub(request(extra)).unwrap()
}

/// The hub messages for these Anthropic messages.
pub(super) fn hub_messages(messages: Value) -> Value {
    hub(json!({ "messages": messages }))["messages"].clone()
}

/// The 400's (message, param) for this request.
pub(super) fn rejected(body: Value) -> (String, Option<String>) {
    match request_to_hub(body) {
        Err(GatewayError::BadRequest { message, param }) => (message, param),
        other => panic!("expected a 400, got {other:?}"),
    }
}

// ───────────────────────────── validation ─────────────────────────────

#[test]
fn model_max_tokens_and_messages_are_required_like_anthropic() {
    for field in ["model", "max_tokens", "messages"] {
        let (message, param) = rejected(request(json!({ field: null })));
        assert_eq!(message, format!("{field}: Field required"));
        assert_eq!(param.as_deref(), Some(field));
    }
}

#[test]
fn mistyped_required_fields_are_400s() {
    let cases = [
        (json!({"model": 7}), "model: Input should be a valid string"),
        (
            json!({"max_tokens": "1024"}),
            "max_tokens: Input should be a valid integer",
        ),
        (
            json!({"max_tokens": 1.5}),
            "max_tokens: Input should be a valid integer",
        ),
        (
            json!({"max_tokens": 0}),
            "max_tokens: Input should be greater than or equal to 1",
        ),
        (
            json!({"messages": {"role": "user"}}),
            "messages: Input should be a valid list",
        ),
        (
            json!({"messages": []}),
            "messages: at least one message is required",
        ),
        (
            json!({"temperature": "hot"}),
            "temperature: Input should be a valid number",
        ),
        (
            json!({"stop_sequences": "END"}),
            "stop_sequences: Input should be a list of strings",
        ),
        (
            json!({"stream": "yes"}),
            "stream: Input should be a valid boolean",
        ),
    ];
    for (extra, want) in cases {
        assert_eq!(rejected(request(extra.clone())).0, want, "{extra}");
    }
    let (message, _) = rejected(json!([1, 2]));
    assert_eq!(message, "The request body must be a JSON object");
}

#[test]
fn roles_other_than_user_and_assistant_are_refused() {
    for role in ["system", "tool", "developer"] {
        let messages = json!([{"role": "user", "content": "hi"}, {"role": role, "content": "x"}]);
        let (message, param) = rejected(request(json!({ "messages": messages })));
        assert_eq!(
            message,
            "messages.1.role: Input should be 'user' or 'assistant'"
        );
        assert_eq!(param.as_deref(), Some("messages.1.role"));
    }
}

#[test]
fn unmappable_blocks_name_the_offending_path() {
    let cases = [
        (
            json!({"role": "user", "content": [{"type": "image", "source": {"type": "file", "file_id": "file_1"}}]}),
            "messages.0.content.0.source.type",
        ),
        (
            json!({"role": "user", "content": [{"type": "search_result", "source": "x", "title": "t", "content": []}]}),
            "messages.0.content.0.type",
        ),
        (
            json!({"role": "user", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]}),
            "messages.0.content.0",
        ),
        (
            json!({"role": "assistant", "content": [{"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}]}),
            "messages.0.content.0.type",
        ),
        (
            json!({"role": "user", "content": [{"type": "document", "source": {"type": "base64", "media_type": "text/csv", "data": "YQ=="}}]}),
            "messages.0.content.0.source.media_type",
        ),
        (
            json!({"role": "user", "content": [{"text": "no type"}]}),
            "messages.0.content.0.type",
        ),
        (json!({"role": "user", "content": []}), "messages.0.content"),
        (json!({"role": "user"}), "messages.0.content"),
    ];
    for (message, path) in cases {
        let (_, param) = rejected(request(json!({ "messages": [message.clone()] })));
        assert_eq!(param.as_deref(), Some(path), "{message}");
    }
}

// ───────────────────────────── top-level fields ─────────────────────────────

#[test]
fn sampling_user_and_max_tokens_are_mapped_and_top_k_thinking_dropped() {
    let got = hub(json!({
        "max_tokens": 2048,
        "temperature": 0.2,
        "top_p": 0.95,
        "top_k": 5,
        "stop_sequences": ["\n\nHuman:", "END"],
        "metadata": {"user_id": "13803d75-b4b5-4c3e-b2a2-6f21399b021b"},
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "service_tier": "auto",
    }));
    assert_eq!(
        got,
        json!({
            "model": "claude-sonnet-4-5",
            "messages": [{"role": "user", "content": "Hello, Claude"}],
            "max_tokens": 2048,
            "temperature": 0.2,
            "top_p": 0.95,
            "stop": ["\n\nHuman:", "END"],
            "user": "13803d75-b4b5-4c3e-b2a2-6f21399b021b",
        })
    );
}

#[test]
fn streaming_always_asks_for_usage() {
    let got = hub(json!({"stream": true}));
    assert_eq!(got["stream"], true);
    assert_eq!(got["stream_options"], json!({"include_usage": true}));
    let got = hub(json!({"stream": false}));
    assert_eq!(got["stream"], false);
    assert!(got.get("stream_options").is_none());
    assert!(hub(json!({})).get("stream").is_none());
}

#[test]
fn tools_become_function_tools() {
    let schema = json!({"type": "object", "properties": {"ticker": {"type": "string"}}, "required": ["ticker"]});
    let got = hub(json!({"tools": [
        {"name": "get_stock_price", "description": "Get the current stock price", "input_schema": schema,
         "cache_control": {"type": "ephemeral"}},
        {"type": "custom", "name": "noop", "input_schema": {"type": "object"}, "strict": true},
    ]}));
    assert_eq!(
        got["tools"],
        json!([
            {"type": "function", "function": {"name": "get_stock_price",
             "description": "Get the current stock price", "parameters": schema}},
            {"type": "function", "function": {"name": "noop", "parameters": {"type": "object"}, "strict": true}},
        ])
    );
    assert!(got.get("tool_choice").is_none());
}

#[test]
fn server_tools_and_malformed_tools_are_refused() {
    let (message, param) = rejected(request(json!({"tools": [
        {"name": "f", "input_schema": {"type": "object"}},
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 5},
    ]})));
    assert_eq!(param.as_deref(), Some("tools.1.type"));
    assert!(
        message.contains("web_search_20250305") && message.contains("not supported"),
        "{message}"
    );
    let (_, param) = rejected(request(json!({"tools": [{"name": "f"}]})));
    assert_eq!(param.as_deref(), Some("tools.0.input_schema"));
    let (_, param) = rejected(request(json!({"tools": [{"input_schema": {}}]})));
    assert_eq!(param.as_deref(), Some("tools.0.name"));
}

#[test]
fn tool_choice_maps_every_mode() {
    let tools = json!([{"name": "get_weather", "input_schema": {"type": "object"}}]);
    let cases = [
        (json!({"type": "auto"}), json!("auto"), None),
        (json!({"type": "any"}), json!("required"), None),
        (json!({"type": "none"}), json!("none"), None),
        (
            json!({"type": "tool", "name": "get_weather"}),
            json!({"type": "function", "function": {"name": "get_weather"}}),
            None,
        ),
        (
            json!({"type": "any", "disable_parallel_tool_use": true}),
            json!("required"),
            Some(false),
        ),
        (
            json!({"type": "auto", "disable_parallel_tool_use": false}),
            json!("auto"),
            None,
        ),
    ];
    for (choice, want, parallel) in cases {
        let got = hub(json!({"tools": tools, "tool_choice": choice}));
        assert_eq!(got["tool_choice"], want, "{choice}");
        assert_eq!(
            got.get("parallel_tool_calls").and_then(Value::as_bool),
            parallel,
            "{choice}"
        );
    }
    let (_, param) = rejected(request(
        json!({"tools": tools, "tool_choice": {"type": "tool"}}),
    ));
    assert_eq!(param.as_deref(), Some("tool_choice.name"));
    let (_, param) = rejected(request(
        json!({"tools": tools, "tool_choice": {"type": "sometimes"}}),
    ));
    assert_eq!(param.as_deref(), Some("tool_choice.type"));
    // Without tools there is nothing to choose: OpenAI would refuse the field.
    assert!(hub(json!({"tool_choice": {"type": "any"}}))
        .get("tool_choice")
        .is_none());
}

#[test]
fn output_config_json_schema_becomes_response_format() {
    let schema = json!({"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"],
                        "additionalProperties": false});
    let got = hub(
        json!({"output_config": {"effort": "high", "format": {"type": "json_schema", "schema": schema}}}),
    );
    assert_eq!(
        got["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "output", "schema": schema}})
    );
    assert!(hub(json!({"output_config": {"effort": "low"}}))
        .get("response_format")
        .is_none());
    let (_, param) = rejected(request(
        json!({"output_config": {"format": {"type": "regex"}}}),
    ));
    assert_eq!(param.as_deref(), Some("output_config.format.type"));
}

#[test]
fn errors_inside_blocks_name_the_field() {
    let cases = [
        (
            json!({"role": "user", "content": [
                {"type": "image", "source": {"type": "base64", "data": "AAAA"}}]}),
            "messages.0.content.0.source.media_type: Field required",
        ),
        (
            json!({"role": "user", "content": [{"type": "text", "text": 5}]}),
            "messages.0.content.0.text: Input should be a valid string",
        ),
        (
            json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t",
                "content": [{"type": "text"}]}]}),
            "messages.0.content.0.content.0.text: Field required",
        ),
        (
            json!({"role": 5, "content": "x"}),
            "messages.0.role: Input should be 'user' or 'assistant'",
        ),
        (
            json!({"role": "user", "content": 5}),
            "messages.0.content: Input should be a valid string or a list of content blocks",
        ),
    ];
    for (message, want) in cases {
        let (got, param) = rejected(request(json!({ "messages": [message.clone()] })));
        assert_eq!(got, want, "{message}");
        assert_eq!(Some(got.split(':').next().unwrap()), param.as_deref());
    }
    let cases = [
        (
            json!({"max_tokens": -5}),
            "max_tokens: Input should be greater than or equal to 1",
        ),
        (
            json!({"top_k": "many"}),
            "top_k: Input should be a valid integer",
        ),
        (
            json!({"system": [{"type": "text"}]}),
            "system.0.text: Field required",
        ),
        (
            json!({"metadata": {"user_id": 7}}),
            "metadata.user_id: Input should be a valid string",
        ),
        (
            json!({"tools": [{"name": "f", "input_schema": {}, "strict": "yes"}]}),
            "tools.0.strict: Input should be a valid boolean",
        ),
    ];
    for (extra, want) in cases {
        assert_eq!(rejected(request(extra.clone())).0, want, "{extra}");
    }
}

#[test]
fn unknown_fields_and_nulls_are_tolerated() {
    let got = hub(json!({
        "container": "c1", "service_tier": "auto", "tools": null, "system": null,
        "stop_sequences": null, "metadata": null, "thinking": {"type": "adaptive", "display": "omitted"},
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi", "citations": []}], "x": 1}],
    }));
    assert_eq!(
        got["messages"],
        json!([{"role": "user", "content": [{"type": "text", "text": "hi"}]}])
    );
}
