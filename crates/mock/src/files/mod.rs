//! OpenAI files, kept in this server's memory (`store.rs`):
//! `POST /v1/files` (multipart `file`, `purpose`), `GET /v1/files`
//! (`?purpose=` filters), `GET /v1/files/{id}`, `GET /v1/files/{id}/content`
//! (the bytes as uploaded, `application/octet-stream`) and
//! `DELETE /v1/files/{id}`; batches over them in `batches.rs`.
//!
//! A file object is `{id: "file-mockN", object: "file", bytes, created_at,
//! filename, purpose, status: "processed", expires_at: null,
//! status_details: null}`; lists are `{object: "list", data (newest
//! first), first_id, last_id, has_more: false}`. Unknown ids get OpenAI's
//! 404 `No such File object: ID` (param `id`).

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::call::Call;
use super::dialect::{openai_error, Dialect};
use super::form::Form;
use super::params::{multipart, Fields, Invalid};
use super::reply::unix_now;
use super::state::Shared;
use super::store::StoredFile;

mod batches;

pub(crate) use batches::{cancel_batch, create_batch, get_batch, list_batches};

const PURPOSES: &[&str] = &[
    "assistants",
    "batch",
    "fine-tune",
    "vision",
    "user_data",
    "evals",
];
const FIELDS: &[&str] = &[
    "file",
    "purpose",
    "expires_after[anchor]",
    "expires_after[seconds]",
];

/// `POST /v1/files`.
pub(crate) async fn upload(
    State(shared): State<Arc<Shared>>,
    request: Request,
) -> Result<Response, Response> {
    let call = Call::begin(&shared, request, Dialect::OpenAi).await?;
    let req = call.req();
    let form = multipart(req.form.as_ref(), req.header("content-type"));
    let (purpose, file) = form.and_then(check_upload).map_err(|e| e.response())?;
    let filename = file.filename.clone().unwrap_or_default();
    let stored = StoredFile {
        id: call.id("file-mock"),
        filename: if filename.is_empty() {
            "upload".to_owned()
        } else {
            filename
        },
        purpose: purpose.to_owned(),
        created_at: unix_now(),
        data: file.data.clone(),
    };
    let answer = stored.object();
    shared.store.add_file(stored);
    Ok(call.json(&answer))
}

fn check_upload(form: &Form) -> Result<(&str, &crate::FormPart), Invalid> {
    if let Some(part) = form
        .parts
        .iter()
        .find(|p| !FIELDS.contains(&p.name.as_str()))
    {
        return Err(Invalid::unknown(&part.name));
    }
    let file = form.get("file").ok_or_else(|| Invalid::missing("file"))?;
    if !file.is_file() {
        let message = "Invalid type for 'file': expected a file, but got a text field instead.";
        return Err(Invalid::new(message, "file", "invalid_type"));
    }
    let fields = Fields(form);
    let purpose = fields
        .choice("purpose", PURPOSES)?
        .ok_or_else(|| Invalid::missing("purpose"))?;
    Ok((purpose, file))
}

/// `GET /v1/files`.
pub(crate) async fn list(
    State(shared): State<Arc<Shared>>,
    request: Request,
) -> Result<Response, Response> {
    let call = Call::begin(&shared, request, Dialect::OpenAi).await?;
    let purpose = query_param(call.req().query.as_deref(), "purpose");
    let files: Vec<Value> = shared
        .store
        .files()
        .iter()
        .filter(|f| purpose.as_deref().is_none_or(|p| f.purpose == p))
        .map(StoredFile::object)
        .collect();
    Ok(call.json(&list_of(files)))
}

/// `GET /v1/files/{id}`.
pub(crate) async fn get(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, Response> {
    let call = Call::begin(&shared, request, Dialect::OpenAi).await?;
    let file = shared.store.file(&id).ok_or_else(|| no_such_file(&id))?;
    Ok(call.json(&file.object()))
}

/// `GET /v1/files/{id}/content`.
pub(crate) async fn content(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, Response> {
    let call = Call::begin(&shared, request, Dialect::OpenAi).await?;
    let file = shared.store.file(&id).ok_or_else(|| no_such_file(&id))?;
    Ok(call.body(file.data, "application/octet-stream"))
}

/// `DELETE /v1/files/{id}`.
pub(crate) async fn delete(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, Response> {
    let call = Call::begin(&shared, request, Dialect::OpenAi).await?;
    if !shared.store.remove_file(&id) {
        return Err(no_such_file(&id));
    }
    Ok(call.json(&json!({"id": id, "object": "file", "deleted": true})))
}

/// `{object: "list", data, first_id, last_id, has_more: false}`.
fn list_of(data: Vec<Value>) -> Value {
    let first = data.first().map(|o| o["id"].clone());
    let last = data.last().map(|o| o["id"].clone());
    json!({"object": "list", "data": data, "first_id": first, "last_id": last, "has_more": false})
}

fn no_such_file(id: &str) -> Response {
    not_found(&format!("No such File object: {id}"))
}

/// OpenAI's 404 for an unknown object (param `id`).
fn not_found(message: &str) -> Response {
    openai_error(
        StatusCode::NOT_FOUND,
        message,
        "invalid_request_error",
        Some("id"),
        None,
    )
}

/// The first value of `name` in a raw query string (no percent-decoding:
/// the mock's values are plain words).
fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| value.to_owned())
    })
}

#[cfg(test)]
mod tests;
