//! Tests of the Gemini endpoints over HTTP.

use serde_json::{json, Value};

use super::THOUGHT_SIGNATURE;
use crate::tests::util::*;
use crate::{Fault, MockConfig, MockServer};

const KEY: &str = "AIza-mock";

async fn keyed(cfg: MockConfig) -> MockServer {
    start(MockConfig {
        api_key: Some(KEY.into()),
        ..cfg
    })
    .await
}

fn generate_body() -> Value {
    json!({
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "contents": [{"role": "user", "parts": [{"text": "Hello there, mock!"}]}],
        "generationConfig": {"maxOutputTokens": 64}
    })
}

fn tool_body() -> Value {
    let mut body = generate_body();
    body["tools"] = json!([{"functionDeclarations": [
        {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
        {"name": "other"}
    ]}]);
    body
}

async fn post(mock: &MockServer, path_and_query: &str, body: &Value) -> reqwest::Response {
    client()
        .post(format!("{}/v1beta/models/{path_and_query}", mock.url()))
        .header("x-goog-api-key", KEY)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn post_ok(mock: &MockServer, path_and_query: &str, body: &Value) -> Value {
    let res = post(mock, path_and_query, body).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// A 400 and its Gemini error message.
async fn refused(mock: &MockServer, body: &Value) -> String {
    let res = post(mock, "gemini-test:generateContent", body).await;
    assert_eq!(res.status(), 400);
    let error: Value = res.json().await.unwrap();
    assert_eq!(error["error"]["status"], "INVALID_ARGUMENT");
    assert_eq!(error["error"]["code"], 400);
    error["error"]["message"].as_str().unwrap().to_owned()
}

/// The data of each event of a CRLF-framed SSE body.
fn sse_data(text: &str) -> Vec<Value> {
    assert!(text.ends_with("\r\n\r\n"), "CRLF frames: {text:?}");
    text.split_terminator("\r\n\r\n")
        .map(|frame| {
            let data = frame.strip_prefix("data: ").expect("data frames only");
            serde_json::from_str(data).unwrap_or_else(|e| panic!("{e}: {data}"))
        })
        .collect()
}

async fn stream(mock: &MockServer, body: &Value) -> Vec<Value> {
    let res = post(mock, "gemini-test:streamGenerateContent?alt=sse", body).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    sse_data(&res.text().await.unwrap())
}

#[tokio::test]
async fn generate_content_answers_text_with_usage() {
    let mock = keyed(MockConfig::default()).await;
    let body = post_ok(&mock, "gemini-test:generateContent", &generate_body()).await;
    assert_eq!(
        body["candidates"],
        json!([{"index": 0, "finishReason": "STOP",
                "content": {"role": "model", "parts": [{"text": "tok0 tok1 tok2 tok3 tok4 "}]}}])
    );
    // "Be brief." + "Hello there, mock!" = 27 characters -> 6 tokens.
    assert_eq!(
        body["usageMetadata"],
        json!({"promptTokenCount": 6, "candidatesTokenCount": 5, "totalTokenCount": 11})
    );
    assert_eq!(body["modelVersion"], "gemini-test");
    assert!(body["responseId"]
        .as_str()
        .unwrap()
        .starts_with("mock-gemini-"));
    assert_eq!(mock.hits(), 1);
}

#[tokio::test]
async fn keys_are_checked_like_gemini() {
    let mock = keyed(MockConfig::default()).await;
    let url = format!("{}/v1beta/models/g:generateContent", mock.url());
    let res = client()
        .post(&url)
        .header("x-goog-api-key", "wrong")
        .json(&generate_body())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let error: Value = res.json().await.unwrap();
    assert_eq!(error["error"]["status"], "INVALID_ARGUMENT");
    assert_eq!(error["error"]["details"][0]["reason"], "API_KEY_INVALID");

    let res = client()
        .post(&url)
        .json(&generate_body())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let error: Value = res.json().await.unwrap();
    assert_eq!(error["error"]["status"], "PERMISSION_DENIED");

    let res = client()
        .post(format!("{url}?key={KEY}"))
        .json(&generate_body())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "Gemini also takes the key in the query");
}

#[tokio::test]
async fn stream_sends_one_chunk_per_delta_and_finishes_on_the_last() {
    let mock = keyed(MockConfig {
        chunks: 3,
        ..MockConfig::default()
    })
    .await;
    let chunks = stream(&mock, &generate_body()).await;
    assert_eq!(chunks.len(), 3);
    for (i, chunk) in chunks.iter().enumerate() {
        let candidate = &chunk["candidates"][0];
        assert_eq!(
            candidate["content"]["parts"],
            json!([{"text": format!("tok{i} ")}])
        );
        let last = i == 2;
        assert_eq!(candidate.get("finishReason").is_some(), last, "{chunk}");
        assert_eq!(
            chunk["usageMetadata"].get("candidatesTokenCount").is_some(),
            last
        );
        assert_eq!(chunk["responseId"], chunks[0]["responseId"]);
    }
    assert_eq!(chunks[2]["candidates"][0]["finishReason"], "STOP");
    assert_eq!(chunks[2]["usageMetadata"]["totalTokenCount"], 6 + 3);

    let res = post(&mock, "g:streamGenerateContent", &generate_body()).await;
    assert_eq!(res.status(), 400, "JSON-array streaming is not mocked");
}

#[tokio::test]
async fn tools_are_called_with_a_thought_signature_and_answered_with_text() {
    let mock = keyed(MockConfig::default()).await;
    let body = post_ok(&mock, "g:generateContent", &tool_body()).await;
    let parts = &body["candidates"][0]["content"]["parts"];
    assert_eq!(
        parts,
        &json!([{"functionCall": {"name": "get_weather", "args": {"city": "Paris", "unit": "c"}},
                  "thoughtSignature": THOUGHT_SIGNATURE}])
    );
    assert_eq!(body["candidates"][0]["finishReason"], "STOP");

    let chunks = stream(&mock, &tool_body()).await;
    assert_eq!(chunks.len(), 1, "a function call comes whole");
    assert_eq!(chunks[0]["candidates"][0]["content"]["parts"], *parts);

    // The call answered, with its signature back: text.
    let mut follow = tool_body();
    let contents = follow["contents"].as_array_mut().unwrap();
    contents.push(json!({"role": "model", "parts": parts}));
    contents.push(json!({"role": "user", "parts": [
        {"functionResponse": {"name": "get_weather", "response": {"output": "18C"}}}]}));
    let body = post_ok(&mock, "g:generateContent", &follow).await;
    assert_eq!(
        body["candidates"][0]["content"]["parts"][0]["text"],
        "tok0 tok1 tok2 tok3 tok4 "
    );

    // Without the signature, Gemini 3 refuses the turn.
    follow["contents"][1]["parts"][0]
        .as_object_mut()
        .unwrap()
        .remove("thoughtSignature");
    assert!(refused(&mock, &follow)
        .await
        .contains("missing a thought_signature"));

    // mode NONE: no call.
    let mut none = tool_body();
    none["toolConfig"] = json!({"functionCallingConfig": {"mode": "NONE"}});
    let body = post_ok(&mock, "g:generateContent", &none).await;
    assert!(body["candidates"][0]["content"]["parts"][0]["text"].is_string());
    // allowedFunctionNames picks the function.
    let mut named = tool_body();
    named["toolConfig"] =
        json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["other"]}});
    let body = post_ok(&mock, "g:generateContent", &named).await;
    assert_eq!(
        body["candidates"][0]["content"]["parts"][0]["functionCall"]["name"],
        "other"
    );
}

