//! `cohere.rhai` beyond its golden fixtures: the request head, the mapping
//! choices its header documents, embeddings, failures and cut streams.

use serde_json::{json, Value};

use super::*;

const MODEL: &str = "command-a-03-2025";

fn cohere() -> Script {
    adapter("cohere")
}

fn request(body: Value) -> Value {
    cohere()
        .transform_request(&body, &ctx(MODEL, false))
        .unwrap()
        .unwrap()
}

fn chat(extra: Value) -> Value {
    let mut body = json!({"model": MODEL, "messages": [{"role": "user", "content": "Hi"}]});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    body
}

fn weather_tools() -> Value {
    json!([
        {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}},
        {"type": "function", "function": {"name": "get_time"}}
    ])
}

/// `event: <name>` + `data: <json>` pairs.
fn events(list: &[(&str, Value)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(name, data)| (name.to_string(), data.to_string()))
        .collect()
}

#[test]
fn chat_and_embeddings_go_to_v2_with_a_bearer_key() {
    let a = cohere();
    let plan = a.request(&ctx(MODEL, true)).unwrap();
    assert_eq!(plan.path, "/v2/chat");
    assert_eq!(plan.headers, [("authorization".into(), "Bearer k".into())]);
    let embed = ctx_for(
        "embeddings",
        "embed-v4.0",
        false,
        options(json!({"client_name": "app"})),
    );
    let plan = a.request(&embed).unwrap();
    assert_eq!(plan.path, "/v2/embed");
    assert!(plan
        .headers
        .contains(&("x-client-name".into(), "app".into())));
    let none = ctx_for("chat", MODEL, false, options(json!({"auth": "none"})));
    assert!(a.request(&none).unwrap().headers.is_empty());
}

#[test]
fn a_streamed_request_says_stream_true_and_json_schema_becomes_json_object() {
    let a = cohere();
    let body = chat(
        json!({"response_format": {"type": "json_schema", "json_schema": {
        "name": "x", "schema": {"type": "object", "properties": {"a": {"type": "string"}}}}}}),
    );
    let sent = a
        .transform_request(&body, &ctx(MODEL, true))
        .unwrap()
        .unwrap();
    assert_eq!(sent["stream"], true);
    assert_eq!(
        sent["response_format"],
        json!({"type": "json_object", "json_schema": {"type": "object", "properties": {"a": {"type": "string"}}}})
    );
    let sent = request(chat(json!({"response_format": {"type": "json_object"}})));
    assert_eq!(sent["response_format"], json!({"type": "json_object"}));
    let sent = request(chat(
        json!({"response_format": {"type": "text"}, "top_p": 0.001}),
    ));
    assert!(sent.get("response_format").is_none());
    assert_eq!(sent["p"], 0.01);
}

