//! Gemini answers -> `chat.completion`s and embeddings lists.

use serde_json::{json, Value};

use super::*;

#[test]
fn text_response_and_usage_are_mapped() {
    let out = to_openai(json!({
        "candidates": [{"index": 0, "finishReason": "STOP",
            "content": {"role": "model", "parts": [
                {"text": "Let me think…", "thought": true},
                {"text": "Hello, "}, {"text": "world."}
            ]},
            "safetyRatings": [{"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"}]}],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "thoughtsTokenCount": 20,
                          "cachedContentTokenCount": 4, "toolUsePromptTokenCount": 2, "totalTokenCount": 37},
        "modelVersion": "gemini-2.5-flash-001",
        "responseId": "resp-1"
    }));
    let created = out["created"].as_i64().unwrap();
    assert!((now() - created).abs() < 60);
    assert_eq!(
        out,
        json!({
            "id": "chatcmpl-resp-1", "object": "chat.completion", "created": created,
            "model": "gemini-2.5-flash-001",
            "choices": [{"index": 0, "logprobs": null, "finish_reason": "stop", "message": {
                "role": "assistant", "content": "Hello, world.", "refusal": null,
                "reasoning_content": "Let me think…"}}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 25, "total_tokens": 37,
                      "prompt_tokens_details": {"cached_tokens": 4},
                      "completion_tokens_details": {"reasoning_tokens": 20}}
        })
    );
}

#[test]
fn missing_counts_and_ids_are_filled_in() {
    let out = to_openai(json!({
        "candidates": [{"content": {"parts": [{"text": "A"}]}}],
        "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2},
        "responseId": ""
    }));
    assert_eq!(out["model"], json!(MODEL), "ctx.model without modelVersion");
    let id = out["id"].as_str().unwrap();
    assert!(is_minted(&id.replace("chatcmpl-", "call_")), "{id}");
    assert_eq!(out["choices"][0]["index"], json!(0));
    assert_eq!(out["choices"][0]["finish_reason"], json!("stop"));
    assert_eq!(
        out["usage"],
        json!({"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5,
               "prompt_tokens_details": {"cached_tokens": 0},
               "completion_tokens_details": {"reasoning_tokens": 0}})
    );
}

