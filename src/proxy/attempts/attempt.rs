//! One attempt against one backend: the breaker's permit and the
//! provider's own limits, the request built by the adapter, the call, and
//! the answer read as far as success is known — the whole of it for a
//! non-streaming request, the first bytes of a stream — without writing
//! anything to the client. Until then a failure can still fail over.

#![allow(clippy::result_large_err)]

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use serde_json::Value;

use super::errors::{adapter_error, call_error, credentials_error, upstream_error_from};
use super::outcome::{Failure, Outcome};
use super::request::Request;
use super::shared::{Candidate, Shared};
use super::span::AttemptSpan;
use crate::adapter::Ctx;
use crate::error::GatewayError;
use crate::metrics::metrics;
use crate::policy::limits;
use crate::provider::{Provider, Usage};
use crate::proxy::admit;
use crate::proxy::hostile::{self, Hostile};
use crate::routing::Target;
use crate::trace::span::SpanId;
use crate::upstream::backend::Backend;
use crate::upstream::balance::InFlightGuard;
use crate::upstream::breaker::Permit;
use crate::upstream::call::{self, Incoming};
use crate::upstream::quota;
use crate::upstream::{PeerTimeouts, Timeouts};

/// A target that answered successfully; nothing was sent to the client yet.
pub struct Started<'t> {
    pub winner: Winner<'t>,
    pub incoming: Incoming,
    pub answer: Answer,
}

/// The attempt that answered, and what it holds until it is settled
/// ([`crate::proxy::settle`]).
pub struct Winner<'t> {
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
    /// What the provider's own rate limits reserved for this attempt.
    pub limit: Option<limits::Admission>,
    /// The attempt's span, when the request is traced.
    pub span: Option<SpanId>,
}

/// The part of the answer read before committing to this target.
pub enum Answer {
    /// A non-streaming response, complete and in OpenAI format.
    Complete { body: Bytes, usage: Option<Usage> },
    /// A stream: its first body bytes (none if it ended at once).
    Stream { first: Option<Bytes> },
    /// An answer relayed byte for byte as the provider sends it (audio, a
    /// transcript as text or its stream): its first bytes.
    Raw { first: Option<Bytes> },
}

