//! One attempt against one target: build the provider's request with its
//! adapter, call it, and go as far as knowing it succeeded — the whole
//! answer for a non-streaming request, the first body bytes for a stream —
//! without writing anything to the client. Until then a failure can still
//! fail over; [`super::forward`] decides what to do with the result.

// A `Failure` is built once per failed attempt, on the cold path; boxing
// it would only add an allocation there.
#![allow(clippy::result_large_err)]

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use pingora::connectors::http::Connector;
use rhai::{Dynamic, Map};
use serde_json::Value;

use super::ctx::Usage;
use super::hostile::{self, Hostile};
use crate::adapter::{AdapterError, Ctx};
use crate::config::policy::VirtualKey;
use crate::config::Config;
use crate::error::{redact, GatewayError};
use crate::metrics::metrics;
use crate::policy::limits;
use crate::provider::plans::PlanKey;
use crate::provider::Provider;
use crate::request::{ClientRequest, Endpoint};
use crate::routing::strategy::{Components, Demand};
use crate::routing::{RoutePolicy, Target};
use crate::state::StateStore;
use crate::upstream::backend::Backend;
use crate::upstream::balance::{InFlightGuard, Strategy};
use crate::upstream::breaker::Permit;
use crate::upstream::call::{self, CallError, Incoming, Outgoing, RequestHead};
use crate::upstream::{PeerTimeouts, Timeouts, Upstream};

/// What every attempt of one request shares.
pub struct Shared<'a> {
    pub cfg: &'a Config,
    pub connector: &'a Connector,
    /// The client's request; its body lives in `body`.
    pub req: ClientRequest,
    pub policy: &'a RoutePolicy,
    /// The hub body; each attempt sets its target's model in it. Behind a
    /// lock because a hedged request runs two attempts at once.
    pub body: Mutex<Value>,
    /// When the whole request must be answered (non-streaming) or started.
    pub deadline: Instant,
    /// The client's request headers, when a consistent-hash key needs them.
    pub headers: http::HeaderMap,
    /// The provider capabilities the request needs.
    needs: Vec<&'static str>,
    /// The request's `encoding_format`, for response transforms.
    encoding_format: Option<String>,
    /// Estimated tokens in and out, for ranking, context windows and
    /// limits: counted on first use, since most requests never need it.
    demand: OnceLock<Demand>,
    /// The client's output limit, or the route's expected output.
    output_tokens: u64,
    /// An upper bound of the prompt's tokens known without counting them:
    /// a token is at least one byte of the body.
    pub prompt_bound: u64,
    /// The client's key: only the targets it allows are tried.
    pub key: Option<Arc<VirtualKey>>,
    /// Where provider rate limits are counted (none: not checked).
    pub store: Option<StateStore>,
}

/// A target's backend to try.
#[derive(Clone)]
pub struct Candidate<'t> {
    pub target: &'t Target,
    pub backend: Arc<Backend>,
}

/// A target that answered successfully; nothing was sent to the client yet.
pub struct Started<'t> {
    pub target: &'t Target,
    pub backend: Arc<Backend>,
    /// Reports the outcome to the backend's circuit breaker.
    pub permit: Permit,
    /// Counts the request in flight on the backend (least-connections).
    pub in_flight: InFlightGuard,
    pub model: String,
    /// What the adapter's hooks see, for this attempt and its stream.
    pub ctx: Arc<Ctx>,
    /// When the attempt began, and how long until its answer (or a
    /// stream's first bytes) arrived.
    pub began: Instant,
    pub first_byte: Duration,
    pub status: u16,
    pub incoming: Incoming,
    pub answer: Answer,
    /// What the provider's own rate limits reserved for this attempt.
    pub limit: Option<limits::Admission>,
}

/// The part of the answer read before committing to this target.
pub enum Answer {
    /// A non-streaming response, complete and in OpenAI format.
    Complete { body: Bytes, usage: Option<Usage> },
    /// A stream: its first body bytes (none if it ended at once).
    Stream { first: Option<Bytes> },
}

