//! The request head (`plan`), capabilities, and hub requests -> Gemini bodies.

use serde_json::{json, Value};

use super::*;

// ───────────────────────────── plan ─────────────────────────────

#[test]
fn request_paths_and_key_header() {
    let plan = GEMINI.plan(&ctx()).unwrap();
    assert_eq!(plan.method, http::Method::POST);
    assert_eq!(plan.path, "/models/gemini-2.5-flash:generateContent");
    assert_eq!(
        plan.headers,
        vec![("x-goog-api-key".to_string(), "AIza-test-key".to_string())]
    );
    assert!(plan.reuse);

    let stream = TestCtx {
        stream: true,
        ..TestCtx::default()
    };
    let plan = GEMINI.plan(&stream.build()).unwrap();
    assert_eq!(
        plan.path,
        "/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    );
    assert!(!plan.path.contains("key"), "the key never goes in the URL");

    let plan = GEMINI.plan(&embeddings_ctx(None)).unwrap();
    assert_eq!(plan.path, "/models/gemini-2.5-flash:batchEmbedContents");

    assert_eq!(
        GEMINI
            .plan(&with_options(json!({"auth": "bearer"})))
            .unwrap()
            .headers,
        vec![(
            "authorization".to_string(),
            "Bearer AIza-test-key".to_string()
        )]
    );
    assert_eq!(
        GEMINI
            .plan(&with_options(json!({"auth": "header:X-Goog-Api-Key"})))
            .unwrap()
            .headers,
        vec![("x-goog-api-key".to_string(), "AIza-test-key".to_string())]
    );
    assert!(GEMINI
        .plan(&with_options(json!({"auth": "none"})))
        .unwrap()
        .headers
        .is_empty());

    let keyless = TestCtx {
        api_key: None,
        ..TestCtx::default()
    };
    assert!(GEMINI.plan(&keyless.build()).unwrap().headers.is_empty());
}

#[test]
fn an_unknown_auth_style_is_a_failure_of_the_config() {
    for style in [json!("basic"), json!("header:"), json!(5)] {
        match GEMINI.plan(&with_options(json!({"auth": style}))) {
            Err(AdapterError::Failed {
                adapter,
                hook,
                message,
                ..
            }) => {
                assert_eq!((adapter.as_str(), hook), ("gemini", "plan"));
                assert!(message.contains("unknown auth style"), "{message}");
            }
            other => panic!("{style}: {other:?}"),
        }
    }
}

#[test]
fn model_names_are_checked_before_they_go_into_the_path() {
    let named = |model: &'static str| {
        TestCtx {
            model,
            ..TestCtx::default()
        }
        .build()
    };
    let plan = GEMINI.plan(&named("models/gemini-2.0-flash-001")).unwrap();
    assert_eq!(plan.path, "/models/gemini-2.0-flash-001:generateContent");
    for bad in [
        "../files",
        "gemini?key=x",
        "a/b",
        "gemini 2",
        "g:streamGenerateContent",
        "gémini",
        "models/",
        "",
    ] {
        match GEMINI.plan(&named(bad)) {
            Err(AdapterError::Rejected { status: 400, .. }) => {}
            other => panic!("{bad:?}: expected a 400, got {other:?}"),
        }
    }
}

#[test]
fn capabilities_are_all_true() {
    let caps = GEMINI.capabilities();
    let names: Vec<&str> = caps.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "chat",
            "embeddings",
            "json",
            "reasoning",
            "stream",
            "tools",
            "vision"
        ]
    );
    assert!(caps.values().all(|v| *v));
}

// ─────────────────────────── chat requests ───────────────────────────

