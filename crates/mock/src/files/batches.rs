//! OpenAI batches over this server's files: `POST /v1/batches`
//! `{input_file_id, endpoint, completion_window, metadata?}`,
//! `GET /v1/batches/{id}`, `GET /v1/batches` and
//! `POST /v1/batches/{id}/cancel`.
//!
//! Creating a batch needs a file uploaded to this very server with purpose
//! `batch` (else 400, param `input_file_id`): a file id means nothing at
//! another provider. The batch (`batch_mockN`) is `validating`, with
//! `request_counts.total` = the file's non-empty lines and `model` = the
//! first line's `body.model`; if a line is not a request
//! `{custom_id, method: "POST", url: <endpoint>, body: {…}}` it is
//! `failed` instead, with `errors.data` naming the line. Nothing runs
//! after that: cancelling answers `cancelling` and leaves the batch
//! `cancelled`; a batch that has failed cannot be cancelled (400).

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::response::Response;
use serde_json::{json, Value};

use super::{list_of, not_found};
use crate::call::Call;
use crate::dialect::Dialect;
use crate::params::{json_object, Invalid, Obj};
use crate::reply::unix_now;
use crate::state::Shared;
use crate::store::StoredFile;

const ENDPOINTS: &[&str] = &[
    "/v1/responses",
    "/v1/chat/completions",
    "/v1/embeddings",
    "/v1/completions",
    "/v1/moderations",
    "/v1/images/generations",
    "/v1/images/edits",
    "/v1/videos",
];
const FIELDS: &[&str] = &[
    "input_file_id",
    "endpoint",
    "completion_window",
    "metadata",
    "output_expires_after",
];
/// Seconds from creation to `expires_at` (the 24 h window).
const WINDOW: u64 = 24 * 3600;

/// `POST /v1/batches`.
pub(crate) async fn create_batch(
    State(shared): State<Arc<Shared>>,
    request: Request,
) -> Result<Response, Response> {
    let call = Call::begin(&shared, request, Dialect::OpenAi).await?;
    let body = json_object(&call.req().body).map_err(|e| e.response())?;
    let body = Obj::new(&body, "");
    let (file, endpoint) = check(&body, &shared).map_err(|e| e.response())?;
    let created_at = unix_now();
    let lines = lines(&file, endpoint);
    let mut batch = json!({
        "id": call.id("batch_mock"),
        "object": "batch",
        "endpoint": endpoint,
        "model": lines.model,
        "errors": null,
        "input_file_id": file.id,
        "completion_window": "24h",
        "status": "validating",
        "output_file_id": null,
        "error_file_id": null,
        "created_at": created_at,
        "in_progress_at": null,
        "expires_at": created_at + WINDOW,
        "finalizing_at": null,
        "completed_at": null,
        "failed_at": null,
        "expired_at": null,
        "cancelling_at": null,
        "cancelled_at": null,
        "request_counts": {"total": lines.total, "completed": 0, "failed": 0},
        "metadata": body.get("metadata"),
    });
    if let Some(error) = lines.error {
        batch["status"] = "failed".into();
        batch["failed_at"] = created_at.into();
        batch["errors"] = json!({"object": "list", "data": [error]});
    }
    shared.store.add_batch(batch.clone());
    Ok(call.json(&batch))
}

/// Checks the body; returns the input file and the endpoint.
fn check<'a>(body: &Obj<'a>, shared: &Shared) -> Result<(StoredFile, &'a str), Invalid> {
    body.only(FIELDS)?;
    let id = body.required_str("input_file_id")?;
    let endpoint = body
        .choice("endpoint", ENDPOINTS)?
        .ok_or_else(|| Invalid::missing("endpoint"))?;
    body.choice("completion_window", &["24h"])?
        .ok_or_else(|| Invalid::missing("completion_window"))?;
    body.object("metadata")?;
    let Some(file) = shared.store.file(id) else {
        let message = format!("No such File object: {id}");
        return Err(Invalid::new(message, "input_file_id", "file_not_found"));
    };
    if file.purpose != "batch" {
        let message = format!(
            "The input file must have purpose 'batch', but {id} has purpose '{}'.",
            file.purpose
        );
        return Err(Invalid::new(message, "input_file_id", "invalid_value"));
    }
    Ok((file, endpoint))
}

