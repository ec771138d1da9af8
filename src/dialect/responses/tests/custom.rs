//! Custom (freeform) tools, as Codex CLI sends `apply_patch`: request
//! mapping, history items, whole answers and streams.

use serde_json::{json, Value};

use super::response::{completion, meta, output};
use super::stream::{chunk, data, encode_for, names, tool_delta, usage_chunk};
use super::*;

const GRAMMAR: &str = "start: begin_patch hunk+ end_patch\nbegin_patch: \"*** Begin Patch\" LF";

/// A request with a function tool `f` and the custom tool `apply_patch`.
fn with_custom_tools() -> Value {
    request(json!({"tools": [
        {"type": "function", "name": "f", "parameters": {"type": "object"}},
        {"type": "custom", "name": "apply_patch", "description": "Edit files.",
         "format": {"type": "grammar", "syntax": "lark", "definition": GRAMMAR}},
    ]}))
}

fn input_parameters() -> Value {
    json!({
        "type": "object",
        "properties": {"input": {"type": "string", "description": "The tool's raw input."}},
        "required": ["input"],
        "additionalProperties": false,
    })
}

#[test]
fn custom_tools_become_functions_of_one_string_with_their_grammar_described() {
    let got = hub(request(json!({
        "tools": [
            {"type": "custom", "name": "apply_patch", "description": "Edit files.",
             "format": {"type": "grammar", "syntax": "lark", "definition": GRAMMAR}},
            {"type": "custom", "name": "note", "format": {"type": "text"}},
            {"type": "custom", "name": "shell", "format": {"type": "grammar", "syntax": "regex",
             "definition": "^ls .*$"}},
        ],
        "tool_choice": {"type": "custom", "name": "apply_patch"},
    })));
    let description = format!("Edit files.\n\nThe input must match this lark grammar:\n{GRAMMAR}");
    assert_eq!(
        got["tools"],
        json!([
            {"type": "function", "function": {"name": "apply_patch", "description": description,
             "parameters": input_parameters()}},
            {"type": "function", "function": {"name": "note", "parameters": input_parameters()}},
            {"type": "function", "function": {"name": "shell",
             "description": "The input must match this regex grammar:\n^ls .*$",
             "parameters": input_parameters()}},
        ])
    );
    assert_eq!(
        got["tool_choice"],
        json!({"type": "function", "function": {"name": "apply_patch"}})
    );
    let req = parse(request(json!({"tools": [{"type": "custom"}]}))).unwrap();
    assert_eq!(bad(req.to_hub(&[])).1, "tools[0].name");
    let req = parse(request(
        json!({"tool_choice": {"type": "custom"}, "tools": [
        {"type": "custom", "name": "x"}]}),
    ))
    .unwrap();
    assert_eq!(bad(req.to_hub(&[])).1, "tool_choice.name");
}

#[test]
fn custom_calls_and_outputs_in_history_become_tool_calls_and_tool_messages() {
    let history = [
        json!({"id": "msg_1", "type": "message", "role": "user",
               "content": [{"type": "input_text", "text": "Fix it"}]}),
        json!({"id": "fc_1", "type": "function_call", "call_id": "call_a", "name": "f",
               "arguments": "{}"}),
        json!({"id": "ctc_1", "type": "custom_tool_call", "call_id": "call_b",
               "name": "apply_patch", "input": "*** Begin Patch\n\"x\"\n*** End Patch"}),
    ];
    let input = json!([
        {"type": "function_call_output", "call_id": "call_a", "output": "ok"},
        {"type": "custom_tool_call_output", "call_id": "call_b", "output": "Done!"},
        {"type": "custom_tool_call_output", "call_id": "call_c",
         "output": [{"type": "input_text", "text": "Also done"}]},
    ]);
    let req = parse(request(json!({"input": input}))).unwrap();
    assert!(is_id(&req.input[1]["id"], "ctco"));
    let got = req.to_hub(&history).unwrap()["messages"].clone();
    let arguments = json!({"input": "*** Begin Patch\n\"x\"\n*** End Patch"}).to_string();
    assert_eq!(
        got,
        json!([
            {"role": "user", "content": "Fix it"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_a", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                {"id": "call_b", "type": "function",
                 "function": {"name": "apply_patch", "arguments": arguments}},
            ]},
            {"role": "tool", "tool_call_id": "call_a", "content": "ok"},
            {"role": "tool", "tool_call_id": "call_b", "content": "Done!"},
            {"role": "tool", "tool_call_id": "call_c", "content": "Also done"},
        ])
    );
    for (item, want) in [
        (
            json!({"type": "custom_tool_call", "call_id": "c", "name": "apply_patch"}),
            "input[0].input",
        ),
        (
            json!({"type": "custom_tool_call", "call_id": "c", "name": "p", "input": 1}),
            "input[0].input",
        ),
        (
            json!({"type": "custom_tool_call_output", "output": "x"}),
            "input[0].call_id",
        ),
    ] {
        let req = parse(request(json!({"input": [item]}))).unwrap();
        assert_eq!(bad(req.to_hub(&[])).1, want);
    }
}

