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
        Dialect::Anthropic => {
            let hub = anthropic::request_to_hub(request::json(&bytes)?)?;
            let mut req = request::parse_value(endpoint, hub)?;
            req.body_len = bytes.len();
            Ok(req)
        }
    }
}
