//! The Pingora `ProxyHttp` implementation, kept thin: `request_filter`
//! answers every request — local endpoints ([`endpoints`]), or a model
//! request along its [`pipeline`] — and `logging` [`record`]s it.
//!
//! The model request's stages, in the order it meets them: [`intake`],
//! authenticate and route (in the pipeline), [`admit`], [`attempts`],
//! [`deliver`], [`settle`], [`record`].

pub mod admit;
pub mod attempts;
pub mod client;
pub mod conversation;
pub mod ctx;
pub mod degrade;
pub mod deliver;
pub mod endpoints;
pub mod guards;
pub mod hostile;
pub mod intake;
pub mod pipeline;
pub mod record;
pub mod respond;
pub mod settle;
pub mod spans;

use std::sync::Arc;

use arc_swap::ArcSwap;
use async_trait::async_trait;
use http::Method;
use pingora::connectors::http::Connector;
use pingora::upstreams::peer::HttpPeer;
use pingora::{Error, ErrorType};
use pingora_proxy::{FailToProxy, ProxyHttp, Session};

pub use ctx::{RequestCtx, Usage};

use crate::config::Config;
use crate::error::GatewayError;
use crate::policy::Policies;
use crate::request::{Dialect, Endpoint};
use conversation::Action;
use respond::write_error;

/// The gateway service: the current config, the upstream connection pool,
/// and the state policies keep (limits, spend, cache, ledger).
pub struct Gateway {
    config: Arc<ArcSwap<Config>>,
    connector: Connector,
    policies: Arc<Policies>,
}

impl Gateway {
    /// A gateway serving whatever config `config` holds at each request.
    pub fn new(config: Arc<ArcSwap<Config>>, policies: Arc<Policies>) -> Self {
        Self {
            config,
            connector: Connector::new(None),
            policies,
        }
    }

    async fn serve(&self, session: &mut Session, ctx: &mut RequestCtx) -> pingora::Result<()> {
        // One snapshot per request: a reload mid-request does not affect it.
        let cfg = self.config.load_full();
        ctx.config_version = cfg.version.clone();
        ctx.send_timeout = cfg.settings.send_timeout;
        ctx.request_id = request_id(session);
        let method = session.req_header().method.clone();
        let path = session.req_header().uri.path().to_string();
        let path = path
            .strip_prefix("/v1")
            .filter(|p| p.starts_with('/'))
            .unwrap_or(&path);
        // OpenAI's endpoints a provider answers (chat, embeddings, images,
        // audio, moderations, rerank).
        if let Some(endpoint) = Endpoint::from_path(path).filter(|_| method == Method::POST) {
            return self
                .model(session, ctx, &cfg, endpoint, Dialect::OpenAi)
                .await;
        }
        match (method.as_str(), path) {
            ("GET", "/health") => endpoints::health(session, ctx).await,
            ("GET", "/ready") => endpoints::ready(session, ctx, &cfg).await,
            ("GET", "/metrics") => endpoints::metrics(session, ctx, &cfg, &self.policies).await,
            ("GET", "/models") => endpoints::models(session, ctx, &cfg).await,
            ("GET", p) if p.starts_with("/models/") => {
                endpoints::model(session, ctx, &cfg, &p["/models/".len()..]).await
            }
            ("POST", "/messages") => {
                self.model(session, ctx, &cfg, Endpoint::Chat, Dialect::Anthropic)
                    .await
            }
            ("POST", "/messages/count_tokens") => endpoints::count_tokens(session, ctx, &cfg).await,
            ("POST", "/responses") => {
                self.model(session, ctx, &cfg, Endpoint::Chat, Dialect::Responses)
                    .await
            }
            (m @ ("GET" | "DELETE"), p) if p.starts_with("/responses/") => {
                let rest = &p["/responses/".len()..];
                let (id, action) = match (m, rest.strip_suffix("/input_items")) {
                    ("GET", Some(id)) => (id, Action::InputItems),
                    ("GET", None) => (rest, Action::Get),
                    (_, _) => (rest, Action::Delete),
                };
                let policies = &self.policies;
                conversation::stored(session, ctx, &cfg, policies, id, action).await
            }
            (_, p) if p.starts_with("/files") || p.starts_with("/batches") => {
                self.model(session, ctx, &cfg, Endpoint::Passthrough, Dialect::OpenAi)
                    .await
            }
            (
                _,
                "/chat/completions" | "/embeddings" | "/models" | "/health" | "/ready" | "/metrics",
            ) => {
                let err =
                    GatewayError::NotFound(format!("method {method} is not allowed on {path}"));
                write_error(session, ctx, &err).await
            }
            // Anything else under /v1: passed through if the route of its
            // model says so (else a 404 saying how).
            _ if session.req_header().uri.path().starts_with("/v1/") => {
                self.model(session, ctx, &cfg, Endpoint::Passthrough, Dialect::OpenAi)
                    .await
            }
            _ => {
                let err = GatewayError::NotFound(format!("no such endpoint: {method} {path}"));
                write_error(session, ctx, &err).await
            }
        }
    }
}

