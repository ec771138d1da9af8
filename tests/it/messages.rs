//! The Anthropic-format endpoint, `/v1/messages`: Anthropic clients reach
//! any provider through the OpenAI hub, streams included.

use std::process::Command;

use serde_json::{json, Value};

use crate::common::*;

async fn gateway(adapter: &str) -> (MockServer, Gateway) {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let yaml = format!(
        "providers:\n{}routes:\n  - match: {{ model: claude-via-gateway }}\n    targets: [{{ provider: p, model: upstream-model }}]\n",
        provider("p", adapter, &mock, None)
    );
    (mock, Gateway::start(&yaml).await)
}

fn messages_request(stream: bool) -> Value {
    json!({
        "model": "claude-via-gateway",
        "max_tokens": 256,
        "stream": stream,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "Hello"}]
    })
}

#[tokio::test]
async fn non_stream_messages_come_back_in_anthropic_format() {
    let (mock, gw) = gateway("openai").await;
    let r = gw
        .client
        .post(gw.url("/v1/messages"))
        .header("x-api-key", "client-key")
        .header("anthropic-version", "2023-06-01")
        .json(&messages_request(false))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["type"], "message");
    assert_eq!(body["role"], "assistant");
    assert_eq!(body["model"], "claude-via-gateway");
    assert_eq!(body["content"][0]["type"], "text");
    assert_eq!(body["content"][0]["text"], mock_text(5));
    assert_eq!(body["stop_reason"], "end_turn");
    assert_eq!(body["usage"]["output_tokens"], 5);
    let sent = mock.last_request().unwrap().json().unwrap();
    assert_eq!(sent["model"], "upstream-model");
    assert_eq!(
        sent["messages"][0],
        json!({"role": "system", "content": "Be brief."})
    );
}

#[tokio::test]
async fn streamed_messages_are_anthropic_events() {
    let (_mock, gw) = gateway("openai").await;
    let r = gw.post("/v1/messages", &messages_request(true)).await;
    assert_eq!(r.status(), 200);
    let events = read_sse(r).await;
    let names: Vec<&str> = events.iter().map(|e| e.event.event.as_str()).collect();
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(names.last(), Some(&"message_stop"));
    assert!(names.contains(&"content_block_start") && names.contains(&"content_block_stop"));
    let text: String = events
        .iter()
        .filter_map(|e| e.json())
        .filter_map(|v| {
            v.pointer("/delta/text")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .collect();
    assert_eq!(text, mock_text(5));
    let delta = events
        .iter()
        .filter_map(|e| e.json())
        .find(|v| v["type"] == "message_delta")
        .unwrap();
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    assert_eq!(delta["usage"]["output_tokens"], 5);
}

#[tokio::test]
async fn errors_use_anthropic_shape() {
    let (_mock, gw) = gateway("openai").await;
    let mut req = messages_request(false);
    req.as_object_mut().unwrap().remove("max_tokens");
    let r = gw.post("/v1/messages", &req).await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    let mut req = messages_request(false);
    req["model"] = json!("nope");
    let r = gw.post("/v1/messages", &req).await;
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["type"], "not_found_error");
}

#[tokio::test]
async fn count_tokens_estimates() {
    let (_mock, gw) = gateway("openai").await;
    let r = gw
        .post("/v1/messages/count_tokens", &messages_request(false))
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert!(body["input_tokens"].as_u64().unwrap() >= 1);
}

const PY: &str = r#"
import sys, anthropic
client = anthropic.Anthropic(base_url=sys.argv[1], api_key="client-key", max_retries=0)
tools = [{"name": "get_weather", "description": "Weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]
with client.messages.stream(model="claude-via-gateway", max_tokens=256, system="be brief",
                            messages=[{"role": "user", "content": "hi"}]) as stream:
    text = "".join(stream.text_stream)
    final = stream.get_final_message()
with client.messages.stream(model="claude-via-gateway", max_tokens=256, tools=tools,
                            messages=[{"role": "user", "content": "weather in Paris?"}]) as stream:
    tool_msg = stream.get_final_message()
tool = [b for b in tool_msg.content if b.type == "tool_use"][0]
follow = client.messages.create(model="claude-via-gateway", max_tokens=256, tools=tools, messages=[
    {"role": "user", "content": "weather in Paris?"},
    {"role": "assistant", "content": tool_msg.content},
    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool.id, "content": "18C"}]}])
print("TEXT=" + text)
print("STOP=" + final.stop_reason)
print("OUT=" + str(final.usage.output_tokens))
print("TOOL=" + tool.name + ":" + str(tool.input) + ":" + tool_msg.stop_reason)
print("FOLLOW=" + follow.content[0].text)
"#;

/// The official `anthropic` Python SDK, unchanged, streams text and tool
/// calls through `/v1/messages` from an OpenAI-format provider.
#[tokio::test]
async fn anthropic_sdk_streams_from_an_openai_format_provider() {
    let (_mock, gw) = gateway("openai").await;
    let base = gw.url("");
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3").args(["-c", PY, &base]).output()
    })
    .await
    .unwrap()
    .expect("python3 with the anthropic SDK (.ci/setup installs it)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("TEXT={}\n", mock_text(5))),
        "{stdout}"
    );
    assert!(stdout.contains("STOP=end_turn\n"), "{stdout}");
    assert!(stdout.contains("OUT=5\n"), "{stdout}");
    assert!(
        stdout.contains("TOOL=get_weather:{'city': 'Paris', 'unit': 'c'}:tool_use\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("FOLLOW={}\n", mock_text(5))),
        "{stdout}"
    );
}

/// Anthropic client → hub → Anthropic-format provider and back: both
/// translations in one request, streamed and not.
#[tokio::test]
async fn messages_reach_every_adapter() {
    for adapter in ["openai", "anthropic"] {
        let (_mock, gw) = gateway(adapter).await;
        let body: Value = gw
            .post("/v1/messages", &messages_request(false))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            body["content"][0]["text"],
            mock_text(5),
            "{adapter}: {body}"
        );
        let events = read_sse(gw.post("/v1/messages", &messages_request(true)).await).await;
        let text: String = events
            .iter()
            .filter_map(|e| e.json())
            .filter_map(|v| {
                v.pointer("/delta/text")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .collect();
        assert_eq!(text, mock_text(5), "{adapter}");
        assert_eq!(
            events.last().unwrap().event.event,
            "message_stop",
            "{adapter}"
        );
    }
}

/// A provider failing mid-stream reaches an Anthropic client as an `error`
/// event, not as a clean `message_stop`.
#[tokio::test]
async fn mid_stream_failure_is_an_error_event() {
    let mock = MockServer::start(MockConfig {
        fault: Some(Fault::DropMidStream { after: 2 }),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let yaml = format!(
        "providers:\n{}routes:\n  - match: {{ model: claude-via-gateway }}\n    targets: [{{ provider: p }}]\n",
        provider("p", "openai", &mock, None)
    );
    let gw = Gateway::start(&yaml).await;
    let events = read_sse(gw.post("/v1/messages", &messages_request(true)).await).await;
    let last = events.last().unwrap();
    assert_eq!(last.event.event, "error", "{events:?}");
    assert!(events.iter().all(|e| e.event.event != "message_stop"));
}
