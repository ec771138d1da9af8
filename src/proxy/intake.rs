//! Intake: the request body read off the client's connection, within
//! `server.max_body_size` (413) and `server.body_timeout` (408), and read
//! as the client's request in its dialect. The head was read by the edge
//! ([`crate::edge`]); what the body says is checked by [`crate::request`].

use std::time::Duration;

use pingora_proxy::Session;

use crate::config::Config;
use crate::dialect::anthropic;
use crate::edge::Rejection;
use crate::error::GatewayError;
use crate::request::form::{self, Form};
use crate::request::{self, ClientRequest, Dialect, Endpoint};

/// Reads the whole body; 413 past `limit` bytes.
pub async fn read_body(session: &mut Session, limit: usize) -> Result<Vec<u8>, GatewayError> {
    let declared = session
        .req_header()
        .headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(GatewayError::PayloadTooLarge { limit });
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(0).min(limit));
    loop {
        let chunk = session.read_request_body().await.map_err(|e| {
            GatewayError::bad_request(format!("could not read the request body: {e}"))
        })?;
        let Some(chunk) = chunk else { break };
        if body.len() + chunk.len() > limit {
            return Err(GatewayError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Reads the whole body within `timeout` (408 past it) and `limit` bytes
/// (413); counted in `gateway_client_rejections_total`. After either, the
/// connection closes once answered instead of reading the rest of the body.
pub async fn read_body_within(
    session: &mut Session,
    limit: usize,
    timeout: Duration,
) -> Result<Vec<u8>, GatewayError> {
    // The whole-body deadline below bounds the body; Pingora's own per-read
    // timeout (60 s) must not cut a longer one short.
    session.set_read_timeout(Some(timeout));
    let result = match tokio::time::timeout(timeout, read_body(session, limit)).await {
        Ok(r) => r,
        Err(_) => {
            Rejection::BodyTimeout.count();
            Err(GatewayError::ClientTimeout(format!(
                "The request body did not arrive within {timeout:?}"
            )))
        }
    };
    if let Err(e) = &result {
        if matches!(e, GatewayError::PayloadTooLarge { .. }) {
            Rejection::BodyTooLarge.count();
        }
        session.set_keepalive(None);
    }
    result
}

/// Reads the request body and checks it as a request for `endpoint`
/// in the client's `dialect`; an Anthropic request becomes the hub form.
pub async fn read(
    session: &mut Session,
    cfg: &Config,
    endpoint: Endpoint,
    dialect: Dialect,
) -> Result<ClientRequest, GatewayError> {
    let s = &cfg.settings;
    let bytes = read_body_within(session, s.max_body_size, s.body_timeout).await?;
    match dialect {
        Dialect::OpenAi => request::parse(endpoint, &bytes),
        // Read with its conversation (`super::conversation::open`).
        Dialect::Responses => Err(GatewayError::Internal(
            "a Responses request is read by its conversation".into(),
        )),
        Dialect::Anthropic => {
            let hub = anthropic::request_to_hub(request::json(&bytes)?)?;
            let mut req = request::parse_value(endpoint, hub)?;
            req.body_len = bytes.len();
            Ok(req)
        }
    }
}

/// Reads a `multipart/form-data` request for `endpoint` as it streams in,
/// within `server.max_body_size` and `server.body_timeout`: its text fields
/// become the request's body (`model`, `prompt`, …), its files wait in a
/// spool ([`crate::request::form`]) for the attempts.
pub async fn read_form(
    session: &mut Session,
    cfg: &Config,
    endpoint: Endpoint,
) -> Result<ClientRequest, GatewayError> {
    let content_type = session
        .req_header()
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let boundary = form::boundary(content_type.as_deref())?;
    let (limit, timeout) = begin_streamed(session, cfg)?;
    let read = Form::read(chunks(session), &boundary, limit);
    let read = tokio::time::timeout(timeout, read).await;
    let form = end_streamed(session, read, timeout)?;
    if form.files().next().is_none() {
        let field = match endpoint {
            Endpoint::ImageEdits => "image",
            _ => "file",
        };
        return Err(GatewayError::BadRequest {
            message: format!("missing required parameter: `{field}` (a file)"),
            param: Some(field.into()),
        });
    }
    let mut req = request::parse_value(endpoint, form.fields())?;
    req.body_len = form.spool().len() as usize;
    req.form = Some(std::sync::Arc::new(form));
    Ok(req)
}

/// Starts reading a body as it streams in: a `content-length` past
/// `server.max_body_size` is a 413 at once; each read is bounded by
/// `server.body_timeout`. Returns the limit and the whole body's time.
fn begin_streamed(session: &mut Session, cfg: &Config) -> Result<(usize, Duration), GatewayError> {
    let s = &cfg.settings;
    let limit = s.max_body_size;
    let declared = session
        .req_header()
        .headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        Rejection::BodyTooLarge.count();
        session.set_keepalive(None);
        return Err(GatewayError::PayloadTooLarge { limit });
    }
    session.set_read_timeout(Some(s.body_timeout));
    Ok((limit, s.body_timeout))
}

/// The body's chunks as they arrive.
fn chunks(
    session: &mut Session,
) -> impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + '_ {
    futures_util::stream::unfold(Some(session), |s| async move {
        let s = s?;
        match s.read_request_body().await {
            Ok(Some(chunk)) => Some((Ok(chunk), Some(s))),
            Ok(None) => None,
            Err(e) => Some((Err(std::io::Error::other(e.to_string())), None)),
        }
    })
}

/// A streamed read's outcome within `timeout` (408 past it), counted like
/// [`read_body_within`]'s; after a failure the connection closes once
/// answered.
fn end_streamed<T>(
    session: &mut Session,
    read: Result<Result<T, GatewayError>, tokio::time::error::Elapsed>,
    timeout: Duration,
) -> Result<T, GatewayError> {
    let result = read.unwrap_or_else(|_| {
        Rejection::BodyTimeout.count();
        Err(GatewayError::ClientTimeout(format!(
            "The request body did not arrive within {timeout:?}"
        )))
    });
    if let Err(e) = &result {
        if matches!(e, GatewayError::PayloadTooLarge { .. }) {
            Rejection::BodyTooLarge.count();
        }
        session.set_keepalive(None);
    }
    result
}

/// Client headers a passed-through request keeps (the rest, credentials
/// first, are the gateway's).
const PASSED_HEADERS: &[&str] = &["accept", "openai-beta", "idempotency-key"];

/// Reads a request to pass through (`path`: path and query under `/v1`):
/// its body spooled as it came, within `server.max_body_size`; files and
/// batches go to the provider the client names in `x-switchyard-provider`
/// (or the only one that serves them), anything else by its `model` (the
/// JSON body's, `?model=` or `x-switchyard-model`).
pub async fn read_passthrough(
    session: &mut Session,
    cfg: &Config,
    path: &str,
) -> Result<ClientRequest, GatewayError> {
    let head = session.req_header();
    let header = |name: &str| {
        head.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let method = head.method.clone();
    let content_type = header("content-type");
    let headers: Vec<(String, String)> = PASSED_HEADERS
        .iter()
        .filter_map(|n| header(n).map(|v| (n.to_string(), v)))
        .collect();
    let query_model = head.uri.query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "model")
            .map(|(_, v)| v.into_owned())
    });
    let named = header("x-switchyard-provider");
    let header_model = header("x-switchyard-model");
    let has_body = header("content-length").is_some_and(|n| n.trim() != "0")
        || header("transfer-encoding").is_some();
    let body = if has_body {
        let (limit, timeout) = begin_streamed(session, cfg)?;
        let read = form::spool_body(chunks(session), limit);
        let read = tokio::time::timeout(timeout, read).await;
        Some(std::sync::Arc::new(end_streamed(session, read, timeout)?))
    } else {
        None
    };
    let provider_scoped = path.starts_with("/files") || path.starts_with("/batches");
    let provider = if provider_scoped {
        Some(holder(cfg, path, named)?)
    } else {
        None
    };
    let body_model = match (&body, content_type.as_deref()) {
        (Some(spool), Some(ct)) if ct.starts_with("application/json") && !spool.on_disk() => {
            let bytes = spool
                .read(0, spool.len() as usize)
                .await
                .unwrap_or_default();
            serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v.get("model").and_then(|m| m.as_str()).map(str::to_string))
        }
        _ => None,
    };
    let model = match (&provider, body_model.or(query_model).or(header_model)) {
        (Some(p), _) => p.clone(),
        (None, Some(m)) => m,
        (None, None) => {
            return Err(GatewayError::NotFound(format!(
                "no such endpoint: {method} /v1{path} (a route with `passthrough: true` passes unknown paths through; name its model in the JSON body's `model`, a `model` query parameter or the `x-switchyard-model` header)"
            )))
        }
    };
    let body_len = body.as_ref().map_or(0, |b| b.len() as usize);
    Ok(ClientRequest {
        endpoint: Endpoint::Passthrough,
        body: serde_json::json!({ "model": model }),
        model,
        stream: false,
        include_usage: false,
        body_len,
        form: None,
        native: None,
        passthrough: Some(std::sync::Arc::new(request::Passthrough {
            method,
            path: path.to_string(),
            headers,
            content_type,
            body,
            provider,
        })),
    })
}

