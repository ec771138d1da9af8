//! Endpoints the gateway answers itself: `/health`, `/ready`, `/metrics`,
//! `/v1/models` and `/v1/messages/count_tokens`.

use std::sync::Arc;

use bytes::Bytes;
use pingora_proxy::Session;
use serde_json::json;

use super::ctx::RequestCtx;
use super::intake;
use super::respond::{write_body, write_error, write_json};
use crate::config::policy::VirtualKey;
use crate::config::Config;
use crate::dialect::anthropic;
use crate::error::GatewayError;
use crate::policy::keys;
use crate::request::{self, Dialect};

/// `GET /health`: the process is alive.
pub async fn health(s: &mut Session, ctx: &mut RequestCtx) -> pingora::Result<()> {
    write_json(s, ctx, 200, &json!({"status": "ok"})).await
}

/// `GET /ready`: a config is loaded and some provider can take requests.
pub async fn ready(s: &mut Session, ctx: &mut RequestCtx, cfg: &Config) -> pingora::Result<()> {
    let usable: Vec<&str> = cfg
        .providers
        .values()
        .filter(|p| p.is_enabled())
        .map(|p| p.name.as_str())
        .collect();
    let body = json!({
        "status": if usable.is_empty() { "unavailable" } else { "ready" },
        "config_version": cfg.version,
        "usable_providers": usable,
    });
    write_json(s, ctx, if usable.is_empty() { 503 } else { 200 }, &body).await
}

/// `GET /metrics`: Prometheus text format. With auth on it is not served
/// here but on the admin listener (`admin.metrics_token`): its labels name
/// keys, routes and providers.
pub async fn metrics(
    s: &mut Session,
    ctx: &mut RequestCtx,
    cfg: &Config,
    policies: &crate::policy::Policies,
) -> pingora::Result<()> {
    if cfg.policy.auth.enabled {
        let err = GatewayError::NotFound(
            "/metrics is served on the admin listener when auth is on (`admin.listen`, with `admin.metrics_token`)".into(),
        );
        return write_error(s, ctx, &err).await;
    }
    crate::provider::observe_backends(cfg.providers.values());
    policies.observe();
    let body = Bytes::from(crate::metrics::render());
    write_body(
        s,
        ctx,
        200,
        "text/plain; version=0.0.4; charset=utf-8",
        &[],
        body,
    )
    .await
}

fn model_object(id: &str, owned_by: &str) -> serde_json::Value {
    json!({"id": id, "object": "model", "created": 0, "owned_by": owned_by})
}

/// The caller of a model listing, when auth is on: a client key is needed
/// (as `Authorization: Bearer` or `x-api-key`, so both SDKs list models).
fn caller(s: &Session, cfg: &Config) -> Result<Option<Arc<VirtualKey>>, GatewayError> {
    keys::authenticate(
        &cfg.policy.auth,
        &s.req_header().headers,
        Dialect::Anthropic,
    )
}

/// Whether `key` may use model `id` (any model when auth is off).
fn visible(cfg: &Config, key: Option<&VirtualKey>, id: &str) -> bool {
    key.is_none()
        || cfg
            .routes
            .resolve(id)
            .is_some_and(|route| keys::check_route(key, &route, id).is_ok())
}

/// `GET /v1/models`: route aliases and provider models — with auth on,
/// those the caller's key may use.
pub async fn models(s: &mut Session, ctx: &mut RequestCtx, cfg: &Config) -> pingora::Result<()> {
    let key = match caller(s, cfg) {
        Ok(k) => k,
        Err(e) => return write_error(s, ctx, &e).await,
    };
    ctx.key = key.as_ref().map(|k| k.name.clone());
    let data: Vec<_> = cfg
        .routes
        .models()
        .iter()
        .filter(|m| visible(cfg, key.as_deref(), &m.id))
        .map(|m| model_object(&m.id, &m.owned_by))
        .collect();
    write_json(s, ctx, 200, &json!({"object": "list", "data": data})).await
}

/// `GET /v1/models/{id}`: one model, or 404 (also for a model the
/// caller's key may not use).
pub async fn model(
    s: &mut Session,
    ctx: &mut RequestCtx,
    cfg: &Config,
    id: &str,
) -> pingora::Result<()> {
    let key = match caller(s, cfg) {
        Ok(k) => k,
        Err(e) => return write_error(s, ctx, &e).await,
    };
    ctx.key = key.as_ref().map(|k| k.name.clone());
    if !visible(cfg, key.as_deref(), id) {
        return write_error(s, ctx, &GatewayError::UnknownModel(id.to_string())).await;
    }
    let found = cfg.routes.models().into_iter().find(|m| m.id == id);
    match found {
        Some(m) => write_json(s, ctx, 200, &model_object(&m.id, &m.owned_by)).await,
        None if cfg.routes.resolve(id).is_some() => {
            write_json(s, ctx, 200, &model_object(id, "switchyard")).await
        }
        None => write_error(s, ctx, &GatewayError::UnknownModel(id.to_string())).await,
    }
}

/// `POST /v1/messages/count_tokens`: an estimate, answered locally.
pub async fn count_tokens(
    session: &mut Session,
    ctx: &mut RequestCtx,
    cfg: &Config,
) -> pingora::Result<()> {
    ctx.dialect = Dialect::Anthropic;
    // Local, but still only for callers with a key when auth is on.
    let auth = keys::authenticate(&cfg.policy.auth, &session.req_header().headers, ctx.dialect);
    match auth {
        Ok(key) => ctx.key = key.map(|k| k.name.clone()),
        Err(e) => return write_error(session, ctx, &e).await,
    }
    let s = &cfg.settings;
    let counted = intake::read_body_within(session, s.max_body_size, s.body_timeout)
        .await
        .and_then(|b| request::json(&b))
        .and_then(|v| anthropic::count_tokens(&v));
    match counted {
        Ok(v) => write_json(session, ctx, 200, &v).await,
        Err(e) => write_error(session, ctx, &e).await,
    }
}
