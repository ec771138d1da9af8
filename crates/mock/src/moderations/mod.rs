//! OpenAI moderations: `POST /v1/moderations` with `{model?, input}`, the
//! input a string, an array of strings (one result each), or an array of
//! multimodal parts `{type: "text", text}` / `{type: "image_url",
//! image_url: {url}}` (one result for all).
//!
//! An input containing the word `kill` (any case) is flagged: category
//! `violence` true with score 0.9; every other category false with score
//! 0.0001. The answer is `{id: "modr-mockN", model, results: [{flagged,
//! categories, category_scores, category_applied_input_types}]}`, `model`
//! the one asked for, else `omni-moderation-latest`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::Response;
use serde_json::{json, Map, Value};

use super::call::Call;
use super::dialect::Dialect;
use super::params::{json_object, Invalid, Obj};
use super::state::Shared;

/// The categories of a result, as the API names them.
const CATEGORIES: [&str; 13] = [
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
];
/// The categories that also apply to images.
const IMAGE_CATEGORIES: [&str; 6] = [
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "violence",
    "violence/graphic",
];
/// The word that gets an input flagged.
const FLAGGED_WORD: &str = "kill";
const DEFAULT_MODEL: &str = "omni-moderation-latest";

/// One thing to moderate: its text and whether it has images.
#[derive(Debug)]
struct Subject {
    text: String,
    images: bool,
}

/// `POST /v1/moderations`.
pub(crate) async fn create(
    State(shared): State<Arc<Shared>>,
    request: Request,
) -> Result<Response, Response> {
    let call = Call::begin(&shared, request, Dialect::OpenAi).await?;
    let body = json_object(&call.req().body).map_err(|e| e.response())?;
    let body = Obj::new(&body, "");
    let checked = body.only(&["model", "input"]).and_then(|()| {
        let model = body.str("model")?.unwrap_or(DEFAULT_MODEL);
        Ok((model, subjects(&body)?))
    });
    let (model, subjects) = checked.map_err(|e| e.response())?;
    let answer = json!({
        "id": call.id("modr-mock"),
        "model": model,
        "results": subjects.iter().map(result).collect::<Vec<_>>(),
    });
    Ok(call.json(&answer))
}

fn subjects(body: &Obj) -> Result<Vec<Subject>, Invalid> {
    let items = match body.get("input") {
        None => return Err(Invalid::missing("input")),
        Some(Value::String(text)) => return Ok(vec![text_subject(text)]),
        Some(Value::Array(items)) if items.is_empty() => return Err(Invalid::empty_array("input")),
        Some(Value::Array(items)) => items,
        Some(other) => return Err(Invalid::wrong_type("input", "a string or an array", other)),
    };
    if items.iter().all(Value::is_string) {
        let texts = items.iter().filter_map(Value::as_str);
        return Ok(texts.map(text_subject).collect());
    }
    multimodal(items).map(|one| vec![one])
}

fn text_subject(text: &str) -> Subject {
    Subject {
        text: text.to_owned(),
        images: false,
    }
}

/// An array of multimodal parts: one subject.
fn multimodal(parts: &[Value]) -> Result<Subject, Invalid> {
    let mut subject = text_subject("");
    for (i, part) in parts.iter().enumerate() {
        let path = format!("input[{i}]");
        let Value::Object(map) = part else {
            return Err(Invalid::wrong_type(&path, "an object", part));
        };
        let part = Obj::new(map, &path);
        match part.choice("type", &["text", "image_url"])? {
            Some("text") => {
                subject.text.push_str(part.required_str("text")?);
                subject.text.push('\n');
            }
            Some(_) => {
                let image = part
                    .object("image_url")?
                    .ok_or_else(|| Invalid::missing(&part.param("image_url")))?;
                Obj::new(image, part.param("image_url")).required_str("url")?;
                subject.images = true;
            }
            None => return Err(Invalid::missing(&part.param("type"))),
        }
    }
    Ok(subject)
}

/// Whether `text` contains [`FLAGGED_WORD`] as a word.
fn flagged(text: &str) -> bool {
    text.split(|c: char| !c.is_alphanumeric())
        .any(|word| word.eq_ignore_ascii_case(FLAGGED_WORD))
}

fn result(subject: &Subject) -> Value {
    let flag = flagged(&subject.text);
    let mut categories = Map::new();
    let mut scores = Map::new();
    let mut applied = Map::new();
    for name in CATEGORIES {
        let hit = flag && name == "violence";
        categories.insert(name.into(), hit.into());
        scores.insert(name.into(), json!(if hit { 0.9 } else { 0.0001 }));
        let types = if subject.images && IMAGE_CATEGORIES.contains(&name) {
            json!(["text", "image"])
        } else {
            json!(["text"])
        };
        applied.insert(name.into(), types);
    }
    json!({
        "flagged": flag,
        "categories": categories,
        "category_scores": scores,
        "category_applied_input_types": applied,
    })
}

#[cfg(test)]
mod tests;
