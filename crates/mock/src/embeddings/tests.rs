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