#[test]
fn function_calls_become_tool_calls() {
    let out = to_openai(json!({
        "candidates": [{"index": 0, "finishReason": "STOP", "content": {"role": "model", "parts": [
            {"functionCall": {"name": "get_weather", "args": {"city": "Paris", "unit": "c"}},
             "thoughtSignature": "c2ln/+=="},
            {"functionCall": {"id": "fc-2", "name": "get_time", "args": {}}},
            {"functionCall": {"name": "ping"}}
        ]}}],
        "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 9, "totalTokenCount": 12},
        "modelVersion": "gemini-3-pro"
    }));
    let choice = &out["choices"][0];
    assert_eq!(choice["finish_reason"], json!("tool_calls"));
    assert_eq!(choice["message"]["content"], Value::Null);
    let calls = choice["message"]["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 3);
    let (minted, signature) = calls[0]["id"].as_str().unwrap().split_once(".ts.").unwrap();
    assert!(is_minted(minted), "{minted}");
    assert_eq!(signature, "c2ln/+==");
    assert_eq!(calls[1]["id"], json!("fc-2"));
    assert!(is_minted(calls[2]["id"].as_str().unwrap()));
    assert_ne!(calls[0]["id"], calls[2]["id"]);
    let functions: Vec<(Value, Value)> = calls
        .iter()
        .map(|c| {
            assert_eq!(c["type"], json!("function"));
            let args: Value =
                serde_json::from_str(c["function"]["arguments"].as_str().unwrap()).unwrap();
            (c["function"]["name"].clone(), args)
        })
        .collect();
    assert_eq!(
        functions,
        vec![
            (json!("get_weather"), json!({"city": "Paris", "unit": "c"})),
            (json!("get_time"), json!({})),
            (json!("ping"), json!({})),
        ]
    );
    assert!(out["id"].as_str().unwrap().starts_with("chatcmpl-"));

    // The ids go back upstream as they came: minted ones stay home.
    let history = chat(json!({"messages": [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": null, "tool_calls": calls},
        {"role": "tool", "tool_call_id": calls[0]["id"], "content": "sunny"}
    ]}));
    let sent = to_gemini(history);
    assert_eq!(
        sent["contents"][1]["parts"],
        json!([
            {"functionCall": {"name": "get_weather", "args": {"city": "Paris", "unit": "c"}},
             "thoughtSignature": "c2ln/+=="},
            {"functionCall": {"id": "fc-2", "name": "get_time", "args": {}}},
            {"functionCall": {"name": "ping", "args": {}}}
        ])
    );
    assert_eq!(
        sent["contents"][2]["parts"],
        json!([{"functionResponse": {"name": "get_weather", "response": {"output": "sunny"}}}])
    );
}

#[test]
fn finish_reasons_are_mapped() {
    let cases = [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("BLOCKLIST", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("SPII", "content_filter"),
        ("IMAGE_SAFETY", "content_filter"),
        ("IMAGE_PROHIBITED_CONTENT", "content_filter"),
        ("MALFORMED_FUNCTION_CALL", "stop"),
        ("UNEXPECTED_TOOL_CALL", "stop"),
        ("TOO_MANY_TOOL_CALLS", "stop"),
        ("LANGUAGE", "stop"),
        ("OTHER", "stop"),
        ("FINISH_REASON_UNSPECIFIED", "stop"),
    ];
    for (reason, finish) in cases {
        let out = to_openai(json!({"candidates": [{"index": 0, "finishReason": reason,
            "content": {"role": "model", "parts": [{"text": "…"}]}}]}));
        assert_eq!(
            out["choices"][0]["finish_reason"],
            json!(finish),
            "{reason}"
        );
    }
    // Function calls cut by the token limit are a `length`, not tool_calls.
    let out = to_openai(
        json!({"candidates": [{"index": 0, "finishReason": "MAX_TOKENS",
        "content": {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}]}}]}),
    );
    assert_eq!(out["choices"][0]["finish_reason"], json!("length"));
}

#[test]
fn blocked_answers_are_content_filtered() {
    // The prompt was blocked: no candidates at all.
    let out = to_openai(json!({
        "promptFeedback": {"blockReason": "SAFETY", "safetyRatings": []},
        "usageMetadata": {"promptTokenCount": 8, "totalTokenCount": 8},
        "modelVersion": "gemini-2.5-flash"
    }));
    assert_eq!(
        out["choices"],
        json!([{"index": 0, "logprobs": null, "finish_reason": "content_filter",
                "message": {"role": "assistant", "content": "", "refusal": null}}])
    );
    assert_eq!(
        out["usage"]["prompt_tokens"],
        json!(8),
        "usage is still reported"
    );
    // The answer was blocked: a candidate without content.
    let out = to_openai(json!({"candidates": [{"index": 0, "finishReason": "SAFETY",
        "safetyRatings": [{"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": true}]}]}));
    assert_eq!(out["choices"][0]["finish_reason"], json!("content_filter"));
    assert_eq!(out["choices"][0]["message"]["content"], json!(""));
    assert!(out.get("usage").is_none());
}

#[test]
fn several_candidates_become_several_choices() {
    let out = to_openai(json!({"candidates": [
        {"index": 0, "finishReason": "STOP", "content": {"role": "model", "parts": [{"text": "A"}]}},
        {"index": 1, "finishReason": "MAX_TOKENS", "content": {"role": "model", "parts": [{"text": "B"}]}}
    ]}));
    let choices: Vec<(Value, Value, Value)> = out["choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["index"].clone(),
                c["message"]["content"].clone(),
                c["finish_reason"].clone(),
            )
        })
        .collect();
    assert_eq!(
        choices,
        vec![
            (json!(0), json!("A"), json!("stop")),
            (json!(1), json!("B"), json!("length"))
        ]
    );
}