#[test]
fn conversation_and_generation_config_are_mapped_exactly() {
    let body = json!({
        "model": MODEL,
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Hi"},
            {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
            {"role": "user", "content": [{"type": "text", "text": "What is 2+2?"}]},
            {"role": "assistant", "content": "4"},
            {"role": "assistant", "content": [{"type": "text", "text": "Quatre."}]},
            {"role": "user", "content": "Merci"}
        ],
        "max_tokens": 50,
        "max_completion_tokens": 100,
        "temperature": 0.2,
        "top_p": 0.9,
        "stop": "END",
        "n": 2,
        "seed": 7,
        "presence_penalty": 0.5,
        "frequency_penalty": -0.5,
        "logprobs": true,
        "top_logprobs": 2,
        "logit_bias": {"50256": -100},
        "parallel_tool_calls": true,
        "user": "u-1",
        "stream": true,
        "stream_options": {"include_usage": true}
    });
    assert_eq!(
        to_gemini(body),
        json!({
            "systemInstruction": {"parts": [{"text": "You are terse."}, {"text": "Answer in French."}]},
            "contents": [
                {"role": "user", "parts": [{"text": "Hi"}, {"text": "What is 2+2?"}]},
                {"role": "model", "parts": [{"text": "4"}, {"text": "Quatre."}]},
                {"role": "user", "parts": [{"text": "Merci"}]}
            ],
            "generationConfig": {
                "maxOutputTokens": 100,
                "temperature": 0.2,
                "topP": 0.9,
                "stopSequences": ["END"],
                "candidateCount": 2,
                "seed": 7,
                "presencePenalty": 0.5,
                "frequencyPenalty": -0.5
            }
        })
    );
}

#[test]
fn a_bare_request_has_only_contents() {
    assert_eq!(
        to_gemini(chat(json!({"max_tokens": 10, "stop": ["a", "b"]}))),
        json!({
            "contents": [{"role": "user", "parts": [{"text": "Hello"}]}],
            "generationConfig": {"maxOutputTokens": 10, "stopSequences": ["a", "b"]}
        })
    );
    assert_eq!(
        to_gemini(chat(json!({}))),
        json!({"contents": [{"role": "user", "parts": [{"text": "Hello"}]}]})
    );
    // An empty stop list, or a null field, sets nothing.
    assert_eq!(
        to_gemini(chat(
            json!({"stop": [], "temperature": null, "max_tokens": null})
        )),
        json!({"contents": [{"role": "user", "parts": [{"text": "Hello"}]}]})
    );
}

#[test]
fn sampling_fields_of_the_wrong_type_are_refused() {
    for extra in [
        json!({"temperature": "hot"}),
        json!({"max_tokens": "100"}),
        json!({"max_completion_tokens": 1.5}),
        json!({"seed": true}),
        json!({"stop": ["a", 1]}),
    ] {
        let (status, message) = rejected(chat(extra.clone()));
        assert_eq!(status, 400, "{extra}: {message}");
    }
    // An integral float is an integer.
    let out = to_gemini(chat(json!({"max_tokens": 64.0})));
    assert_eq!(out["generationConfig"]["maxOutputTokens"], json!(64));
}

#[test]
fn images_audio_and_files_become_parts() {
    let out = to_gemini(chat(json!({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "Compare"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "high"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/a/cat.JPG?size=large#top"}},
        {"type": "image_url", "image_url": "http://example.com/dog.webp"},
        {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "a.pdf"}},
        {"type": "text", "text": ""}
    ]}]})));
    assert_eq!(
        out["contents"][0]["parts"],
        json!([
            {"text": "Compare"},
            {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
            {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/a/cat.JPG?size=large#top"}},
            {"fileData": {"mimeType": "image/webp", "fileUri": "http://example.com/dog.webp"}},
            {"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}},
            {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}}
        ])
    );
    // Media types are lowercased; the payload is everything after the comma.
    let out = to_gemini(chat(json!({"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:Image/PNG;BASE64,AAA,B"}},
        {"type": "image_url", "image_url": {"url": "HTTPS://x.example/p.HEIF#a.png"}}
    ]}]})));
    assert_eq!(
        out["contents"][0]["parts"],
        json!([
            {"inlineData": {"mimeType": "image/png", "data": "AAA,B"}},
            {"fileData": {"mimeType": "image/heif", "fileUri": "HTTPS://x.example/p.HEIF#a.png"}}
        ])
    );
}

#[test]
fn images_whose_type_cannot_be_told_are_refused() {
    for url in [
        "https://example.com/image",
        "https://example.com/photo.php?id=3.png",
        "ftp://example.com/a.png",
        "data:image/png,notbase64",
        "data:,x",
        "data:;base64,x",
        "data:image/png;base64",
    ] {
        let (status, message) = rejected(chat(json!({"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": url}}
        ]}]})));
        assert_eq!(status, 400, "{url}: {message}");
    }
    let (_, message) = rejected(chat(json!({"messages": [{"role": "user", "content": [
        {"type": "file", "file": {"file_id": "file-abc"}}
    ]}]})));
    assert!(message.contains("file ids"), "{message}");
}

