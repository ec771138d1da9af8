//! Input items → hub messages.

use serde_json::{json, Value};

use super::*;

/// The hub messages for this input (and history).
fn messages(history: &[Value], input: Value) -> Value {
    let req = parse(request(json!({ "input": input }))).unwrap();
    req.to_hub(history).unwrap()["messages"].clone()
}

fn refused(history: &[Value], input: Value) -> (String, String) {
    let req = parse(request(json!({ "input": input }))).unwrap();
    bad(req.to_hub(history))
}

#[test]
fn message_parts_map_to_chat_parts_and_developer_to_system() {
    let got = messages(
        &[],
        json!([
            {"role": "developer", "content": "Answer in French."},
            {"role": "system", "content": [{"type": "input_text", "text": "a"}, {"type": "input_text", "text": "b"}]},
            {"role": "user", "content": [
                {"type": "input_text", "text": "What is this?"},
                {"type": "input_image", "image_url": "https://x.test/cat.png", "detail": "low"},
                {"type": "input_image", "image_url": "data:image/png;base64,AAAA"},
                {"type": "input_file", "filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBE"},
                {"type": "input_file", "file_id": "file-123"},
            ]},
        ]),
    );
    assert_eq!(
        got,
        json!([
            {"role": "system", "content": "Answer in French."},
            {"role": "system", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
            {"role": "user", "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "https://x.test/cat.png", "detail": "low"}},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBE"}},
                {"type": "file", "file": {"file_id": "file-123"}},
            ]},
        ])
    );
}

#[test]
fn assistant_output_messages_become_plain_text() {
    let got = messages(
        &[],
        json!([
            {"role": "user", "content": "Hi"},
            {"id": "msg_1", "type": "message", "role": "assistant", "status": "completed", "content": [
                {"type": "output_text", "text": "Hel", "annotations": [], "logprobs": []},
                {"type": "output_text", "text": "lo", "annotations": []},
            ]},
            {"type": "message", "role": "assistant", "content": [{"type": "refusal", "refusal": "No."}]},
        ]),
    );
    assert_eq!(
        got,
        json!([
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
            {"role": "assistant", "content": "No."},
        ])
    );
}

/// The items of one tool round: what OpenAI returns, then what the client sends.
fn tool_round() -> (Vec<Value>, Value) {
    let history = vec![
        json!({"id": "msg_1", "type": "message", "role": "user",
               "content": [{"type": "input_text", "text": "Weather in Paris and Rome?"}]}),
        json!({"id": "rs_1", "type": "reasoning", "summary": [],
               "content": [{"type": "reasoning_text", "text": "Two lookups."}]}),
        json!({"id": "msg_2", "type": "message", "role": "assistant", "status": "completed",
               "content": [{"type": "output_text", "text": "Let me check.", "annotations": []}]}),
        json!({"id": "fc_1", "type": "function_call", "status": "completed", "call_id": "call_a",
               "name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}),
        json!({"id": "fc_2", "type": "function_call", "status": "completed", "call_id": "call_b",
               "name": "get_weather", "arguments": "{\"city\":\"Rome\"}"}),
    ];
    let input = json!([
        {"type": "function_call_output", "call_id": "call_a", "output": "18C"},
        {"type": "function_call_output", "call_id": "call_b",
         "output": [{"type": "input_text", "text": "2"}, {"type": "input_text", "text": "1C"}]},
    ]);
    (history, input)
}

#[test]
fn function_calls_and_outputs_round_trip_as_tool_calls_and_tool_messages() {
    let (history, input) = tool_round();
    let got = messages(&history, input);
    assert_eq!(
        got,
        json!([
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {"role": "assistant", "content": "Let me check.", "tool_calls": [
                {"id": "call_a", "type": "function",
                 "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "call_b", "type": "function",
                 "function": {"name": "get_weather", "arguments": "{\"city\":\"Rome\"}"}},
            ]},
            {"role": "tool", "tool_call_id": "call_a", "content": "18C"},
            {"role": "tool", "tool_call_id": "call_b", "content": "21C"},
        ])
    );
}

#[test]
fn calls_without_a_message_before_them_get_their_own_assistant_message() {
    let got = messages(
        &[],
        json!([
            {"role": "user", "content": "Go"},
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "done"},
            {"type": "function_call", "call_id": "c2", "name": "g", "arguments": "{}"},
        ]),
    );
    assert_eq!(
        got,
        json!([
            {"role": "user", "content": "Go"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "done"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "c2", "type": "function", "function": {"name": "g", "arguments": "{}"}}]},
        ])
    );
}

