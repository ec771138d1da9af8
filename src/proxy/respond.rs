//! Writing gateway-made responses: JSON bodies, OpenAI-style errors, and
//! the headers every response carries (request id, config version, route).

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, HeaderName, HeaderValue};
use pingora::http::ResponseHeader;
use pingora::{Error, ErrorType};
use pingora_proxy::Session;

use super::ctx::RequestCtx;
use crate::error::GatewayError;
use crate::request::Dialect;

// Checked at compile time: these never fail at run time.
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const CONFIG_VERSION: HeaderName = HeaderName::from_static("x-switchyard-config-version");
const ROUTE: HeaderName = HeaderName::from_static("x-switchyard-route");
const STRATEGY: HeaderName = HeaderName::from_static("x-switchyard-strategy");
const PROVIDER: HeaderName = HeaderName::from_static("x-switchyard-provider");
const ATTEMPTS: HeaderName = HeaderName::from_static("x-switchyard-attempts");
const CACHE: HeaderName = HeaderName::from_static("x-switchyard-cache");
const TRACE_ID: HeaderName = HeaderName::from_static("x-switchyard-trace-id");

/// A response head whose headers are set directly in an `http::HeaderMap`
/// (names are compile-time constants, not parsed per response) and
/// converted to Pingora's header once: without a case map, as HTTP/1
/// header names are case-insensitive.
pub fn response_parts(status: u16, headers: usize) -> pingora::Result<http::response::Parts> {
    let (mut parts, ()) = http::Response::new(()).into_parts();
    parts.status = http::StatusCode::from_u16(status).map_err(|_| {
        Error::explain(ErrorType::InternalError, format!("invalid status {status}"))
    })?;
    parts.headers.reserve(headers);
    Ok(parts)
}

/// Sets header `name` to `value` (a text that must be a valid header value).
pub fn set(h: &mut HeaderMap, name: HeaderName, value: &str) -> pingora::Result<()> {
    let value = HeaderValue::from_str(value).map_err(|_| {
        Error::explain(
            ErrorType::InvalidHTTPHeader,
            format!("invalid value for response header {name}"),
        )
    })?;
    h.insert(name, value);
    Ok(())
}

/// Sets a header named at run time.
fn set_named(h: &mut HeaderMap, name: &str, value: &str) -> pingora::Result<()> {
    let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
        Error::explain(
            ErrorType::InvalidHTTPHeader,
            format!("invalid response header name {name}"),
        )
    })?;
    set(h, name, value)
}

/// Adds the headers every response carries.
pub fn common_headers(h: &mut HeaderMap, ctx: &RequestCtx) -> pingora::Result<()> {
    set(h, REQUEST_ID, &ctx.request_id)?;
    if !ctx.config_version.is_empty() {
        set(h, CONFIG_VERSION, &ctx.config_version)?;
    }
    if let Some(route) = &ctx.route {
        set(h, ROUTE, route)?;
    }
    if let Some(strategy) = ctx.strategy {
        set(h, STRATEGY, strategy)?;
    }
    if let Some(provider) = &ctx.provider {
        set(h, PROVIDER, provider)?;
    }
    if !ctx.attempts.is_empty() {
        set(h, ATTEMPTS, &ctx.attempts_header())?;
    }
    if let Some(cache) = ctx.cache {
        set(h, CACHE, cache)?;
    }
    if let Some(t) = &ctx.trace {
        set(h, TRACE_ID, &t.hex)?;
    }
    for (name, value) in &ctx.extra_headers {
        set_named(h, name, value)?;
    }
    Ok(())
}

/// Writes a complete response with `body` and `content_type`.
pub async fn write_body(
    session: &mut Session,
    ctx: &mut RequestCtx,
    status: u16,
    content_type: &str,
    extra: &[(&str, &str)],
    body: Bytes,
) -> pingora::Result<()> {
    let mut parts = response_parts(status, 10 + extra.len())?;
    let h = &mut parts.headers;
    set(h, CONTENT_TYPE, content_type)?;
    h.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    common_headers(h, ctx)?;
    for (k, v) in extra {
        set_named(h, k, v)?;
    }
    ctx.status = status;
    let head = ResponseHeader::from(parts);
    let limit = ctx.send_timeout;
    bounded(limit, session.write_response_header(Box::new(head), false)).await?;
    bounded(limit, session.write_response_body(Some(body), true)).await
}

/// Runs one write to the client, failing with `WriteTimedout` when it is
/// still blocked after `limit`: a client that stops reading fills its
/// receive window and would otherwise hold the request — a stream's slot,
/// its provider connection — for as long as it likes. Pingora's own write
/// timeout covers body writes only, not the head nor a chunked body's end.
/// The timer starts only once the write blocks (Pingora's lazy
/// `tokio_timeout`): most writes complete at once, and a timer per write was
/// a seventh of a streamed request's instructions.
pub async fn bounded<T>(
    limit: Duration,
    write: impl Future<Output = pingora::Result<T>>,
) -> pingora::Result<T> {
    match pingora::time::tokio_timeout(limit, write).await {
        Ok(result) => result,
        Err(_) => Err(Error::explain(
            ErrorType::WriteTimedout,
            format!("the client read nothing for {limit:?}"),
        )),
    }
}

/// Writes a JSON value.
pub async fn write_json(
    session: &mut Session,
    ctx: &mut RequestCtx,
    status: u16,
    value: &serde_json::Value,
) -> pingora::Result<()> {
    let body = Bytes::from(serde_json::to_vec(value).unwrap_or_default());
    write_body(session, ctx, status, "application/json", &[], body).await
}

/// Writes `err` as an OpenAI-style error with its status.
pub async fn write_error(
    session: &mut Session,
    ctx: &mut RequestCtx,
    err: &GatewayError,
) -> pingora::Result<()> {
    ctx.error.get_or_insert(err.metric_label());
    let body = match ctx.dialect {
        // The Responses API's errors are the chat API's.
        Dialect::OpenAi | Dialect::Responses => err.body(),
        Dialect::Anthropic => crate::dialect::anthropic::error_body(err),
    };
    let body = Bytes::from(serde_json::to_vec(&body).unwrap_or_default());
    let retry_after = err.retry_after().map(|r| ("retry-after", r));
    let extra: Vec<(&str, &str)> = retry_after.into_iter().collect();
    write_body(session, ctx, err.status(), "application/json", &extra, body).await
}
