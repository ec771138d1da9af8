//! A model request's path: read and check the body, resolve the route, then
//! try its targets until one answers — in order, with jittered backoff,
//! within the route's deadline and attempt budget, hedged when the route
//! says so. Failover happens only before the first byte goes to the
//! client; after that, errors travel in-band (see [`super::stream`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use pingora::connectors::http::Connector;
use pingora_proxy::Session;
use rand::Rng;
use serde_json::Value;

use super::attempt::{
    outcome_label, Answer, Candidate, Failure, Shared, Started, CONTEXT_OVERFLOW,
};
use super::ctx::RequestCtx;
use super::intake;
use super::respond::{write_body, write_error};
use super::sink::Sink;
use super::stream::{self, ClientFormat};
use crate::config::Config;
use crate::dialect::anthropic;
use crate::error::GatewayError;
use crate::limits::Limits;
use crate::metrics::metrics;
use crate::policy::cache::{self, Cached};
use crate::policy::coalesce::{self, Role};
use crate::policy::limits::{self, Scope};
use crate::policy::{budget, keys, Policies};
use crate::request::{self, ClientRequest, Dialect, Endpoint};
use crate::routing::{strategy, HedgeAfter, Route, RoutePolicy, Target};
use crate::upstream::balance::Strategy;

/// Serves a chat or embeddings request end to end, for a client speaking
/// `dialect`: who is calling, which route, the cache, budget and rate
/// limits, then the upstream call (or another request's, when coalesced),
/// and finally the accounting.
pub async fn handle(
    session: &mut Session,
    ctx: &mut RequestCtx,
    cfg: &Arc<Config>,
    connector: &Connector,
    policies: &Policies,
    endpoint: Endpoint,
    dialect: Dialect,
) -> pingora::Result<()> {
    ctx.endpoint = match dialect {
        Dialect::OpenAi => endpoint.name(),
        Dialect::Anthropic => "messages",
    };
    ctx.dialect = dialect;
    let key = match keys::authenticate(&cfg.policy.auth, &session.req_header().headers, dialect) {
        Ok(k) => k,
        Err(e) => return write_error(session, ctx, &e).await,
    };
    ctx.key = key.as_ref().map(|k| k.name.clone());
    let req = match read(session, cfg, endpoint, dialect).await {
        Ok(r) => r,
        Err(e) => return write_error(session, ctx, &e).await,
    };
    ctx.stream = req.stream;
    // Held until the stream ends: streams keep a provider connection open.
    let _stream_slot = if req.stream {
        match crate::edge::admit_stream(cfg.settings.max_streams) {
            Ok(slot) => Some(slot),
            Err(e) => return write_error(session, ctx, &e).await,
        }
    } else {
        None
    };
    let Some(route) = cfg.routes.resolve(&req.model) else {
        ctx.model = Some("unknown".into());
        return write_error(session, ctx, &GatewayError::UnknownModel(req.model)).await;
    };
    ctx.route = Some(route.name.clone());
    ctx.strategy = Some(route.policy.strategy.name());
    if let Err(e) = keys::check_route(key.as_deref(), &route, &req.model) {
        return write_error(session, ctx, &e).await;
    }

    let plan = cache_plan(&route, &req, ctx, &session.req_header().headers);
    if let Some(plan) = &plan {
        if plan.read {
            if let Some(hit) = lookup(policies, &plan.key).await {
                cache_metric("hit");
                ctx.cache = Some("hit");
                return serve_cached(session, ctx, &req, &hit).await;
            }
        }
        cache_metric("miss");
        ctx.cache = Some("miss");
    } else if route.policy.cache.is_some() {
        cache_metric("bypass");
    }

    let hashes = route
        .targets
        .iter()
        .any(|t| t.provider.backends.strategy() == Strategy::ConsistentHash);
    let headers = if hashes {
        session.req_header().headers.clone()
    } else {
        http::HeaderMap::new()
    };
    let client_req = plan.as_ref().map(|_| req.clone_head());
    let mut shared = Shared::new(cfg, connector, req, &route.policy, ctx.started, headers);
    shared.key = key.clone();
    shared.store = Some(policies.store.clone());

    if let Some(k) = &key {
        if let Err(e) = budget::check(&policies.store, k).await {
            return write_error(session, ctx, &e).await;
        }
    }
    let mut scopes = Vec::with_capacity(2);
    if let Some(k) = &key {
        let l = Limits {
            rpm: k.rpm,
            tpm: k.tpm,
        };
        if !l.is_empty() {
            scopes.push((Scope::Key, k.name.as_str(), l));
        }
    }
    if !route.policy.limits.is_empty() {
        scopes.push((Scope::Route, route.name.as_str(), route.policy.limits));
    }
    // Counting the prompt's tokens costs; only limits need it here.
    let estimate = if scopes.is_empty() {
        0
    } else {
        shared.estimate()
    };
    let mut admission = if scopes.is_empty() {
        limits::Admission::default()
    } else {
        match limits::admit(&policies.store, &scopes, estimate).await {
            Ok(a) => a,
            Err(refusal) => {
                ctx.extra_headers = refusal.headers;
                return write_error(session, ctx, &refusal.error).await;
            }
        }
    };
    ctx.extra_headers = std::mem::take(&mut admission.headers);

    // Identical concurrent requests: one calls, the others wait for it.
    let mut leader = None;
    if let (Some(plan), Some(client_req)) = (&plan, &client_req) {
        if plan.coalesce && !client_req.stream {
            match policies.coalescer.join(&plan.key) {
                Role::Leader(l) => leader = Some(l),
                Role::Follower(slot) => {
                    let answer = tokio::select! {
                        biased;
                        a = coalesce::wait(slot) => a,
                        _ = client_gone(session) => {
                            ctx.error = Some("client_closed");
                            ctx.status = 499;
                            limits::settle(&policies.store, &admission, None).await;
                            return Ok(());
                        }
                    };
                    if let Some(answer) = answer {
                        metrics().coalesced_requests.inc();
                        ctx.cache = Some("coalesced");
                        limits::settle(&policies.store, &admission, Some(0)).await;
                        return serve_cached(session, ctx, client_req, &answer).await;
                    }
                }
            }
        }
    }

    let mut failures = Vec::new();
    // Boxed: connecting, hedging and failing over take a large future that
    // would otherwise stay reserved in this one for a whole stream.
    let attempts = Box::pin(run(&shared, &route, &mut failures));
    let started = tokio::select! {
        biased;
        s = attempts => Some(s),
        _ = client_gone(session) => None,
    };
    record_failures(ctx, &failures);
    let mut captured = None;
    let result = match started {
        None => {
            ctx.error = Some("client_closed");
            ctx.status = 499;
            Ok(())
        }
        Some(Some(s)) => {
            let capture = plan.as_ref().map(|plan| Capture {
                slot: &mut captured,
                policies,
                plan,
            });
            finish(session, ctx, &shared, s, capture).await
        }
        Some(None) => {
            let err = final_error(&route, failures);
            write_error(session, ctx, &err).await
        }
    };
    if let (Some(answer), Some(l)) = (captured, leader.take()) {
        l.publish(answer);
    }
    drop(leader);
    let used = match ctx.usage {
        Some(u) => Some(u.prompt + u.completion),
        None if ctx.status == 200 => Some(estimate),
        None => None,
    };
    limits::settle(&policies.store, &admission, used).await;
    if let (Some(k), Some(cost)) = (&key, ctx.cost) {
        budget::charge(&policies.store, k, cost).await;
    }
    result
}