#[test]
fn images_in_tool_outputs_follow_the_tool_messages_as_a_user_message() {
    let got = messages(
        &[],
        json!([
            {"role": "user", "content": "Look"},
            {"type": "function_call", "call_id": "c1", "name": "view", "arguments": "{}"},
            {"type": "function_call", "call_id": "c2", "name": "view", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": [
                {"type": "input_text", "text": "screenshot:"},
                {"type": "input_image", "image_url": "data:image/png;base64,AAAA"},
            ]},
            {"type": "function_call_output", "call_id": "c2", "output": "none"},
            {"role": "user", "content": "What do you see?"},
        ]),
    );
    assert_eq!(
        got,
        json!([
            {"role": "user", "content": "Look"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "view", "arguments": "{}"}},
                {"id": "c2", "type": "function", "function": {"name": "view", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "screenshot:"},
            {"role": "tool", "tool_call_id": "c2", "content": "none"},
            {"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
            {"role": "user", "content": "What do you see?"},
        ])
    );
}

#[test]
fn instructions_of_this_request_come_first_and_history_instructions_are_not_kept() {
    let history = [json!({"id": "msg_1", "type": "message", "role": "user", "content": "Hi"})];
    let req = parse(request(
        json!({"instructions": "Be terse.", "input": "Again"}),
    ))
    .unwrap();
    let got = req.to_hub(&history).unwrap()["messages"].clone();
    assert_eq!(
        got,
        json!([
            {"role": "system", "content": "Be terse."},
            {"role": "user", "content": "Hi"},
            {"role": "user", "content": "Again"},
        ])
    );
}

#[test]
fn items_a_chat_provider_cannot_take_are_refused_with_their_param() {
    let cases = [
        (
            json!({"type": "item_reference", "id": "msg_1"}),
            "input[1].type",
        ),
        (json!({"id": "msg_1"}), "input[1].type"),
        (
            json!({"type": "web_search_call", "id": "ws_1", "status": "completed",
                   "action": {"type": "search", "query": "x"}}),
            "input[1].type",
        ),
        (
            json!({"type": "computer_call_output", "call_id": "c", "output": {}}),
            "input[1].type",
        ),
        (
            json!({"role": "user", "content": [{"type": "input_image", "file_id": "file-1", "detail": "auto"}]}),
            "input[1].content[0].file_id",
        ),
        (
            json!({"role": "user", "content": [{"type": "input_file", "file_url": "https://x.test/a.pdf"}]}),
            "input[1].content[0].file_url",
        ),
        (
            json!({"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}),
            "input[1].content[0].type",
        ),
        (
            json!({"type": "function_call", "call_id": "c", "name": "f"}),
            "input[1].arguments",
        ),
        (
            json!({"type": "function_call_output", "output": "x"}),
            "input[1].call_id",
        ),
    ];
    for (item, want) in cases {
        let (message, param) = refused(
            &[],
            json!([{"role": "user", "content": "Hi"}, item.clone()]),
        );
        assert_eq!(param, want, "{item}: {message}");
    }
    let (message, _) = refused(&[], json!([{"type": "web_search_call", "id": "ws_1"}]));
    assert_eq!(
        message,
        "Input items of type 'web_search_call' are not supported by this gateway for models served without the Responses API."
    );
}

#[test]
fn reasoning_items_are_dropped() {
    let got = messages(
        &[],
        json!([
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "x"}]},
            {"role": "user", "content": "Hi"},
        ]),
    );
    assert_eq!(got, json!([{"role": "user", "content": "Hi"}]));
}

#[test]
fn an_unusable_history_item_names_previous_response_id() {
    let history = [json!({"id": "ws_1", "type": "web_search_call", "status": "completed"})];
    let (message, param) = refused(&history, json!("Hi"));
    assert_eq!(param, "previous_response_id");
    assert!(message.contains("'web_search_call'"), "{message}");
}