/// What the input file's lines add up to.
#[derive(Debug)]
struct Lines {
    total: usize,
    model: Option<String>,
    /// The first bad line, as an entry of the batch's `errors.data`.
    error: Option<Value>,
}

fn lines(file: &StoredFile, endpoint: &str) -> Lines {
    let text = String::from_utf8_lossy(&file.data);
    let mut out = Lines {
        total: 0,
        model: None,
        error: None,
    };
    for (n, line) in (1..).zip(text.lines()) {
        if line.trim().is_empty() {
            continue;
        }
        out.total += 1;
        match request_line(line, endpoint) {
            Ok(model) => out.model = out.model.take().or(model),
            Err(message) if out.error.is_none() => {
                out.error = Some(json!({"code": "invalid_request", "line": n,
                    "message": message, "param": null}));
            }
            Err(_) => {}
        }
    }
    out
}

/// Checks one line; returns its `body.model`.
fn request_line(line: &str, endpoint: &str) -> Result<Option<String>, String> {
    let request: Value = match serde_json::from_str(line) {
        Ok(request @ Value::Object(_)) => request,
        _ => return Err("This line is not valid JSON.".into()),
    };
    let has = |key: &str| !request[key].is_null();
    if let Some(missing) = ["custom_id", "method", "url", "body"]
        .into_iter()
        .find(|k| !has(k))
    {
        return Err(format!("Missing required parameter: '{missing}'."));
    }
    if request["method"] != "POST" {
        return Err("Only the POST method is supported.".into());
    }
    if request["url"] != endpoint {
        return Err("The URL provided for this request does not match the batch endpoint.".into());
    }
    let model = request["body"]["model"].as_str();
    Ok(model.map(str::to_owned))
}

/// `GET /v1/batches/{id}`.
pub(crate) async fn get_batch(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, Response> {
    let call = Call::begin(&shared, request, Dialect::OpenAi).await?;
    let batch = shared.store.batch(&id).ok_or_else(|| no_such_batch(&id))?;
    Ok(call.json(&batch))
}

/// `GET /v1/batches`.
pub(crate) async fn list_batches(
    State(shared): State<Arc<Shared>>,
    request: Request,
) -> Result<Response, Response> {
    let call = Call::begin(&shared, request, Dialect::OpenAi).await?;
    Ok(call.json(&list_of(shared.store.batches())))
}

/// `POST /v1/batches/{id}/cancel`.
pub(crate) async fn cancel_batch(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, Response> {
    let call = Call::begin(&shared, request, Dialect::OpenAi).await?;
    let now = unix_now();
    let cancellable = |b: &Value| {
        matches!(
            b["status"].as_str(),
            Some("validating" | "in_progress" | "finalizing")
        )
    };
    let (before, mut after) = shared
        .store
        .update_batch(&id, |b| {
            if cancellable(b) {
                b["status"] = "cancelled".into();
                b["cancelling_at"] = now.into();
                b["cancelled_at"] = now.into();
            }
        })
        .ok_or_else(|| no_such_batch(&id))?;
    if !cancellable(&before) && before["status"] != "cancelled" {
        let status = before["status"].as_str().unwrap_or_default();
        let message = format!("Cannot cancel a batch with status '{status}'.");
        return Err(Invalid::new(message, "id", "invalid_value").response());
    }
    if cancellable(&before) {
        // The answer is the moment of cancelling; later reads see it done.
        after["status"] = "cancelling".into();
        after["cancelled_at"] = Value::Null;
    }
    Ok(call.json(&after))
}

fn no_such_batch(id: &str) -> Response {
    not_found(&format!("No such Batch object: {id}"))
}