/// Where a complete answer goes: the cache, and the slot coalesced
/// waiters are served from.
struct Capture<'a> {
    slot: &'a mut Option<Arc<Cached>>,
    policies: &'a Policies,
    plan: &'a CachePlan,
}

impl Capture<'_> {
    async fn keep(self, provider: &crate::provider::Provider, ctx: &RequestCtx, body: String) {
        let answer = Arc::new(Cached {
            provider: provider.name.clone(),
            model: ctx.model.clone().unwrap_or_default(),
            body,
            prompt_tokens: ctx.usage.map_or(0, |u| u.prompt),
            completion_tokens: ctx.usage.map_or(0, |u| u.completion),
        });
        store(self.policies, self.plan, answer.clone()).await;
        *self.slot = Some(answer);
    }
}

/// How a request uses its route's cache.
struct CachePlan {
    key: String,
    read: bool,
    coalesce: bool,
    ttl: Duration,
}

fn cache_plan(
    route: &Route,
    req: &ClientRequest,
    ctx: &RequestCtx,
    headers: &http::HeaderMap,
) -> Option<CachePlan> {
    let policy = route.policy.cache.as_ref()?;
    let use_ = cache::decide(policy, req, headers)?;
    let scope = if policy.shared {
        "*"
    } else {
        ctx.key.as_deref().unwrap_or("")
    };
    Some(CachePlan {
        key: cache::key(&route.name, scope, req),
        read: use_ == cache::Use::ReadWrite,
        coalesce: policy.coalesce,
        ttl: policy.ttl,
    })
}

