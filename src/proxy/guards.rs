//! Where the pipeline runs guardrails ([`crate::guard`]): the global ones
//! on the request before it is routed, the route's after; both, global
//! first, on the answer — a whole one here ([`response`]), a stream's
//! chunks in the relay. A stop is recorded on the request (its guardrail
//! goes to the access log and the ledger) and answered as an error in the
//! client's shape.

use pingora::connectors::http::Connector;
use serde_json::Value;

use super::RequestCtx;
use crate::error::GatewayError;
use crate::guard::{Guardrails, Reason, Scope, Stop};
use crate::request::ClientRequest;

/// Runs `guardrails`' request hooks on `req` (`route`: none before
/// routing). The request's model follows an edit of its body's.
pub async fn request(
    ctx: &mut RequestCtx,
    guardrails: &Guardrails,
    req: &mut ClientRequest,
    route: Option<&str>,
    connector: &Connector,
) -> Result<(), GatewayError> {
    if !applies(guardrails, req) {
        return Ok(());
    }
    // A provider's own Responses format would carry the request (and its
    // answer) past the guardrails: with guardrails, Responses requests
    // take the chat path, whose requests and answers they see (a null
    // native body still marks the request as a Responses one).
    if req.native.is_some() {
        req.native = Some(std::sync::Arc::new(Value::Null));
    }
    if !guardrails.on_request() {
        return Ok(());
    }
    let scope = Scope {
        endpoint: ctx.endpoint,
        model: &req.model,
        route,
        key: ctx.key.as_deref(),
        stream: req.stream,
    };
    let checked = guardrails.request(&mut req.body, &scope, connector).await;
    if let Err(stop) = checked {
        return Err(stopped(ctx, &stop));
    }
    if let Some(model) = req.body.get("model").and_then(Value::as_str) {
        if model != req.model {
            req.model = model.to_string();
        }
    }
    Ok(())
}

/// Whether `guardrails` look at `req`: a JSON request (not a multipart
/// upload, not a body passed through unread).
fn applies(guardrails: &Guardrails, req: &ClientRequest) -> bool {
    !guardrails.is_empty() && req.passthrough.is_none() && req.form.is_none()
}

/// Runs the response hooks on a whole hub answer: the answer to send (the
/// same bytes when nothing looks at answers), or the error instead.
pub fn response(
    ctx: &mut RequestCtx,
    guardrails: &Guardrails,
    model: &str,
    body: bytes::Bytes,
) -> Result<bytes::Bytes, GatewayError> {
    if !guardrails.on_response() {
        return Ok(body);
    }
    let Ok(answer) = serde_json::from_slice::<Value>(&body) else {
        return Ok(body);
    };
    let scope = Scope {
        endpoint: ctx.endpoint,
        model,
        route: ctx.route.as_deref(),
        key: ctx.key.as_deref(),
        stream: false,
    };
    match guardrails.response(answer, &scope) {
        // Unedited: the bytes as they came (no second serialization).
        Ok((_, false)) => Ok(body),
        Ok((answer, true)) => Ok(serde_json::to_vec(&answer).map_or(body, bytes::Bytes::from)),
        Err(stop) => Err(stopped(ctx, &stop)),
    }
}

/// Records `stop` on the request; the error answering it.
pub fn stopped(ctx: &mut RequestCtx, stop: &Stop) -> GatewayError {
    ctx.guardrail = Some(stop.guardrail.clone());
    match &stop.reason {
        Reason::Blocked { status, message } => GatewayError::Blocked {
            status: *status,
            message: message.clone(),
        },
        Reason::Failed(m) => GatewayError::GuardrailFailed(m.clone()),
    }
}