/// Why a target did not answer.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The provider, or `provider/backend` when it has several.
    pub provider: String,
    /// When a cooling-down backend admits requests again (refusals only).
    pub until: Option<Instant>,
    /// Short outcome for `x-switchyard-attempts`: a status, `timeout`, `error`…
    pub outcome: String,
    pub error: GatewayError,
}

impl<'a> Shared<'a> {
    /// A new attempt set for `req` on a route with `policy`.
    pub fn new(
        cfg: &'a Config,
        connector: &'a Connector,
        mut req: ClientRequest,
        policy: &'a RoutePolicy,
        started: Instant,
        headers: http::HeaderMap,
    ) -> Self {
        // Facts about the body are taken now; the body itself moves behind
        // the lock (no copy of a possibly large conversation).
        let needs = req.needs();
        let output_tokens = req
            .max_output_tokens()
            .unwrap_or(policy.expected_output_tokens);
        let messages = req
            .body
            .get("messages")
            .and_then(Value::as_array)
            .map_or(0, Vec::len) as u64;
        let prompt_bound = match req.body_len {
            0 => u64::MAX,
            n => n as u64 + 4 * messages + 16,
        };
        let encoding_format = req
            .body
            .get("encoding_format")
            .and_then(Value::as_str)
            .map(str::to_string);
        let mut body = std::mem::take(&mut req.body);
        // Usage is always requested on streams, so that it can be accounted.
        if req.stream && req.endpoint == Endpoint::Chat {
            if let Some(obj) = body.as_object_mut() {
                let opts = obj
                    .entry("stream_options")
                    .or_insert_with(|| Value::Object(Default::default()));
                if let Some(o) = opts.as_object_mut() {
                    o.insert("include_usage".into(), Value::Bool(true));
                }
            }
        }
        let total = policy
            .timeouts
            .total
            .unwrap_or(cfg.settings.request_timeout);
        Self {
            cfg,
            connector,
            req,
            policy,
            body: Mutex::new(body),
            deadline: started + total,
            headers,
            needs,
            encoding_format,
            demand: OnceLock::new(),
            output_tokens,
            prompt_bound,
            key: None,
            store: None,
        }
    }

    /// Estimated tokens in and out (counted on the first call).
    pub fn demand(&self) -> &Demand {
        self.demand.get_or_init(|| {
            let body = self.body.lock().unwrap_or_else(|e| e.into_inner());
            Demand {
                prompt_tokens: crate::routing::tokens::estimate_prompt(&body, &self.req.model),
                output_tokens: self.output_tokens,
                stream: self.req.stream,
            }
        })
    }

    /// The context window `target`'s model lacks for this request, if
    /// known: the prompt's tokens are counted only when the body's size
    /// could exceed it.
    pub fn too_small_window(&self, target: &Target, model: &str) -> Option<u64> {
        let window = target.provider.models.get(model)?.context_window?;
        let bound = self
            .demand
            .get()
            .map_or(self.prompt_bound, |d| d.prompt_tokens);
        if bound.saturating_add(self.output_tokens) <= window {
            return None;
        }
        crate::routing::strategy::too_small_window(target, model, self.demand())
    }

    /// The estimated prompt and output tokens together.
    pub fn estimate(&self) -> u64 {
        let d = self.demand();
        d.prompt_tokens + d.output_tokens
    }

    /// Takes one request and the estimated tokens from `provider`'s own
    /// limits; over them, the attempt is refused (not sent) and the next
    /// target is tried.
    async fn admit_provider(
        &self,
        provider: &Provider,
    ) -> Result<Option<limits::Admission>, GatewayError> {
        let Some(store) = self.store.as_ref().filter(|_| !provider.limits.is_empty()) else {
            return Ok(None);
        };
        let estimate = self.estimate();
        let scopes = [(
            limits::Scope::Provider,
            provider.name.as_str(),
            provider.limits,
        )];
        limits::admit(store, &scopes, estimate)
            .await
            .map(Some)
            .map_err(|r| r.error)
    }

    /// Settles a provider's token reservation against the usage reported.
    pub async fn settle_provider(
        &self,
        admission: Option<&limits::Admission>,
        usage: Option<Usage>,
    ) {
        if let (Some(store), Some(adm)) = (&self.store, admission) {
            let used = usage.map_or_else(|| self.estimate(), |u| u.prompt + u.completion);
            limits::settle(store, adm, Some(used)).await;
        }
    }

