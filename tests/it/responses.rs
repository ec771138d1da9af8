//! `POST /v1/responses` (OpenAI's Responses API) through the real gateway:
//! translated to chat for an OpenAI-chat-format and an Anthropic-format
//! provider, passed through to one that speaks it, streamed as typed
//! events; stored responses, `previous_response_id`, their scoping to the
//! key that made them, a fleet sharing them through Redis, and failover.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::*;
use crate::policy::{key_entry, KEY_A, KEY_B};

/// A gateway with `gpt` on an OpenAI-chat mock, `claude` on an
/// Anthropic-format one and `native` on a provider speaking Responses.
async fn gateway(cfg: MockConfig, extra: &str) -> (MockServer, MockServer, Gateway) {
    let oa = MockServer::start(cfg.clone()).await.unwrap();
    let claude = MockServer::start(cfg).await.unwrap();
    let gw = Gateway::start(&yaml(&oa, &claude, extra)).await;
    (oa, claude, gw)
}

fn yaml(oa: &MockServer, claude: &MockServer, extra: &str) -> String {
    format!(
        "{extra}providers:\n{}{}{}    capabilities: {{ responses: true }}\nroutes:\n  - match: {{ model: gpt }}\n    targets: [{{ provider: oa, model: gpt-4o }}]\n  - match: {{ model: claude }}\n    targets: [{{ provider: claude, model: claude-sonnet-4 }}]\n  - match: {{ model: native }}\n    targets: [{{ provider: native, model: gpt-5 }}]\n",
        provider("oa", "openai", oa, Some("k")),
        provider("claude", "anthropic", claude, Some("k")),
        provider("native", "openai", oa, Some("k")),
    )
}