impl Shared<'_> {
    /// Runs one attempt against a candidate backend, if its breaker admits it.
    pub async fn start<'t>(&self, cand: &Candidate<'t>) -> Result<Started<'t>, Failure> {
        self.traced_attempt(cand, false).await
    }

    /// [`Shared::start`] for the second attempt of a hedged pair.
    pub async fn hedge<'t>(&self, cand: &Candidate<'t>) -> Result<Started<'t>, Failure> {
        self.traced_attempt(cand, true).await
    }

    /// The attempt, in its span when the request is traced.
    async fn traced_attempt<'t>(
        &self,
        cand: &Candidate<'t>,
        hedge: bool,
    ) -> Result<Started<'t>, Failure> {
        let Some(trace) = &self.trace else {
            return self.attempt(cand, None).await;
        };
        let index = self.attempts_begun.fetch_add(1, Ordering::Relaxed);
        let span = AttemptSpan::begin(trace, self, cand, hedge, index);
        let mut headers = vec![(TRACEPARENT, span.traceparent())];
        if let Some(state) = trace.state.as_deref() {
            if let Ok(v) = HeaderValue::from_str(state) {
                headers.push((TRACESTATE, v));
            }
        }
        let mut result = self.attempt(cand, Some(headers)).await;
        if let Ok(s) = &mut result {
            s.winner.span = Some(span.id);
        }
        span.end(&result);
        result
    }

    /// One attempt; `trace_headers` go to the provider with it.
    async fn attempt<'t>(
        &self,
        cand: &Candidate<'t>,
        trace_headers: Option<Vec<(HeaderName, HeaderValue)>>,
    ) -> Result<Started<'t>, Failure> {
        let target = cand.target;
        let backend = &cand.backend;
        let provider = &target.provider;
        let fail =
            |outcome: Outcome, error: GatewayError| Failure::new(&backend.label, outcome, error);
        // The provider's own quota, as its answers announced it: a backend
        // that cannot cover the request waits for its window to reset.
        let short = |until: Instant, whose: &str| {
            let e = GatewayError::NoUsableProvider(format!(
                "backend `{}` has no quota left{whose} until its window resets",
                backend.label
            ));
            Failure {
                until: Some(until),
                ..fail(Outcome::Quota, e)
            }
        };
        let now = Instant::now();
        if let Some(until) = backend.quota.short_until(|| self.estimate(), now) {
            return Err(short(until, ""));
        }
        let permit = backend.breaker.try_acquire(now).map_err(|r| {
            let e = GatewayError::NoUsableProvider(format!(
                "backend `{}` is cooling down ({})",
                backend.label,
                r.reason.as_str()
            ));
            Failure {
                until: r.until,
                ..fail(Outcome::Breaker(r.reason), e)
            }
        })?;
        let limit = match admit::provider(self.store.as_ref(), provider, || self.estimate()).await {
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
                    ..fail(Outcome::RateLimited, e)
                });
            }
        };
        let in_flight = provider.backends.in_flight(&backend.id);
        let model = target.model_for(&self.req.model).to_string();
        let ctx = Arc::new(self.adapter_ctx(provider, backend, &model));
        let mut outgoing = match self.outgoing(provider, backend, &ctx) {
            Ok(o) => o,
            Err(e) => {
                // Not sent: what the provider's limits reserved goes back.
                admit::settle_provider(self.store.as_ref(), limit.as_ref(), None).await;
                return Err(fail(Outcome::of_adapter(&e), e));
            }
        };
        if let Some(h) = trace_headers {
            outgoing.request.extra_headers = h;
        }
        let timeouts = self.timeouts(provider);
        let attempt_deadline = self.attempt_deadline(&timeouts);
        if let Some(auth) = &provider.auth {
            // A token exchange waits no longer than the provider's answer
            // would (its first-byte time, within the attempt's deadline).
            let authorized = tokio::time::timeout(
                self.first_byte(&timeouts, attempt_deadline),
                auth.authorize(self.connector, outgoing.upstream, &mut outgoing.request),
            )
            .await;
            let e = match authorized {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(credentials_error(e, provider)),
                Err(_) => Some(GatewayError::UpstreamTimeout(format!(
                    "provider `{}`: no token from the token endpoint within the first-byte time",
                    provider.name
                ))),
            };
            if let Some(e) = e {
                admit::settle_provider(self.store.as_ref(), limit.as_ref(), None).await;
                return Err(fail(Outcome::Credentials, e));
            }
        }
        let peer = PeerTimeouts {
            connect: timeouts.connect.unwrap_or(Duration::from_secs(5)),
            read: self.first_byte(&timeouts, attempt_deadline),
            write: timeouts.idle.unwrap_or(Duration::from_secs(60)),
        };
        // In a fleet, the request takes a lease on the count the instances
        // share; refused, it was not sent: permit and limits go back.
        let estimate = || self.estimate();
        let fleet = admit::quota::take(self.store.as_ref(), backend, estimate, attempt_deadline);
        let lease = match fleet.await {
            Ok(lease) => lease,
            Err(until) => {
                admit::settle_provider(self.store.as_ref(), limit.as_ref(), None).await;
                drop(permit);
                return Err(short(until, " across the fleet"));
            }
        };
        let began = Instant::now();
        let taken = backend.quota.take(|| self.estimate(), began);
        let result = self
            .exchange(
                provider,
                backend,
                lease.as_ref(),
                &outgoing,
                peer,
                &ctx,
                attempt_deadline,
                &timeouts,
            )
            .await;
        // Answered (or failed): the answer's count includes it now.
        drop((taken, lease));
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
                if let (Outcome::Status(status @ (401 | 403)), Some(auth)) =
                    (outcome, &provider.auth)
                {
                    auth.refused(status);
                }
                report_failure(backend, &provider.quota, permit, &e);
                admit::settle_provider(self.store.as_ref(), limit.as_ref(), None).await;
                return Err(fail(outcome, e));
            }
        };
        let winner = Winner {
            target,
            backend: backend.clone(),
            permit,
            in_flight,
            model,
            ctx,
            began,
            first_byte: began.elapsed(),
            status,
            limit,
            span: None,
        };
        Ok(Started {
            winner,
            incoming,
            answer,
        })
    }

    /// Sends the request and reads as far as success is known.
    #[allow(clippy::too_many_arguments)]
    async fn exchange(
        &self,
        provider: &Provider,
        backend: &Backend,
        lease: Option<&admit::quota::Lease>,
        outgoing: &Request<'_>,
        peer: PeerTimeouts,
        ctx: &Ctx,
        attempt_deadline: Instant,
        timeouts: &Timeouts,
    ) -> Result<(u16, Incoming, Answer), (Outcome, GatewayError)> {
        let upstream = &outgoing.upstream;
        let mut incoming = call::send(self.connector, upstream, &outgoing.request, peer)
            .await
            .map_err(|e| {
                let e = call_error(e, provider);
                (Outcome::of_sent(&e), e)
            })?;
        let status = incoming.status();
        if let Some(headers) = incoming.headers() {
            let reading = quota::read(headers, &provider.quota, SystemTime::now());
            backend.quota.observe(&reading, Instant::now());
            admit::quota::publish(self.store.as_ref(), backend, reading, lease);
        }
        if !(200..300).contains(&status) {
            let e = self.upstream_error(&mut incoming, provider).await;
            return Err((Outcome::Status(status), e));
        }
        incoming.set_idle_timeout(timeouts.idle.unwrap_or(Duration::from_secs(60)));
        let labelled = |e: GatewayError| (Outcome::of_sent(&e), e);
        let json = incoming
            .header_str("content-type")
            .is_some_and(|ct| ct.trim_start().starts_with("application/json"));
        let answer = if self.req.endpoint.raw_answer() && !json {
            let first = read_first(&mut incoming, attempt_deadline, provider)
                .await
                .map_err(labelled)?;
            Answer::Raw { first }
        } else if self.req.stream {
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

/// Tells the backend's breaker about a failed attempt: the provider's
/// failures count against it, a `Retry-After` benches it, a 429 only
/// benches it (until its quota's reset); the client's own errors (a bad
/// request) do not count.
fn report_failure(backend: &Backend, rules: &quota::Rules, permit: Permit, e: &GatewayError) {
    let now = Instant::now();
    let retry_after = e
        .retry_after()
        .and_then(|r| r.trim().parse::<f64>().ok())
        .filter(|secs| secs.is_finite() && *secs > 0.0);
    if let Some(secs) = retry_after {
        backend
            .breaker
            .bench(now + Duration::from_secs_f64(secs.min(3600.0)));
    }
    if matches!(e, GatewayError::Upstream { status: 429, .. }) {
        // Quota, not failure: benched until the window the provider's
        // headers gave resets (or briefly), the breaker not told.
        if retry_after.is_none() {
            let until = backend.quota.reset_after_refusal(now, rules.refusal_bench);
            backend.breaker.bench(until);
        }
        drop(permit);
        return;
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

const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// Some servers send blank lines before a JSON body while they wait.
fn trim_leading_whitespace(b: &Bytes) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    &b[start..]
}
