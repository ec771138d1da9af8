//! Tests of the Responses endpoint over HTTP: the Response object, the
//! typed event stream and its pacing, the chat mock's tool rule, and the
//! checks that catch a wrong translation.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{json, Value};

use crate::tests::util::*;
use crate::{Fault, MockConfig, MockServer};

fn body(stream: bool) -> Value {
    json!({
        "model": "gpt-test",
        "stream": stream,
        "store": false,
        "instructions": "Be brief.",
        "input": [{"role": "user", "content": "Hello there, mock!"}],
    })
}

fn with_tools(mut body: Value) -> Value {
    body["tools"] = json!([
        {"type": "function", "name": "get_weather", "parameters": {"type": "object"}},
        {"type": "function", "name": "other"},
    ]);
    body
}

async fn post(mock: &MockServer, body: &Value) -> (u16, Value) {
    status_json(
        client()
            .post(format!("{}/v1/responses", mock.url()))
            .json(body),
    )
    .await
}

async fn events(mock: &MockServer, body: &Value) -> Vec<Event> {
    let res = client()
        .post(format!("{}/responses", mock.url()))
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    parse_sse(&res.text().await.unwrap())
}

fn names(events: &[Event]) -> Vec<&str> {
    events.iter().map(|e| e.name.as_deref().unwrap()).collect()
}

#[tokio::test]
async fn text_reply_is_a_completed_response_object() {
    let mock = start(MockConfig::default()).await;
    let (status, res) = post(&mock, &body(false)).await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(res["id"], "resp_mock_1");
    assert_eq!(res["object"], "response");
    assert_eq!(res["status"], "completed");
    assert_eq!(res["model"], "gpt-test");
    assert_eq!(res["store"], false);
    assert_eq!(res["instructions"], "Be brief.");
    assert_eq!(res["previous_response_id"], Value::Null);
    let item = &res["output"][0];
    assert_eq!(res["output"].as_array().unwrap().len(), 1);
    assert_eq!(item["type"], "message");
    assert_eq!(item["id"], "msg_mock_1");
    assert_eq!(item["role"], "assistant");
    assert_eq!(item["status"], "completed");
    assert_eq!(item["content"][0]["type"], "output_text");
    assert_eq!(item["content"][0]["text"], "tok0 tok1 tok2 tok3 tok4 ");
    // "Be brief." + "Hello there, mock!" = 27 characters -> 6 tokens, as chat.
    let usage = &res["usage"];
    assert_eq!(usage["input_tokens"], 6);
    assert_eq!(usage["output_tokens"], 5);
    assert_eq!(usage["total_tokens"], 11);
    assert_eq!(usage["input_tokens_details"]["cached_tokens"], 0);
    assert_eq!(usage["output_tokens_details"]["reasoning_tokens"], 0);
    let seen = mock.last_request().unwrap();
    assert_eq!(seen.path, "/v1/responses");
    assert_eq!(seen.json().unwrap()["store"], false);
    assert_eq!(mock.hits(), 1);
}

#[tokio::test]
async fn string_input_and_content_parts_count_their_text() {
    let mock = start(MockConfig::default()).await;
    let (_, res) = post(&mock, &json!({"model": "m", "input": "abcdefgh"})).await;
    assert_eq!(res["usage"]["input_tokens"], 2);
    let parts = json!({"model": "m", "input": [{"type": "message", "role": "user", "content": [
        {"type": "input_text", "text": "abcdefgh"},
        {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "low"},
    ]}]});
    let (status, res) = post(&mock, &parts).await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(res["usage"]["input_tokens"], 2);
}