#[tokio::test]
async fn blockme_is_blocked_for_safety() {
    let mock = keyed(MockConfig::default()).await;
    let mut body = generate_body();
    body["contents"][0]["parts"][0]["text"] = json!("please BLOCKME now");
    let answer = post_ok(&mock, "g:generateContent", &body).await;
    let candidate = &answer["candidates"][0];
    assert_eq!(candidate["finishReason"], "SAFETY");
    assert!(candidate.get("content").is_none());
    let chunks = stream(&mock, &body).await;
    assert_eq!(chunks.len(), 1);
    assert_eq!(chunks[0]["candidates"][0]["finishReason"], "SAFETY");
}

#[tokio::test]
async fn requests_are_validated_like_the_real_api() {
    let mock = keyed(MockConfig::default()).await;
    let cases = [
        (
            json!({"model": "g", "contents": []}),
            "Unknown name \"model\"",
        ),
        (
            json!({"messages": [{"role": "user", "content": "x"}]}),
            "Unknown name \"messages\"",
        ),
        (json!({"contents": []}), "contents is not specified"),
        (
            json!({"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}),
            "valid role",
        ),
        (
            json!({"contents": [{"role": "user", "parts": [{"text": ""}]}]}),
            "empty text",
        ),
        (
            json!({"contents": [{"role": "user", "parts": [{"type": "text", "text": "x"}]}]}),
            "Unknown name \"type\"",
        ),
        (
            json!({"contents": [{"role": "user", "parts": [{"text": "x", "inlineData": {"mimeType": "a/b", "data": "x"}}]}]}),
            "oneof",
        ),
        (
            json!({"contents": [{"role": "user", "parts": [{"text": "x"}]}], "generationConfig": {"max_tokens": 3}}),
            "Unknown name \"max_tokens\" at 'generation_config'",
        ),
        (
            json!({"contents": [{"role": "user", "parts": [{"text": "x"}]}], "tools": [{"functionDeclarations": [
            {"name": "f", "parameters": {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": false}}]}]}),
            "Unknown name \"additionalProperties\"",
        ),
        (
            json!({"contents": [{"role": "user", "parts": [{"text": "x"}]}], "tools": [{"functionDeclarations": [
            {"name": "f", "parameters": {"type": "object", "properties": {}}}]}]}),
            "non-empty for OBJECT",
        ),
        (
            json!({"contents": [{"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {}}}]}]}),
            "immediately after a function call",
        ),
        (
            json!({"contents": [
            {"role": "user", "parts": [{"text": "x"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "s"},
                                        {"functionCall": {"name": "g", "args": {}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {}}}]}]}),
            "number of function response parts",
        ),
        (
            json!({"contents": [{"role": "user", "parts": [{"text": "x"}]}],
                "toolConfig": {"functionCallingConfig": {"mode": "AUTO", "allowedFunctionNames": ["f"]}}}),
            "only allowed when mode is ANY",
        ),
    ];
    for (body, expected) in cases {
        let message = refused(&mock, &body).await;
        assert!(message.contains(expected), "{body}: {message}");
    }
}

#[tokio::test]
async fn embeddings_are_deterministic_unit_vectors() {
    let mock = keyed(MockConfig::default()).await;
    let request = |text: &str| json!({"model": "models/text-embedding-004", "content": {"parts": [{"text": text}]}});
    let batch = json!({"requests": [request("a"), request("b"), request("a")]});
    let body = post_ok(&mock, "text-embedding-004:batchEmbedContents", &batch).await;
    let embeddings = body["embeddings"].as_array().unwrap();
    assert_eq!(embeddings.len(), 3);
    let values: Vec<Vec<f64>> = embeddings
        .iter()
        .map(|e| {
            e["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(values[0].len(), 8);
    assert_eq!(values[0], values[2]);
    assert_ne!(values[0], values[1]);
    let norm: f64 = values[1].iter().map(|x| x * x).sum();
    assert!((norm - 1.0).abs() < 1e-3, "{norm}");

    let mut sized = request("a");
    sized["outputDimensionality"] = json!(16);
    let body = post_ok(&mock, "text-embedding-004:embedContent", &sized).await;
    assert_eq!(body["embedding"]["values"].as_array().unwrap().len(), 16);

    let wrong_model =
        json!({"requests": [{"model": "models/other", "content": {"parts": [{"text": "a"}]}}]});
    let res = post(&mock, "text-embedding-004:batchEmbedContents", &wrong_model).await;
    assert_eq!(res.status(), 400);
    let res = post(
        &mock,
        "text-embedding-004:batchEmbedContents",
        &json!({"input": "a"}),
    )
    .await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn faults_use_gemini_shapes() {
    let mock = keyed(MockConfig {
        fault: Some(Fault::Status {
            code: 429,
            retry_after: Some(7),
        }),
        ..MockConfig::default()
    })
    .await;
    let res = post(&mock, "g:generateContent", &generate_body()).await;
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["retry-after"], "7");
    let error: Value = res.json().await.unwrap();
    assert_eq!(error["error"]["status"], "RESOURCE_EXHAUSTED");
    assert_eq!(error["error"]["code"], 429);

    mock.set_fault(Some(Fault::StreamError { after: 2 }));
    let chunks = stream(&mock, &generate_body()).await;
    assert_eq!(chunks.len(), 3);
    assert_eq!(chunks[2]["error"]["status"], "INTERNAL");
    let res = post(&mock, "g:generateContent", &generate_body()).await;
    assert_eq!(res.status(), 503);

    mock.set_fault(Some(Fault::Malformed));
    let res = post(&mock, "g:streamGenerateContent?alt=sse", &generate_body()).await;
    let text = res.text().await.unwrap();
    assert_eq!(text.matches("\r\n\r\n").count(), 6);
    assert!(text.contains("data: {\"candidates\": [{\"content\":\r\n\r\n"));

    mock.set_fault(Some(Fault::DropMidStream { after: 2 }));
    let res = post(&mock, "g:streamGenerateContent?alt=sse", &generate_body()).await;
    let mut received = Vec::new();
    let mut body = res.bytes_stream();
    use futures_util::StreamExt;
    let mut failed = false;
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(bytes) => received.extend_from_slice(&bytes),
            Err(_) => failed = true,
        }
    }
    assert!(failed, "the connection is aborted");
    let text = String::from_utf8(received).unwrap();
    assert_eq!(sse_data(&text).len(), 2);
}

#[tokio::test]
async fn unknown_methods_are_gemini_404s_and_not_hits() {
    let mock = keyed(MockConfig::default()).await;
    let res = post(&mock, "g:countTokens", &generate_body()).await;
    assert_eq!(res.status(), 404);
    let error: Value = res.json().await.unwrap();
    assert_eq!(error["error"]["status"], "NOT_FOUND");
    let res = post(&mock, "a/b:generateContent", &generate_body()).await;
    assert_eq!(res.status(), 404);
    assert_eq!(mock.hits(), 0);
    assert_eq!(mock.requests().len(), 2);
}