/// Requests the adapter refuses, each for one reason.
pub(super) fn refused_requests() -> Vec<Value> {
    let user = |content: Value| chat(json!({"messages": [{"role": "user", "content": content}]}));
    let image = |url: &str| user(json!([{"type": "image_url", "image_url": {"url": url}}]));
    vec![
        image("data:,x"),
        image("data:;base64,x"),
        image("data:image/png,x"),
        image("data:image/png;base64"),
        image("ftp://x/y.png"),
        image("https://x/y"),
        image("https://x/y.tiff?a=b.png"),
        image("hTTp://x/ÿ.d/ÿ"),
        user(json!([{"type": "input_audio", "input_audio": {"data": "x", "format": "ogg"}}])),
        user(json!([{"type": "file", "file": {"file_id": "f-1"}}])),
        user(json!([{"type": "video", "video": {}}])),
        chat(json!({"messages": [{"role": "system", "content": "only"}]})),
        chat(json!({"messages": [{"role": "critic", "content": "x"}]})),
        chat(json!({"messages": [{"role": "system", "content": [{"type": "image_url"}]}]})),
        chat(json!({"messages": [{"role": "assistant", "tool_calls": [
            {"id": "c", "function": {"name": "f", "arguments": "{nope"}}]}]})),
        chat(json!({"messages": [{"role": "assistant", "tool_calls": [
            {"id": "c", "function": {"name": "f", "arguments": "[1]"}}]}]})),
        chat(json!({"messages": [{"role": "tool", "tool_call_id": "x", "content": "y"}]})),
        chat(
            json!({"messages": [{"role": "tool", "tool_call_id": "x", "content": [{"type": "image_url"}]}]}),
        ),
        chat(json!({"tools": [{"type": "custom", "custom": {"name": "c"}}]})),
        chat(
            json!({"tools": [{"type": "function", "function": {"name": "f"}}],
            "tool_choice": {"type": "custom"}}),
        ),
        chat(
            json!({"tools": [{"type": "function", "function": {"name": "f"}}],
            "tool_choice": {"type": "function", "function": {}}}),
        ),
        chat(
            json!({"tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": "any"}),
        ),
        chat(json!({"response_format": {"type": "yaml"}})),
        chat(json!({"response_format": "json"})),
        chat(json!({"reasoning_effort": "max"})),
        chat(
            json!({"tools": [{"type": "function", "function": {"name": "f"}}],
            "tool_choice": {"type": "allowed_tools", "allowed_tools": "f"}}),
        ),
        chat(
            json!({"tools": [{"type": "function", "function": {"name": "f"}}],
            "tool_choice": {"type": "allowed_tools", "allowed_tools": {"tools": ["f"]}}}),
        ),
        chat(
            json!({"tools": [{"type": "function", "function": {"name": "f"}}],
            "tool_choice": {"type": "allowed_tools", "allowed_tools": {"tools": [{"function": "f"}]}}}),
        ),
        chat(json!({"messages": "hi"})),
        chat(json!({"messages": [5]})),
        chat(json!({"messages": []})),
    ]
}

#[test]
fn requests_it_cannot_express_are_refused_with_a_400() {
    for body in refused_requests() {
        let (status, message) = rejected(body.clone());
        assert_eq!(status, 400, "{body}: {message}");
    }
}

#[test]
fn response_format_and_reasoning_effort_are_mapped() {
    let out = to_gemini(chat(json!({"response_format": {"type": "json_object"}})));
    assert_eq!(
        out["generationConfig"],
        json!({"responseMimeType": "application/json"})
    );
    let schema = json!({"type": "object", "properties": {"a": {"type": "string"}},
                        "required": ["a"], "additionalProperties": false});
    let out = to_gemini(chat(json!({"response_format": {"type": "json_schema",
        "json_schema": {"name": "answer", "strict": true, "schema": schema}}})));
    assert_eq!(
        out["generationConfig"],
        json!({"responseMimeType": "application/json", "responseJsonSchema": schema})
    );
    let out = to_gemini(chat(json!({"response_format": {"type": "json_schema"}})));
    assert_eq!(
        out["generationConfig"],
        json!({"responseMimeType": "application/json"})
    );
    let out = to_gemini(chat(json!({"response_format": {"type": "text"}})));
    assert!(out.get("generationConfig").is_none());
    let (status, _) = rejected(chat(json!({"response_format": {"type": "yaml"}})));
    assert_eq!(status, 400);

    let options = json!({"include_thoughts": true, "safety_settings": [
        {"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"}]});
    let out = to_gemini_with(
        chat(json!({"reasoning_effort": "low"})),
        &with_options(options),
    );
    assert_eq!(
        out["generationConfig"],
        json!({"thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": true}})
    );
    assert_eq!(
        out["safetySettings"][0]["threshold"],
        json!("BLOCK_ONLY_HIGH")
    );
    for (effort, budget) in [
        ("none", 0),
        ("minimal", 1024),
        ("medium", 8192),
        ("high", 24576),
    ] {
        let out = to_gemini(chat(json!({"reasoning_effort": effort})));
        assert_eq!(
            out["generationConfig"]["thinkingConfig"],
            json!({"thinkingBudget": budget})
        );
    }
}