fn output_text(response: &Value) -> String {
    response["output"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["type"] == "message")
        .flat_map(|i| i["content"].as_array().cloned().unwrap_or_default())
        .filter_map(|c| c["text"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn a_response_is_translated_to_chat_and_back_for_both_formats() {
    let (oa, claude, gw) = gateway(MockConfig::default(), "").await;
    for (model, mock) in [("gpt", &oa), ("claude", &claude)] {
        let body = json!({"model": model, "input": "hi", "instructions": "be brief", "max_output_tokens": 50});
        let r = gw.post("/v1/responses", &body).await;
        assert_eq!(r.status(), 200, "{model}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["object"], "response");
        assert_eq!(v["status"], "completed");
        assert_eq!(v["model"], model);
        assert!(v["id"].as_str().unwrap().starts_with("resp_"), "{v}");
        assert_eq!(output_text(&v), mock_text(5), "{v}");
        assert_eq!(v["usage"]["output_tokens"], 5, "{v}");
        assert!(v["usage"]["input_tokens"].as_u64().unwrap() > 0, "{v}");
        let sent = mock.last_request().unwrap().json().unwrap();
        if model == "gpt" {
            assert_eq!(
                sent["messages"][0],
                json!({"role": "system", "content": "be brief"})
            );
            assert_eq!(sent["max_tokens"], 50);
        } else {
            assert_eq!(sent["system"][0]["text"], "be brief", "{sent}");
        }
    }
}

#[tokio::test]
async fn a_streamed_response_is_typed_events_each_sent_when_it_arrives() {
    let cfg = MockConfig {
        chunks: 6,
        chunk_delay: Duration::from_millis(60),
        ..MockConfig::default()
    };
    let (_oa, _claude, gw) = gateway(cfg, "").await;
    for model in ["gpt", "claude", "native"] {
        let body = json!({"model": model, "input": "hi", "stream": true});
        let r = gw.post("/v1/responses", &body).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "text/event-stream");
        let events = read_sse(r).await;
        let names: Vec<&str> = events.iter().map(|e| e.event.event.as_str()).collect();
        assert_eq!(
            names.first(),
            Some(&"response.created"),
            "{model}: {names:?}"
        );
        assert_eq!(
            names.last(),
            Some(&"response.completed"),
            "{model}: {names:?}"
        );
        for (i, e) in events.iter().enumerate() {
            let v = e.json().unwrap();
            assert_eq!(v["type"], e.event.event, "{model}");
            assert_eq!(v["sequence_number"], i, "{model}: {names:?}");
        }
        let deltas: Vec<_> = events
            .iter()
            .filter(|e| e.event.event == "response.output_text.delta")
            .collect();
        let text: String = deltas
            .iter()
            .map(|e| e.json().unwrap()["delta"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(text, mock_text(6), "{model}");
        // The first token reached the client well before the last was produced.
        let spread = deltas.last().unwrap().at - deltas[0].at;
        assert!(spread >= Duration::from_millis(200), "{model}: {spread:?}");
        let done = events.last().unwrap().json().unwrap();
        assert_eq!(output_text(&done["response"]), mock_text(6), "{model}");
        assert_eq!(done["response"]["store"], true, "{model}: {done}");
        let created = events[0].json().unwrap();
        assert_eq!(created["response"]["id"], done["response"]["id"], "{model}");
        assert!(done["response"]["usage"]["output_tokens"].as_u64().unwrap() > 0);
    }
}

#[tokio::test]
async fn tools_and_previous_response_id_carry_the_conversation() {
    let (oa, claude, gw) = gateway(MockConfig::default(), "").await;
    let tools = json!([{"type": "function", "name": "get_weather", "description": "weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]);
    for (model, mock) in [("gpt", &oa), ("claude", &claude)] {
        let body = json!({"model": model, "input": "weather in Paris?", "tools": tools});
        let first: Value = gw.post("/v1/responses", &body).await.json().await.unwrap();
        let call = first["output"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["type"] == "function_call")
            .unwrap_or_else(|| panic!("{model}: no function call in {first}"))
            .clone();
        assert_eq!(call["name"], "get_weather");
        let call_id = call["call_id"].as_str().unwrap();
        let follow = json!({"model": model, "previous_response_id": first["id"], "tools": tools,
            "input": [{"type": "function_call_output", "call_id": call_id, "output": "sunny"}]});
        let r = gw.post("/v1/responses", &follow).await;
        assert_eq!(r.status(), 200);
        let second: Value = r.json().await.unwrap();
        assert_eq!(output_text(&second), mock_text(5), "{model}: {second}");
        assert_eq!(second["previous_response_id"], first["id"]);
        // The provider saw the whole conversation: question, call, result.
        let sent = mock.last_request().unwrap().json().unwrap();
        let sent = sent.to_string();
        assert!(sent.contains("weather in Paris?"), "{model}: {sent}");
        assert!(sent.contains(call_id), "{model}: {sent}");
        assert!(sent.contains("sunny"), "{model}: {sent}");
        // Stored, listed, deleted.
        let id = second["id"].as_str().unwrap();
        let got: Value = gw
            .get(&format!("/v1/responses/{id}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(got, second);
        let items: Value = gw
            .get(&format!("/v1/responses/{id}/input_items?order=asc"))
            .await
            .json()
            .await
            .unwrap();
        let types: Vec<&str> = items["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["type"].as_str().unwrap_or(""))
            .collect();
        // (The Anthropic mock says a few words before its tool call.)
        assert_eq!(types.first(), Some(&"message"), "{items}");
        assert!(
            types.ends_with(&["function_call", "function_call_output"]),
            "{items}"
        );
        let r = gw
            .client
            .delete(gw.url(&format!("/v1/responses/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(gw.get(&format!("/v1/responses/{id}")).await.status(), 404);
    }
}

#[tokio::test]
async fn a_native_provider_gets_the_responses_api_with_the_history_inline() {
    let (oa, _claude, gw) = gateway(MockConfig::default(), "").await;
    let first: Value = gw
        .post(
            "/v1/responses",
            &json!({"model": "native", "input": "hello"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(output_text(&first), mock_text(5), "{first}");
    assert_eq!(
        first["store"], true,
        "the client's store, not the one sent: {first}"
    );
    let req = oa.last_request().unwrap();
    assert_eq!(req.path, "/v1/responses");
    let sent = req.json().unwrap();
    assert_eq!(sent["model"], "gpt-5");
    assert_eq!(sent["store"], false, "the gateway keeps the state: {sent}");
    let follow =
        json!({"model": "native", "input": "and again", "previous_response_id": first["id"]});
    let r = gw.post("/v1/responses", &follow).await;
    assert_eq!(r.status(), 200);
    let second: Value = r.json().await.unwrap();
    assert_eq!(second["previous_response_id"], first["id"], "{second}");
    let sent = oa.last_request().unwrap().json().unwrap();
    assert!(sent.get("previous_response_id").is_none(), "{sent}");
    let input = sent["input"].to_string();
    assert!(
        input.contains("hello") && input.contains("and again"),
        "{input}"
    );
    assert!(
        input.contains(&mock_text(5)),
        "the earlier answer is inline: {input}"
    );
}

#[tokio::test]
async fn stored_responses_belong_to_the_key_that_made_them() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let yaml = format!(
        "auth:\n  keys:\n{}{}providers:\n{}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: p, model: up }}]\n",
        key_entry("a", KEY_A, ""),
        key_entry("b", KEY_B, ""),
        provider("p", "openai", &mock, None)
    );
    let gw = Gateway::start(&yaml).await;
    let send = |key: &'static str, body: Value| {
        let req = gw
            .client
            .post(gw.url("/v1/responses"))
            .bearer_auth(key)
            .json(&body);
        async move { req.send().await.unwrap() }
    };
    let r = send(KEY_A, json!({"model": "m", "input": "hi"})).await;
    assert_eq!(r.status(), 200);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let get = |key: &'static str| {
        let req = gw
            .client
            .get(gw.url(&format!("/v1/responses/{id}")))
            .bearer_auth(key);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(get(KEY_A).await, 200);
    assert_eq!(get(KEY_B).await, 404);
    assert_eq!(gw.get(&format!("/v1/responses/{id}")).await.status(), 401);
    let r = send(
        KEY_B,
        json!({"model": "m", "input": "hi", "previous_response_id": id}),
    )
    .await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["param"], "previous_response_id");
}

#[tokio::test]
async fn a_fleet_shares_stored_responses_through_redis() {
    let redis = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let prefix = format!("sy-it-resp-{:016x}:", rand::random::<u64>());
    let state = format!("state:\n  redis: {redis}\n  prefix: \"{prefix}\"\n");
    let oa = MockServer::start(MockConfig::default()).await.unwrap();
    let claude = MockServer::start(MockConfig::default()).await.unwrap();
    let yaml = yaml(&oa, &claude, &state);
    let (a, b) = tokio::join!(Gateway::start(&yaml), Gateway::start(&yaml));
    let first: Value = a
        .post("/v1/responses", &json!({"model": "gpt", "input": "hi"}))
        .await
        .json()
        .await
        .unwrap();
    let id = first["id"].as_str().unwrap();
    let on_b = b.get(&format!("/v1/responses/{id}")).await;
    assert_eq!(on_b.status(), 200);
    let follow = json!({"model": "gpt", "input": "more", "previous_response_id": id});
    assert_eq!(b.post("/v1/responses", &follow).await.status(), 200);
}

#[tokio::test]
async fn a_failing_provider_fails_over_before_the_first_event() {
    let bad = MockServer::start(MockConfig {
        error_rate: 1.0,
        error_status: 503,
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let good = MockServer::start(MockConfig::default()).await.unwrap();
    let yaml = format!(
        "providers:\n{}{}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: bad, model: x }}, {{ provider: good, model: y }}]\n",
        provider("bad", "openai", &bad, None),
        provider("good", "anthropic", &good, Some("k")),
    );
    let gw = Gateway::start(&yaml).await;
    for stream in [false, true] {
        let r = gw
            .post(
                "/v1/responses",
                &json!({"model": "m", "input": "hi", "stream": stream}),
            )
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-switchyard-provider"], "good");
        if stream {
            let events = read_sse(r).await;
            assert_eq!(events.last().unwrap().event.event, "response.completed");
        }
    }
    assert!(bad.hits() >= 2);
}

#[tokio::test]
async fn malformed_responses_requests_are_400_in_openais_shape() {
    let (_oa, _claude, gw) = gateway(MockConfig::default(), "").await;
    for (body, param) in [
        (json!({"input": "hi"}), "model"),
        (
            json!({"model": "gpt", "input": [{"type": "web_search_call"}]}),
            "input[0].type",
        ),
        (
            json!({"model": "gpt", "input": "hi", "previous_response_id": "resp_nope"}),
            "previous_response_id",
        ),
    ] {
        let r = gw.post("/v1/responses", &body).await;
        assert_eq!(r.status(), 400, "{body}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["param"], param, "{v}");
    }
    assert_eq!(gw.get("/v1/responses/resp_nope").await.status(), 404);
}

/// Codex CLI's freeform `apply_patch` tool (a `custom` tool) reaches a chat
/// provider as a function with one string argument, and comes back as a
/// `custom_tool_call`; its output goes back like a function's.
#[tokio::test]
async fn custom_tools_round_trip_through_a_chat_provider() {
    let (_oa, claude, gw) = gateway(MockConfig::default(), "").await;
    let tools = json!([{"type": "custom", "name": "apply_patch", "description": "Apply a patch",
        "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"}}]);
    for stream in [false, true] {
        let body = json!({"model": "claude", "input": "fix it", "tools": tools, "stream": stream});
        let r = gw.post("/v1/responses", &body).await;
        assert_eq!(r.status(), 200);
        let first = if stream {
            let events = read_sse(r).await;
            let names: Vec<&str> = events.iter().map(|e| e.event.event.as_str()).collect();
            assert!(
                names.contains(&"response.custom_tool_call_input.done"),
                "{names:?}"
            );
            events.last().unwrap().json().unwrap()["response"].clone()
        } else {
            r.json::<Value>().await.unwrap()
        };
        let call = first["output"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["type"] == "custom_tool_call")
            .unwrap_or_else(|| panic!("no custom tool call: {first}"))
            .clone();
        assert_eq!(call["name"], "apply_patch");
        assert!(call["input"].is_string(), "{call}");
        let sent = claude.last_request().unwrap().json().unwrap();
        assert_eq!(sent["tools"][0]["name"], "apply_patch", "{sent}");
        assert_eq!(
            sent["tools"][0]["input_schema"]["required"],
            json!(["input"]),
            "{sent}"
        );
        let follow = json!({"model": "claude", "previous_response_id": first["id"], "tools": tools,
            "input": [{"type": "custom_tool_call_output", "call_id": call["call_id"], "output": "done"}]});
        let second: Value = gw
            .post("/v1/responses", &follow)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(output_text(&second), mock_text(5), "{second}");
    }
}
