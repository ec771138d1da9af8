//! The admin API, on its own listener and behind the admin key: config
//! summary (secrets left out), providers and backends with their state,
//! usage from the ledger, budgets and their spend, live stats, route
//! explanations, and reload; and
//! `/metrics` for Prometheus (with the admin key or `admin.metrics_token`).
//! Described in `docs/admin-openapi.yaml`. The dashboard page (static, no
//! data) is served without the key; it calls the API with it.

mod dashboard;
pub mod explain;
mod stats;
mod views;

use std::sync::Arc;

use arc_swap::ArcSwap;
use async_trait::async_trait;
use bytes::Bytes;
use pingora::http::ResponseHeader;
use pingora::upstreams::peer::HttpPeer;
use pingora::{Error, ErrorType};
use pingora_proxy::{FailToProxy, ProxyHttp, Session};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::config::watch::Reloader;
use crate::config::Config;
use crate::ledger::{GroupBy, UsageQuery};
use crate::policy::Policies;
use crate::proxy::intake;
use crate::proxy::respond::bounded;
use crate::request::{self, Endpoint};

/// Largest request body the admin API reads.
const MAX_BODY: usize = 4 << 20;

/// The admin service.
pub struct Admin {
    config: Arc<ArcSwap<Config>>,
    policies: Arc<Policies>,
    reloader: Arc<Reloader>,
    recent: stats::Recent,
}

impl Admin {
    pub fn new(
        config: Arc<ArcSwap<Config>>,
        policies: Arc<Policies>,
        reloader: Arc<Reloader>,
    ) -> Self {
        Self {
            config,
            policies,
            reloader,
            recent: stats::Recent::default(),
        }
    }

    async fn serve(&self, session: &mut Session) -> pingora::Result<()> {
        let cfg = self.config.load_full();
        // Read back by `write_with`, which bounds each write with it.
        session.set_write_timeout(Some(cfg.settings.send_timeout));
        let Some(settings) = &cfg.policy.admin else {
            return reply(session, 404, &problem("the admin API is not configured")).await;
        };
        let get = session.req_header().method == http::Method::GET;
        if let Some(asset) = dashboard::asset(session.req_header().uri.path()).filter(|_| get) {
            return serve_asset(session, asset).await;
        }
        if get && session.req_header().uri.path() == "/metrics" {
            let token = settings.metrics_token.as_ref().map(|t| t.expose());
            if !(authorized(session, settings.key.expose())
                || token.is_some_and(|t| authorized(session, t)))
            {
                return reply(
                    session,
                    401,
                    &problem("send the metrics token (or the admin key) as `Authorization: Bearer <token>`"),
                )
                .await;
            }
            crate::provider::observe_backends(cfg.providers.values());
            self.policies.observe();
            let body = Bytes::from(crate::metrics::render());
            return write(
                session,
                200,
                "text/plain; version=0.0.4; charset=utf-8",
                body,
            )
            .await;
        }
        if !authorized(session, settings.key.expose()) {
            return reply(
                session,
                401,
                &problem("send the admin key as `Authorization: Bearer <key>`"),
            )
            .await;
        }
        let method = session.req_header().method.as_str().to_string();
        let path = session.req_header().uri.path().to_string();
        let query = session.req_header().uri.query().unwrap_or("").to_string();
        match (method.as_str(), path.as_str()) {
            ("GET", "/admin/config") => {
                reply(session, 200, &views::config(&cfg, &self.policies)).await
            }
            ("GET", "/admin/providers") => reply(session, 200, &views::providers(&cfg)).await,
            ("GET", "/admin/stats") => reply(session, 200, &self.stats(&cfg)).await,
            ("GET", "/admin/keys") => reply(session, 200, &views::keys(&cfg)).await,
            ("GET", "/admin/usage") => self.usage(session, &query).await,
            ("GET", "/admin/budgets") => {
                let scopes = crate::policy::budget_scopes(&cfg);
                match crate::policy::budget::status(&self.policies.store, &scopes).await {
                    Ok(v) => reply(session, 200, &v).await,
                    Err(e) => {
                        reply(session, 503, &problem(&format!("spend unavailable: {e}"))).await
                    }
                }
            }
            ("POST", "/admin/route/explain") => explain(session, &cfg, &query).await,
            ("POST", "/admin/reload") => match self.reloader.reload() {
                Ok(cfg) => {
                    reply(
                        session,
                        200,
                        &json!({"reloaded": true, "version": cfg.version}),
                    )
                    .await
                }
                Err(issues) => {
                    let issues: Vec<String> = issues.iter().map(ToString::to_string).collect();
                    let body = json!({
                        "reloaded": false,
                        "version": self.config.load().version,
                        "issues": issues,
                    });
                    reply(session, 422, &body).await
                }
            },
            ("GET", "/admin/openapi.yaml") => {
                let body = Bytes::from_static(include_bytes!("../../docs/admin-openapi.yaml"));
                write(session, 200, "application/yaml", body).await
            }
            _ => {
                reply(
                    session,
                    404,
                    &problem(&format!("no such admin endpoint: {method} {path}")),
                )
                .await
            }
        }
    }

