//! The shared machinery on every endpoint added for the rest of OpenAI's
//! API: the key check, latency, status faults and error draws, recording,
//! and the fallback for other base paths.

use std::time::{Duration, Instant};

use reqwest::multipart::Form;
use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};

use super::util::*;
use crate::{Fault, MockConfig, MockServer};

/// One valid request to each new endpoint (the files and batches that
/// need an existing id use one that is not there: 404 is fine after the
/// shared checks).
fn requests(mock: &MockServer, prefix: &str) -> Vec<(&'static str, RequestBuilder)> {
    let url = |path: &str| format!("{}{prefix}{path}", mock.url());
    let http = client();
    let audio = || {
        Form::new()
            .part("file", file_part("a.mp3", 100))
            .text("model", "whisper-1")
    };
    vec![
        (
            "responses",
            http.post(url("/responses"))
                .json(&json!({"model": "m", "input": "hi"})),
        ),
        (
            "generations",
            http.post(url("/images/generations"))
                .json(&json!({"prompt": "p"})),
        ),
        (
            "edits",
            http.post(url("/images/edits")).multipart(
                Form::new()
                    .text("prompt", "p")
                    .part("image", file_part("a.png", 10)),
            ),
        ),
        (
            "transcriptions",
            http.post(url("/audio/transcriptions")).multipart(audio()),
        ),
        (
            "translations",
            http.post(url("/audio/translations")).multipart(audio()),
        ),
        (
            "speech",
            http.post(url("/audio/speech"))
                .json(&json!({"model": "tts-1", "input": "hi", "voice": "alloy"})),
        ),
        (
            "moderations",
            http.post(url("/moderations")).json(&json!({"input": "hi"})),
        ),
        (
            "rerank",
            http.post(url("/rerank"))
                .json(&json!({"model": "r", "query": "q", "documents": ["d"]})),
        ),
        (
            "upload",
            http.post(url("/files")).multipart(
                Form::new()
                    .text("purpose", "batch")
                    .part("file", file_part("a.jsonl", 10)),
            ),
        ),
        ("files", http.get(url("/files"))),
        ("batches", http.get(url("/batches"))),
        ("echo", http.request(Method::PUT, url("/mock/echo/x"))),
    ]
}

#[tokio::test]
async fn every_endpoint_answers_with_and_without_v1() {
    let mock = start(MockConfig::default()).await;
    for prefix in ["/v1", ""] {
        for (name, req) in requests(&mock, prefix) {
            let res = req.send().await.unwrap();
            let status = res.status();
            assert_eq!(
                status,
                200,
                "{name} {prefix}: {}",
                res.text().await.unwrap()
            );
        }
    }
    assert_eq!(mock.hits(), 24);
    let paths: Vec<String> = mock.requests().iter().map(|r| r.path.clone()).collect();
    assert!(paths.contains(&"/v1/audio/speech".to_owned()), "{paths:?}");
    assert!(paths.contains(&"/moderations".to_owned()), "{paths:?}");
}

#[tokio::test]
async fn every_endpoint_but_echo_wants_the_key() {
    let mock = start(MockConfig {
        api_key: Some("sk-right".into()),
        ..MockConfig::default()
    })
    .await;
    for (name, req) in requests(&mock, "/v1") {
        let (status, body) = status_json(req).await;
        if name == "echo" {
            assert_eq!((status, &body["authorized"]), (200, &json!(false)));
            continue;
        }
        assert_eq!(status, 401, "{name}: {body}");
        assert_eq!(body["error"]["code"], "invalid_api_key", "{name}");
    }
    for (name, req) in requests(&mock, "/v1") {
        let res = req.bearer_auth("sk-right").send().await.unwrap();
        assert_eq!(res.status(), 200, "{name}");
    }
    let cohere = client()
        .post(format!("{}/v2/rerank", mock.url()))
        .json(&json!({"model": "r", "query": "q", "documents": ["d"]}));
    let (status, body) = status_json(cohere).await;
    assert_eq!(status, 401);
    assert_eq!(body["message"], "invalid api token");
}

#[tokio::test]
async fn status_faults_and_error_draws_fail_every_endpoint() {
    let mock = with_fault(Fault::Status {
        code: 429,
        retry_after: Some(3),
    })
    .await;
    for (name, req) in requests(&mock, "/v1") {
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 429, "{name}");
        assert_eq!(res.headers()["retry-after"], "3", "{name}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "rate_limit_exceeded", "{name}");
    }
    mock.set_config(MockConfig {
        error_rate: 1.0,
        error_status: 503,
        ..MockConfig::default()
    });
    for (name, req) in requests(&mock, "") {
        assert_eq!(req.send().await.unwrap().status(), 503, "{name}");
    }
}

#[tokio::test]
async fn latency_delays_every_endpoint() {
    let mock = start(MockConfig {
        latency: Duration::from_millis(40),
        ..MockConfig::default()
    })
    .await;
    for (name, req) in requests(&mock, "/v1") {
        let begun = Instant::now();
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 200, "{name}");
        assert!(begun.elapsed() >= Duration::from_millis(40), "{name}");
    }
}

#[tokio::test]
async fn other_base_paths_reach_the_endpoints() {
    let mock = start(MockConfig::default()).await;
    let base = "/openai/deployments/d1";
    for (name, req) in requests(&mock, base) {
        if ["upload", "files", "batches", "echo"].contains(&name) {
            continue;
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 200, "{name}");
    }
    let seen = mock.last_request().unwrap();
    assert_eq!(seen.path, "/openai/deployments/d1/rerank");
}
