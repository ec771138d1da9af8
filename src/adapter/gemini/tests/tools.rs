//! Tools: assistant tool calls and tool results in the conversation, tool
//! declarations and their schemas, tool_choice.

use serde_json::json;

use super::*;

/// Tool results are named after their calls, grouped into one user content
/// in call order, JSON objects kept as objects; ids minted by the gateway
/// never go upstream, Gemini's own ids and thought signatures come back.
#[test]
fn tool_calls_and_results_round_trip() {
    let body = chat(json!({"messages": [
        {"role": "user", "content": "Weather in Paris and the time?"},
        {"role": "assistant", "content": "Let me check.", "tool_calls": [
            {"id": "call_0123456789abcdef01234567.ts.c2lnLTE=", "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\",\"unit\":\"c\"}"}},
            {"id": "fc-77", "type": "function", "function": {"name": "get_time", "arguments": ""}}
        ]},
        {"role": "tool", "tool_call_id": "fc-77", "content": "{\"time\": \"14:05\", \"tz\": \"CET\"}"},
        {"role": "tool", "tool_call_id": "call_0123456789abcdef01234567.ts.c2lnLTE=",
         "content": [{"type": "text", "text": "18°C, "}, {"type": "text", "text": "cloudy"}]},
        {"role": "user", "content": "Thanks! And tomorrow?"},
        {"role": "assistant", "content": null, "tool_calls": [
            {"id": "toolu_9", "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\",\"day\":1}"}}
        ]},
        {"role": "tool", "tool_call_id": "toolu_9", "content": "[20, 21]"}
    ]}));
    assert_eq!(
        to_gemini(body)["contents"],
        json!([
            {"role": "user", "parts": [{"text": "Weather in Paris and the time?"}]},
            {"role": "model", "parts": [
                {"text": "Let me check."},
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris", "unit": "c"}},
                 "thoughtSignature": "c2lnLTE="},
                {"functionCall": {"id": "fc-77", "name": "get_time", "args": {}}}
            ]},
            {"role": "user", "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"output": "18°C, cloudy"}}},
                {"functionResponse": {"id": "fc-77", "name": "get_time",
                                      "response": {"time": "14:05", "tz": "CET"}}},
                {"text": "Thanks! And tomorrow?"}
            ]},
            {"role": "model", "parts": [
                {"functionCall": {"id": "toolu_9", "name": "get_weather", "args": {"city": "Paris", "day": 1}}}
            ]},
            {"role": "user", "parts": [
                {"functionResponse": {"id": "toolu_9", "name": "get_weather", "response": {"output": "[20, 21]"}}}
            ]}
        ])
    );
}

#[test]
fn odd_but_valid_tool_calls_and_results() {
    let out = to_gemini(chat(json!({"messages": [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [{"type": "refusal", "refusal": "No."}, {"type": "text", "text": "ok"}],
         "tool_calls": [
            {"id": "fc-77", "type": "function", "function": {"name": "get_time", "arguments": {"tz": "CET"}}},
            {"id": "b.ts.", "function": {"name": "lookup", "arguments": " "}}]},
        {"role": "tool", "tool_call_id": "b.ts.", "content": " {\"n\": 1} "},
        {"role": "tool", "tool_call_id": "fc-77", "content": null},
        {"role": "tool", "tool_call_id": "call_x", "name": "orphan", "content": 42}
    ]})));
    assert_eq!(
        out["contents"],
        json!([
            {"role": "user", "parts": [{"text": "go"}]},
            {"role": "model", "parts": [
                {"text": "No."}, {"text": "ok"},
                {"functionCall": {"id": "fc-77", "name": "get_time", "args": {"tz": "CET"}}},
                {"functionCall": {"id": "b", "name": "lookup", "args": {}}}
            ]},
            {"role": "user", "parts": [
                {"functionResponse": {"id": "fc-77", "name": "get_time", "response": {"output": ""}}},
                {"functionResponse": {"id": "b", "name": "lookup", "response": {"n": 1}}},
                {"functionResponse": {"name": "orphan", "response": {"output": "42"}}}
            ]}
        ])
    );
}