    /// What a scoring script sees of the request.
    pub fn script_request(&self) -> Map {
        // Counted first: counting takes the body's lock too.
        let prompt_tokens = self.demand().prompt_tokens;
        let body = self.body.lock().unwrap_or_else(|e| e.into_inner());
        let last_user = body
            .get("messages")
            .and_then(Value::as_array)
            .and_then(|m| {
                m.iter()
                    .rev()
                    .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
            })
            .and_then(|m| m.get("content"))
            .map(|c| match c {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .unwrap_or_default();
        let text: String = last_user.chars().take(2000).collect();
        let mut m = Map::new();
        m.insert("model".into(), Dynamic::from(self.req.model.clone()));
        m.insert("prompt_tokens".into(), Dynamic::from(prompt_tokens as i64));
        m.insert(
            "output_tokens".into(),
            Dynamic::from(self.output_tokens as i64),
        );
        m.insert("stream".into(), Dynamic::from(self.req.stream));
        m.insert("tools".into(), Dynamic::from(self.needs.contains(&"tools")));
        m.insert(
            "images".into(),
            Dynamic::from(self.needs.contains(&"vision")),
        );
        m.insert("text".into(), Dynamic::from(text));
        let user = body.get("user").and_then(Value::as_str).unwrap_or("");
        m.insert("user".into(), Dynamic::from(user.to_string()));
        m
    }

    /// What a scoring script sees of a candidate.
    pub fn script_candidate(&self, target: &Target, c: &Components) -> Map {
        let provider = &target.provider;
        let model = target.model_for(&self.req.model);
        let info = provider.models.get(model);
        let opt = |v: Option<f64>| v.map(Dynamic::from).unwrap_or(Dynamic::UNIT);
        let mut m = Map::new();
        m.insert("provider".into(), Dynamic::from(provider.name.clone()));
        m.insert("model".into(), Dynamic::from(model.to_string()));
        m.insert("cost".into(), opt(c.cost));
        m.insert("latency_ms".into(), opt(c.latency_ms));
        m.insert("quality".into(), opt(c.quality));
        let window = info.and_then(|i| i.context_window).map(|w| w as f64);
        m.insert("context_window".into(), opt(window));
        let healthy = provider
            .backend_list
            .iter()
            .any(|b| provider.backends.is_healthy(&b.id).unwrap_or(true));
        m.insert("healthy".into(), Dynamic::from(healthy));
        let in_flight: usize = provider
            .backend_list
            .iter()
            .map(|b| provider.backends.in_flight_count(&b.id))
            .sum();
        m.insert("in_flight".into(), Dynamic::from(in_flight as i64));
        m
    }

    /// The key `provider`'s balancer hashes (empty unless it hashes).
    pub fn hash_key(&self, provider: &Provider) -> Vec<u8> {
        match provider.backends.strategy() {
            Strategy::ConsistentHash => {
                let body = self.body.lock().unwrap_or_else(|e| e.into_inner());
                provider.hash_key.extract(&self.headers, &body)
            }
            _ => Vec::new(),
        }
    }

    /// Timeouts for `provider`: route over provider over server.
    pub fn timeouts(&self, provider: &Provider) -> Timeouts {
        let s = &self.cfg.settings;
        let server = Timeouts {
            connect: Some(s.connect_timeout),
            first_byte: Some(s.first_byte_timeout),
            idle: Some(s.idle_timeout),
            total: Some(s.request_timeout),
            stream: Some(s.stream_timeout),
        };
        self.policy.timeouts.over(provider.timeouts).over(server)
    }

    /// Why `target` cannot be tried at all (disabled, lacks a capability).
    pub fn precheck(&self, target: &Target) -> Result<(), Failure> {
        let provider = &target.provider;
        let fail = |outcome: &str, error: GatewayError| Failure {
            provider: provider.name.clone(),
            until: None,
            outcome: outcome.to_string(),
            error,
        };
        if let Some(reason) = &provider.disabled {
            let e = GatewayError::NoUsableProvider(format!(
                "provider `{}` is disabled: {reason}",
                provider.name
            ));
            return Err(fail("disabled", e));
        }
        if let Some(key) = &self.key {
            let model = target.model_for(&self.req.model);
            if !key.allows_model(&provider.name, model) {
                let e = GatewayError::Forbidden {
                    message: format!("the API key `{}` may not use `{model}`", key.name),
                    code: "model_not_allowed",
                };
                return Err(fail("not_allowed", e));
            }
        }
        if let Some(missing) = self.needs.iter().find(|n| !provider.supports(n)) {
            let e = GatewayError::Unsupported(format!(
                "provider `{}` does not support {}",
                provider.name,
                describe(missing)
            ));
            return Err(fail("unsupported", e));
        }
        Ok(())
    }

    /// Runs one attempt against a candidate backend, if its breaker admits it.
    pub async fn start<'t>(&self, cand: &Candidate<'t>) -> Result<Started<'t>, Failure> {
        let target = cand.target;
        let backend = &cand.backend;
        let provider = &target.provider;
        let fail = |outcome: &str, error: GatewayError| Failure {
            provider: backend.label.clone(),
            until: None,
            outcome: outcome.to_string(),
            error,
        };
        let permit = backend.breaker.try_acquire(Instant::now()).map_err(|r| {
            let e = GatewayError::NoUsableProvider(format!(
                "backend `{}` is cooling down ({})",
                backend.label,
                r.reason.as_str()
            ));
            Failure {
                until: r.until,
                ..fail(r.reason.as_str(), e)
            }
        })?;
        let limit = match self.admit_provider(provider).await {
            Ok(l) => l,
            Err(e) => {
                // Not sent: the breaker's permit goes back unused.
                drop(permit);
                let until = e
                    .retry_after()
                    .and_then(|s| s.parse::<f64>().ok())
                    .map(|s| Instant::now() + Duration::from_secs_f64(s));
                return Err(Failure {
                    until,
                    ..fail("rate_limited", e)
                });
            }
        };
        let in_flight = provider.backends.in_flight(&backend.id);
        let model = target.model_for(&self.req.model).to_string();
        let ctx = Arc::new(self.adapter_ctx(provider, backend, &model));
        let outgoing = self
            .outgoing(provider, backend, &ctx)
            .map_err(|e| fail("script", e))?;
        let timeouts = self.timeouts(provider);
        let attempt_deadline = self.attempt_deadline(&timeouts);
        let peer = PeerTimeouts {
            connect: timeouts.connect.unwrap_or(Duration::from_secs(5)),
            read: self.first_byte(&timeouts, attempt_deadline),
            write: timeouts.idle.unwrap_or(Duration::from_secs(60)),
        };
        let began = Instant::now();
        let result = self
            .exchange(provider, &outgoing, peer, &ctx, attempt_deadline, &timeouts)
            .await;
        let upstream_latency = |outcome: &str| {
            metrics()
                .upstream_latency
                .with_label_values(&[&provider.name, outcome])
                .observe(began.elapsed().as_secs_f64());
        };
        let (status, incoming, answer) = match result {
            Ok(r) => {
                backend.first_byte.record(began.elapsed());
                upstream_latency("ok");
                r
            }
            Err((outcome, e)) => {
                upstream_latency("error");
                report_failure(backend, permit, &e);
                if let (Some(store), Some(adm)) = (&self.store, &limit) {
                    limits::settle(store, adm, None).await;
                }
                return Err(fail(&outcome, e));
            }
        };
        Ok(Started {
            target,
            backend: backend.clone(),
            permit,
            in_flight,
            model,
            ctx,
            began,
            first_byte: began.elapsed(),
            status,
            incoming,
            answer,
            limit,
        })
    }