#[tokio::test]
async fn tools_get_a_call_of_the_first_tool_until_its_output_comes_back() {
    let mock = start(MockConfig::default()).await;
    let (status, res) = post(&mock, &with_tools(body(false))).await;
    assert_eq!(status, 200, "{res}");
    let item = &res["output"][0];
    assert_eq!(item["type"], "function_call");
    assert_eq!(item["id"], "fc_mock_1");
    assert_eq!(item["call_id"], "call_mock_1");
    assert_eq!(item["name"], "get_weather");
    assert_eq!(item["status"], "completed");
    let args: Value = serde_json::from_str(item["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"city": "Paris", "unit": "c"}));

    let mut next = with_tools(body(false));
    let input = next["input"].as_array_mut().unwrap();
    input.push(json!({"type": "function_call", "call_id": "call_mock_1",
        "name": "get_weather", "arguments": "{}"}));
    input.push(
        json!({"type": "function_call_output", "call_id": "call_mock_1",
        "output": "sunny"}),
    );
    let (status, res) = post(&mock, &next).await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(res["output"][0]["type"], "message");
}

#[tokio::test]
async fn stream_sends_the_documented_text_events_in_order() {
    let mock = start(MockConfig {
        chunks: 3,
        ..MockConfig::default()
    })
    .await;
    let events = events(&mock, &body(true)).await;
    assert_eq!(
        names(&events),
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    let data: Vec<Value> = events.iter().map(Event::json).collect();
    for (n, (event, data)) in events.iter().zip(&data).enumerate() {
        assert_eq!(data["type"], event.name.as_deref().unwrap());
        assert_eq!(data["sequence_number"], n);
    }
    assert_eq!(data[0]["response"]["status"], "in_progress");
    assert_eq!(data[0]["response"]["output"], json!([]));
    assert_eq!(data[0]["response"]["usage"], Value::Null);
    assert_eq!(data[2]["item"]["content"], json!([]));
    assert_eq!(data[3]["part"]["text"], "");
    let text: String = data[4..7]
        .iter()
        .map(|d| d["delta"].as_str().unwrap())
        .collect();
    assert_eq!(text, "tok0 tok1 tok2 ");
    assert!(data[3..9]
        .iter()
        .all(|d| d["item_id"] == "msg_mock_1" && d["output_index"] == 0));
    assert_eq!(data[7]["text"], text);
    assert_eq!(data[8]["part"]["text"], text);
    assert_eq!(data[9]["item"]["content"][0]["text"], text);
    let done = &data[10]["response"];
    assert_eq!(done["status"], "completed");
    assert_eq!(done["output"][0], data[9]["item"]);
    assert_eq!(done["usage"]["output_tokens"], 3);
    assert_eq!(done["usage"]["total_tokens"], 9);
}

#[tokio::test]
async fn stream_sends_a_tool_call_as_argument_deltas() {
    let mock = start(MockConfig::default()).await;
    let events = events(&mock, &with_tools(body(true))).await;
    assert_eq!(
        names(&events),
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    let data: Vec<Value> = events.iter().map(Event::json).collect();
    assert_eq!(data[2]["item"]["arguments"], "");
    assert_eq!(data[2]["item"]["call_id"], "call_mock_1");
    let args: String = data[3..6]
        .iter()
        .map(|d| d["delta"].as_str().unwrap())
        .collect();
    assert_eq!(args, r#"{"city":"Paris","unit":"c"}"#);
    assert_eq!(data[6]["arguments"], args);
    assert_eq!(data[8]["response"]["output"][0]["arguments"], args);
}

#[tokio::test]
async fn stream_deltas_are_paced_by_chunk_delay() {
    let mock = start(MockConfig {
        chunks: 4,
        chunk_delay: Duration::from_millis(60),
        ..MockConfig::default()
    })
    .await;
    let res = client()
        .post(format!("{}/v1/responses", mock.url()))
        .json(&body(true))
        .send()
        .await
        .unwrap();
    let mut stream = res.bytes_stream();
    let mut text = String::new();
    let mut first_delta = None;
    while let Some(chunk) = stream.next().await {
        text.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
        if first_delta.is_none() && text.contains("response.output_text.delta") {
            first_delta = Some(Instant::now());
        }
    }
    let after_first = first_delta.unwrap().elapsed();
    // 3 more deltas and 4 more events after the first, 60 ms apart.
    assert!(after_first >= Duration::from_millis(300), "{after_first:?}");
    assert!(text.contains("response.completed"));
}

#[tokio::test]
async fn stream_error_fault_sends_a_typed_error_event() {
    let mock = with_fault(Fault::StreamError { after: 1 }).await;
    let events = events(&mock, &body(true)).await;
    let last = events.last().unwrap();
    assert_eq!(last.name.as_deref(), Some("error"));
    let error = last.json();
    assert_eq!(error["type"], "error");
    assert_eq!(error["code"], "server_error");
    assert_eq!(error["sequence_number"], events.len() - 1);
    assert!(!names(&events).contains(&"response.completed"));

    mock.set_fault(Some(Fault::DropMidStream { after: 2 }));
    let res = client()
        .post(format!("{}/v1/responses", mock.url()))
        .json(&body(true))
        .send()
        .await
        .unwrap();
    let (bytes, failed) = read_bytes(res).await;
    assert!(failed, "the connection is aborted");
    let events = parse_sse(std::str::from_utf8(&bytes).unwrap());
    let deltas = names(&events)
        .into_iter()
        .filter(|n| *n == "response.output_text.delta");
    assert_eq!(deltas.count(), 2);
}

#[tokio::test]
async fn wrong_translations_get_a_400_naming_the_field() {
    let mock = start(MockConfig::default()).await;
    let base = || body(false);
    let edit = |f: &dyn Fn(&mut Value)| {
        let mut b = base();
        f(&mut b);
        b
    };
    let cases: Vec<(Value, &str)> = vec![
        (
            edit(&|b| drop(b.as_object_mut().unwrap().remove("model"))),
            "model",
        ),
        (
            edit(&|b| drop(b.as_object_mut().unwrap().remove("input"))),
            "input",
        ),
        (edit(&|b| b["messages"] = json!([])), "messages"),
        (edit(&|b| b["max_tokens"] = json!(100)), "max_tokens"),
        (
            edit(&|b| b["response_format"] = json!({"type": "json_object"})),
            "response_format",
        ),
        (
            edit(&|b| b["tools"] = json!([{"type": "function", "function": {"name": "f"}}])),
            "tools[0].name",
        ),
        (
            edit(&|b| {
                b["text"] = json!({"format": {"type": "json_schema",
                "json_schema": {"name": "x", "schema": {}}}})
            }),
            "text.format.name",
        ),
        (
            edit(&|b| b["text"] = json!({"format": {"type": "json_schema", "schema": {}}})),
            "text.format.name",
        ),
        (
            edit(&|b| {
                b["input"] = json!([{"role": "assistant",
                "content": [{"type": "input_text", "text": "hi"}]}])
            }),
            "input[0].content[0]",
        ),
        (
            edit(&|b| b["input"] = json!([{"role": "tool", "content": "x"}])),
            "input[0].role",
        ),
        (
            edit(&|b| {
                b["input"] = json!([{"type": "function_call_output",
                "call_id": "call_x", "output": "sunny"}])
            }),
            "input",
        ),
        (
            edit(&|b| b["input"] = json!([{"type": "function_call", "call_id": "c", "name": "f"}])),
            "input[0].arguments",
        ),
        (
            edit(&|b| b["previous_response_id"] = json!("resp_1")),
            "previous_response_id",
        ),
        (
            edit(&|b| b["max_output_tokens"] = json!(5)),
            "max_output_tokens",
        ),
        (
            edit(&|b| b["max_output_tokens"] = json!("many")),
            "max_output_tokens",
        ),
        (
            edit(&|b| b["reasoning"] = json!({"effort": "extreme"})),
            "reasoning.effort",
        ),
        (
            edit(&|b| b["tool_choice"] = json!("sometimes")),
            "tool_choice",
        ),
        (
            edit(&|b| b["tool_choice"] = json!({"type": "function", "name": "nope"})),
            "tool_choice",
        ),
        (edit(&|b| b["temperature"] = json!(3)), "temperature"),
    ];
    for (body, param) in cases {
        let (status, res) = post(&mock, &body).await;
        assert_invalid(status, &res, param);
    }
    let (status, res) = status_json(
        client()
            .post(format!("{}/v1/responses", mock.url()))
            .body("{not json"),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(res["error"]["type"], "invalid_request_error");
}

#[tokio::test]
async fn previous_response_id_is_refused_but_recorded() {
    let mock = start(MockConfig::default()).await;
    let mut b = body(false);
    b["previous_response_id"] = json!("resp_abc");
    let (status, res) = post(&mock, &b).await;
    assert_invalid(status, &res, "previous_response_id");
    assert_eq!(
        res["error"]["message"],
        "previous_response_id is not supported by the mock"
    );
    let seen = mock.last_request().unwrap().json().unwrap();
    assert_eq!(seen["previous_response_id"], "resp_abc");
}

#[tokio::test]
async fn a_missing_key_is_openais_401() {
    let mock = start(MockConfig {
        api_key: Some("sk-right".into()),
        ..MockConfig::default()
    })
    .await;
    let (status, res) = post(&mock, &body(false)).await;
    assert_eq!(status, 401);
    assert_eq!(res["error"]["code"], "invalid_api_key");
    let ok = client()
        .post(format!("{}/v1/responses", mock.url()))
        .bearer_auth("sk-right")
        .json(&body(false));
    assert_eq!(status_json(ok).await.0, 200);
}