#[test]
fn bad_tool_calls_and_orphan_results_are_refused() {
    for args in ["{\"city\": \"Par", "[1, 2]", "not json", "42"] {
        let (status, message) = rejected(chat(json!({"messages": [
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": args}}
            ]}
        ]})));
        assert_eq!(status, 400, "{args}");
        assert!(message.contains("get_weather"), "{message}");
    }
    let (status, message) = rejected(chat(json!({"messages": [
        {"role": "user", "content": "go"},
        {"role": "tool", "tool_call_id": "call_unknown", "content": "x"}
    ]})));
    assert_eq!(status, 400);
    assert!(message.contains("call_unknown"), "{message}");
    // A legacy `name` on the tool message is enough.
    let out = to_gemini(chat(json!({"messages": [
        {"role": "user", "content": "go"},
        {"role": "tool", "tool_call_id": "call_unknown", "name": "lookup", "content": "x"}
    ]})));
    assert_eq!(
        out["contents"][0]["parts"],
        json!([{"functionResponse": {"name": "lookup", "response": {"output": "x"}}}, {"text": "go"}])
    );
}

#[test]
fn tools_become_function_declarations_with_gemini_schemas() {
    let out = to_gemini(chat(json!({
        "tools": [
            {"type": "function", "function": {
                "name": "get_weather",
                "description": "Current weather",
                "strict": true,
                "parameters": {
                    "$schema": "http://json-schema.org/draft-07/schema#",
                    "type": "object",
                    "additionalProperties": false,
                    "properties": {
                        "city": {"type": "string", "description": "City", "format": "hostname", "default": "Paris"},
                        "unit": {"type": ["string", "null"], "enum": ["c", "f"]},
                        "when": {"type": "string", "format": "date-time"},
                        "tags": {"type": "array", "items": {"type": "string", "const": "x"}, "maxItems": 3},
                        "where": {"oneOf": [{"type": "string"}, {"type": "object", "properties": {"lat": {"type": "number"}}, "additionalProperties": false}]}
                    },
                    "required": ["city"]
                }
            }},
            {"type": "function", "function": {"name": "get_time"}},
            {"type": "function", "function": {"name": "ping", "parameters": {"type": "object", "properties": {}}}}
        ]
    })));
    assert_eq!(
        out["tools"],
        json!([{"functionDeclarations": [
            {"name": "get_weather", "description": "Current weather", "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "City"},
                    "unit": {"type": "string", "nullable": true, "enum": ["c", "f"]},
                    "when": {"type": "string", "format": "date-time"},
                    "tags": {"type": "array", "items": {"type": "string", "enum": ["x"]}, "maxItems": 3},
                    "where": {"anyOf": [{"type": "string"}, {"type": "object", "properties": {"lat": {"type": "number"}}}]}
                },
                "required": ["city"]
            }},
            {"name": "get_time"},
            {"name": "ping"}
        ]}])
    );
    assert!(out.get("toolConfig").is_none());
}

#[test]
fn schema_keywords_keep_the_scripts_precedence() {
    let parameters = json!({"type": ["object", "null"], "title": "T", "nullable": false,
    "properties": {
        "a": {"enum": ["x"], "const": "y"},
        "b": {"anyOf": [{"type": "integer"}], "oneOf": [{"type": "string"}]},
        "c": {"type": ["null"], "items": true, "properties": null},
        "d": {"type": "integer", "minimum": 0, "maximum": 9, "example": 3, "propertyOrdering": ["q"]}
    }});
    let out = to_gemini(chat(json!({"tools": [{"type": "function",
        "function": {"name": "f", "parameters": parameters}}]})));
    assert_eq!(
        out["tools"][0]["functionDeclarations"][0]["parameters"],
        json!({"type": "object", "title": "T", "nullable": true, "properties": {
            "a": {"enum": ["x"]},
            "b": {"anyOf": [{"type": "string"}]},
            "c": {"nullable": true, "items": true, "properties": {}},
            "d": {"type": "integer", "minimum": 0, "maximum": 9, "example": 3, "propertyOrdering": ["q"]}
        }})
    );
}