    /// Sends the request and reads as far as success is known.
    async fn exchange(
        &self,
        provider: &Provider,
        outgoing: &Request<'_>,
        peer: PeerTimeouts,
        ctx: &Ctx,
        attempt_deadline: Instant,
        timeouts: &Timeouts,
    ) -> Result<(u16, Incoming, Answer), (String, GatewayError)> {
        let upstream = &outgoing.upstream;
        let mut incoming = call::send(self.connector, upstream, &outgoing.request, peer)
            .await
            .map_err(|e| {
                let e = call_error(e, provider);
                (outcome_label(&e).to_string(), e)
            })?;
        let status = incoming.status();
        if !(200..300).contains(&status) {
            let e = self.upstream_error(&mut incoming, provider).await;
            return Err((status.to_string(), e));
        }
        incoming.set_idle_timeout(timeouts.idle.unwrap_or(Duration::from_secs(60)));
        let labelled = |e: GatewayError| (outcome_label(&e).to_string(), e);
        let answer = if self.req.stream {
            let first = read_first(&mut incoming, attempt_deadline, provider)
                .await
                .map_err(labelled)?;
            let content_type = incoming.header_str("content-type");
            let framing = provider.adapter.framing();
            hostile::check_stream_start(&provider.name, content_type, first.as_deref(), framing)
                .map_err(labelled)?;
            Answer::Stream { first }
        } else {
            let (body, usage) = self
                .complete(&mut incoming, provider, ctx, attempt_deadline)
                .await
                .map_err(labelled)?;
            Answer::Complete { body, usage }
        };
        Ok((status, incoming, answer))
    }