    /// `GET /admin/stats`: the registry summarised, figures over the last
    /// minute, the config's state and ledger, and every backend's state.
    fn stats(&self, cfg: &Config) -> Value {
        let snap = Arc::new(stats::Snapshot::from_families(&prometheus::gather()));
        let recent = self
            .recent
            .observe(std::time::Instant::now(), snap.clone())
            .map(|(window, older)| snap.recent_view(&older, window));
        let mut body = snap.view();
        if let Some(obj) = body.as_object_mut() {
            obj.insert("version".into(), json!(cfg.version));
            obj.insert("recent".into(), recent.unwrap_or(Value::Null));
            obj.insert(
                "state".into(),
                json!({"kind": self.policies.store.kind(), "healthy": self.policies.store.healthy()}),
            );
            obj.insert(
                "ledger".into(),
                json!(self.policies.ledger.as_ref().map(|l| json!({
                    "target": l.target_label(),
                    "pending": l.pending(),
                }))),
            );
            obj.insert(
                "providers".into(),
                views::providers(cfg)["providers"].take(),
            );
        }
        body
    }

    async fn usage(&self, session: &mut Session, query: &str) -> pingora::Result<()> {
        let Some(ledger) = self.policies.ledger.clone() else {
            return reply(
                session,
                404,
                &problem("the usage ledger is off (`ledger: enabled: false`)"),
            )
            .await;
        };
        let q = match usage_query(query) {
            Ok(q) => q,
            Err(e) => return reply(session, 400, &problem(&e)).await,
        };
        let label = ledger.target_label();
        let rows = tokio::task::spawn_blocking(move || ledger.query(&q)).await;
        match rows {
            Ok(Ok(rows)) => reply(session, 200, &json!({"ledger": label, "rows": rows})).await,
            Ok(Err(e)) => reply(session, 503, &problem(&format!("ledger query failed: {e}"))).await,
            Err(e) => reply(session, 500, &problem(&format!("ledger query failed: {e}"))).await,
        }
    }
}

/// `key`, `model`, `provider`, `route`, `from`/`to` (unix ms or RFC 3339),
/// `group_by` (comma-separated), `limit`.
fn usage_query(query: &str) -> Result<UsageQuery, String> {
    let mut q = UsageQuery::default();
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let value = value.into_owned();
        match name.as_ref() {
            "key" => q.key = Some(value),
            "model" => q.model = Some(value),
            "provider" => q.provider = Some(value),
            "route" => q.route = Some(value),
            "from" => q.from_ms = Some(time_ms(&value)?),
            "to" => q.to_ms = Some(time_ms(&value)?),
            "group_by" => q.group_by = GroupBy::parse_list(&value)?,
            "limit" => {
                q.limit = Some(
                    value
                        .parse()
                        .map_err(|_| format!("`limit` must be a number, not `{value}`"))?,
                )
            }
            other => {
                return Err(format!(
                    "unknown parameter `{other}` (use key, model, provider, route, from, to, group_by, limit)"
                ))
            }
        }
    }
    Ok(q)
}

