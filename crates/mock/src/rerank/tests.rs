//! Tests of the rerank endpoints: scores, order, `top_n`,
//! `return_documents`, and each path's error shape.

use serde_json::{json, Value};

use crate::tests::util::*;
use crate::{MockConfig, MockServer};

async fn rerank(mock: &MockServer, path: &str, body: &Value) -> (u16, Value) {
    let url = format!("{}{path}", mock.url());
    status_json(client().post(url).json(body)).await
}

fn body() -> Value {
    json!({
        "model": "rerank-v3.5",
        "query": "Paris weather",
        "documents": ["Berlin is big", "Paris", {"text": "The weather in Paris today"}],
    })
}

#[tokio::test]
async fn documents_are_ranked_by_the_words_they_share_with_the_query() {
    let mock = start(MockConfig::default()).await;
    let (status, res) = rerank(&mock, "/v1/rerank", &body()).await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(res["id"], "rerank-mock1");
    assert_eq!(res["model"], "rerank-v3.5");
    assert_eq!(
        res["results"],
        json!([
            {"index": 2, "relevance_score": 1.0},
            {"index": 1, "relevance_score": 0.5},
            {"index": 0, "relevance_score": 0.0},
        ])
    );
    // "Paris weather" 13 chars -> 3; 13 -> 3, 5 -> 1, 26 -> 6.
    assert_eq!(res["usage"], json!({"total_tokens": 13}));
    assert_eq!(res["meta"]["billed_units"]["search_units"], 1);
    assert_eq!(res["meta"]["api_version"]["version"], "2");
}

#[tokio::test]
async fn top_n_cuts_and_return_documents_adds_the_text() {
    let mock = start(MockConfig::default()).await;
    let mut b = body();
    b["top_n"] = json!(2);
    b["return_documents"] = json!(true);
    for path in ["/rerank", "/v2/rerank"] {
        let (status, res) = rerank(&mock, path, &b).await;
        assert_eq!(status, 200, "{res}");
        assert_eq!(
            res["results"],
            json!([
                {"index": 2, "relevance_score": 1.0,
                    "document": {"text": "The weather in Paris today"}},
                {"index": 1, "relevance_score": 0.5, "document": {"text": "Paris"}},
            ])
        );
    }
}

#[tokio::test]
async fn errors_are_openai_shaped_except_on_cohere_v2() {
    let mock = start(MockConfig::default()).await;
    let edit = |key: &str, value: Value| {
        let mut b = body();
        if value.is_null() {
            b.as_object_mut().unwrap().remove(key);
        } else {
            b[key] = value;
        }
        b
    };
    let cases = [
        (edit("model", Value::Null), "model"),
        (edit("query", Value::Null), "query"),
        (edit("query", json!("")), "query"),
        (edit("documents", json!([])), "documents"),
        (
            edit("documents", json!([{"title": "x"}])),
            "documents[0].text",
        ),
        (edit("documents", json!([1])), "documents[0]"),
        (edit("top_n", json!(0)), "top_n"),
        (edit("return_documents", json!("yes")), "return_documents"),
        (edit("input", json!("x")), "input"),
    ];
    for (b, param) in &cases {
        let (status, res) = rerank(&mock, "/v1/rerank", b).await;
        assert_invalid(status, &res, param);
    }
    let (status, res) = rerank(&mock, "/v2/rerank", &cases[1].0).await;
    assert_eq!(status, 400);
    assert_eq!(res["id"], "mock-cohere-error");
    assert_eq!(res["message"], "Missing required parameter: 'query'.");
}
