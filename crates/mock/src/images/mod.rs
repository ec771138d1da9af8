//! OpenAI images: `POST /v1/images/generations` (JSON) and
//! `POST /v1/images/edits` (multipart: `image` or `image[]` files, `prompt`,
//! optional `mask`, `model`, `n`, `size`, `response_format`, `quality`).
//!
//! Both answer `{created, data, size, quality, output_format, usage}` with
//! `n` (default 1) images, each the same 1×1 transparent PNG ([`PNG_BASE64`],
//! 68 bytes): `{"b64_json": PNG_BASE64}` by default, or with
//! `response_format: "url"` `{"url": "https://images.mock.invalid/img-mockN-I.png"}`
//! (`N` the request's number, `I` the image's index). Usage, as gpt-image-1
//! reports it: input = the prompt's tokens (one per 4 characters, at
//! least one) + [`IMAGE_TOKENS`] per input image (edits), output =
//! `IMAGE_TOKENS` per image made.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::Response;
use serde_json::{json, Value};

use super::call::Call;
use super::dialect::Dialect;
use super::form::Form;
use super::params::{json_object, multipart, Fields, Invalid, Obj};
use super::reply::{prompt_tokens, unix_now};
use super::state::Shared;

/// Base64 of the PNG every image is: 1×1, transparent.
pub const PNG_BASE64: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAAC0lEQVR42mNgAAIAAAUAAen63NgAAAAASUVORK5CYII=";
/// Tokens counted per image, read (edits) or made.
pub const IMAGE_TOKENS: usize = 16;

const SIZES: &[&str] = &[
    "auto",
    "256x256",
    "512x512",
    "1024x1024",
    "1536x1024",
    "1024x1536",
    "1792x1024",
    "1024x1792",
];
const FORMATS: &[&str] = &["url", "b64_json"];
const QUALITIES: &[&str] = &["auto", "low", "medium", "high", "standard", "hd"];
const GENERATION_FIELDS: &[&str] = &[
    "prompt",
    "model",
    "n",
    "size",
    "response_format",
    "quality",
    "style",
    "background",
    "moderation",
    "output_compression",
    "output_format",
    "partial_images",
    "stream",
    "user",
];
const EDIT_FIELDS: &[&str] = &[
    "image",
    "image[]",
    "mask",
    "prompt",
    "model",
    "n",
    "size",
    "response_format",
    "quality",
    "background",
    "input_fidelity",
    "output_compression",
    "output_format",
    "partial_images",
    "stream",
    "user",
];
/// Most input images an edit takes.
const MAX_IMAGES: usize = 16;

/// What to make, from either endpoint.
#[derive(Debug)]
struct Order<'a> {
    prompt: &'a str,
    n: usize,
    size: &'a str,
    quality: &'a str,
    url: bool,
    input_images: usize,
}

/// `POST /v1/images/generations`.
pub(crate) async fn generations(
    State(shared): State<Arc<Shared>>,
    request: Request,
) -> Result<Response, Response> {
    let call = Call::begin(&shared, request, Dialect::OpenAi).await?;
    let body = json_object(&call.req().body).map_err(|e| e.response())?;
    let order = generation(&Obj::new(&body, "")).map_err(|e| e.response())?;
    let answer = images(&call, &order);
    Ok(call.json(&answer))
}

/// `POST /v1/images/edits`.
pub(crate) async fn edits(
    State(shared): State<Arc<Shared>>,
    request: Request,
) -> Result<Response, Response> {
    let call = Call::begin(&shared, request, Dialect::OpenAi).await?;
    let req = call.req();
    let form = multipart(req.form.as_ref(), req.header("content-type"));
    let order = form.and_then(edit).map_err(|e| e.response())?;
    let answer = images(&call, &order);
    Ok(call.json(&answer))
}

