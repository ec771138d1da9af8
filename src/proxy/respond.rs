//! Writing gateway-made responses: JSON bodies, OpenAI-style errors, and
//! the headers every response carries (request id, config version, route).

use bytes::Bytes;
use pingora::http::ResponseHeader;
use pingora_proxy::Session;

use super::ctx::RequestCtx;
use super::request::Dialect;
use crate::error::GatewayError;

/// Adds the headers every response carries.
pub fn common_headers(h: &mut ResponseHeader, ctx: &RequestCtx) -> pingora::Result<()> {
    h.insert_header("x-request-id", &ctx.request_id)?;
    if !ctx.config_version.is_empty() {
        h.insert_header("x-switchyard-config-version", &ctx.config_version)?;
    }
    if let Some(route) = &ctx.route {
        h.insert_header("x-switchyard-route", route)?;
    }
    if let Some(strategy) = ctx.strategy {
        h.insert_header("x-switchyard-strategy", strategy)?;
    }
    if let Some(provider) = &ctx.provider {
        h.insert_header("x-switchyard-provider", provider)?;
    }
    if !ctx.attempts.is_empty() {
        h.insert_header("x-switchyard-attempts", ctx.attempts_header())?;
    }
    if let Some(cache) = ctx.cache {
        h.insert_header("x-switchyard-cache", cache)?;
    }
    for (name, value) in &ctx.extra_headers {
        h.insert_header(*name, value)?;
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
    let mut h = ResponseHeader::build(status, Some(8))?;
    h.insert_header("content-type", content_type)?;
    h.insert_header("content-length", body.len().to_string())?;
    common_headers(&mut h, ctx)?;
    for (k, v) in extra {
        h.insert_header(k.to_string(), *v)?;
    }
    ctx.status = status;
    session.write_response_header(Box::new(h), false).await?;
    session.write_response_body(Some(body), true).await?;
    Ok(())
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
        Dialect::OpenAi => err.body(),
        Dialect::Anthropic => crate::dialect::anthropic::error_body(err),
    };
    let body = Bytes::from(serde_json::to_vec(&body).unwrap_or_default());
    let retry_after = err.retry_after().map(|r| ("retry-after", r));
    let extra: Vec<(&str, &str)> = retry_after.into_iter().collect();
    write_body(session, ctx, err.status(), "application/json", &extra, body).await
}