    /// This attempt's deadline: the request's, or sooner by the provider's `total`.
    fn attempt_deadline(&self, timeouts: &Timeouts) -> Instant {
        let own = timeouts
            .total
            .and_then(|t| Instant::now().checked_add(t))
            .unwrap_or(self.deadline);
        own.min(self.deadline)
    }

    /// How long to wait for the response header.
    fn first_byte(&self, timeouts: &Timeouts, deadline: Instant) -> Duration {
        let first = timeouts.first_byte.unwrap_or(Duration::from_secs(120));
        first
            .min(deadline.saturating_duration_since(Instant::now()))
            .max(Duration::from_millis(1))
    }

    /// What `provider`'s adapter sees of this attempt.
    fn adapter_ctx(&self, provider: &Provider, backend: &Backend, model: &str) -> Ctx {
        Ctx {
            endpoint: self.req.endpoint.name(),
            model: model.to_string(),
            stream: self.req.stream,
            include_usage: self.req.include_usage,
            provider: provider.name.clone(),
            api_key: backend.api_key.as_ref().map(|k| k.expose().to_string()),
            options: provider.options.clone(),
            encoding_format: self.encoding_format.clone(),
            script: Default::default(),
        }
    }

    /// The request head for `backend`: reused, or built by the adapter
    /// (with the provider's own headers over the adapter's) and kept for
    /// reuse unless the adapter says not to.
    fn head(
        &self,
        provider: &Provider,
        backend: &Backend,
        ctx: &Ctx,
    ) -> Result<Arc<RequestHead>, GatewayError> {
        let key = PlanKey {
            backend: &backend.id,
            endpoint: self.req.endpoint.name(),
            model: &ctx.model,
            stream: self.req.stream,
            include_usage: self.req.include_usage,
            encoding_format: self.encoding_format.as_deref(),
        };
        if let Some(head) = provider.plans.get(&key) {
            return Ok(head);
        }
        let plan = provider
            .adapter
            .plan(ctx)
            .map_err(|e| adapter_error(e, provider))?;
        let mut headers = plan.headers;
        headers.extend(provider.headers.iter().cloned());
        let target = backend.upstream.target(&plan.path);
        let head =
            RequestHead::new(plan.method, &backend.upstream, &target, &headers).map_err(|e| {
                GatewayError::BadGateway(format!(
                    "provider `{}`: adapter {}: request head: {e}",
                    provider.name,
                    provider.adapter.name()
                ))
            })?;
        let head = Arc::new(head);
        if plan.reuse {
            provider.plans.put(&key, head.clone());
        }
        Ok(head)
    }

