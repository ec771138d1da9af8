//! Requests, Responses → hub and native: validation, top-level fields and
//! tools. Input items are in [`items`], responses in [`response`], streams
//! in [`stream`] and [`failures`], custom (freeform) tools end to end in
//! [`custom`], the official SDK's check of both in [`sdk`].

use serde_json::{json, Value};

use super::*;

mod custom;
mod failures;
mod items;
mod response;
mod sdk;
mod stream;

/// A valid request with `extra` merged in (a `null` removes the field).
pub(super) fn request(extra: Value) -> Value {
    let mut body = json!({"model": "gpt-4.1", "input": "Hello"});
    for (k, v) in extra.as_object().into_iter().flatten() {
        match v {
            Value::Null => body.as_object_mut().map(|b| b.remove(k)),
            _ => body.as_object_mut().map(|b| b.insert(k.clone(), v.clone())),
        };
    }
    body
}

/// The hub request for this body (no history).
pub(super) fn hub(body: Value) -> Value {
    parse(body).unwrap().to_hub(&[]).unwrap()
}

/// The 400's (message, param) for this error.
pub(super) fn bad(result: Result<impl std::fmt::Debug, GatewayError>) -> (String, String) {
    match result {
        Err(GatewayError::BadRequest { message, param }) => (message, param.unwrap_or_default()),
        other => panic!("expected a 400, got {other:?}"),
    }
}

