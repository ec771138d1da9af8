//! Tests of the echo endpoint.

use reqwest::multipart::Form;
use serde_json::json;

use crate::tests::util::*;
use crate::{Fault, MockConfig};

#[tokio::test]
async fn echo_says_what_arrived() {
    let mock = start(MockConfig::default()).await;
    let req = client()
        .post(format!(
            "{}/v1/mock/echo/fine_tuning/jobs?limit=2",
            mock.url()
        ))
        .header("openai-beta", "assistants=v2")
        .bearer_auth("sk-secret")
        .json(&json!({"model": "m", "n": 1}));
    let (status, res) = status_json(req).await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(res["method"], "POST");
    assert_eq!(res["path"], "/v1/mock/echo/fine_tuning/jobs");
    assert_eq!(res["query"], "limit=2");
    assert_eq!(res["content_type"], "application/json");
    assert_eq!(res["body"], json!({"model": "m", "n": 1}));
    assert_eq!(res["body_len"], r#"{"model":"m","n":1}"#.len());
    assert_eq!(res["form"], serde_json::Value::Null);
    assert_eq!(res["authorized"], true);
    assert_eq!(res["headers"]["openai-beta"], "assistants=v2");
    assert_eq!(res["headers"]["authorization"], "***");
    assert_eq!(mock.hits(), 1);

    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let req = client().request(method.clone(), format!("{}/mock/echo/x", mock.url()));
        let (status, res) = status_json(req).await;
        assert_eq!(status, 200);
        assert_eq!(res["method"], method.as_str());
        assert_eq!(res["body_len"], 0);
        assert_eq!(res["body"], serde_json::Value::Null);
        assert_eq!(res["query"], serde_json::Value::Null);
    }
}

#[tokio::test]
async fn echo_lists_multipart_parts() {
    let mock = start(MockConfig::default()).await;
    let form = Form::new()
        .text("purpose", "fine-tune")
        .part("file", file_part("train.jsonl", 512));
    let res: serde_json::Value = post_form(&mock, "/v1/mock/echo/uploads", form)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        res["form"],
        json!([
            {"name": "purpose", "filename": null, "bytes": 9},
            {"name": "file", "filename": "train.jsonl", "bytes": 512},
        ])
    );
}

#[tokio::test]
async fn echo_reports_the_key_instead_of_refusing_and_obeys_faults() {
    let mock = start(MockConfig {
        api_key: Some("sk-right".into()),
        ..MockConfig::default()
    })
    .await;
    let url = format!("{}/v1/mock/echo/a", mock.url());
    let (status, res) = status_json(client().get(&url)).await;
    assert_eq!((status, &res["authorized"]), (200, &json!(false)));
    let (_, res) = status_json(client().get(&url).bearer_auth("sk-wrong")).await;
    assert_eq!(res["authorized"], false);
    let (_, res) = status_json(client().get(&url).bearer_auth("sk-right")).await;
    assert_eq!(res["authorized"], true);

    mock.set_fault(Some(Fault::Status {
        code: 503,
        retry_after: None,
    }));
    let (status, res) = status_json(client().get(&url)).await;
    assert_eq!(status, 503);
    assert_eq!(res["error"]["type"], "server_error");
}