    /// Builds the provider's request with its adapter.
    fn outgoing<'b>(
        &self,
        provider: &Provider,
        backend: &'b Backend,
        ctx: &Ctx,
    ) -> Result<Request<'b>, GatewayError> {
        let head = self.head(provider, backend, ctx)?;
        let body = {
            let mut hub = self.body.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(obj) = hub.as_object_mut() {
                obj.insert("model".into(), Value::String(ctx.model.clone()));
            }
            match provider
                .adapter
                .request(&hub, ctx)
                .map_err(|e| adapter_error(e, provider))?
            {
                Some(v) => serde_json::to_vec(&v),
                None => serde_json::to_vec(&*hub),
            }
        }
        .map_err(|e| GatewayError::Internal(format!("request serialization failed: {e}")))?;
        Ok(Request {
            upstream: &backend.upstream,
            request: Outgoing {
                head,
                body: Bytes::from(body),
            },
        })
    }

    /// Reads a 2xx non-streaming response and translates it to OpenAI format.
    async fn complete(
        &self,
        incoming: &mut Incoming,
        provider: &Provider,
        ctx: &Ctx,
        deadline: Instant,
    ) -> Result<(Bytes, Option<Usage>), GatewayError> {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let limit = self.cfg.settings.max_response_size;
        let raw = tokio::time::timeout(remaining, incoming.read_all(limit))
            .await
            .map_err(|_| {
                Hostile::Deadline.count(&provider.name);
                GatewayError::UpstreamTimeout(format!(
                    "provider `{}` did not finish in time",
                    provider.name
                ))
            })?
            .map_err(|e| call_error(e, provider))?;
        let adapter = &provider.adapter;
        let text = trim_leading_whitespace(&raw);
        let not_json = |e: serde_json::Error| {
            hostile::not_json(&provider.name, incoming.header_str("content-type"), &e)
        };
        if !adapter.translates_response() {
            // Passed on as it came: only its usage and error are read.
            if let Ok(peek) = serde_json::from_slice::<Peek>(text) {
                if peek.error.is_none() {
                    let usage = peek.usage.as_ref().and_then(Usage::from_json);
                    return Ok((raw.slice_ref(text), usage));
                }
            }
            let parsed: Value = serde_json::from_slice(text).map_err(not_json)?;
            if parsed.get("error").is_some_and(|e| !e.is_null()) {
                return Err(upstream_error_from(502, &parsed, None, provider));
            }
            let usage = parsed.get("usage").and_then(Usage::from_json);
            return Ok((raw.slice_ref(text), usage));
        }
        let parsed: Value = serde_json::from_slice(text).map_err(not_json)?;
        let out = adapter
            .response(parsed, ctx)
            .map_err(|e| adapter_error(e, provider))?;
        let usage = out.get("usage").and_then(Usage::from_json);
        let bytes = serde_json::to_vec(&out).map_err(|e| GatewayError::Internal(e.to_string()))?;
        Ok((Bytes::from(bytes), usage))
    }

    /// Reads an error response and maps it to a [`GatewayError`].
    async fn upstream_error(&self, incoming: &mut Incoming, provider: &Provider) -> GatewayError {
        let status = incoming.status();
        let retry_after = incoming.header_str("retry-after").map(str::to_string);
        incoming.set_idle_timeout(self.cfg.settings.idle_timeout);
        let body = tokio::time::timeout(Duration::from_secs(10), incoming.read_all(1 << 20))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        upstream_error_from(status, &parsed, retry_after, provider)
    }
}

/// What the gateway reads of an OpenAI-format answer it passes on; the
/// rest of the body is checked as JSON but not built.
#[derive(serde::Deserialize)]
struct Peek {
    #[serde(default)]
    usage: Option<Value>,
    /// Present and not null: the provider answered 2xx with an error.
    #[serde(default)]
    error: Option<serde::de::IgnoredAny>,
}

/// A built request and where it goes.
pub struct Request<'b> {
    upstream: &'b Upstream,
    request: Outgoing,
}

/// Tells the backend's breaker about a failed attempt: the provider's
/// failures count against it, a `Retry-After` benches it; the client's own
/// errors (a bad request) do not.
fn report_failure(backend: &Backend, permit: Permit, e: &GatewayError) {
    let now = Instant::now();
    if let Some(secs) = e.retry_after().and_then(|r| r.trim().parse::<f64>().ok()) {
        if secs.is_finite() && secs > 0.0 {
            backend
                .breaker
                .bench(now + Duration::from_secs_f64(secs.min(3600.0)));
        }
    }
    if is_provider_fault(e) {
        permit.failure(now);
    } else {
        permit.success(now);
    }
}

