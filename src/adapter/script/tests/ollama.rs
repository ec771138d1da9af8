//! `ollama.rhai` beyond its golden fixtures: the request head and framing,
//! the mapping choices its header documents, embeddings, and NDJSON
//! streams that fail or are cut.

use serde_json::{json, Value};

use super::*;

const MODEL: &str = "llama3.2";

fn ollama() -> Script {
    adapter("ollama")
}

fn request_with(body: Value, ctx: &Ctx) -> Value {
    ollama().transform_request(&body, ctx).unwrap().unwrap()
}

fn request(body: Value) -> Value {
    request_with(body, &ctx(MODEL, false))
}

fn chat(extra: Value) -> Value {
    let mut body = json!({"model": MODEL, "messages": [{"role": "user", "content": "Hi"}]});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    body
}

fn tools() -> Value {
    json!([
        {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}},
        {"type": "function", "function": {"name": "get_time"}}
    ])
}

fn tool_names(sent: &Value) -> Vec<String> {
    sent["tools"]
        .as_array()
        .map(|t| {
            t.iter()
                .map(|t| {
                    t["function"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// NDJSON lines as events named "".
fn lines(list: &[Value]) -> Vec<(String, String)> {
    list.iter()
        .map(|l| (String::new(), l.to_string()))
        .collect()
}

#[test]
fn chat_and_embeddings_go_to_the_native_paths_and_streams_are_ndjson() {
    let a = ollama();
    let local = ctx_for("chat", MODEL, false, options(json!({"auth": "none"})));
    let plan = a.request(&local).unwrap();
    assert_eq!(plan.path, "/api/chat");
    assert!(plan.headers.is_empty(), "a local Ollama takes no key");
    let cloud = a.request(&ctx(MODEL, false)).unwrap();
    assert_eq!(cloud.headers, [("authorization".into(), "Bearer k".into())]);
    let embed = ctx_for("embeddings", "all-minilm", false, Map::new());
    assert_eq!(a.request(&embed).unwrap().path, "/api/embed");
    let script = std::fs::read_to_string(root().join("scripts/providers/ollama.rhai")).unwrap();
    assert!(
        script.contains("fn framing() {\n    \"ndjson\"\n}"),
        "declares NDJSON framing"
    );
}

#[test]
fn stream_is_always_sent_because_ollama_streams_by_default() {
    assert_eq!(request(chat(json!({})))["stream"], false);
    let sent = request_with(chat(json!({"stream": true})), &ctx(MODEL, true));
    assert_eq!(sent["stream"], true);
    assert_eq!(sent.as_object().map(|o| o.len()), Some(3), "{sent}");
}

#[test]
fn tool_choice_none_sends_no_tools_and_a_named_one_narrows_them() {
    assert_eq!(
        tool_names(&request(chat(json!({"tools": tools()})))),
        ["get_weather", "get_time"]
    );
    assert!(
        request(chat(json!({"tools": tools(), "tool_choice": "none"})))
            .get("tools")
            .is_none()
    );
    let named = json!({"tools": tools(), "tool_choice": {"type": "function", "function": {"name": "get_time"}}});
    assert_eq!(tool_names(&request(chat(named))), ["get_time"]);
    let sent = request(chat(json!({"tools": tools(), "tool_choice": "required"})));
    assert_eq!(tool_names(&sent), ["get_weather", "get_time"]);
    assert_eq!(
        sent["tools"][1]["function"]["parameters"],
        json!({"type": "object", "properties": {}})
    );
}

#[test]
fn formats_thinking_and_model_options() {
    let sent = request(chat(
        json!({"response_format": {"type": "json_object"}, "stop": "END"}),
    ));
    assert_eq!(sent["format"], "json");
    assert_eq!(sent["options"], json!({"stop": ["END"]}));
    for (effort, think) in [
        ("none", json!(false)),
        ("minimal", json!("low")),
        ("medium", json!("medium")),
        ("xhigh", json!("max")),
    ] {
        assert_eq!(
            request(chat(json!({"reasoning_effort": effort})))["think"],
            think,
            "{effort}"
        );
    }
    let configured = ctx_for(
        "chat",
        MODEL,
        false,
        options(
            json!({"think": true, "keep_alive": "10m", "model_options": {"num_ctx": 8192, "temperature": 0.1}}),
        ),
    );
    let sent = request_with(
        chat(json!({"temperature": 0.7, "max_completion_tokens": 9})),
        &configured,
    );
    assert_eq!(sent["think"], true);
    assert_eq!(sent["keep_alive"], "10m");
    assert_eq!(
        sent["options"],
        json!({"num_ctx": 8192, "temperature": 0.7, "num_predict": 9})
    );
    switchyard_mock::validate::ollama_chat(&serde_json::to_vec(&sent).unwrap()).unwrap();
}

#[test]
fn what_ollama_cannot_take_is_refused_with_400() {
    let a = ollama();
    let image = |url: &str| json!({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}]});
    let cases = [
        (chat(json!({"n": 3})), "n > 1"),
        (image("https://example.com/cat.png"), "data URLs"),
        (image("data:text/plain;base64,aGk="), "images"),
        (
            json!({"messages": [{"role": "assistant", "content": null, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{not json"}}]}]}),
            "not valid JSON",
        ),
        (
            chat(json!({"reasoning_effort": "extreme"})),
            "reasoning_effort",
        ),
    ];
    for (body, words) in cases {
        let (status, message) = refusal(a.transform_request(&body, &ctx(MODEL, false)));
        assert_eq!(status, 400);
        assert!(message.contains(words), "{message}");
    }
}

#[test]
fn embeddings_both_ways() {
    let a = ollama();
    let embed = ctx_for(
        "embeddings",
        "all-minilm",
        false,
        options(json!({"truncate": false})),
    );
    let sent = a
        .transform_request(
            &json!({"model": "all-minilm", "input": "Why is the sky blue?", "dimensions": 2}),
            &embed,
        )
        .unwrap()
        .unwrap();
    assert_eq!(
        sent,
        json!({"model": "all-minilm", "input": "Why is the sky blue?", "dimensions": 2, "truncate": false})
    );
    switchyard_mock::validate::ollama_embed(&serde_json::to_vec(&sent).unwrap()).unwrap();
    let answer = json!({"model": "all-minilm", "embeddings": [[0.5, -1.0]], "total_duration": 14143917, "prompt_eval_count": 8});
    let out = a.transform_response(answer, &embed).unwrap();
    assert_eq!(
        out["data"],
        json!([{"object": "embedding", "index": 0, "embedding": [0.5, -1.0]}])
    );
    assert_eq!(out["usage"], json!({"prompt_tokens": 8, "total_tokens": 8}));
}

#[test]
fn a_text_answer_and_done_reason_length() {
    let answer = json!({"model": MODEL, "created_at": "2026-08-21T12:00:00Z",
        "message": {"role": "assistant", "content": "Hello"}, "done": true, "done_reason": "length",
        "eval_count": 2});
    let out = ollama()
        .transform_response(answer, &ctx(MODEL, false))
        .unwrap();
    assert_eq!(out["choices"][0]["message"]["content"], "Hello");
    assert_eq!(out["choices"][0]["finish_reason"], "length");
    // No prompt_eval_count (Ollama leaves out a 0): 0 prompt tokens.
    assert_eq!(
        out["usage"],
        json!({"prompt_tokens": 0, "completion_tokens": 2, "total_tokens": 2})
    );
}

#[test]
fn an_error_line_or_a_cut_stream_is_never_closed_as_complete() {
    let text = |t: &str| json!({"model": MODEL, "message": {"role": "assistant", "content": t}, "done": false});
    let out = run_stream(
        &ollama(),
        &lines(&[
            text("Hi"),
            json!({"error": "an error was encountered while running the model"}),
        ]),
        &ctx(MODEL, true),
    );
    let last = out.last().unwrap();
    assert!(
        last["error"]["message"]
            .as_str()
            .unwrap()
            .contains("running the model"),
        "{last}"
    );
    assert!(!out.contains(&json!("[DONE]")));

    let out = run_stream(
        &ollama(),
        &lines(&[text("Hi"), text(" there")]),
        &ctx(MODEL, true),
    );
    assert_eq!(out.len(), 3, "role, two deltas, nothing more: {out:#?}");
    assert!(!out.contains(&json!("[DONE]")));

    // Blank lines between objects are skipped.
    let mut events = lines(&[text("Hi")]);
    events.push((String::new(), String::new()));
    let done = json!({"model": MODEL, "message": {"role": "assistant", "content": ""}, "done": true,
                      "done_reason": "stop", "prompt_eval_count": 3, "eval_count": 1});
    events.extend(lines(&[done]));
    let out = run_stream(&ollama(), &events, &ctx(MODEL, true));
    assert_eq!(out.last(), Some(&json!("[DONE]")));
    assert_eq!(out[2]["choices"][0]["finish_reason"], "stop");
}
