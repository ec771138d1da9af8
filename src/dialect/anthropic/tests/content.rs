//! Requests, Anthropic → hub: system prompts, messages and content blocks.

use serde_json::{json, Value};

use super::*;

// ───────────────────────────── messages ─────────────────────────────

#[test]
fn system_string_and_blocks_become_a_leading_system_message() {
    let got = hub(json!({"system": "Be brief."}));
    assert_eq!(
        got["messages"][0],
        json!({"role": "system", "content": "Be brief."})
    );
    assert_eq!(got["messages"][1]["role"], "user");

    let got = hub(json!({"system": [
        {"type": "text", "text": "You are a pirate."},
        {"type": "text", "text": "Answer in rhymes.", "cache_control": {"type": "ephemeral", "ttl": "1h"}},
    ]}));
    assert_eq!(
        got["messages"][0],
        json!({"role": "system", "content": [
            {"type": "text", "text": "You are a pirate."},
            {"type": "text", "text": "Answer in rhymes.", "cache_control": {"type": "ephemeral", "ttl": "1h"}},
        ]})
    );
    for empty in [json!(""), json!([])] {
        assert_eq!(
            hub(json!({ "system": empty }))["messages"][0]["role"],
            "user"
        );
    }
    let (_, param) = rejected(request(
        json!({"system": [{"type": "image", "source": {}}]}),
    ));
    assert_eq!(param.as_deref(), Some("system.0.type"));
}

#[test]
fn images_become_image_url_parts() {
    let got = hub_messages(json!([{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQ"}},
        {"type": "image", "source": {"type": "url", "url": "https://upload.wikimedia.org/cat.jpg"}},
        {"type": "text", "text": "Compare these."},
    ]}]));
    assert_eq!(
        got,
        json!([{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}},
            {"type": "image_url", "image_url": {"url": "https://upload.wikimedia.org/cat.jpg"}},
            {"type": "text", "text": "Compare these."},
        ]}])
    );
}

#[test]
fn documents_become_file_or_text_parts() {
    let got = hub_messages(json!([{"role": "user", "content": [
        {"type": "document", "title": "q3.pdf", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"}},
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0y"},
         "cache_control": {"type": "ephemeral"}},
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "Plain notes."}},
    ]}]));
    assert_eq!(
        got[0]["content"],
        json!([
            {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0x", "filename": "q3.pdf"}},
            {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0y", "filename": "document.pdf"},
             "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "Plain notes."},
        ])
    );
}

#[test]
fn assistant_tool_use_becomes_tool_calls_and_text_is_concatenated() {
    let got = hub_messages(json!([
        {"role": "user", "content": "Weather in SF and NYC?"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "Two lookups.", "signature": "sig"},
            {"type": "redacted_thinking", "data": "EmwKAhgB"},
            {"type": "text", "text": "Checking "},
            {"type": "text", "text": "both."},
            {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"location": "San Francisco, CA"}},
            {"type": "tool_use", "id": "toolu_02", "name": "get_time", "input": {}},
        ]},
    ]));
    assert_eq!(
        got[1],
        json!({"role": "assistant", "content": "Checking both.", "tool_calls": [
            {"id": "toolu_01", "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"location\":\"San Francisco, CA\"}"}},
            {"id": "toolu_02", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
        ]})
    );
}

#[test]
fn assistant_with_only_tool_use_has_null_content_and_plain_text_stays_a_string() {
    let got = hub_messages(json!([
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "ping"}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1"}]},
        {"role": "assistant", "content": "Done."},
    ]));
    assert_eq!(got[1]["content"], Value::Null);
    assert_eq!(got[1]["tool_calls"][0]["function"]["arguments"], "{}");
    assert_eq!(
        got[2],
        json!({"role": "tool", "tool_call_id": "toolu_1", "content": ""})
    );
    assert_eq!(got[3], json!({"role": "assistant", "content": "Done."}));
}

#[test]
fn tool_results_become_tool_messages_placed_before_the_users_text() {
    let got = hub_messages(json!([
        {"role": "user", "content": "Weather in SF and NYC?"},
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"location": "SF"}},
            {"type": "tool_use", "id": "toolu_02", "name": "get_weather", "input": {"location": "NYC"}},
        ]},
        {"role": "user", "content": [
            {"type": "text", "text": "Here you go:"},
            {"type": "tool_result", "tool_use_id": "toolu_01", "content": "18°C, sunny"},
            {"type": "tool_result", "tool_use_id": "toolu_02", "content": [
                {"type": "text", "text": "Temperature: 25°C"},
                {"type": "text", "text": "Humidity: 80%"},
            ]},
            {"type": "text", "text": "Which is warmer?"},
        ]},
    ]));
    assert_eq!(got.as_array().unwrap().len(), 5);
    assert_eq!(
        got[2],
        json!({"role": "tool", "tool_call_id": "toolu_01", "content": "18°C, sunny"})
    );
    assert_eq!(
        got[3],
        json!({"role": "tool", "tool_call_id": "toolu_02", "content": "Temperature: 25°C\n\nHumidity: 80%"})
    );
    assert_eq!(
        got[4],
        json!({"role": "user", "content": [
            {"type": "text", "text": "Here you go:"},
            {"type": "text", "text": "Which is warmer?"},
        ]})
    );
}

#[test]
fn tool_result_errors_cache_marks_and_images_are_kept() {
    let got = hub_messages(json!([{"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_a", "is_error": true, "content": "ENOENT: no such file"},
        {"type": "tool_result", "tool_use_id": "toolu_b", "is_error": true},
        {"type": "tool_result", "tool_use_id": "toolu_c", "content": [
            {"type": "text", "text": "Screenshot taken."},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0K"}},
        ], "cache_control": {"type": "ephemeral"}},
    ]}]));
    assert_eq!(got[0]["content"], "Error: ENOENT: no such file");
    assert_eq!(got[1]["content"], "Error");
    assert_eq!(
        got[2]["content"],
        json!([{"type": "text", "text": "Screenshot taken.", "cache_control": {"type": "ephemeral"}}])
    );
    // The image cannot live in a tool message: it follows in a user message.
    assert_eq!(
        got[3],
        json!({"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0K"}},
        ]})
    );
    assert_eq!(got.as_array().unwrap().len(), 4);
}

#[test]
fn user_text_blocks_keep_their_cache_control() {
    let got = hub_messages(json!([
        {"role": "user", "content": [
            {"type": "text", "text": "<system-reminder>ctx</system-reminder>"},
            {"type": "text", "text": "Fix the bug.", "cache_control": {"type": "ephemeral"}},
        ]},
    ]));
    assert_eq!(
        got[0]["content"][1]["cache_control"],
        json!({"type": "ephemeral"})
    );
    assert!(got[0]["content"][0].get("cache_control").is_none());
}

#[test]
fn strip_extensions_flattens_text_parts_and_drops_cache_control() {
    let mut got = request_to_hub(request(json!({
        "system": [{"type": "text", "text": "A"}, {"type": "text", "text": "B", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "look", "cache_control": {"type": "ephemeral"}},
                {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}, "cache_control": {"type": "ephemeral"}},
            ]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok",
                                          "cache_control": {"type": "ephemeral"}}]},
        ],
    })))
    .unwrap();
    strip_extensions(&mut got);
    let messages = &got["messages"];
    assert_eq!(messages[0]["content"], "A\n\nB");
    assert_eq!(
        messages[1]["content"],
        json!([
            {"type": "text", "text": "look"},
            {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
        ])
    );
    assert_eq!(messages[3]["content"], "ok");
}