fn cache_metric(result: &str) {
    metrics().cache_requests.with_label_values(&[result]).inc();
}

/// The cached answer for `key`: memory first, then the shared store.
async fn lookup(policies: &Policies, key: &str) -> Option<Arc<Cached>> {
    if let Some(hit) = policies.cache.get(key) {
        return Some(hit);
    }
    let bytes = policies.store.cache_get(key).await.ok()??;
    let hit = Arc::new(Cached::decode(&bytes)?);
    // The shared store's TTL still applies there; locally keep it briefly.
    policies
        .cache
        .put(key.to_string(), hit.clone(), Duration::from_secs(60));
    Some(hit)
}

async fn store(policies: &Policies, plan: &CachePlan, answer: Arc<Cached>) {
    policies
        .cache
        .put(plan.key.clone(), answer.clone(), plan.ttl);
    if let Err(e) = policies
        .store
        .cache_put(&plan.key, answer.encode(), plan.ttl)
        .await
    {
        tracing::debug!(error = %e, "could not store an answer in the shared cache");
    }
}

/// Answers from a cached (or coalesced) answer: JSON, or a replayed stream.
async fn serve_cached(
    session: &mut Session,
    ctx: &mut RequestCtx,
    req: &ClientRequest,
    answer: &Cached,
) -> pingora::Result<()> {
    ctx.provider = Some(answer.provider.clone());
    ctx.model = Some(answer.model.clone());
    if req.stream && req.endpoint == Endpoint::Chat {
        let body: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
        let mut sink = match ctx.dialect {
            Dialect::OpenAi => Sink::OpenAi,
            Dialect::Anthropic => {
                Sink::Anthropic(Box::new(anthropic::StreamEncoder::new(&req.model)))
            }
        };
        let include_usage = req.include_usage || ctx.dialect == Dialect::Anthropic;
        let mut out = Vec::new();
        for chunk in cache::replay_chunks(&body, include_usage) {
            sink.chunk(&mut out, &chunk);
        }
        sink.done(&mut out);
        return stream::write_whole(session, ctx, Bytes::from(out)).await;
    }
    let body = match ctx.dialect {
        Dialect::OpenAi => Bytes::from(answer.body.clone()),
        Dialect::Anthropic => to_anthropic(answer.body.as_bytes(), &req.model),
    };
    write_body(session, ctx, 200, "application/json", &[], body).await
}

async fn read(
    session: &mut Session,
    cfg: &Config,
    endpoint: Endpoint,
    dialect: Dialect,
) -> Result<ClientRequest, GatewayError> {
    let s = &cfg.settings;
    let bytes = intake::read_body_within(session, s.max_body_size, s.body_timeout).await?;
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
        Ok(v) => super::respond::write_json(session, ctx, 200, &v).await,
        Err(e) => write_error(session, ctx, &e).await,
    }
}

/// Tries the route's candidates until one answers; `None` when none did
/// (`failures` says why, in order). When every backend was only cooling
/// down and the route allows it, waits once for the soonest one.
async fn run<'t>(
    shared: &Shared<'_>,
    route: &'t Route,
    failures: &mut Vec<Failure>,
) -> Option<Started<'t>> {
    let mut waited = false;
    let candidates = candidates(shared, route, failures);
    loop {
        let before = failures.len();
        if let Some(s) = try_all(shared, &candidates, failures).await {
            return Some(s);
        }
        let wait = shared.policy.wait_for_cooldown.filter(|_| !waited)?;
        let refusals = &failures[before..];
        if refusals.is_empty() || refusals.iter().any(|f| f.until.is_none()) {
            return None;
        }
        let soonest = refusals.iter().filter_map(|f| f.until).min()?;
        let now = Instant::now();
        if soonest > now + wait || soonest >= shared.deadline {
            return None;
        }
        tokio::time::sleep_until(soonest.into()).await;
        waited = true;
    }
}