/// A long agent conversation stays in order and grouped.
#[test]
fn long_agent_conversation_keeps_order_and_grouping() {
    let rounds = 600;
    let mut messages = vec![json!({"role": "user", "content": "start"})];
    for i in 0..rounds {
        messages.push(json!({"role": "assistant", "content": "ok", "tool_calls": [
            {"id": format!("call_a{i}"), "type": "function", "function": {"name": "f", "arguments": "{\"a\":{\"b\":[1,2,3]}}"}},
            {"id": format!("call_b{i}"), "type": "function", "function": {"name": "g", "arguments": "{}"}}
        ]}));
        messages.push(
            json!({"role": "tool", "tool_call_id": format!("call_b{i}"), "content": "result b"}),
        );
        messages.push(
            json!({"role": "tool", "tool_call_id": format!("call_a{i}"), "content": "result a"}),
        );
        messages.push(json!({"role": "user", "content": format!("next {i}")}));
    }
    let out = to_gemini(chat(json!({"messages": messages})));
    let contents = out["contents"].as_array().unwrap();
    assert_eq!(contents.len(), 1 + 2 * rounds);
    for i in 0..rounds {
        let user = &contents[2 + 2 * i];
        assert_eq!(
            user,
            &json!({"role": "user", "parts": [
                {"functionResponse": {"name": "f", "response": {"output": "result a"}}},
                {"functionResponse": {"name": "g", "response": {"output": "result b"}}},
                {"text": format!("next {i}")}
            ]}),
            "round {i}"
        );
    }
}

// ─────────────────────────── embeddings ───────────────────────────

#[test]
fn embeddings_requests_are_batched_in_order() {
    let ctx = TestCtx {
        endpoint: "embeddings",
        options: json!({"task_type": "RETRIEVAL_DOCUMENT"}),
        ..TestCtx::default()
    };
    let body = json!({"model": MODEL, "input": ["first", "second"], "dimensions": 256,
                      "encoding_format": "base64", "user": "u"});
    assert_eq!(
        to_gemini_with(body, &ctx.build()),
        json!({"requests": [
            {"model": "models/gemini-2.5-flash", "content": {"parts": [{"text": "first"}]},
             "outputDimensionality": 256, "taskType": "RETRIEVAL_DOCUMENT"},
            {"model": "models/gemini-2.5-flash", "content": {"parts": [{"text": "second"}]},
             "outputDimensionality": 256, "taskType": "RETRIEVAL_DOCUMENT"}
        ]})
    );
    let out = to_gemini_with(
        json!({"model": MODEL, "input": "one"}),
        &embeddings_ctx(None),
    );
    assert_eq!(
        out,
        json!({"requests": [{"model": "models/gemini-2.5-flash", "content": {"parts": [{"text": "one"}]}}]})
    );
    for input in [
        json!([1, 2, 3]),
        json!([[1, 2], [3]]),
        json!([]),
        json!(7),
        json!(null),
    ] {
        let (status, _) = rejected_with(
            json!({"model": MODEL, "input": input}),
            &embeddings_ctx(None),
        );
        assert_eq!(status, 400, "{input}");
    }
    let (status, _) = rejected_with(
        json!({"model": MODEL, "input": "x", "encoding_format": "int8"}),
        &embeddings_ctx(None),
    );
    assert_eq!(status, 400);
    let bad_model = TestCtx {
        endpoint: "embeddings",
        model: "bad/name",
        ..TestCtx::default()
    };
    let (status, _) = rejected_with(json!({"input": "x"}), &bad_model.build());
    assert_eq!(status, 400);
}
