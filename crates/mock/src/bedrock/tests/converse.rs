//! Converse replies and validation over HTTP (no signing configured).

use serde_json::{json, Value};

use super::*;
use crate::tests::util::start;
use crate::{Fault, MockConfig};

fn tools(mut body: Value) -> Value {
    body["toolConfig"] = json!({"tools": [
        {"toolSpec": {"name": "get_weather", "description": "Weather",
            "inputSchema": {"json": {"type": "object", "properties": {}}}}},
        {"toolSpec": {"name": "other", "inputSchema": {"json": {"type": "object"}}}},
    ]});
    body
}

async fn post(mock: &MockServer, body: &Value) -> reqwest::Response {
    Outgoing::converse(mock, body).send(mock).await
}

#[tokio::test]
async fn converse_answers_the_converse_response_shape() {
    let mock = start(MockConfig::default()).await;
    let res = post(&mock, &converse_body()).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["output"],
        json!({"message": {"role": "assistant", "content": [{"text": "tok0 tok1 tok2 tok3 tok4 "}]}})
    );
    assert_eq!(body["stopReason"], "end_turn");
    assert_eq!(
        body["usage"],
        json!({"inputTokens": 6, "outputTokens": 5, "totalTokens": 11})
    );
    assert!(body["metrics"]["latencyMs"].is_u64());
}

#[tokio::test]
async fn offered_tools_get_a_tool_call_of_the_first() {
    let mock = start(MockConfig::default()).await;
    let body: Value = post(&mock, &tools(converse_body()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["stopReason"], "tool_use");
    let content = &body["output"]["message"]["content"];
    assert_eq!(content[0], json!({"text": "Let me check."}));
    assert_eq!(content[1]["toolUse"]["name"], "get_weather");
    assert_eq!(
        content[1]["toolUse"]["input"],
        json!({"city": "Paris", "unit": "c"})
    );
}

#[tokio::test]
async fn a_tool_result_gets_text() {
    let mock = start(MockConfig::default()).await;
    let mut body = tools(converse_body());
    body["messages"] = json!([
        {"role": "user", "content": [{"text": "Weather?"}]},
        {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1", "name": "get_weather", "input": {}}}]},
        {"role": "user", "content": [{"toolResult": {"toolUseId": "t1", "content": [{"json": {"t": 20}}], "status": "success"}}]},
    ]);
    let body: Value = post(&mock, &body).await.json().await.unwrap();
    assert_eq!(body["stopReason"], "end_turn");
}

#[tokio::test]
async fn output_config_gets_a_json_document_of_the_schema() {
    let mock = start(MockConfig::default()).await;
    let mut body = converse_body();
    let schema = json!({"type": "object", "properties": {
        "city": {"type": "string"}, "days": {"type": "integer"},
        "unit": {"type": "string", "enum": ["c", "f"]}}});
    body["outputConfig"] = json!({"textFormat": {"type": "json_schema",
        "structure": {"jsonSchema": {"schema": schema.to_string(), "name": "weather"}}}});
    let body: Value = post(&mock, &body).await.json().await.unwrap();
    let text = body["output"]["message"]["content"][0]["text"]
        .as_str()
        .unwrap();
    let doc: Value = serde_json::from_str(text).unwrap();
    assert_eq!(doc, json!({"city": "tok0", "days": 1, "unit": "c"}));
}

/// A change that makes a valid body invalid.
type Edit = Box<dyn Fn(&mut Value)>;

#[tokio::test]
async fn invalid_bodies_get_validation_exceptions() {
    let mock = start(MockConfig::default()).await;
    let edits: Vec<(&str, Edit)> = vec![
        ("extraneous key [foo]", Box::new(|b| b["foo"] = json!(1))),
        ("'messages' failed", Box::new(|b| b["messages"] = json!([]))),
        (
            "must start with a user message",
            Box::new(|b| b["messages"][0]["role"] = json!("assistant")),
        ),
        (
            "alternate between user and assistant",
            Box::new(|b| {
                let m = b["messages"][0].clone();
                b["messages"] = json!([m.clone(), m]);
            }),
        ),
        (
            "enum value set: [user, assistant]",
            Box::new(|b| b["messages"][0]["role"] = json!("system")),
        ),
        (
            "unknown content block type [image_url]",
            Box::new(|b| b["messages"][0]["content"] = json!([{"image_url": "x"}])),
        ),
        (
            "format",
            Box::new(|b| {
                b["messages"][0]["content"] =
                    json!([{"image": {"format": "bmp", "source": {"bytes": "AAAA"}}}])
            }),
        ),
        (
            "toolConfig field must be defined",
            Box::new(|b| {
                b["messages"] = json!([
                    {"role": "user", "content": [{"text": "x"}]},
                    {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t", "name": "n", "input": {}}}]},
                    {"role": "user", "content": [{"toolResult": {"toolUseId": "t", "content": [{"text": "r"}]}}]},
                ])
            }),
        ),
        (
            "inferenceConfig.temperature",
            Box::new(|b| b["inferenceConfig"]["temperature"] = json!(3)),
        ),
        (
            "extraneous key [inferenceConfig.max_tokens]",
            Box::new(|b| b["inferenceConfig"]["max_tokens"] = json!(3)),
        ),
        (
            "inputSchema.json",
            Box::new(|b| b["toolConfig"] = json!({"tools": [{"toolSpec": {"name": "n"}}]})),
        ),
        (
            "not among the tools",
            Box::new(|b| {
                *b = tools(b.clone());
                b["toolConfig"]["toolChoice"] = json!({"tool": {"name": "nope"}});
            }),
        ),
        (
            "not valid JSON",
            Box::new(|b| {
                b["outputConfig"] = json!({"textFormat": {"type": "json_schema",
            "structure": {"jsonSchema": {"schema": "{nope"}}}})
            }),
        ),
        (
            "additionalModelRequestFields",
            Box::new(|b| b["additionalModelRequestFields"] = json!(3)),
        ),
    ];
    for (expected, edit) in edits {
        let mut body = converse_body();
        edit(&mut body);
        let (status, kind, message) = error_of(post(&mock, &body).await).await;
        assert_eq!(
            (status, kind.as_str()),
            (400, "ValidationException"),
            "{expected}: {message}"
        );
        assert!(message.contains(expected), "{expected}: {message}");
    }
}

#[tokio::test]
async fn faults_use_bedrock_s_error_shapes() {
    let cases = [
        (
            Fault::Status {
                code: 429,
                retry_after: None,
            },
            429,
            "ThrottlingException",
        ),
        (
            Fault::Status {
                code: 500,
                retry_after: None,
            },
            500,
            "InternalServerException",
        ),
        (
            Fault::Status {
                code: 503,
                retry_after: None,
            },
            503,
            "ServiceUnavailableException",
        ),
        (
            Fault::Status {
                code: 403,
                retry_after: None,
            },
            403,
            "AccessDeniedException",
        ),
        (Fault::ContextOverflow, 400, "ValidationException"),
    ];
    for (fault, status, kind) in cases {
        let mock = start(MockConfig {
            fault: Some(fault.clone()),
            ..MockConfig::default()
        })
        .await;
        let (got_status, got_kind, message) = error_of(post(&mock, &converse_body()).await).await;
        assert_eq!((got_status, got_kind.as_str()), (status, kind), "{fault}");
        if fault == Fault::ContextOverflow {
            assert_eq!(message, "Input is too long for requested model.");
        }
    }
}