fn generation<'a>(body: &Obj<'a>) -> Result<Order<'a>, Invalid> {
    body.only(GENERATION_FIELDS)?;
    let prompt = body.required_str("prompt")?;
    body.str("model")?;
    let n = body.int("n", 1, 10)?.unwrap_or(1);
    let size = body.choice("size", SIZES)?.unwrap_or("1024x1024");
    let format = body.choice("response_format", FORMATS)?;
    let quality = body.choice("quality", QUALITIES)?.unwrap_or("auto");
    body.choice("style", &["vivid", "natural"])?;
    body.choice("background", &["transparent", "opaque", "auto"])?;
    body.choice("output_format", &["png", "jpeg", "webp"])?;
    if body.bool("stream")? == Some(true) {
        let message = "stream is not supported by the mock";
        return Err(Invalid::new(message, "stream", "unsupported_parameter"));
    }
    Ok(Order {
        prompt,
        n: usize::try_from(n).unwrap_or(1),
        size,
        quality,
        url: format == Some("url"),
        input_images: 0,
    })
}

fn edit(form: &Form) -> Result<Order<'_>, Invalid> {
    if let Some(part) = form
        .parts
        .iter()
        .find(|p| !EDIT_FIELDS.contains(&p.name.as_str()))
    {
        return Err(Invalid::unknown(&part.name));
    }
    let input_images = input_images(form)?;
    if let Some(mask) = form.get("mask") {
        if !mask.is_file() {
            return Err(not_a_file("mask"));
        }
    }
    let fields = Fields(form);
    let prompt = fields.required_str("prompt")?;
    fields.str("model")?;
    let n = fields.int("n", 1, 10)?.unwrap_or(1);
    let size = fields.choice("size", SIZES)?.unwrap_or("1024x1024");
    let format = fields.choice("response_format", FORMATS)?;
    let quality = fields.choice("quality", QUALITIES)?.unwrap_or("auto");
    Ok(Order {
        prompt,
        n: usize::try_from(n).unwrap_or(1),
        size,
        quality,
        url: format == Some("url"),
        input_images,
    })
}

/// Counts the `image` / `image[]` files; fails if there are none, if one
/// is not a file or empty, or if there are too many.
fn input_images(form: &Form) -> Result<usize, Invalid> {
    let images: Vec<_> = form
        .parts
        .iter()
        .filter(|p| p.name == "image" || p.name == "image[]")
        .collect();
    if images.is_empty() {
        return Err(Invalid::missing("image"));
    }
    if let Some(bad) = images.iter().find(|p| !p.is_file()) {
        return Err(not_a_file(&bad.name));
    }
    if images.iter().any(|p| p.is_empty()) {
        let message = "Invalid 'image': the uploaded file is empty.";
        return Err(Invalid::new(message, "image", "invalid_value"));
    }
    if images.len() > MAX_IMAGES {
        let message = format!(
            "Invalid 'image': too many images ({}); at most {MAX_IMAGES} are accepted.",
            images.len()
        );
        return Err(Invalid::new(message, "image", "invalid_value"));
    }
    Ok(images.len())
}

fn not_a_file(name: &str) -> Invalid {
    let message =
        format!("Invalid type for '{name}': expected a file, but got a text field instead.");
    Invalid::new(message, name, "invalid_type")
}

/// The images response for `order`.
fn images(call: &Call, order: &Order) -> Value {
    let data: Vec<Value> = (0..order.n)
        .map(|i| {
            if order.url {
                let url = format!(
                    "https://images.mock.invalid/{}-{i}.png",
                    call.id("img-mock")
                );
                json!({"url": url})
            } else {
                json!({"b64_json": PNG_BASE64})
            }
        })
        .collect();
    let text = prompt_tokens(order.prompt.chars().count());
    let image = IMAGE_TOKENS * order.input_images;
    let output = IMAGE_TOKENS * order.n;
    json!({
        "created": unix_now(),
        "data": data,
        "background": "opaque",
        "output_format": "png",
        "quality": order.quality,
        "size": order.size,
        "usage": {
            "input_tokens": text + image,
            "input_tokens_details": {"text_tokens": text, "image_tokens": image},
            "output_tokens": output,
            "output_tokens_details": {"text_tokens": 0, "image_tokens": output},
            "total_tokens": text + image + output,
        },
    })
}

#[cfg(test)]
mod tests;