#[test]
fn schemas_with_refs_or_the_json_schema_option_go_as_parameters_json_schema() {
    let schema = json!({"type": "object", "$defs": {"c": {"type": "string"}},
                        "properties": {"city": {"$ref": "#/$defs/c"}}, "additionalProperties": false});
    let tools = json!([{"type": "function", "function": {"name": "f", "parameters": schema}}]);
    let out = to_gemini(chat(json!({"tools": tools})));
    assert_eq!(
        out["tools"][0]["functionDeclarations"][0],
        json!({"name": "f", "parametersJsonSchema": schema})
    );

    let plain = json!({"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": false});
    let tools = json!([{"type": "function", "function": {"name": "g", "parameters": plain}}]);
    let out = to_gemini_with(
        chat(json!({"tools": tools})),
        &with_options(json!({"tool_schema": "json_schema"})),
    );
    assert_eq!(
        out["tools"][0]["functionDeclarations"][0],
        json!({"name": "g", "parametersJsonSchema": plain})
    );
}

#[test]
fn tool_choice_is_mapped() {
    let tools = json!([
        {"type": "function", "function": {"name": "get_weather"}},
        {"type": "function", "function": {"name": "get_time"}}
    ]);
    let cases = [
        (json!("auto"), json!({"mode": "AUTO"})),
        (json!("none"), json!({"mode": "NONE"})),
        (json!("required"), json!({"mode": "ANY"})),
        (
            json!({"type": "function", "function": {"name": "get_time"}}),
            json!({"mode": "ANY", "allowedFunctionNames": ["get_time"]}),
        ),
    ];
    for (choice, expected) in cases {
        let out = to_gemini(chat(json!({"tools": tools, "tool_choice": choice})));
        assert_eq!(
            out["toolConfig"],
            json!({"functionCallingConfig": expected}),
            "{choice}"
        );
    }
    // allowed_tools narrows the declarations and keeps its mode.
    let out = to_gemini(chat(
        json!({"tools": tools, "tool_choice": {"type": "allowed_tools",
        "allowed_tools": {"mode": "required", "tools": [{"type": "function", "function": {"name": "get_time"}}]}}}),
    ));
    assert_eq!(
        out["tools"],
        json!([{"functionDeclarations": [{"name": "get_time"}]}])
    );
    assert_eq!(
        out["toolConfig"],
        json!({"functionCallingConfig": {"mode": "ANY"}})
    );
    // A bare `{name}` names a tool too; the mode defaults to auto.
    let out = to_gemini(chat(
        json!({"tools": tools, "tool_choice": {"type": "allowed_tools",
        "allowed_tools": {"tools": [{"name": "get_weather"}]}}}),
    ));
    assert_eq!(
        out["tools"],
        json!([{"functionDeclarations": [{"name": "get_weather"}]}])
    );
    assert_eq!(
        out["toolConfig"],
        json!({"functionCallingConfig": {"mode": "AUTO"}})
    );
    // Without tools, tool_choice means nothing.
    let out = to_gemini(chat(json!({"tool_choice": "required"})));
    assert!(out.get("toolConfig").is_none() && out.get("tools").is_none());
    let out = to_gemini(chat(json!({"tools": [], "tool_choice": "sometimes"})));
    assert!(out.get("toolConfig").is_none() && out.get("tools").is_none());
    // Custom tools and unknown choices are refused.
    let (status, _) = rejected(chat(
        json!({"tools": [{"type": "custom", "custom": {"name": "x"}}]}),
    ));
    assert_eq!(status, 400);
    let (status, _) = rejected(chat(json!({"tools": tools, "tool_choice": "sometimes"})));
    assert_eq!(status, 400);
}