fn time_ms(text: &str) -> Result<i64, String> {
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_millis())
        .map_err(|_| format!("`{text}` is neither unix milliseconds nor an RFC 3339 time"))
}

async fn explain(session: &mut Session, cfg: &Config, query: &str) -> pingora::Result<()> {
    let endpoint = if query.split('&').any(|p| p == "embeddings=true") {
        Endpoint::Embeddings
    } else {
        Endpoint::Chat
    };
    let body = intake::read_body_within(session, MAX_BODY, cfg.settings.body_timeout)
        .await
        .and_then(|b| request::json(&b));
    let result = body.and_then(|b| explain::explain(cfg, endpoint, b));
    match result {
        Ok(v) => reply(session, 200, &v).await,
        Err(e) => reply(session, e.status(), &e.body()).await,
    }
}

/// Compares digests, so the time taken says nothing about the key.
fn authorized(session: &Session, key: &str) -> bool {
    let presented = session
        .req_header()
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    Sha256::digest(presented.trim().as_bytes()) == Sha256::digest(key.as_bytes())
}

fn problem(message: &str) -> Value {
    json!({"error": {"message": message}})
}

async fn reply(session: &mut Session, status: u16, body: &Value) -> pingora::Result<()> {
    let body = Bytes::from(serde_json::to_vec_pretty(body).unwrap_or_default());
    write(session, status, "application/json", body).await
}

async fn write(
    session: &mut Session,
    status: u16,
    content_type: &str,
    body: Bytes,
) -> pingora::Result<()> {
    write_with(session, status, content_type, &[], body).await
}

async fn serve_asset(session: &mut Session, asset: dashboard::Asset) -> pingora::Result<()> {
    let body = Bytes::from_static(asset.body);
    write_with(session, 200, asset.content_type, dashboard::HEADERS, body).await
}

async fn write_with(
    session: &mut Session,
    status: u16,
    content_type: &str,
    extra: &[(&'static str, &'static str)],
    body: Bytes,
) -> pingora::Result<()> {
    let mut h = ResponseHeader::build(status, Some(3 + extra.len()))?;
    h.insert_header("content-type", content_type)?;
    h.insert_header("content-length", body.len().to_string())?;
    h.insert_header("cache-control", "no-store")?;
    for (name, value) in extra {
        h.insert_header(*name, *value)?;
    }
    let limit = session.get_write_timeout().unwrap_or(DEFAULT_SEND_TIMEOUT);
    bounded(limit, session.write_response_header(Box::new(h), false)).await?;
    bounded(limit, session.write_response_body(Some(body), true)).await
}

/// Bounds writes when no config set the session's write timeout.
const DEFAULT_SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

#[async_trait]
impl ProxyHttp for Admin {
    type CTX = ();

    fn new_ctx(&self) {}

    async fn request_filter(&self, session: &mut Session, _ctx: &mut ()) -> pingora::Result<bool> {
        match self.serve(session).await {
            Ok(()) => Ok(true),
            Err(e) => {
                if matches!(e.etype(), ErrorType::WriteTimedout) {
                    crate::edge::Rejection::SendTimeout.count();
                }
                tracing::debug!(error = %e, "admin response not delivered");
                // Pingora closes the connection instead of finishing it.
                Err(e)
            }
        }
    }

    async fn fail_to_proxy(&self, _s: &mut Session, _e: &Error, _ctx: &mut ()) -> FailToProxy {
        FailToProxy {
            error_code: 0,
            can_reuse_downstream: false,
        }
    }

    fn suppress_error_log(&self, _s: &Session, _ctx: &(), _e: &Error) -> bool {
        true
    }

    async fn upstream_peer(
        &self,
        _s: &mut Session,
        _ctx: &mut (),
    ) -> pingora::Result<Box<HttpPeer>> {
        Err(Error::explain(
            ErrorType::InternalError,
            "the admin API has no upstream",
        ))
    }
}

#[cfg(test)]
mod tests;
