use serde_json::json;

use super::*;

#[test]
fn text_and_system_messages() {
    let got = to_bedrock(chat(json!({
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Use French."}]},
            {"role": "user", "content": "Hello"}
        ],
        "stream": true,
        "user": "u1",
        "seed": 3
    })));
    assert_eq!(
        got,
        json!({
            "messages": [{"role": "user", "content": [{"text": "Hello"}]}],
            "system": [{"text": "Be brief."}, {"text": "Use French."}]
        })
    );
}

#[test]
fn consecutive_messages_of_a_role_merge_into_one_turn() {
    let got = to_bedrock(chat(json!({"messages": [
        {"role": "user", "content": "a"},
        {"role": "user", "content": [{"type": "text", "text": "b"}, {"type": "text", "text": ""}]},
        {"role": "assistant", "content": "c"},
        {"role": "assistant", "content": ""},
        {"role": "assistant", "content": [{"type": "text", "text": "d"}]},
        {"role": "user", "content": "e"}
    ]})));
    assert_eq!(
        got["messages"],
        json!([
            {"role": "user", "content": [{"text": "a"}, {"text": "b"}]},
            {"role": "assistant", "content": [{"text": "c"}, {"text": "d"}]},
            {"role": "user", "content": [{"text": "e"}]}
        ])
    );
}

#[test]
fn a_conversation_may_start_with_an_assistant_turn_as_anthropic_passes_it() {
    let got = to_bedrock(chat(json!({"messages": [
        {"role": "assistant", "content": "Hi"},
        {"role": "user", "content": "Hello"}
    ]})));
    assert_eq!(got["messages"][0]["role"], "assistant");
}

#[test]
fn images_go_inline_from_data_urls() {
    let got = to_bedrock(chat(json!({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "data:image/jpg;base64,/9j/4AAQ"}}
    ]}]})));
    assert_eq!(
        got["messages"][0]["content"],
        json!([
            {"text": "What is this?"},
            {"image": {"format": "png", "source": {"bytes": "iVBORw0KGgo="}}},
            {"image": {"format": "jpeg", "source": {"bytes": "/9j/4AAQ"}}}
        ])
    );
}

#[test]
fn http_images_audio_and_odd_image_types_are_refused() {
    let image = |url: &str| {
        chat(json!({"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": url}}
        ]}]}))
    };
    let (status, message) = rejected(image("https://example.com/cat.png"));
    assert_eq!(status, 400);
    assert!(
        message.contains("inline") && message.contains("data:"),
        "{message}"
    );
    let (_, message) = rejected(image("data:image/tiff;base64,AA"));
    assert!(message.contains("tiff"), "{message}");
    let (_, message) = rejected(chat(json!({"messages": [{"role": "user", "content": [
        {"type": "input_audio", "input_audio": {"data": "AA", "format": "wav"}}
    ]}]})));
    assert!(message.contains("audio"), "{message}");
}

fn weather_tool() -> Value {
    json!({"type": "function", "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}
    }})
}

