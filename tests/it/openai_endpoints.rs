//! OpenAI's other endpoints through the real gateway, routed by `model`
//! and failing over like chat: images (generations, multipart edits),
//! audio (multipart transcriptions and translations, speech streamed as it
//! comes), moderations, rerank; files and batches at the provider that
//! holds them; unknown `/v1` paths passed through on routes that say so.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::*;

const ALL: &str = "    capabilities: { images: true, audio: true, speech: true, moderations: true, rerank: true, files: true, batches: true }\n";

/// `m` routes to `bad` (every request a 503) then `good`; `claude` to an
/// Anthropic-format provider, which serves none of these endpoints.
async fn gateway(cfg: MockConfig) -> (MockServer, MockServer, Gateway) {
    let bad = MockServer::start(MockConfig {
        error_rate: 1.0,
        error_status: 503,
        ..cfg.clone()
    })
    .await
    .unwrap();
    let good = MockServer::start(cfg).await.unwrap();
    let yaml = format!(
        "providers:\n{}{ALL}{}{ALL}    models:\n      gpt-image-1: {{ input_per_mtok: 5, output_per_mtok: 40 }}\n{}routes:\n  - match: {{ model: claude }}\n    targets: [{{ provider: claude, model: claude-sonnet-4 }}]\n  - match: {{ model: \"*\" }}\n    passthrough: true\n    targets: [{{ provider: bad }}, {{ provider: good }}]\n",
        provider("bad", "openai", &bad, Some("bad-key")),
        provider("good", "openai", &good, Some("good-key")),
        provider("claude", "anthropic", &good, Some("k")),
    );
    (bad, good, Gateway::start(&yaml).await)
}

fn form(file: Vec<u8>, fields: &[(&str, &str)], name: &str) -> reqwest::multipart::Form {
    let mut form = reqwest::multipart::Form::new().part(
        name.to_string(),
        reqwest::multipart::Part::bytes(file)
            .file_name("upload.bin")
            .mime_str("application/octet-stream")
            .unwrap(),
    );
    for (k, v) in fields {
        form = form.text(k.to_string(), v.to_string());
    }
    form
}

/// Posts `form` to `path`.
async fn upload(gw: &Gateway, path: &str, form: reqwest::multipart::Form) -> reqwest::Response {
    gw.client
        .post(gw.url(path))
        .multipart(form)
        .send()
        .await
        .unwrap()
}

/// Asks for a few words of speech.
async fn speak(gw: &Gateway) -> reqwest::Response {
    let body = json!({"model": "tts-1", "input": "hello", "voice": "alloy"});
    gw.post("/v1/audio/speech", &body).await
}