#[test]
fn calls_to_custom_tools_answer_as_custom_tool_call_items() {
    let patch = "*** Begin Patch\n*** Add File: a.txt\n+hi\n*** End Patch";
    let message = json!({"role": "assistant", "content": null, "tool_calls": [
        {"id": "call_p", "type": "function",
         "function": {"name": "apply_patch", "arguments": json!({"input": patch}).to_string()}},
        {"id": "call_f", "type": "function", "function": {"name": "f", "arguments": ""}},
    ]});
    let hub = completion(message, "tool_calls", json!(null));
    let response = response_from_hub(&hub, &meta(with_custom_tools()));
    assert_eq!(
        output(&response),
        json!([
            {"id": "ctc", "type": "custom_tool_call", "call_id": "call_p", "name": "apply_patch",
             "input": patch},
            {"id": "fc", "type": "function_call", "status": "completed", "call_id": "call_f",
             "name": "f", "arguments": "{}"},
        ])
    );
    // Without the custom tool in the request, the same call is a function call.
    let hub = completion(
        json!({"role": "assistant", "tool_calls": [{"id": "c", "type": "function",
               "function": {"name": "apply_patch", "arguments": "{\"input\":\"x\"}"}}]}),
        "tool_calls",
        json!(null),
    );
    let response = response_from_hub(&hub, &meta(request(json!({}))));
    assert_eq!(response["output"][0]["type"], "function_call");
}

#[test]
fn malformed_custom_arguments_are_the_input_as_sent() {
    for (arguments, input) in [
        (json!("*** Begin Patch"), "*** Begin Patch"),
        (json!("{\"patch\":\"x\"}"), "{\"patch\":\"x\"}"),
        (json!("{\"input\":3}"), "{\"input\":3}"),
        (json!("[\"x\"]"), "[\"x\"]"),
        (json!(""), ""),
        (json!({"input": "as an object"}), "as an object"),
    ] {
        let hub = completion(
            json!({"role": "assistant", "tool_calls": [{"id": "c", "type": "function",
                   "function": {"name": "apply_patch", "arguments": arguments}}]}),
            "tool_calls",
            json!(null),
        );
        let response = response_from_hub(&hub, &meta(with_custom_tools()));
        assert_eq!(response["output"][0]["input"], input, "{arguments}");
    }
}

#[test]
fn a_streamed_custom_call_writes_its_decoded_input_once_at_its_end() {
    let (events, response) = encode_for(
        with_custom_tools(),
        &[
            tool_delta(0, Some("call_p"), Some("apply_patch"), ""),
            tool_delta(0, None, None, r#"{"input":"*** Begin"#),
            tool_delta(0, None, None, r#" Patch\"#),
            tool_delta(0, None, None, r#"n*** End Patch"}"#),
            tool_delta(1, Some("call_f"), Some("f"), "{}"),
            chunk(json!({}), Some("tool_calls")),
            usage_chunk(10, 20),
        ],
    );
    assert_eq!(
        names(&events),
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.custom_tool_call_input.delta",
            "response.custom_tool_call_input.done",
            "response.output_item.done",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    let input = "*** Begin Patch\n*** End Patch";
    let id = &response["output"][0]["id"];
    let added = data(&events, "response.output_item.added");
    assert_eq!(
        added[0]["item"],
        json!({"id": id, "type": "custom_tool_call", "call_id": "call_p",
               "name": "apply_patch", "input": ""})
    );
    let delta = data(&events, "response.custom_tool_call_input.delta");
    assert_eq!(
        *delta[0],
        json!({"type": "response.custom_tool_call_input.delta", "sequence_number": 5,
               "item_id": id, "output_index": 0, "delta": input})
    );
    let done = data(&events, "response.custom_tool_call_input.done");
    assert_eq!(
        *done[0],
        json!({"type": "response.custom_tool_call_input.done", "sequence_number": 6,
               "item_id": id, "output_index": 0, "input": input})
    );
    assert_eq!(
        data(&events, "response.output_item.done")[0]["item"]["input"],
        input
    );
    assert_eq!(
        output(&response),
        json!([
            {"id": "ctc", "type": "custom_tool_call", "call_id": "call_p",
             "name": "apply_patch", "input": input},
            {"id": "fc", "type": "function_call", "status": "completed", "call_id": "call_f",
             "name": "f", "arguments": "{}"},
        ])
    );
}

#[test]
fn a_streamed_custom_call_with_malformed_arguments_keeps_their_text() {
    let (events, response) = encode_for(
        with_custom_tools(),
        &[
            chunk(json!({"content": "Patching."}), None),
            tool_delta(0, Some("call_p"), Some("apply_patch"), "*** Begin"),
            tool_delta(0, None, None, " Patch"),
            chunk(json!({}), Some("tool_calls")),
        ],
    );
    let done = data(&events, "response.custom_tool_call_input.done");
    assert_eq!(done[0]["input"], "*** Begin Patch");
    assert_eq!(response["output"][1]["input"], "*** Begin Patch");
    // A custom call without input writes no delta, only its `.done`.
    let (events, response) = encode_for(
        with_custom_tools(),
        &[
            tool_delta(0, Some("call_p"), Some("apply_patch"), ""),
            chunk(json!({}), Some("length")),
        ],
    );
    assert!(data(&events, "response.custom_tool_call_input.delta").is_empty());
    assert_eq!(
        data(&events, "response.custom_tool_call_input.done")[0]["input"],
        ""
    );
    assert_eq!(response["status"], "incomplete");
    assert!(response["output"][0].get("status").is_none());
}
