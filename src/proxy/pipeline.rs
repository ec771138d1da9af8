//! A model request's path, one stage per step:
//!
//! intake → authenticate → route → admit → attempts → deliver → settle → record
//!
//! [`intake`] reads the body as the client's request; the key is
//! authenticated and the route resolved here; [`admit`] checks the cache,
//! the budget, the limits and coalescing; [`attempts`] try the route's
//! targets (selection, failover, hedging); [`deliver`] writes the whole
//! answer or relays the stream and settles the attempt
//! ([`settle`](super::settle)); the [`Ticket`](admit::Ticket) settles the
//! admission; Pingora's `logging` phase [`record`](super::record)s it all.
//! Any stage may answer instead (an error, a cached answer), and nothing
//! after it runs.

use std::sync::Arc;

use pingora::connectors::http::Connector;
use pingora_proxy::Session;

use super::admit::{self, Admitted};
use super::attempts::{self, Shared};
use super::client;
use super::respond::write_error;
use super::{deliver, intake, RequestCtx};
use crate::config::policy::VirtualKey;
use crate::config::Config;
use crate::error::GatewayError;
use crate::policy::{keys, Policies};
use crate::request::{ClientRequest, Dialect, Endpoint};
use crate::routing::Route;

/// The value of a stage, or the error answered in its place.
macro_rules! or_answer {
    ($session:expr, $ctx:expr, $stage:expr) => {
        match $stage {
            Ok(v) => v,
            Err(e) => return write_error($session, $ctx, &e).await,
        }
    };
}

/// Serves a chat, embeddings or messages request, in the client's `dialect`.
pub async fn serve(
    session: &mut Session,
    ctx: &mut RequestCtx,
    cfg: &Config,
    connector: &Connector,
    policies: &Policies,
    endpoint: Endpoint,
    dialect: Dialect,
) -> pingora::Result<()> {
    ctx.begin(endpoint, dialect);
    let key = or_answer!(session, ctx, authenticate(session, ctx, cfg, dialect));
    let read = intake::read(session, cfg, endpoint, dialect).await;
    let req = or_answer!(session, ctx, read);
    ctx.stream = req.stream;
    // Held until the stream ends: streams keep a provider connection open.
    let _stream_slot = or_answer!(session, ctx, stream_slot(cfg, &req));
    let route = or_answer!(session, ctx, route(cfg, ctx, key.as_deref(), &req));
    let head = session.req_header();
    let shared = Shared::new(cfg, connector, req, &route, ctx.started, head)
        .for_key(key.clone(), &policies.store);
    let mut ticket = match admit::admit(session, ctx, policies, &route, &shared, key).await {
        Admitted::Call(ticket) => ticket,
        Admitted::Answered(a) => return deliver::cached(session, ctx, &shared.req, &a).await,
        Admitted::Refused(e) => return write_error(session, ctx, &e).await,
        Admitted::Gone => return Ok(()),
    };
    let mut failures = Vec::new();
    // Boxed: connecting, hedging and failing over take a large future that
    // would otherwise stay reserved in this one for a whole stream.
    let attempts = Box::pin(attempts::run(&shared, &route, &mut failures));
    let started = client::unless_gone(session, attempts).await;
    attempts::record(ctx, &failures);
    let result = match started {
        Some(Some(s)) => deliver::answer(session, ctx, &shared, s, ticket.capture()).await,
        Some(None) => write_error(session, ctx, &attempts::final_error(&route, failures)).await,
        None => {
            ctx.client_closed();
            Ok(())
        }
    };
    ticket.settle(ctx).await;
    result
}

/// The client's key, when auth is on (none when it is off).
fn authenticate(
    session: &Session,
    ctx: &mut RequestCtx,
    cfg: &Config,
    dialect: Dialect,
) -> Result<Option<Arc<VirtualKey>>, GatewayError> {
    let key = keys::authenticate(&cfg.policy.auth, &session.req_header().headers, dialect)?;
    ctx.key = key.as_ref().map(|k| k.name.clone());
    Ok(key)
}

/// A slot among `server.max_streams`, for a streaming request.
fn stream_slot(
    cfg: &Config,
    req: &ClientRequest,
) -> Result<Option<crate::edge::Slot>, GatewayError> {
    req.stream
        .then(|| crate::edge::admit_stream(cfg.settings.max_streams))
        .transpose()
}

/// The route serving the requested model, if the key may use it.
fn route(
    cfg: &Config,
    ctx: &mut RequestCtx,
    key: Option<&VirtualKey>,
    req: &ClientRequest,
) -> Result<Arc<Route>, GatewayError> {
    let Some(route) = cfg.routes.resolve(&req.model) else {
        ctx.model = Some("unknown".into());
        return Err(GatewayError::UnknownModel(req.model.clone()));
    };
    ctx.route = Some(route.name.clone());
    ctx.strategy = Some(route.policy.strategy.name());
    keys::check_route(key, &route, &req.model)?;
    Ok(route)
}