#[tokio::test]
async fn json_endpoints_fail_over_and_record_usage() {
    let (bad, good, gw) = gateway(MockConfig::default()).await;
    for (path, body) in [
        (
            "/v1/images/generations",
            json!({"model": "gpt-image-1", "prompt": "a cat", "response_format": "b64_json"}),
        ),
        (
            "/v1/moderations",
            json!({"model": "omni-moderation-latest", "input": ["I will kill it", "hello"]}),
        ),
        ("/v1/moderations", json!({"input": "hello"})),
        (
            "/v1/rerank",
            json!({"model": "rerank-v3", "query": "cat food", "documents": ["dog toys", "cat food bowls", "cats"]}),
        ),
    ] {
        let r = gw.post(path, &body).await;
        assert_eq!(r.status(), 200, "{path}: {}", r.text().await.unwrap());
        assert_eq!(r.headers()["x-switchyard-provider"], "good", "{path}");
        let attempts = r.headers()["x-switchyard-attempts"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            attempts.contains(":503") && attempts.ends_with(":200"),
            "{path}: {attempts}"
        );
        let v: Value = r.json().await.unwrap();
        let sent = good.last_request().unwrap();
        assert_eq!(sent.path, path, "the provider got the same endpoint");
        assert_eq!(sent.header("authorization"), Some("Bearer good-key"));
        match path {
            "/v1/images/generations" => assert!(v["data"][0]["b64_json"].is_string(), "{v}"),
            "/v1/moderations" => {
                assert_eq!(v["results"][0]["flagged"], body["input"].is_array(), "{v}")
            }
            _ => assert_eq!(v["results"][0]["index"], 1, "{v}"),
        }
    }
    assert_eq!(bad.hits(), 4);
    // Priced usage: the image's tokens are costed.
    let r = gw
        .post(
            "/v1/images/generations",
            &json!({"model": "gpt-image-1", "prompt": "a dog"}),
        )
        .await;
    let cost: f64 = r.headers()["x-switchyard-cost-usd"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(cost > 0.0);
}

#[tokio::test]
async fn multipart_uploads_are_spooled_and_resent_whole_on_failover() {
    let (bad, good, gw) = gateway(MockConfig::default()).await;
    // Larger than the spool's memory: it waits on disk between attempts.
    let file: Vec<u8> = (0..(1u32 << 20)).map(|i| (i % 249) as u8).collect();
    for (path, name) in [
        ("/v1/audio/transcriptions", "file"),
        ("/v1/audio/translations", "file"),
        ("/v1/images/edits", "image"),
    ] {
        let mut fields = vec![("model", "whisper-1")];
        if name == "image" {
            fields = vec![("model", "gpt-image-1"), ("prompt", "add a hat")];
        }
        let r = upload(&gw, path, form(file.clone(), &fields, name)).await;
        assert_eq!(r.status(), 200, "{path}: {}", r.text().await.unwrap());
        assert_eq!(r.headers()["x-switchyard-provider"], "good");
        let v: Value = r.json().await.unwrap();
        let sent = good.last_request().unwrap();
        let received = sent.form.expect("a multipart body");
        let files: Vec<_> = received
            .files()
            .map(|f| (f.name.as_str(), f.len()))
            .collect();
        assert_eq!(
            files,
            [(name, file.len())],
            "{path}: the whole file, on the second attempt"
        );
        if name == "file" {
            let text = v["text"].as_str().unwrap();
            assert!(text.contains(&file.len().to_string()), "{text}");
        }
    }
    assert_eq!(bad.hits(), 3);
    // No file, or not a form: 400 naming it.
    let r = upload(
        &gw,
        "/v1/audio/transcriptions",
        reqwest::multipart::Form::new().text("model", "whisper-1"),
    )
    .await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["param"], "file");
    let r = gw
        .post("/v1/audio/transcriptions", &json!({"model": "whisper-1"}))
        .await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn speech_is_relayed_as_it_is_produced() {
    let cfg = MockConfig {
        chunks: 6,
        chunk_delay: Duration::from_millis(60),
        ..MockConfig::default()
    };
    let (_bad, _good, gw) = gateway(cfg).await;
    let r = speak(&gw).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("audio/"));
    use futures_util::StreamExt;
    let mut body = r.bytes_stream();
    let mut reads = Vec::new();
    let mut total = 0;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.unwrap();
        total += chunk.len();
        reads.push(std::time::Instant::now());
    }
    assert_eq!(total, 6 * 4096);
    let spread = *reads.last().unwrap() - reads[0];
    assert!(spread >= Duration::from_millis(200), "buffered: {spread:?}");
}

#[tokio::test]
async fn a_provider_that_cannot_serve_an_endpoint_is_400_unsupported() {
    let (_bad, _good, gw) = gateway(MockConfig::default()).await;
    let r = gw
        .post(
            "/v1/images/generations",
            &json!({"model": "claude", "prompt": "x"}),
        )
        .await;
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "unsupported_by_provider", "{v}");
    // A malformed body is the client's 400 before any provider is tried.
    let r = gw
        .post("/v1/rerank", &json!({"model": "r", "query": "q"}))
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["param"],
        "documents"
    );
}