impl Gateway {
    /// A model request, along its pipeline.
    async fn model(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        cfg: &Config,
        endpoint: Endpoint,
        dialect: Dialect,
    ) -> pingora::Result<()> {
        let (connector, policies) = (&self.connector, &self.policies);
        pipeline::serve(session, ctx, cfg, connector, policies, endpoint, dialect).await
    }
}

/// The client's `x-request-id` if sane, else a new one.
fn request_id(session: &Session) -> String {
    let given = session
        .req_header()
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()));
    match given {
        Some(id) => id.to_string(),
        None => {
            use rand::Rng;
            format!("req_{:024x}", rand::thread_rng().gen::<u128>() >> 32)
        }
    }
}

#[async_trait]
impl ProxyHttp for Gateway {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx::new()
    }

    async fn request_filter(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> pingora::Result<bool> {
        match self.serve(session, ctx).await {
            Ok(()) => Ok(true),
            Err(e) => Err(undelivered(ctx, e)),
        }
    }

    /// Only an undelivered response reaches here ([`undelivered`]): nothing
    /// more is written, and the connection is closed, not kept alive.
    async fn fail_to_proxy(
        &self,
        _session: &mut Session,
        _e: &Error,
        _ctx: &mut RequestCtx,
    ) -> FailToProxy {
        FailToProxy {
            error_code: 0,
            can_reuse_downstream: false,
        }
    }

    fn suppress_error_log(&self, _s: &Session, _ctx: &RequestCtx, _e: &Error) -> bool {
        // Logged (at debug) and counted by `undelivered`.
        true
    }

    async fn upstream_peer(
        &self,
        _s: &mut Session,
        _ctx: &mut RequestCtx,
    ) -> pingora::Result<Box<HttpPeer>> {
        // Never reached: request_filter answers every request.
        Err(Error::explain(
            ErrorType::InternalError,
            "no upstream phase in this gateway",
        ))
    }

    async fn logging(&self, _s: &mut Session, _e: Option<&Error>, ctx: &mut RequestCtx) {
        record::finished(ctx, &self.policies);
    }
}

/// A response that could not be written: the client went away, or it
/// stopped reading and a write stayed blocked past `server.send_timeout`
/// (or the stream's timeout), which is counted. The error goes back to
/// Pingora so that it closes the connection: finishing the response would
/// write again (a chunked body's end) to a client that does not read, and
/// would make a cut stream look complete.
fn undelivered(ctx: &mut RequestCtx, e: Box<Error>) -> Box<Error> {
    if matches!(e.etype(), ErrorType::WriteTimedout) {
        crate::edge::Rejection::SendTimeout.count();
        ctx.error = Some("send_timeout");
    } else {
        ctx.error.get_or_insert("downstream_write");
    }
    tracing::debug!(request_id = %ctx.request_id, error = %e, "response not delivered");
    e
}
