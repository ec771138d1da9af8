//! `ANY /v1/mock/echo/{*rest}` (and `/mock/echo/{*rest}`): says what
//! arrived, so a gateway test can check a passthrough of an endpoint the
//! gateway does not model.
//!
//! Answer: `{method, path, query, content_type, body_len, body, form,
//! headers, authorized}`: `body` is the JSON body (null if it is not
//! JSON); `form` lists the parts of a multipart body as `{name, filename,
//! bytes}` (null otherwise); `headers` maps each header name (lowercase) to
//! its first value, with `authorization`, `x-api-key` and `api-key` shown
//! as `***`; `authorized` tells whether the request carried
//! `MockConfig::api_key` (true when none is configured). A missing key is
//! not refused; latency, the status faults and `error_rate` apply.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::Response;
use serde_json::{json, Map, Value};

use super::call::{Call, KeyCheck};
use super::dialect::Dialect;
use super::state::{RecordedRequest, Shared};

/// Headers whose values the echo hides.
const SECRET_HEADERS: [&str; 3] = ["authorization", "x-api-key", "api-key"];

/// Any method on `/v1/mock/echo/…`.
pub(crate) async fn echo(
    State(shared): State<Arc<Shared>>,
    request: Request,
) -> Result<Response, Response> {
    let call = Call::begin_with(&shared, request, Dialect::OpenAi, KeyCheck::Report).await?;
    let req = call.req();
    let answer = json!({
        "method": req.method,
        "path": req.path,
        "query": req.query,
        "content_type": req.header("content-type"),
        "body_len": req.body.len(),
        "body": req.json(),
        "form": form(req),
        "headers": headers(req),
        "authorized": call.authorized(),
    });
    Ok(call.json(&answer))
}

fn form(req: &RecordedRequest) -> Value {
    let Some(form) = &req.form else {
        return Value::Null;
    };
    let parts: Vec<Value> = form
        .parts
        .iter()
        .map(|p| json!({"name": p.name, "filename": p.filename, "bytes": p.len()}))
        .collect();
    Value::from(parts)
}

fn headers(req: &RecordedRequest) -> Value {
    let mut map = Map::new();
    for (name, value) in &req.headers {
        let shown = if SECRET_HEADERS.contains(&name.as_str()) {
            "***"
        } else {
            value.as_str()
        };
        map.entry(name.clone()).or_insert_with(|| shown.into());
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests;