/// `prefix_` + 32 lowercase hex digits.
pub(super) fn is_id(id: &Value, prefix: &str) -> bool {
    let hex = id
        .as_str()
        .and_then(|id| id.strip_prefix(&format!("{prefix}_")));
    hex.is_some_and(|h| h.len() == 32 && h.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')))
}

// ───────────────────────────── parse ─────────────────────────────

#[test]
fn string_input_becomes_one_user_message_item_with_an_id() {
    let req = parse(request(json!({}))).unwrap();
    assert_eq!(req.model, "gpt-4.1");
    assert!(!req.stream);
    assert!(req.store);
    assert_eq!(req.previous_response_id, None);
    assert_eq!(req.input.len(), 1);
    assert!(is_id(&req.input[0]["id"], "msg"), "{}", req.input[0]);
    let mut item = req.input[0].clone();
    item["id"] = json!("x");
    assert_eq!(
        item,
        json!({"id": "x", "type": "message", "role": "user",
               "content": [{"type": "input_text", "text": "Hello"}]})
    );
    assert_eq!(req.body, request(json!({})));
}

#[test]
fn items_get_ids_by_type_and_messages_get_their_type() {
    let input = json!([
        {"role": "user", "content": "hi"},
        {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "ok"},
        {"type": "message", "id": "msg_mine", "role": "assistant", "content": "yes"},
        {"id": "msg_ref"},
    ]);
    let req = parse(request(
        json!({"input": input, "stream": true, "store": false}),
    ))
    .unwrap();
    assert!(req.stream);
    assert!(!req.store);
    assert_eq!(req.input[0]["type"], "message");
    assert!(is_id(&req.input[0]["id"], "msg"));
    assert!(is_id(&req.input[1]["id"], "fc"));
    assert!(is_id(&req.input[2]["id"], "fco"));
    assert_eq!(req.input[3]["id"], "msg_mine");
    assert_eq!(req.input[4], json!({"id": "msg_ref"}));
}

#[test]
fn input_may_be_missing_only_after_a_previous_response() {
    let (message, param) = bad(parse(request(json!({"input": null}))));
    assert_eq!(message, "Missing required parameter: 'input'.");
    assert_eq!(param, "input");
    let req = parse(request(
        json!({"input": null, "previous_response_id": "resp_1"}),
    ))
    .unwrap();
    assert_eq!(req.previous_response_id.as_deref(), Some("resp_1"));
    assert!(req.input.is_empty());
}

#[test]
fn malformed_requests_are_400s_in_openai_words() {
    let cases = [
        (json!({"model": null}), "model", "Missing required parameter: 'model'."),
        (
            json!({"model": 4}),
            "model",
            "Invalid type for 'model': expected a string, but got an integer instead.",
        ),
        (
            json!({"model": ""}),
            "model",
            "Invalid 'model': empty string. Expected a string with minimum length 1, but got an empty string instead.",
        ),
        (
            json!({"input": {"role": "user"}}),
            "input",
            "Invalid type for 'input': expected a string or an array of input items, but got an object instead.",
        ),
        (
            json!({"input": ["hi"]}),
            "input[0]",
            "Invalid type for 'input[0]': expected an object, but got a string instead.",
        ),
        (
            json!({"input": [{"content": "hi"}]}),
            "input[0].type",
            "Missing required parameter: 'input[0].type'.",
        ),
        (
            json!({"input": [{"role": "user", "content": "a"}, {"role": "tool", "content": "b"}]}),
            "input[1].role",
            "Invalid value: 'tool'. Supported values are: 'assistant', 'system', 'developer', and 'user'.",
        ),
        (
            json!({"input": [{"type": "message", "role": "user"}]}),
            "input[0].content",
            "Missing required parameter: 'input[0].content'.",
        ),
        (
            json!({"input": [{"role": "user", "content": 3}]}),
            "input[0].content",
            "Invalid type for 'input[0].content': expected a string or an array of content parts, but got an integer instead.",
        ),
        (
            json!({"input": [{"role": "user", "content": [{"text": "x"}]}]}),
            "input[0].content[0].type",
            "Missing required parameter: 'input[0].content[0].type'.",
        ),
        (
            json!({"stream": "yes"}),
            "stream",
            "Invalid type for 'stream': expected a boolean, but got a string instead.",
        ),
        (
            json!({"store": 1.5}),
            "store",
            "Invalid type for 'store': expected a boolean, but got a decimal instead.",
        ),
        (
            json!({"instructions": ["be brief"]}),
            "instructions",
            "Invalid type for 'instructions': expected a string, but got an array instead.",
        ),
    ];
    for (extra, want_param, want_message) in cases {
        let (message, param) = bad(parse(request(extra.clone())));
        assert_eq!(
            (message.as_str(), param.as_str()),
            (want_message, want_param),
            "{extra}"
        );
    }
    let (message, param) = bad(parse(json!("hi")));
    assert_eq!(message, "The request body must be a JSON object");
    assert_eq!(param, "");
}

#[test]
fn background_mode_and_conversations_are_refused() {
    let (message, param) = bad(parse(request(json!({"background": true}))));
    assert_eq!(param, "background");
    assert!(message.contains("not supported"), "{message}");
    assert!(parse(request(json!({"background": false}))).is_ok());
    let (message, param) = bad(parse(request(json!({"conversation": "conv_1"}))));
    assert_eq!(param, "conversation");
    assert!(message.contains("Conversations API"), "{message}");
}

// ───────────────────────────── to_hub: top level ─────────────────────────────

#[test]
fn a_string_input_is_a_plain_user_message() {
    assert_eq!(
        hub(request(json!({}))),
        json!({"model": "gpt-4.1", "messages": [{"role": "user", "content": "Hello"}]})
    );
}

#[test]
fn sampling_and_limits_are_mapped_and_state_fields_dropped() {
    let got = hub(request(json!({
        "instructions": "Be brief.",
        "temperature": 0.2, "top_p": 0.9, "user": "u-1",
        "service_tier": "flex", "prompt_cache_key": "k", "safety_identifier": "s",
        "max_output_tokens": 300, "reasoning": {"effort": "low", "summary": "auto"},
        "metadata": {"a": "b"}, "store": true, "truncation": "auto",
        "include": ["reasoning.encrypted_content"], "previous_response_id": "resp_1",
        "text": {"format": {"type": "text"}, "verbosity": "low"}, "top_logprobs": 2,
    })));
    assert_eq!(
        got,
        json!({
            "model": "gpt-4.1",
            "messages": [{"role": "system", "content": "Be brief."},
                         {"role": "user", "content": "Hello"}],
            "temperature": 0.2, "top_p": 0.9, "user": "u-1",
            "service_tier": "flex", "prompt_cache_key": "k", "safety_identifier": "s",
            "max_tokens": 300, "reasoning_effort": "low",
        })
    );
}

#[test]
fn streaming_always_asks_for_usage() {
    let got = hub(request(json!({"stream": true})));
    assert_eq!(got["stream"], true);
    assert_eq!(got["stream_options"], json!({"include_usage": true}));
    let got = hub(request(json!({"stream": false})));
    assert!(got.get("stream").is_none() && got.get("stream_options").is_none());
}

#[test]
fn text_formats_become_response_formats() {
    let schema = json!({"type": "object", "properties": {"n": {"type": "integer"}}});
    let format = json!({"type": "json_schema", "name": "count", "schema": schema,
                        "strict": true, "description": "A count"});
    let got = hub(request(json!({"text": {"format": format}})));
    assert_eq!(
        got["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "count", "schema": schema,
               "strict": true, "description": "A count"}})
    );
    let got = hub(request(
        json!({"text": {"format": {"type": "json_object"}}}),
    ));
    assert_eq!(got["response_format"], json!({"type": "json_object"}));
    let req = parse(request(json!({"text": {"format": {"type": "yaml"}}}))).unwrap();
    assert_eq!(bad(req.to_hub(&[])).1, "text.format.type");
    let format = json!({"type": "json_schema", "schema": schema});
    let req = parse(request(json!({"text": {"format": format}}))).unwrap();
    assert_eq!(bad(req.to_hub(&[])).1, "text.format.name");
}

