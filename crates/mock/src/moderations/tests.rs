//! Tests of the moderations endpoint.

use serde_json::{json, Value};

use super::{flagged, CATEGORIES};
use crate::tests::util::*;
use crate::{MockConfig, MockServer};

async fn moderate(mock: &MockServer, body: &Value) -> (u16, Value) {
    let url = format!("{}/v1/moderations", mock.url());
    status_json(client().post(url).json(body)).await
}

#[test]
fn only_the_word_kill_is_flagged() {
    assert!(flagged("I will KILL you."));
    assert!(flagged("kill"));
    assert!(!flagged("skills and killers"));
    assert!(!flagged("hello"));
}

#[tokio::test]
async fn one_result_per_string_and_kill_is_violence() {
    let mock = start(MockConfig::default()).await;
    let body = json!({"input": ["a nice day", "I will kill the process"]});
    let (status, res) = moderate(&mock, &body).await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(res["id"], "modr-mock1");
    assert_eq!(res["model"], "omni-moderation-latest");
    let results = res["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["flagged"], false);
    assert_eq!(results[1]["flagged"], true);
    assert_eq!(results[1]["categories"]["violence"], true);
    assert_eq!(results[1]["category_scores"]["violence"], 0.9);
    assert_eq!(results[1]["categories"]["hate"], false);
    for result in results {
        for name in CATEGORIES {
            assert!(result["categories"][name].is_boolean(), "{name}");
            assert!(result["category_scores"][name].is_f64(), "{name}");
            assert_eq!(
                result["category_applied_input_types"][name],
                json!(["text"])
            );
        }
    }
}

#[tokio::test]
async fn a_string_or_multimodal_parts_get_one_result() {
    let mock = start(MockConfig::default()).await;
    let (_, res) = moderate(
        &mock,
        &json!({"model": "text-moderation-latest", "input": "hi"}),
    )
    .await;
    assert_eq!(res["model"], "text-moderation-latest");
    assert_eq!(res["results"].as_array().unwrap().len(), 1);

    let parts = json!({"input": [
        {"type": "text", "text": "kill"},
        {"type": "image_url", "image_url": {"url": "https://example.invalid/a.png"}},
    ]});
    let (status, res) = moderate(&mock, &parts).await;
    assert_eq!(status, 200, "{res}");
    let results = res["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["flagged"], true);
    let applied = &results[0]["category_applied_input_types"];
    assert_eq!(applied["violence"], json!(["text", "image"]));
    assert_eq!(applied["hate"], json!(["text"]));
}

#[tokio::test]
async fn moderations_check_their_fields() {
    let mock = start(MockConfig::default()).await;
    let cases = [
        (json!({"model": "m"}), "input"),
        (json!({"input": 3}), "input"),
        (json!({"input": []}), "input"),
        (json!({"input": [{"type": "audio"}]}), "input[0].type"),
        (
            json!({"input": [{"type": "image_url"}]}),
            "input[0].image_url",
        ),
        (json!({"input": "x", "model": 4}), "model"),
        (json!({"input": "x", "categories": []}), "categories"),
    ];
    for (body, param) in cases {
        let (status, res) = moderate(&mock, &body).await;
        assert_invalid(status, &res, param);
    }
}