/// Failures that say something about the backend, not the request.
pub fn is_provider_fault(e: &GatewayError) -> bool {
    match e {
        GatewayError::Upstream { status, .. } => *status >= 500 || *status == 429 || *status == 408,
        GatewayError::UpstreamTimeout(_)
        | GatewayError::BadGateway(_)
        | GatewayError::ProviderAuth { .. } => true,
        _ => false,
    }
}

/// A stream's first body bytes, within the deadline; `None` at a clean end.
async fn read_first(
    incoming: &mut Incoming,
    deadline: Instant,
    provider: &Provider,
) -> Result<Option<Bytes>, GatewayError> {
    let remaining = deadline.saturating_duration_since(Instant::now());
    tokio::time::timeout(remaining, incoming.read())
        .await
        .map_err(|_| {
            Hostile::Deadline.count(&provider.name);
            GatewayError::UpstreamTimeout(format!(
                "provider `{}` sent no stream data in time",
                provider.name
            ))
        })?
        .map_err(|e| call_error(e, provider))
}

/// The error code of a prompt too long for the model's context window.
pub const CONTEXT_OVERFLOW: &str = "context_length_exceeded";

/// Providers word it differently; OpenAI says `context_length_exceeded`.
fn is_context_overflow(code: Option<&str>, message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    code == Some(CONTEXT_OVERFLOW)
        || [
            "context length",
            "maximum context",
            "context window",
            "prompt is too long",
            "too many tokens",
        ]
        .iter()
        .any(|needle| m.contains(needle))
}

/// Maps an upstream error body (OpenAI, Anthropic, Gemini or FastAPI
/// shaped) to a [`GatewayError`], keeping the provider's message without
/// its secrets.
pub fn upstream_error_from(
    status: u16,
    body: &Value,
    retry_after: Option<String>,
    provider: &Provider,
) -> GatewayError {
    let err = body.get("error").unwrap_or(body);
    // Ollama and some OpenAI-compatible servers: `{"error": "text"}`.
    let message = err
        .get("message")
        .or_else(|| body.get("detail"))
        .or_else(|| err.is_string().then_some(err))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("provider `{}` answered HTTP {status}", provider.name));
    // OpenAI: `code`; Gemini: `status` (its `code` repeats the HTTP status);
    // Anthropic: `type`.
    let text = |k: &str| err.get(k).and_then(Value::as_str).map(str::to_string);
    let mut code = text("code")
        .or_else(|| text("status"))
        .or_else(|| text("type"));
    if matches!(status, 400 | 413) && is_context_overflow(code.as_deref(), &message) {
        code = Some(CONTEXT_OVERFLOW.to_string());
    }
    let status = match status {
        // Anthropic's 529 "overloaded" is a 503 to OpenAI clients.
        529 => 503,
        // Gemini answers a bad key with 400 API_KEY_INVALID.
        400 if body.to_string().contains("API_KEY_INVALID") => 401,
        s => s,
    };
    let secrets = provider.secrets();
    let message = redact(&format!("{}: {message}", provider.name), &secrets);
    // Every string of the provider's error that reaches the client is
    // redacted: a provider may echo the key it was sent in any of them.
    let code = code.map(|c| short_code(&redact(&c, &secrets)));
    let retry_after = retry_after.as_deref().and_then(retry_after_secs);
    match status {
        // The gateway's own credentials were refused: the provider's fault,
        // not the client's (whose request may succeed elsewhere).
        401 | 403 => GatewayError::ProviderAuth { status, message },
        _ => GatewayError::Upstream {
            status,
            message,
            code,
            retry_after,
        },
    }
}

/// A provider's error code as passed on: at most 100 characters.
fn short_code(code: &str) -> String {
    match code.char_indices().nth(100) {
        Some((i, _)) => code[..i].to_string(),
        None => code.to_string(),
    }
}

