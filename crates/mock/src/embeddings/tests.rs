//! Tests of the embeddings endpoint and its base64 encoding.

use serde_json::{json, Value};

use super::{base64, embed, DIMENSIONS};
use crate::tests::util::*;
use crate::MockConfig;

/// Decodes standard padded base64 (test only).
fn decode_base64(text: &str) -> Vec<u8> {
    const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let sextets: Vec<u32> = text
        .trim_end_matches('=')
        .chars()
        .map(|c| ALPHABET.find(c).unwrap() as u32)
        .collect();
    let mut out = Vec::new();
    for group in sextets.chunks(4) {
        let n = group
            .iter()
            .enumerate()
            .fold(0, |n, (i, s)| n | s << (18 - 6 * i));
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..group.len()]);
    }
    out
}

fn floats(value: &Value) -> Vec<f32> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

#[test]
fn base64_matches_known_values() {
    assert_eq!(base64(b""), "");
    assert_eq!(base64(b"M"), "TQ==");
    assert_eq!(base64(b"Ma"), "TWE=");
    assert_eq!(base64(b"Man"), "TWFu");
    assert_eq!(base64(&1.0f32.to_le_bytes()), "AACAPw==");
    assert_eq!(decode_base64("TWE="), b"Ma");
}

#[test]
fn embeddings_are_deterministic_unit_vectors() {
    let a = embed(b"hello");
    assert_eq!(a, embed(b"hello"));
    assert_ne!(a, embed(b"world"));
    let norm: f32 = a.iter().map(|x| x * x).sum();
    assert!((norm - 1.0).abs() < 1e-5);
}

#[tokio::test]
async fn float_embeddings_for_each_input() {
    let mock = start(MockConfig::default()).await;
    let body =
        json!({"model": "emb-test", "input": ["hello", "world!!!"], "encoding_format": "float"});
    let res = post_json(&mock, "/v1/embeddings", &body).await;
    assert_eq!(res["object"], "list");
    assert_eq!(res["model"], "emb-test");
    let data = res["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    for (i, item) in data.iter().enumerate() {
        assert_eq!(item["object"], "embedding");
        assert_eq!(item["index"], i);
        assert_eq!(floats(&item["embedding"]).len(), DIMENSIONS);
    }
    assert_eq!(floats(&data[0]["embedding"]), embed(b"hello"));
    assert_eq!(res["usage"], json!({"prompt_tokens": 3, "total_tokens": 3}));
    assert_eq!(mock.hits(), 1);
}

#[tokio::test]
async fn base64_embeddings_decode_to_the_float_values() {
    let mock = start(MockConfig::default()).await;
    let float = json!({"model": "e", "input": "hello"});
    let floats = floats(&post_json(&mock, "/embeddings", &float).await["data"][0]["embedding"]);
    let b64 = json!({"model": "e", "input": "hello", "encoding_format": "base64"});
    let res = post_json(&mock, "/v1/embeddings", &b64).await;
    let bytes = decode_base64(res["data"][0]["embedding"].as_str().unwrap());
    let decoded: Vec<f32> = bytes
        .chunks(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    assert_eq!(decoded, floats);
}

#[tokio::test]
async fn token_inputs_are_accepted() {
    let mock = start(MockConfig::default()).await;
    let one = json!({"model": "e", "input": [1, 2, 3]});
    let res = post_json(&mock, "/v1/embeddings", &one).await;
    assert_eq!(res["data"].as_array().unwrap().len(), 1);
    assert_eq!(res["usage"]["prompt_tokens"], 3);
    let many = json!({"model": "e", "input": [[1, 2], [3]]});
    let res = post_json(&mock, "/v1/embeddings", &many).await;
    assert_eq!(res["data"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn semantic_model_answers_256_dimension_unit_vectors() {
    let mock = start(MockConfig::default()).await;
    let texts = [
        "What is the capital of France?",
        "Which city is France's capital?",
        "What is the population of France?",
    ];
    let body = json!({"model": "mock-semantic-embed", "input": texts});
    let res = post_json(&mock, "/v1/embeddings", &body).await;
    assert_eq!(res["model"], "mock-semantic-embed");
    let vectors: Vec<Vec<f32>> = res["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| floats(&item["embedding"]))
        .collect();
    for v in &vectors {
        assert_eq!(v.len(), 256);
        let norm: f32 = v.iter().map(|x| x * x).sum();
        assert!((norm - 1.0).abs() < 1e-4);
    }
    let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    assert!(dot(&vectors[0], &vectors[1]) > dot(&vectors[0], &vectors[2]));
    assert_eq!(res["usage"]["prompt_tokens"], 7 + 7 + 8);
    // base64 carries the same floats
    let b64 =
        json!({"model": "mock-semantic-embed", "input": texts[0], "encoding_format": "base64"});
    let res = post_json(&mock, "/v1/embeddings", &b64).await;
    let bytes = decode_base64(res["data"][0]["embedding"].as_str().unwrap());
    let decoded: Vec<f32> = bytes
        .chunks(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    assert_eq!(decoded, vectors[0]);
}

#[tokio::test]
async fn semantic_model_honours_dimensions() {
    let mock = start(MockConfig::default()).await;
    for (dimensions, len) in [
        (json!(16), 16),
        (json!(64), 64),
        (json!(4096), 4096),
        (Value::Null, 256),
    ] {
        let body =
            json!({"model": "mock-semantic-embed", "input": "hello", "dimensions": dimensions});
        let res = post_json(&mock, "/v1/embeddings", &body).await;
        assert_eq!(
            floats(&res["data"][0]["embedding"]).len(),
            len,
            "{dimensions}"
        );
    }
    for dimensions in [json!(15), json!(4097), json!(-1), json!("64"), json!(64.5)] {
        let body =
            json!({"model": "mock-semantic-embed", "input": "hello", "dimensions": dimensions});
        let (status, error) = status_json(
            client()
                .post(format!("{}/v1/embeddings", mock.url()))
                .json(&body),
        )
        .await;
        assert_invalid(status, &error, "dimensions");
    }
    // the hash model keeps its 8 dimensions, whatever `dimensions` says
    let body = json!({"model": "e", "input": "hello", "dimensions": 64});
    let res = post_json(&mock, "/v1/embeddings", &body).await;
    assert_eq!(floats(&res["data"][0]["embedding"]).len(), DIMENSIONS);
}

#[tokio::test]
async fn invalid_inputs_get_400() {
    let mock = start(MockConfig::default()).await;
    let bodies = [
        json!({"input": "x"}),
        json!({"model": "e"}),
        json!({"model": "e", "input": ""}),
        json!({"model": "e", "input": []}),
        json!({"model": "e", "input": [{"a": 1}]}),
        json!({"model": "e", "input": "x", "encoding_format": "int8"}),
    ];
    for body in bodies {
        let res = client()
            .post(format!("{}/v1/embeddings", mock.url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{body}");
        let error: Value = res.json().await.unwrap();
        assert_eq!(error["error"]["type"], "invalid_request_error");
    }
}