#[test]
fn a_named_tool_choice_narrows_the_tools_and_requires_one() {
    let sent = request(chat(json!({"tools": weather_tools(),
        "tool_choice": {"type": "function", "function": {"name": "get_time"}}})));
    assert_eq!(sent["tool_choice"], "REQUIRED");
    let names: Vec<&Value> = sent["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["function"]["name"])
        .collect();
    assert_eq!(names, [&json!("get_time")]);
    assert_eq!(
        sent["tools"][0]["function"]["parameters"],
        json!({"type": "object", "properties": {}})
    );

    let sent = request(chat(
        json!({"tools": weather_tools(), "tool_choice": "auto"}),
    ));
    assert!(sent.get("tool_choice").is_none() && sent.get("strict_tools").is_none());
    assert_eq!(
        request(chat(
            json!({"tools": weather_tools(), "tool_choice": "none"})
        ))["tool_choice"],
        "NONE"
    );
    // A tool_choice without tools means nothing.
    assert!(request(chat(json!({"tool_choice": "required"})))
        .get("tool_choice")
        .is_none());
}

#[test]
fn what_cohere_cannot_take_is_refused_with_400() {
    let a = cohere();
    let cases = [
        (chat(json!({"n": 2})), "n > 1"),
        (
            json!({"messages": [{"role": "user", "content": [
            {"type": "input_audio", "input_audio": {"data": "AA==", "format": "wav"}}]}]}),
            "audio",
        ),
        (
            chat(json!({"tools": [{"type": "custom", "custom": {"name": "x"}}]})),
            "custom",
        ),
        (
            chat(json!({"response_format": {"type": "grammar"}})),
            "grammar",
        ),
        (
            chat(json!({"tools": weather_tools(),
            "tool_choice": {"type": "function", "function": {"name": "nope"}}})),
            "names no tool",
        ),
    ];
    for (body, words) in cases {
        let (status, message) = refusal(a.transform_request(&body, &ctx(MODEL, false)));
        assert_eq!(status, 400);
        assert!(message.contains(words), "{message}");
    }
}

#[test]
fn embeddings_ask_for_floats_and_come_back_in_order_as_floats_or_base64() {
    let a = cohere();
    let embed = ctx_for(
        "embeddings",
        "embed-v4.0",
        false,
        options(json!({"input_type": "search_query"})),
    );
    let sent = a
        .transform_request(
            &json!({"model": "embed-v4.0", "input": ["a", "b"], "dimensions": 256}),
            &embed,
        )
        .unwrap()
        .unwrap();
    assert_eq!(
        sent,
        json!({"model": "embed-v4.0", "texts": ["a", "b"], "input_type": "search_query",
               "embedding_types": ["float"], "output_dimension": 256})
    );
    switchyard_mock::validate::cohere_embed(&serde_json::to_vec(&sent).unwrap()).unwrap();

    let answer = json!({"id": "e1", "texts": ["a", "b"], "embeddings": {"float": [[0.5, -1.0], [1.0, 0.0]]},
        "meta": {"api_version": {"version": "2"}, "billed_units": {"input_tokens": 2}},
        "response_type": "embeddings_by_type"});
    let out = a.transform_response(answer.clone(), &embed).unwrap();
    assert_eq!(
        out["data"][1],
        json!({"object": "embedding", "index": 1, "embedding": [1.0, 0.0]})
    );
    assert_eq!(out["usage"], json!({"prompt_tokens": 2, "total_tokens": 2}));
    let mut base64 = embed.clone();
    base64.encoding_format = Some("base64".into());
    let out = a.transform_response(answer, &base64).unwrap();
    assert_eq!(out["data"][0]["embedding"], "AAAAPwAAgL8=");
    let many: Vec<String> = (0..97).map(|i| i.to_string()).collect();
    let (status, _) = refusal(a.transform_request(&json!({"input": many}), &embed));
    assert_eq!(status, 400);
}

#[test]
fn a_text_answer_and_its_finish_reasons() {
    let a = cohere();
    let answer = |reason: &str| {
        json!({"id": "r1", "finish_reason": reason,
               "message": {"role": "assistant", "content": [{"type": "text", "text": "Hello"}]},
               "usage": {"billed_units": {"input_tokens": 3, "output_tokens": 2}}})
    };
    let out = a
        .transform_response(answer("COMPLETE"), &ctx(MODEL, false))
        .unwrap();
    assert_eq!(out["id"], "chatcmpl-r1");
    assert_eq!(out["choices"][0]["message"]["content"], "Hello");
    assert!(out["choices"][0]["message"].get("tool_calls").is_none());
    assert_eq!(out["choices"][0]["finish_reason"], "stop");
    // Without token counts, the billed units.
    assert_eq!(out["usage"]["total_tokens"], 5);
    for (reason, finish) in [
        ("STOP_SEQUENCE", "stop"),
        ("MAX_TOKENS", "length"),
        ("SOMETHING_NEW", "stop"),
    ] {
        let out = a
            .transform_response(answer(reason), &ctx(MODEL, false))
            .unwrap();
        assert_eq!(out["choices"][0]["finish_reason"], finish, "{reason}");
    }
    // A failed generation is not passed off as an answer.
    for reason in ["ERROR", "TIMEOUT"] {
        let err = a
            .transform_response(answer(reason), &ctx(MODEL, false))
            .unwrap_err();
        assert!(err.to_string().contains(reason), "{err}");
    }
}

#[test]
fn a_text_stream_ends_with_usage_and_done_and_a_trailing_done_line_is_harmless() {
    let list = [
        (
            "message-start",
            json!({"type": "message-start", "id": "s1", "delta": {"message": {"role": "assistant"}}}),
        ),
        (
            "content-start",
            json!({"type": "content-start", "index": 0, "delta": {"message": {"content": {"type": "text", "text": ""}}}}),
        ),
        (
            "content-delta",
            json!({"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": "Hi"}}}}),
        ),
        ("content-end", json!({"type": "content-end", "index": 0})),
        (
            "message-end",
            json!({"type": "message-end", "delta": {"finish_reason": "COMPLETE",
            "usage": {"tokens": {"input_tokens": 4, "output_tokens": 1}}}}),
        ),
    ];
    let mut evs = events(&list);
    evs.push((String::new(), "[DONE]".into()));
    let out = run_stream(&cohere(), &evs, &ctx(MODEL, true));
    assert_eq!(out.len(), 5, "{out:#?}");
    assert_eq!(out[1]["choices"][0]["delta"], json!({"content": "Hi"}));
    assert_eq!(out[2]["choices"][0]["finish_reason"], "stop");
    assert_eq!(out[3]["usage"]["total_tokens"], 5);
    assert_eq!(out[4], "[DONE]");
}

#[test]
fn a_failed_or_cut_stream_is_never_closed_as_complete() {
    let start = (
        "message-start",
        json!({"type": "message-start", "id": "s1", "delta": {"message": {"role": "assistant"}}}),
    );
    let delta = (
        "content-delta",
        json!({"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": "Hi"}}}}),
    );
    let failed = (
        "message-end",
        json!({"type": "message-end", "delta": {"error": "boom", "finish_reason": "ERROR"}}),
    );
    let out = run_stream(
        &cohere(),
        &events(&[start.clone(), delta.clone(), failed]),
        &ctx(MODEL, true),
    );
    let last = out.last().unwrap();
    assert!(
        last["error"]["message"].as_str().unwrap().contains("boom"),
        "{last}"
    );
    assert!(!out.contains(&json!("[DONE]")));

    // No message-end: finish_stream adds nothing (the gateway reports the truncation).
    let out = run_stream(&cohere(), &events(&[start, delta]), &ctx(MODEL, true));
    assert_eq!(out.len(), 2);
    assert!(out
        .iter()
        .all(|c| c["choices"][0]["finish_reason"].is_null()));
}