#[tokio::test]
async fn files_and_batches_live_at_the_provider_that_holds_them() {
    let (_bad, good, gw) = gateway(MockConfig::default()).await;
    // Two providers serve files: the client names one.
    let upload = |named: Option<&str>| {
        let mut req = gw.client.post(gw.url("/v1/files")).multipart(form(
            b"{\"custom_id\":\"1\"}\n".to_vec(),
            &[("purpose", "batch")],
            "file",
        ));
        if let Some(p) = named {
            req = req.header("x-switchyard-provider", p);
        }
        req.send()
    };
    let r = upload(None).await.unwrap();
    assert_eq!(r.status(), 400, "ambiguous without the header");
    let r = upload(Some("good")).await.unwrap();
    assert_eq!(r.status(), 200);
    let file: Value = r.json().await.unwrap();
    let id = file["id"].as_str().unwrap();
    assert_eq!(
        good.last_request().unwrap().header("authorization"),
        Some("Bearer good-key")
    );
    let at_good = |path: String| {
        gw.client
            .get(gw.url(&path))
            .header("x-switchyard-provider", "good")
            .send()
    };
    let content = at_good(format!("/v1/files/{id}/content")).await.unwrap();
    assert_eq!(content.status(), 200);
    assert_eq!(
        content.bytes().await.unwrap().as_ref(),
        b"{\"custom_id\":\"1\"}\n"
    );
    let batch = json!({"input_file_id": id, "endpoint": "/v1/chat/completions", "completion_window": "24h"});
    let r = gw
        .client
        .post(gw.url("/v1/batches"))
        .header("x-switchyard-provider", "good")
        .json(&batch)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let batch_id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = at_good(format!("/v1/batches/{batch_id}")).await.unwrap();
    assert_eq!(r.status(), 200);
    // The same file id means nothing at another provider.
    let r = gw
        .client
        .post(gw.url("/v1/batches"))
        .header("x-switchyard-provider", "bad")
        .json(&batch)
        .send()
        .await
        .unwrap();
    assert_ne!(r.status(), 200);
    let r = gw
        .client
        .get(gw.url("/v1/files"))
        .header("x-switchyard-provider", "claude")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        400,
        "an Anthropic-format provider holds no files"
    );
}

#[tokio::test]
async fn unknown_paths_pass_through_only_on_routes_that_say_so() {
    let (_bad, good, gw) = gateway(MockConfig::default()).await;
    let r = gw
        .client
        .post(gw.url("/v1/mock/echo/vector_stores?limit=2"))
        .header("openai-beta", "assistants=v2")
        .json(&json!({"model": "anything", "name": "docs"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["path"], "/v1/mock/echo/vector_stores", "{v}");
    assert_eq!(v["query"], "limit=2", "{v}");
    assert_eq!(v["body"]["name"], "docs", "{v}");
    let sent = good.last_request().unwrap();
    assert_eq!(sent.header("authorization"), Some("Bearer good-key"));
    assert_eq!(sent.header("openai-beta"), Some("assistants=v2"));
    // A GET names its model in the query.
    let r = gw.get("/v1/mock/echo/things?model=x").await;
    assert_eq!(r.status(), 200);
    // `claude`'s route does not pass through; no model at all is a 404.
    let r = gw
        .post("/v1/mock/echo/x", &json!({"model": "claude"}))
        .await;
    assert_eq!(r.status(), 404);
    assert_eq!(gw.get("/v1/nope").await.status(), 404);
}

#[tokio::test]
async fn speech_cut_off_by_the_provider_is_never_a_complete_answer() {
    let cfg = MockConfig {
        chunks: 6,
        chunk_delay: Duration::from_millis(20),
        fault: Some(Fault::DropMidStream { after: 2 }),
        ..MockConfig::default()
    };
    let (_bad, _good, gw) = gateway(cfg).await;
    let r = speak(&gw).await;
    assert_eq!(r.status(), 200, "the head went out with the first bytes");
    // The chunked body has no end: the client's HTTP stack reports it.
    let body = r.bytes().await;
    assert!(body.is_err(), "a cut answer read as complete: {body:?}");
}

#[tokio::test]
async fn uploads_and_passed_through_bodies_stay_within_max_body_size() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let yaml = format!(
        "server: {{ max_body_size: 64KiB }}\nproviders:\n{}{ALL}routes:\n  - match: {{ model: \"*\" }}\n    passthrough: true\n    targets: [{{ provider: p }}]\n",
        provider("p", "openai", &mock, None)
    );
    let gw = Gateway::start(&yaml).await;
    let big = vec![0u8; 100 << 10];
    let audio = form(big.clone(), &[("model", "whisper-1")], "file");
    let r = upload(&gw, "/v1/audio/transcriptions", audio).await;
    assert_eq!(r.status(), 413);
    let r = upload(&gw, "/v1/files", form(big, &[("purpose", "batch")], "file")).await;
    assert_eq!(r.status(), 413);
    assert_eq!(mock.hits(), 0, "nothing was sent on");
    let small = form(vec![1; 1000], &[("model", "whisper-1")], "file");
    let r = upload(&gw, "/v1/audio/transcriptions", small).await;
    assert_eq!(r.status(), 200);
}