/// A provider's `Retry-After` as whole seconds (at most a day), when it is
/// what RFC 9110 allows — a number of seconds or an HTTP date — and never
/// the header's text itself, which a hostile provider could fill with
/// anything. Fractional seconds, which some providers send, round up.
pub fn retry_after_secs(value: &str) -> Option<String> {
    const DAY: f64 = 86_400.0;
    let value = value.trim();
    let secs = match value.parse::<f64>() {
        Ok(s) if s.is_finite() && s >= 0.0 => s,
        Ok(_) => return None,
        Err(_) => {
            let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
            let ms = at.timestamp_millis() - chrono::Utc::now().timestamp_millis();
            ms.max(0) as f64 / 1000.0
        }
    };
    Some(format!("{}", secs.min(DAY).ceil() as u64))
}

fn call_error(e: CallError, provider: &Provider) -> GatewayError {
    let message = format!("provider `{}`: {e}", provider.name);
    let hostile = match &e {
        CallError::Timeout {
            stage: "response header",
            ..
        } => Some(Hostile::FirstByteTimeout),
        CallError::Timeout {
            stage: "body data", ..
        } => Some(Hostile::IdleTimeout),
        CallError::TooLarge(_) => Some(Hostile::BodyTooLarge),
        _ => None,
    };
    if let Some(kind) = hostile {
        kind.count(&provider.name);
    }
    match e {
        CallError::Timeout { .. } => GatewayError::UpstreamTimeout(message),
        CallError::Connect(_) | CallError::Io(_) | CallError::TooLarge(_) => {
            GatewayError::BadGateway(message)
        }
    }
}

/// An adapter's refusal (the client's fault: a 4xx, no failover) or
/// failure (a 502, counted), without the provider's secrets.
pub fn adapter_error(e: AdapterError, provider: &Provider) -> GatewayError {
    let secrets = provider.secrets();
    match e {
        AdapterError::Rejected { status, message } => GatewayError::Rejected {
            status,
            message: redact(&message, &secrets),
        },
        other => {
            metrics()
                .script_errors
                .with_label_values(&[provider.adapter.name()])
                .inc();
            let text = redact(&other.to_string(), &secrets);
            tracing::error!(provider = %provider.name, error = %text, "adapter failed");
            GatewayError::BadGateway(text)
        }
    }
}

/// A capability in words, for error messages.
fn describe(capability: &str) -> &'static str {
    match capability {
        "embeddings" => "embeddings",
        "tools" => "tools (function calling)",
        "vision" => "images in messages",
        "json" => "JSON output (response_format)",
        "stream" => "streaming",
        _ => "this kind of request",
    }
}

/// The attempt outcome label of an error (metrics and attempts header).
pub fn outcome_label(e: &GatewayError) -> &'static str {
    match e {
        GatewayError::UpstreamTimeout(_) => "timeout",
        GatewayError::BadGateway(_) => "error",
        GatewayError::Upstream { .. } | GatewayError::ProviderAuth { .. } => "status",
        _ => "rejected",
    }
}

/// Some servers send blank lines before a JSON body while they wait.
fn trim_leading_whitespace(b: &Bytes) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    &b[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_seconds_or_an_http_date_and_nothing_else() {
        assert_eq!(retry_after_secs("7").as_deref(), Some("7"));
        assert_eq!(retry_after_secs(" 1.2 ").as_deref(), Some("2"));
        assert_eq!(retry_after_secs("999999999").as_deref(), Some("86400"));
        assert_eq!(
            retry_after_secs("Sun, 06 Nov 1994 08:49:37 GMT").as_deref(),
            Some("0"),
            "a date in the past: retry now"
        );
        let soon = (chrono::Utc::now() + chrono::Duration::seconds(90)).to_rfc2822();
        let secs: u64 = retry_after_secs(&soon).unwrap().parse().unwrap();
        assert!((88..=91).contains(&secs), "{secs}");
        for bad in ["sk-live-key", "", "-3", "NaN", "inf", "7 days", "1e400"] {
            assert_eq!(retry_after_secs(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn long_codes_are_cut() {
        assert_eq!(short_code("rate_limit"), "rate_limit");
        assert_eq!(short_code(&"x".repeat(500)).len(), 100);
    }
}