/// Every backend of every usable target, in the order to try: targets in
/// route order, each target's backends in its balancer's order.
fn candidates<'t>(
    shared: &Shared<'_>,
    route: &'t Route,
    failures: &mut Vec<Failure>,
) -> Vec<Candidate<'t>> {
    let scored = shared.policy.scorer.is_some() || shared.policy.strategy.scores();
    let mut usable = Vec::new();
    for target in &route.targets {
        if let Err(f) = shared.precheck(target) {
            failures.push(f);
            continue;
        }
        let model = target.model_for(&shared.req.model);
        if let Some(w) = shared.too_small_window(target, model) {
            let demand = shared.demand();
            failures.push(Failure {
                provider: target.provider.name.clone(),
                until: None,
                outcome: "context".to_string(),
                error: GatewayError::Unsupported(format!(
                    "the request (about {} prompt + {} output tokens) does not fit `{model}`'s context window of {w} tokens",
                    demand.prompt_tokens, demand.output_tokens
                )),
            });
            continue;
        }
        let components = if scored {
            strategy::components(target, model, shared.demand())
        } else {
            strategy::Components::default()
        };
        usable.push((target, components));
    }
    let order = match &shared.policy.scorer {
        Some(scorer) => scripted_order(shared, scorer, &usable),
        None => strategy::order(shared.policy, &usable),
    };
    let mut out = Vec::new();
    for target in order
        .into_iter()
        .filter_map(|i| usable.get(i).map(|(t, _)| *t))
    {
        let provider = &target.provider;
        let key = shared.hash_key(provider);
        for backend in provider.backends.candidates(&key, |_| true) {
            out.push(Candidate { target, backend });
        }
    }
    out
}

/// The order a scoring script gives; the configured order if it fails.
fn scripted_order(
    shared: &Shared<'_>,
    scorer: &crate::provider::scorer::Scorer,
    usable: &[(&Target, strategy::Components)],
) -> Vec<usize> {
    let request = shared.script_request();
    let mut scores = Vec::with_capacity(usable.len());
    for (target, c) in usable {
        match scorer.score(shared.script_candidate(target, c), &request) {
            Ok(s) => scores.push(s),
            Err(e) => {
                metrics()
                    .script_errors
                    .with_label_values(&[&format!("scoring/{}", scorer.name())])
                    .inc();
                tracing::error!(error = %e, "scoring script failed; using the configured order");
                return (0..usable.len()).collect();
            }
        }
    }
    strategy::rank_by(&scores)
}

/// Tries `candidates` in order within the attempt budget, with backoff,
/// hedging pairs of them when the route says so.
async fn try_all<'t>(
    shared: &Shared<'_>,
    candidates: &[Candidate<'t>],
    failures: &mut Vec<Failure>,
) -> Option<Started<'t>> {
    let policy = shared.policy;
    let mut next = 0;
    let mut sent = failures.iter().filter(|f| counts(f)).count() as u32;
    // After a context-length error, only larger windows are worth trying.
    let mut need_window: Option<u64> = None;
    while next < candidates.len() {
        if let Some(min) = need_window {
            if window(shared, &candidates[next]).is_none_or(|w| w <= min) {
                next += 1;
                continue;
            }
        }
        if sent >= policy.max_attempts || Instant::now() >= shared.deadline {
            break;
        }
        if sent > 0 && !back_off(policy, sent, shared.deadline).await {
            break;
        }
        let first = &candidates[next];
        next += 1;
        let hedge = policy
            .hedge_after
            .map(|h| hedge_delay(h, first))
            .zip(candidates.get(next));
        let (result, both) = match hedge {
            Some((after, second)) => hedged(shared, first, second, after, failures).await,
            None => (shared.start(first).await, false),
        };
        if both {
            next += 1;
            sent += 1;
        }
        match result {
            Ok(s) => return Some(s),
            Err(f) => {
                sent += u32::from(counts(&f));
                let overflow = f.error.code() == Some(CONTEXT_OVERFLOW);
                if overflow {
                    let here = window(shared, &candidates[next - 1]).unwrap_or(0);
                    need_window = Some(need_window.map_or(here, |w| w.max(here)));
                }
                let stop = !f.error.is_retryable() && !overflow;
                failures.push(f);
                if stop {
                    break;
                }
            }
        }
    }
    None
}

/// How long to give `first` before hedging it.
fn hedge_delay(h: HedgeAfter, first: &Candidate<'_>) -> Duration {
    match h {
        HedgeAfter::Fixed(d) => d,
        HedgeAfter::Percentile { p, fallback } => {
            first.backend.first_byte.percentile(p).unwrap_or(fallback)
        }
    }
}