#[test]
fn tools_tool_calls_and_tool_results() {
    let got = to_bedrock(chat(json!({
        "messages": [
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {"role": "assistant", "content": "Checking.", "tool_calls": [
                {"id": "t1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "t2", "type": "function", "function": {"name": "get_weather", "arguments": ""}}
            ]},
            {"role": "tool", "tool_call_id": "t1", "content": "18C"},
            {"role": "tool", "tool_call_id": "t2", "content": [{"type": "text", "text": "21C"}]},
            {"role": "user", "content": "Thanks"}
        ],
        "tools": [weather_tool(), {"type": "function", "function": {"name": "noop"}}]
    })));
    assert_eq!(
        got["messages"],
        json!([
            {"role": "user", "content": [{"text": "Weather in Paris and Rome?"}]},
            {"role": "assistant", "content": [
                {"text": "Checking."},
                {"toolUse": {"toolUseId": "t1", "name": "get_weather", "input": {"city": "Paris"}}},
                {"toolUse": {"toolUseId": "t2", "name": "get_weather", "input": {}}}
            ]},
            {"role": "user", "content": [
                {"toolResult": {"toolUseId": "t1", "content": [{"text": "18C"}]}},
                {"toolResult": {"toolUseId": "t2", "content": [{"text": "21C"}]}},
                {"text": "Thanks"}
            ]}
        ])
    );
    assert_eq!(
        got["toolConfig"],
        json!({"tools": [
            {"toolSpec": {"name": "get_weather", "description": "Weather for a city",
                "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}}}}},
            {"toolSpec": {"name": "noop", "inputSchema": {"json": {"type": "object"}}}}
        ]})
    );
}

#[test]
fn tool_choice_variants() {
    let with = |choice: Value| {
        to_bedrock(chat(
            json!({"tools": [weather_tool()], "tool_choice": choice}),
        ))
    };
    assert_eq!(
        with(json!("auto"))["toolConfig"]["toolChoice"],
        json!({"auto": {}})
    );
    assert_eq!(
        with(json!("required"))["toolConfig"]["toolChoice"],
        json!({"any": {}})
    );
    assert_eq!(
        with(json!({"type": "function", "function": {"name": "get_weather"}}))["toolConfig"]
            ["toolChoice"],
        json!({"tool": {"name": "get_weather"}})
    );
    // none: no toolChoice, and no toolConfig unless the history has tool blocks.
    assert!(with(json!("none")).get("toolConfig").is_none());
    let got = to_bedrock(chat(json!({
        "messages": [
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "tool_calls": [{"id": "t1", "type": "function",
                "function": {"name": "get_weather", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "t1", "content": "18C"}
        ],
        "tools": [weather_tool()],
        "tool_choice": "none"
    })));
    assert!(got["toolConfig"]["tools"].is_array());
    assert!(got["toolConfig"].get("toolChoice").is_none());
    // A choice without tools means nothing.
    assert!(to_bedrock(chat(json!({"tool_choice": "required"})))
        .get("toolConfig")
        .is_none());
    let (status, _) = rejected(chat(
        json!({"tools": [weather_tool()], "tool_choice": "sometimes"}),
    ));
    assert_eq!(status, 400);
}

#[test]
fn response_formats_become_output_config() {
    let schema = json!({"type": "object", "properties": {"a": {"type": "integer"}}});
    let got = to_bedrock(chat(
        json!({"response_format": {"type": "json_schema", "json_schema": {
            "name": "thing", "description": "A thing", "schema": schema, "strict": true
        }}}),
    ));
    let format = &got["outputConfig"]["textFormat"];
    assert_eq!(format["type"], "json_schema");
    let def = &format["structure"]["jsonSchema"];
    assert_eq!(def["name"], "thing");
    assert_eq!(def["description"], "A thing");
    let text = def["schema"].as_str().expect("the schema as JSON text");
    assert_eq!(serde_json::from_str::<Value>(text).unwrap(), schema);

    let got = to_bedrock(chat(json!({"response_format": {"type": "json_object"}})));
    assert_eq!(
        got["outputConfig"],
        json!({"textFormat": {"type": "json_schema",
            "structure": {"jsonSchema": {"schema": "{\"type\":\"object\"}"}}}})
    );
    assert!(
        to_bedrock(chat(json!({"response_format": {"type": "text"}})))
            .get("outputConfig")
            .is_none()
    );
    assert_eq!(
        rejected(chat(json!({"response_format": {"type": "yaml"}}))).0,
        400
    );
}

#[test]
fn inference_config_and_stop() {
    let got = to_bedrock(chat(json!({
        "max_tokens": 100, "temperature": 0.5, "top_p": 0.9, "stop": "END"
    })));
    assert_eq!(
        got["inferenceConfig"],
        json!({"maxTokens": 100, "temperature": 0.5, "topP": 0.9, "stopSequences": ["END"]})
    );
    let got = to_bedrock(chat(json!({
        "max_tokens": 100, "max_completion_tokens": 200, "stop": ["a", "b"]
    })));
    assert_eq!(
        got["inferenceConfig"],
        json!({"maxTokens": 200, "stopSequences": ["a", "b"]})
    );
    assert!(to_bedrock(chat(json!({}))).get("inferenceConfig").is_none());
}

#[test]
fn reasoning_effort_and_top_k_for_anthropic_models_only() {
    let got = to_bedrock(chat(json!({"reasoning_effort": "medium", "top_k": 5})));
    assert_eq!(
        got["additionalModelRequestFields"],
        json!({"thinking": {"type": "enabled", "budget_tokens": 4096}, "top_k": 5})
    );
    assert_eq!(got["inferenceConfig"]["maxTokens"], 4096 + 1024);
    // A max_tokens above the budget is kept; one at or under it is raised.
    let got = to_bedrock(chat(json!({"reasoning_effort": "low", "max_tokens": 3000})));
    assert_eq!(got["inferenceConfig"]["maxTokens"], 3000);
    let got = to_bedrock(chat(
        json!({"reasoning_effort": "high", "max_tokens": 1000}),
    ));
    assert_eq!(
        got["additionalModelRequestFields"]["thinking"]["budget_tokens"],
        16384
    );
    assert_eq!(got["inferenceConfig"]["maxTokens"], 16384 + 1024);
    let got = to_bedrock_for(
        chat(json!({"reasoning_effort": "high", "top_k": 5})),
        "amazon.nova-pro-v1:0",
    );
    assert!(got.get("additionalModelRequestFields").is_none());
    assert!(got.get("inferenceConfig").is_none());
}

#[test]
fn n_above_one_and_bad_shapes_are_refused() {
    let (status, message) = rejected(chat(json!({"n": 2})));
    assert_eq!(status, 400);
    assert!(message.contains("n > 1"), "{message}");
    assert_eq!(rejected(json!([])).0, 400);
    assert_eq!(rejected(json!({"messages": []})).0, 400);
    assert_eq!(rejected(chat(json!({"temperature": "hot"}))).0, 400);
    let bad_args = chat(json!({"messages": [
        {"role": "user", "content": "x"},
        {"role": "assistant", "tool_calls": [{"id": "t", "type": "function",
            "function": {"name": "f", "arguments": "{nope"}}]}
    ]}));
    assert!(rejected(bad_args).1.contains("not valid JSON"));
    assert_eq!(
        rejected(chat(
            json!({"messages": [{"role": "robot", "content": "x"}]})
        ))
        .0,
        400
    );
}

#[test]
fn the_model_is_not_in_the_body() {
    let got = to_bedrock(chat(json!({"model": "anything"})));
    assert!(got.get("model").is_none());
}
