//! Tests of the images endpoints: generations (JSON) and edits (multipart),
//! their usage numbers, and the checks.

use base64::Engine as _;
use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};

use super::{IMAGE_TOKENS, PNG_BASE64};
use crate::tests::util::*;
use crate::{MockConfig, MockServer};

async fn generate(mock: &MockServer, body: &Value) -> (u16, Value) {
    let url = format!("{}/v1/images/generations", mock.url());
    status_json(client().post(url).json(body)).await
}

async fn edit(mock: &MockServer, form: Form) -> (u16, Value) {
    let url = format!("{}/images/edits", mock.url());
    status_json(client().post(url).multipart(form)).await
}

fn edit_form() -> Form {
    Form::new()
        .text("model", "gpt-image-1")
        .text("prompt", "add a hat")
        .part("image[]", file_part("a.png", 1000))
        .part("image[]", file_part("b.png", 2000))
        .part("mask", file_part("mask.png", 300))
        .text("n", "2")
}

#[test]
fn the_png_is_a_png() {
    let png = base64::engine::general_purpose::STANDARD
        .decode(PNG_BASE64)
        .unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(png.len(), 68);
}

#[tokio::test]
async fn generations_answer_n_base64_images_and_usage() {
    let mock = start(MockConfig::default()).await;
    let body = json!({"model": "gpt-image-1", "prompt": "a red fox in snow", "n": 2,
        "size": "1024x1536", "quality": "high"});
    let (status, res) = generate(&mock, &body).await;
    assert_eq!(status, 200, "{res}");
    assert!(res["created"].as_u64().unwrap() > 1_600_000_000);
    let data = res["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert!(data.iter().all(|d| d["b64_json"] == PNG_BASE64));
    assert_eq!(res["size"], "1024x1536");
    assert_eq!(res["quality"], "high");
    // "a red fox in snow" = 17 characters -> 4 tokens; 2 images made.
    let usage = &res["usage"];
    assert_eq!(usage["input_tokens"], 4);
    assert_eq!(usage["input_tokens_details"]["text_tokens"], 4);
    assert_eq!(usage["input_tokens_details"]["image_tokens"], 0);
    assert_eq!(usage["output_tokens"], 2 * IMAGE_TOKENS);
    assert_eq!(usage["total_tokens"], 4 + 2 * IMAGE_TOKENS);
    assert_eq!(mock.hits(), 1);
}

#[tokio::test]
async fn generations_answer_urls_when_asked() {
    let mock = start(MockConfig::default()).await;
    let body = json!({"model": "dall-e-3", "prompt": "x", "response_format": "url"});
    let (_, res) = generate(&mock, &body).await;
    assert_eq!(
        res["data"],
        json!([{"url": "https://images.mock.invalid/img-mock1-0.png"}])
    );
}

#[tokio::test]
async fn generations_check_their_fields() {
    let mock = start(MockConfig::default()).await;
    let cases = [
        (json!({"model": "m"}), "prompt"),
        (json!({"prompt": ""}), "prompt"),
        (json!({"prompt": "x", "n": 11}), "n"),
        (json!({"prompt": "x", "n": "2"}), "n"),
        (json!({"prompt": "x", "size": "big"}), "size"),
        (
            json!({"prompt": "x", "response_format": "png"}),
            "response_format",
        ),
        (json!({"prompt": "x", "quality": "best"}), "quality"),
        (json!({"prompt": "x", "messages": []}), "messages"),
    ];
    for (body, param) in cases {
        let (status, res) = generate(&mock, &body).await;
        assert_invalid(status, &res, param);
    }
}

#[tokio::test]
async fn edits_take_several_images_and_a_mask_and_are_recorded_as_a_form() {
    let mock = start(MockConfig::default()).await;
    let (status, res) = edit(&mock, edit_form()).await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(res["data"].as_array().unwrap().len(), 2);
    // "add a hat" = 9 characters -> 2 tokens, plus 2 input images.
    let usage = &res["usage"];
    assert_eq!(
        usage["input_tokens_details"]["image_tokens"],
        2 * IMAGE_TOKENS
    );
    assert_eq!(usage["input_tokens"], 2 + 2 * IMAGE_TOKENS);
    assert_eq!(usage["output_tokens"], 2 * IMAGE_TOKENS);

    let seen = mock.last_request().unwrap();
    assert_eq!(seen.path, "/images/edits");
    let form = seen.form.unwrap();
    assert_eq!(form.error, None);
    assert_eq!(form.text("prompt"), Some("add a hat"));
    assert_eq!(form.text("n"), Some("2"));
    let images: Vec<(Option<&str>, usize)> = form
        .all("image[]")
        .map(|p| (p.filename.as_deref(), p.len()))
        .collect();
    assert_eq!(images, [(Some("a.png"), 1000), (Some("b.png"), 2000)]);
    assert_eq!(form.get("mask").unwrap().len(), 300);
    assert_eq!(form.files().count(), 3);
}

#[tokio::test]
async fn edits_need_a_prompt_and_an_image() {
    let mock = start(MockConfig::default()).await;
    let no_prompt = Form::new().part("image", file_part("a.png", 10));
    let (status, res) = edit(&mock, no_prompt).await;
    assert_invalid(status, &res, "prompt");

    let no_image = Form::new().text("prompt", "p");
    let (status, res) = edit(&mock, no_image).await;
    assert_invalid(status, &res, "image");

    let text_image = Form::new().text("prompt", "p").text("image", "not a file");
    let (status, res) = edit(&mock, text_image).await;
    assert_invalid(status, &res, "image");

    let unknown = edit_form().text("colour", "red");
    let (status, res) = edit(&mock, unknown).await;
    assert_invalid(status, &res, "colour");

    let bad_n = Form::new()
        .text("prompt", "p")
        .part("image", Part::bytes(vec![1]).file_name("a.png"))
        .text("n", "two");
    let (status, res) = edit(&mock, bad_n).await;
    assert_invalid(status, &res, "n");

    let json_body = client()
        .post(format!("{}/v1/images/edits", mock.url()))
        .json(&json!({"prompt": "p"}));
    let (status, res) = status_json(json_body).await;
    assert_eq!(status, 400);
    let message = res["error"]["message"].as_str().unwrap();
    assert!(message.contains("multipart/form-data"), "{message}");
}