#[test]
fn an_answer_without_candidates_or_block_reason_is_a_failure() {
    let err = GEMINI
        .response(json!({"usageMetadata": {}}), &ctx())
        .unwrap_err();
    assert!(
        matches!(
            &err,
            AdapterError::Failed {
                hook: "response",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("no candidates"), "{err}");
}

#[test]
fn an_answer_of_the_wrong_shape_fails_naming_the_field() {
    for (body, field) in [
        (json!({"candidates": "abc"}), "candidates"),
        (
            json!({"candidates": [{"index": "0"}]}),
            "candidates[0].index",
        ),
        (
            json!({"candidates": [{"content": {"parts": [{"text": 5}]}}]}),
            "candidates[0].content.parts[0].text",
        ),
        (
            json!({"candidates": [], "usageMetadata": {"promptTokenCount": -1}}),
            "usageMetadata.promptTokenCount",
        ),
        (json!([1]), "not an object"),
        (json!([]), "not an object"),
    ] {
        match GEMINI.response(body.clone(), &ctx()) {
            Err(AdapterError::Failed {
                adapter,
                hook: "response",
                message,
                ..
            }) => {
                assert_eq!(adapter, "gemini");
                assert!(message.contains(field), "{body}: {message}");
            }
            other => panic!("{body}: {other:?}"),
        }
    }
}

#[test]
fn embeddings_answers_become_an_openai_list() {
    let answer = json!({"embeddings": [{"values": [0.25, -1.5, 0]}, {"values": [1.0, 2.0, 3.5]}]});
    assert_eq!(
        to_openai_with(answer.clone(), &embeddings_ctx(Some("float"))),
        json!({"object": "list", "model": MODEL,
               "data": [{"object": "embedding", "index": 0, "embedding": [0.25, -1.5, 0]},
                        {"object": "embedding", "index": 1, "embedding": [1.0, 2.0, 3.5]}],
               "usage": {"prompt_tokens": 0, "total_tokens": 0}})
    );
    assert_eq!(
        to_openai_with(answer.clone(), &embeddings_ctx(None))["data"][1]["embedding"],
        json!([1.0, 2.0, 3.5])
    );
    // base64: little-endian f32s.
    let out = to_openai_with(answer, &embeddings_ctx(Some("base64")));
    let expected = |v: &[f32]| -> String {
        let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        base64_std(&bytes)
    };
    assert_eq!(
        out["data"][0]["embedding"],
        json!(expected(&[0.25, -1.5, 0.0]))
    );
    assert_eq!(
        out["data"][1]["embedding"],
        json!(expected(&[1.0, 2.0, 3.5]))
    );
    // embedContent's single answer, and usage when Gemini reports it.
    let out = to_openai_with(
        json!({"embedding": {"values": [0.5]}, "usageMetadata": {"promptTokenCount": 3}}),
        &embeddings_ctx(None),
    );
    assert_eq!(out["data"][0]["embedding"], json!([0.5]));
    assert_eq!(out["usage"], json!({"prompt_tokens": 3, "total_tokens": 3}));
    // An embedding without values is empty.
    let out = to_openai_with(json!({"embeddings": [{}]}), &embeddings_ctx(Some("base64")));
    assert_eq!(out["data"][0]["embedding"], json!(""));
}

#[test]
fn embeddings_answers_of_the_wrong_shape_fail() {
    for format in [None, Some("base64")] {
        for body in [
            json!({}),
            json!({"embeddings": null}),
            json!({"embeddings": 5}),
            json!({"embeddings": [5]}),
            json!({"embeddings": [{"values": ["x"]}]}),
            json!({"embeddings": [{"values": 1}]}),
            json!([]),
        ] {
            match GEMINI.response(body.clone(), &embeddings_ctx(format)) {
                Err(AdapterError::Failed {
                    hook: "response", ..
                }) => {}
                other => panic!("{body} ({format:?}): {other:?}"),
            }
        }
    }
    let err = GEMINI
        .response(json!({"usageMetadata": {}}), &embeddings_ctx(None))
        .unwrap_err();
    assert!(err.to_string().contains("no embeddings"), "{err}");
}

/// An independent base64 encoder for the expectations.
fn base64_std(bytes: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
