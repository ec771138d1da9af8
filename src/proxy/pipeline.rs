//! A model request's path, one stage per step:
//!
//! intake → authenticate → route → admit → attempts → deliver (or degrade) → settle → record
//!
//! [`intake`] reads the body as the client's request; the key is
//! authenticated and the route resolved here; [`admit`] checks the cache,
//! the budget, the limits and coalescing; [`attempts`] try the route's
//! targets (selection, failover, hedging); [`deliver`] writes the whole
//! answer or relays the stream and settles the attempt
//! ([`settle`](super::settle)); the [`Ticket`](admit::Ticket) settles the
//! admission; when every attempt failed, [`degrade`] may answer from a
//! stale entry or the route's fallback; Pingora's `logging` phase
//! [`record`](super::record)s it all.
//! Any stage may answer instead (an error, a cached answer), and nothing
//! after it runs.

use std::sync::Arc;

use pingora::connectors::http::Connector;
use pingora_proxy::Session;

use super::admit::{self, Admitted};
use super::attempts::{self, Shared};
use super::client;
use super::respond::write_error;
use super::{conversation, degrade, deliver, guards, intake, spans, RequestCtx};
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
    spans::begin(ctx, cfg, &session.req_header().headers);
    let key = or_answer!(session, ctx, authenticate(session, ctx, cfg, dialect));
    let owner = key.as_ref().map(|k| k.name.as_str());
    let read = read(session, ctx, cfg, policies, owner, endpoint, dialect).await;
    let mut req = or_answer!(session, ctx, read);
    ctx.stream = req.stream;
    // Global guardrails see the request before routing (they may change
    // its model); the route's see it once routed.
    let global = &cfg.guardrails;
    let guarded = guards::request(ctx, global, &mut req, None, connector).await;
    or_answer!(session, ctx, guarded);
    // Held until the stream ends: streams keep a provider connection open.
    let _stream_slot = or_answer!(session, ctx, stream_slot(cfg, &req));
    let route = or_answer!(session, ctx, route(cfg, ctx, key.as_deref(), &req));
    let own = &route.policy.guardrails;
    let guarded = guards::request(ctx, own, &mut req, Some(&route.name), connector).await;
    or_answer!(session, ctx, guarded);
    let head = session.req_header();
    let mut shared = Shared::new(cfg, connector, req, &route, ctx.started, head)
        .for_key(key.clone(), &policies.store)
        .traced(ctx.trace.as_ref().map(|t| t.for_attempts()));
    if ctx.trace.as_ref().is_some_and(|t| t.sampled) {
        let body = shared.body.lock().unwrap_or_else(|e| e.into_inner());
        spans::request(ctx, &route.policy, &shared.req.model, &body);
    }
    let mut ticket = match admit::admit(session, ctx, policies, &route, &shared, key).await {
        Admitted::Call(ticket) => *ticket,
        Admitted::Answered(a) => return deliver::cached(session, ctx, &shared.req, &a).await,
        Admitted::Refused(e) => return write_error(session, ctx, &e).await,
        Admitted::Gone => return Ok(()),
    };
    shared.gate = std::mem::take(&mut ticket.gate);
    let mut failures = Vec::new();
    // Boxed: connecting, hedging and failing over take a large future that
    // would otherwise stay reserved in this one for a whole stream.
    let attempts = Box::pin(attempts::run(&shared, &route, &mut failures));
    let started = client::unless_gone(session, attempts).await;
    if let Some(t) = ctx.trace.as_mut() {
        t.spans.extend(shared.take_spans());
    }
    attempts::record(ctx, &failures);
    let result = match started {
        Some(Some(s)) => {
            let store = Keep {
                store: &policies.store,
                cfg,
            };
            deliver::answer(session, ctx, &shared, s, ticket.capture(), store).await
        }
        Some(None) => {
            let error = attempts::final_error(&route, failures);
            degrade::answer(session, ctx, &shared.req, &route, &mut ticket, error).await
        }
        None => {
            ctx.client_closed();
            Ok(())
        }
    };
    ticket.settle(ctx, cfg).await;
    result
}