/// The context window of a candidate's model, when the config knows it.
fn window(shared: &Shared<'_>, c: &Candidate<'_>) -> Option<u64> {
    let model = c.target.model_for(&shared.req.model);
    c.target.provider.models.get(model)?.context_window
}

/// Whether a failure spent an attempt (a request went out).
fn counts(f: &Failure) -> bool {
    !matches!(
        f.outcome.as_str(),
        "disabled"
            | "unsupported"
            | "script"
            | "open"
            | "half_open_busy"
            | "benched"
            | "rate_limited"
            | "not_allowed"
    )
}

/// Runs `first`; if it has not answered after `after`, runs `second` too.
/// The first success wins and the other attempt is dropped (its upstream
/// connection closed), so the client never sees two answers. Returns
/// whether `second` was started; failures of either go to `failures`,
/// except the last one, which is returned.
async fn hedged<'t>(
    shared: &Shared<'_>,
    first: &Candidate<'t>,
    second: &Candidate<'t>,
    after: Duration,
    failures: &mut Vec<Failure>,
) -> (Result<Started<'t>, Failure>, bool) {
    let a = shared.start(first);
    tokio::pin!(a);
    tokio::select! {
        biased;
        r = &mut a => return (r, false),
        _ = tokio::time::sleep(after) => {}
    }
    metrics()
        .hedges
        .with_label_values(&[&first.target.provider.name])
        .inc();
    let b = shared.start(second);
    tokio::pin!(b);
    let (mut a_done, mut b_done) = (false, false);
    loop {
        let r = tokio::select! {
            r = &mut a, if !a_done => { a_done = true; r }
            r = &mut b, if !b_done => { b_done = true; r }
        };
        match r {
            Ok(s) => return (Ok(s), true),
            Err(f) if a_done && b_done => return (Err(f), true),
            Err(f) => failures.push(f),
        }
    }
}

/// Sleeps the jittered exponential backoff before attempt `n + 1`; false
/// when that would pass the deadline.
async fn back_off(policy: &RoutePolicy, n: u32, deadline: Instant) -> bool {
    if policy.backoff.is_zero() {
        return true;
    }
    let exp = policy
        .backoff
        .saturating_mul(1u32 << (n - 1).min(16))
        .min(policy.max_backoff);
    let delay = exp.mul_f64(rand::thread_rng().gen_range(0.5..1.0));
    if Instant::now() + delay >= deadline {
        return false;
    }
    tokio::time::sleep(delay).await;
    true
}

fn record_failures(ctx: &mut RequestCtx, failures: &[Failure]) {
    for f in failures {
        ctx.attempts.push(format!("{}:{}", f.provider, f.outcome));
        metrics()
            .upstream_attempts
            .with_label_values(&[&f.provider, outcome_label(&f.error)])
            .inc();
        tracing::warn!(
            request_id = %ctx.request_id,
            provider = %f.provider,
            attempt = ctx.attempts.len(),
            error = %f.error,
            "attempt failed"
        );
    }
}

/// The most telling failure, with every attempt listed in its message.
fn final_error(route: &Route, failures: Vec<Failure>) -> GatewayError {
    let tried: Vec<String> = failures
        .iter()
        .map(|f| format!("{} → {}", f.provider, f.outcome))
        .collect();
    let note = format!("attempts: {}", tried.join(", "));
    let best = failures
        .into_iter()
        .map(|f| f.error)
        .max_by_key(GatewayError::rank);
    match best {
        Some(e) if tried.len() > 1 => e.with_note(&note),
        Some(e) => e,
        None => GatewayError::NoUsableProvider(format!(
            "route `{}` could not try any target in time",
            route.name
        )),
    }
}