/// The provider that holds a client's files and batches: the one it names,
/// or the only one that serves them.
fn holder(cfg: &Config, path: &str, named: Option<String>) -> Result<String, GatewayError> {
    let capability = if path.starts_with("/files") {
        "files"
    } else {
        "batches"
    };
    if let Some(name) = named {
        return match cfg.providers.get(&name) {
            Some(p) if p.supports(capability) => Ok(name),
            Some(_) => Err(GatewayError::Unsupported(format!(
                "provider `{name}` does not serve {capability} (its preset or `capabilities: {{ {capability}: true }}` says which do)"
            ))),
            None => Err(GatewayError::bad_request(format!(
                "x-switchyard-provider: no provider `{name}` in this gateway"
            ))),
        };
    }
    let serving: Vec<&str> = cfg
        .providers
        .values()
        .filter(|p| p.is_enabled() && p.supports(capability))
        .map(|p| p.name.as_str())
        .collect();
    match serving.as_slice() {
        [one] => Ok(one.to_string()),
        [] => Err(GatewayError::Unsupported(format!(
            "no provider of this gateway serves {capability}"
        ))),
        many => Err(GatewayError::bad_request(format!(
            "{capability} live at one provider: name it in the `x-switchyard-provider` header (one of: {})",
            many.join(", ")
        ))),
    }
}