#[test]
fn function_tools_and_choices_are_mapped() {
    let params = json!({"type": "object", "properties": {"city": {"type": "string"}}});
    let got = hub(request(json!({
        "tools": [
            {"type": "function", "name": "get_weather", "description": "Weather", "parameters": params,
             "strict": true},
            {"type": "function", "name": "noop", "parameters": null, "strict": null},
        ],
        "tool_choice": {"type": "function", "name": "get_weather"},
        "parallel_tool_calls": false,
    })));
    assert_eq!(got["parallel_tool_calls"], false);
    assert_eq!(
        got["tools"],
        json!([
            {"type": "function", "function": {"name": "get_weather", "description": "Weather",
             "parameters": params, "strict": true}},
            {"type": "function", "function": {"name": "noop"}},
        ])
    );
    assert_eq!(
        got["tool_choice"],
        json!({"type": "function", "function": {"name": "get_weather"}})
    );
    for mode in ["none", "auto", "required"] {
        let tools = json!([{"type": "function", "name": "f"}]);
        let got = hub(request(json!({"tools": tools, "tool_choice": mode})));
        assert_eq!(got["tool_choice"], mode);
    }
}

#[test]
fn hosted_tools_and_choices_are_refused_with_their_param() {
    let cases = [
        (
            json!({"tools": [{"type": "function", "name": "f"}, {"type": "web_search"}]}),
            "tools[1].type",
        ),
        (
            json!({"tools": [{"type": "code_interpreter", "container": {"type": "auto"}}]}),
            "tools[0].type",
        ),
        (json!({"tools": [{"type": "function"}]}), "tools[0].name"),
        (
            json!({"tool_choice": {"type": "allowed_tools", "mode": "auto", "tools": []}}),
            "tool_choice.type",
        ),
        (
            json!({"tool_choice": {"type": "file_search"}}),
            "tool_choice.type",
        ),
        (json!({"tool_choice": "any"}), "tool_choice"),
    ];
    for (extra, want) in cases {
        let req = parse(request(extra.clone())).unwrap();
        let (message, param) = bad(req.to_hub(&[]));
        assert_eq!(param, want, "{extra}: {message}");
    }
    let req = parse(request(json!({"tools": [{"type": "web_search"}]}))).unwrap();
    let (message, _) = bad(req.to_hub(&[]));
    assert_eq!(
        message,
        "Tools of type 'web_search' are not supported by this gateway for models served without the Responses API; only 'function' and 'custom' tools are."
    );
}

#[test]
fn tool_choice_and_parallel_calls_are_dropped_without_tools() {
    let got = hub(request(
        json!({"tools": [], "tool_choice": "auto", "parallel_tool_calls": true}),
    ));
    assert_eq!(
        got,
        json!({"model": "gpt-4.1", "messages": [{"role": "user", "content": "Hello"}]})
    );
}

// ───────────────────────────── to_native ─────────────────────────────

#[test]
fn native_body_carries_the_history_statelessly() {
    let history = [
        json!({"id": "msg_1", "type": "message", "role": "user", "content": "Hi"}),
        json!({"id": "rs_1", "type": "reasoning", "summary": [], "encrypted_content": "e"}),
        json!({"id": "rs_2", "type": "reasoning", "summary": [],
               "content": [{"type": "reasoning_text", "text": "From a chat provider."}]}),
        json!({"id": "msg_2", "type": "message", "role": "assistant", "status": "completed",
               "content": [{"type": "output_text", "text": "Hello", "annotations": []}]}),
    ];
    let body = request(json!({
        "input": [{"role": "user", "content": "Again"}, {"type": "item_reference", "id": "msg_9"}],
        "previous_response_id": "resp_1", "store": true, "instructions": "Be brief.",
        "tools": [{"type": "web_search"}], "stream": true, "include": ["reasoning.encrypted_content"],
    }));
    let got = parse(body).unwrap().to_native(&history);
    assert_eq!(
        got,
        json!({
            "model": "gpt-4.1", "store": false, "instructions": "Be brief.",
            "tools": [{"type": "web_search"}], "stream": true,
            "include": ["reasoning.encrypted_content"],
            "input": [
                {"type": "message", "role": "user", "content": "Hi"},
                {"type": "reasoning", "summary": [], "encrypted_content": "e"},
                {"type": "message", "role": "assistant", "status": "completed",
                 "content": [{"type": "output_text", "text": "Hello", "annotations": []}]},
                {"type": "message", "role": "user", "content": "Again"},
                {"type": "item_reference", "id": "msg_9"},
            ],
        })
    );
}