/// Sends a winning attempt's answer to the client; a complete answer is
/// also stored in the cache — before the client sees it, so that a retry
/// on any instance of the fleet finds it — and kept for coalesced waiters.
async fn finish(
    session: &mut Session,
    ctx: &mut RequestCtx,
    shared: &Shared<'_>,
    started: Started<'_>,
    capture: Option<Capture<'_>>,
) -> pingora::Result<()> {
    let provider = &started.target.provider;
    ctx.provider = Some(provider.name.clone());
    ctx.model = Some(model_label(started.target, &started.model));
    if !ctx.attempts.is_empty() {
        let route = ctx.route.as_deref().unwrap_or("");
        metrics().failovers.with_label_values(&[route]).inc();
    }
    ctx.attempts
        .push(format!("{}:{}", started.backend.label, started.status));
    metrics()
        .upstream_attempts
        .with_label_values(&[&provider.name, "ok"])
        .inc();
    match started.answer {
        Answer::Complete { body, usage } => {
            started.permit.success(Instant::now());
            started.backend.latency.observe(
                &started.model,
                None,
                started.began.elapsed(),
                shared.policy.latency_memory,
            );
            ctx.usage = usage;
            ctx.cost = cost(ctx, provider, &started.model);
            shared
                .settle_provider(started.limit.as_ref(), ctx.usage)
                .await;
            if let (Some(c), Ok(text)) = (capture, std::str::from_utf8(&body)) {
                c.keep(provider, ctx, text.to_string()).await;
            }
            let body = match ctx.dialect {
                Dialect::OpenAi => body,
                Dialect::Anthropic => to_anthropic(&body, &shared.req.model),
            };
            started.incoming.release(shared.connector).await;
            let cost = ctx.cost.map(|c| format!("{c:.8}"));
            let extra: Vec<(&str, &str)> = cost
                .iter()
                .map(|c| ("x-switchyard-cost-usd", c.as_str()))
                .collect();
            write_body(session, ctx, 200, "application/json", &extra, body).await
        }
        Answer::Stream { first } => {
            let timeouts = shared.timeouts(provider);
            let relay = stream::Relay {
                adapter: &provider.adapter,
                ctx: &started.ctx,
                include_usage: shared.req.include_usage,
                idle_timeout: timeouts.idle.unwrap_or(Duration::from_secs(60)),
                max_duration: timeouts.stream.unwrap_or(Duration::from_secs(1800)),
                max_event: shared.cfg.settings.max_body_size.max(1 << 20),
                secrets: provider.secrets(),
                collect: capture.is_some(),
            };
            let format = match ctx.dialect {
                Dialect::OpenAi => ClientFormat::OpenAi,
                Dialect::Anthropic => ClientFormat::Anthropic(shared.req.model.clone()),
            };
            let result = relay
                .run(
                    session,
                    ctx,
                    started.incoming,
                    first,
                    shared.connector,
                    format,
                )
                .await;
            if let (Some(c), Ok(Some(whole))) = (capture, &result) {
                c.keep(provider, ctx, whole.to_string()).await;
            }
            let result = result.map(|_| ());
            // A stream the provider broke counts against its backend.
            let broke = matches!(
                ctx.error,
                Some(
                    "stream_interrupted"
                        | "stream_truncated"
                        | "upstream_stream_error"
                        | "upstream_event_too_large"
                        | "upstream_invalid_json"
                        | "upstream_invalid_sse"
                        | "stream_timeout"
                )
            );
            let now = Instant::now();
            if broke {
                started.permit.failure(now);
            } else {
                started.permit.success(now);
            }
            drop(started.in_flight);
            if !broke {
                let total = started.began.elapsed();
                started.backend.latency.observe(
                    &started.model,
                    Some(started.first_byte),
                    total,
                    shared.policy.latency_memory,
                );
            }
            ctx.cost = cost(ctx, provider, &started.model);
            shared
                .settle_provider(started.limit.as_ref(), ctx.usage)
                .await;
            result
        }
    }
}

/// The request's cost from its usage and the served model's configured prices.
fn cost(ctx: &RequestCtx, provider: &crate::provider::Provider, model: &str) -> Option<f64> {
    ctx.usage?.cost(provider.models.get(model)?)
}

/// An OpenAI response body re-encoded for an Anthropic-format client.
fn to_anthropic(body: &[u8], model: &str) -> Bytes {
    let hub: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let out = anthropic::response_from_hub(&hub, model);
    Bytes::from(serde_json::to_vec(&out).unwrap_or_default())
}

/// A model name safe as a metric label: configured names only, so that
/// names a client invents cannot grow the label set.
fn model_label(target: &Target, model: &str) -> String {
    if target.configured || target.provider.models.contains_key(model) {
        model.to_string()
    } else {
        "other".to_string()
    }
}

/// Resolves when the client has closed its connection.
pub(crate) async fn client_gone(session: &mut Session) {
    loop {
        match session.as_downstream_mut().read_body_or_idle(true).await {
            Err(_) => return,
            // Pipelined bytes: not a disconnect; stop watching.
            Ok(_) => std::future::pending::<()>().await,
        }
    }
}