/// The client's request, read as its endpoint and dialect say: JSON, a
/// multipart form, a body to pass through, or a Responses request with
/// its conversation so far (its turn goes to `ctx`).
async fn read(
    session: &mut Session,
    ctx: &mut RequestCtx,
    cfg: &Config,
    policies: &Policies,
    owner: Option<&str>,
    endpoint: Endpoint,
    dialect: Dialect,
) -> Result<ClientRequest, GatewayError> {
    match dialect {
        Dialect::Responses => {
            let (req, turn) = conversation::open(session, cfg, &policies.store, owner).await?;
            ctx.turn = Some(Box::new(turn));
            Ok(req)
        }
        _ if endpoint == Endpoint::Passthrough => {
            let path = passthrough_path(session);
            intake::read_passthrough(session, cfg, &path).await
        }
        _ if endpoint.multipart() => intake::read_form(session, cfg, endpoint).await,
        _ => intake::read(session, cfg, endpoint, dialect).await,
    }
}

/// Where a Responses turn is kept before its answer's last bytes.
#[derive(Clone, Copy)]
pub struct Keep<'a> {
    pub store: &'a crate::state::StateStore,
    pub cfg: &'a Config,
}

impl Keep<'_> {
    /// Keeps `ctx`'s turn, if it has one to keep.
    pub async fn turn(self, ctx: &RequestCtx) {
        if let Some(turn) = &ctx.turn {
            conversation::keep(self.store, self.cfg, turn).await;
        }
    }
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
    if let Some(p) = &req.passthrough {
        return passthrough_route(cfg, ctx, key, req, p);
    }
    let Some(route) = cfg.routes.resolve(&req.model) else {
        ctx.model = Some("unknown".into());
        return Err(GatewayError::UnknownModel(req.model.clone()));
    };
    ctx.route = Some(route.name.clone());
    ctx.strategy = Some(route.policy.strategy.name());
    keys::check_route(key, &route, &req.model)?;
    Ok(route)
}

/// The path and query of a passed-through request, under `/v1`.
fn passthrough_path(session: &Session) -> String {
    let uri = &session.req_header().uri;
    let path = uri.path();
    let path = path.strip_prefix("/v1").unwrap_or(path);
    match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_string(),
    }
}

/// Where a passed-through request goes: the provider holding files and
/// batches (one attempt: a file lives at one backend), or the route of its
/// model when that route passes unknown paths through.
fn passthrough_route(
    cfg: &Config,
    ctx: &mut RequestCtx,
    key: Option<&VirtualKey>,
    req: &ClientRequest,
    p: &crate::request::Passthrough,
) -> Result<Arc<Route>, GatewayError> {
    let Some(name) = &p.provider else {
        let not_passed = || {
            GatewayError::NotFound(format!(
                "no such endpoint: {} /v1{} (a route passes unknown paths through with `passthrough: true`)",
                p.method, p.path
            ))
        };
        let route = cfg.routes.resolve(&req.model).ok_or_else(not_passed)?;
        if !route.policy.passthrough {
            return Err(not_passed());
        }
        ctx.route = Some(route.name.clone());
        keys::check_route(key, &route, &req.model)?;
        return Ok(route);
    };
    let provider = cfg
        .providers
        .get(name)
        .ok_or_else(|| GatewayError::bad_request(format!("no provider `{name}`")))?;
    // A key limited to some routes reaches only their providers.
    if let Some(k) = key.filter(|k| !k.routes.is_empty()) {
        let reachable =
            cfg.routes.routes().iter().any(|r| {
                k.allows_route(&r.name) && r.targets.iter().any(|t| t.provider.name == *name)
            });
        if !reachable {
            return Err(GatewayError::Forbidden {
                message: format!("the API key `{}` may not use provider `{name}`", k.name),
                code: "provider_not_allowed",
            });
        }
    }
    let route = Route {
        name: format!("provider:{name}"),
        patterns: Vec::new(),
        targets: vec![crate::routing::Target {
            provider: provider.clone(),
            model: None,
            configured: false,
        }],
        policy: crate::routing::RoutePolicy {
            max_attempts: 1,
            ..Default::default()
        },
    };
    ctx.route = Some(route.name.clone());
    Ok(Arc::new(route))
}
