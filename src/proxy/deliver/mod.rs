//! Delivery: the winning attempt's answer written to the client — a whole
//! answer at once, or a stream relayed event by event ([`relay`]) — in the
//! client's format (OpenAI, or Anthropic for `/v1/messages`), with the
//! attempt settled ([`super::settle`]) when its answer is known whole; and
//! an answer that needed no call (cached, or coalesced) replayed.
//!
//! A whole answer is settled and kept for the cache before the client sees
//! it, so that a retry on any instance of the fleet finds it.

mod events;
mod parser;
mod raw;
pub mod relay;
mod sink;

use std::time::Duration;

use bytes::Bytes;
use pingora_proxy::Session;
use serde_json::Value;

use super::admit::Capture;
use super::attempts::{Answer, Shared, Started, Winner};
use super::conversation;
use super::guards;
use super::pipeline::Keep;
use super::respond::{write_body, write_error};
use super::settle::{self, Delivered};
use super::spans;
use super::RequestCtx;
use crate::dialect::{anthropic, responses};
use crate::metrics::metrics;
use crate::policy::cache::{self, Cached};
use crate::request::{ClientRequest, Dialect, Endpoint};
use crate::routing::Target;
use crate::trace::now_ns;
use crate::upstream::call::Incoming;
use relay::Relay;
use sink::Sink;

/// Sends the winning attempt's answer to the client; a complete answer
/// also goes to `capture` (the cache, and coalesced waiters).
pub async fn answer(
    session: &mut Session,
    ctx: &mut RequestCtx,
    shared: &Shared<'_>,
    started: Started<'_>,
    capture: Option<Capture<'_>>,
    keep: Keep<'_>,
) -> pingora::Result<()> {
    let Started {
        winner,
        incoming,
        answer,
    } = started;
    chosen(ctx, &winner);
    match answer {
        Answer::Complete { body, usage } => {
            ctx.usage = usage;
            let answer = Whole {
                winner,
                incoming,
                body,
            };
            whole(session, ctx, shared, answer, capture, keep).await
        }
        Answer::Stream { first } => {
            stream(session, ctx, shared, winner, incoming, first, capture, keep).await
        }
        Answer::Raw { first } => raw(session, ctx, shared, winner, incoming, first).await,
    }
}

/// A whole answer and the attempt that made it.
struct Whole<'t> {
    winner: Winner<'t>,
    incoming: Incoming,
    body: Bytes,
}

/// Records which target answered, after which failed attempts.
pub(crate) fn chosen(ctx: &mut RequestCtx, winner: &Winner<'_>) {
    let provider = &winner.target.provider;
    ctx.provider = Some(provider.name.clone());
    ctx.model = Some(model_label(winner.target, &winner.model));
    if !ctx.attempts.is_empty() {
        let route = ctx.route.as_deref().unwrap_or("");
        metrics().failovers.with_label_values(&[route]).inc();
    }
    ctx.attempts
        .push(format!("{}:{}", winner.backend.label, winner.status));
    metrics()
        .upstream_attempts
        .with_label_values(&[&provider.name, "ok"])
        .inc();
}

/// A whole answer: settled, kept, then written.
async fn whole(
    session: &mut Session,
    ctx: &mut RequestCtx,
    shared: &Shared<'_>,
    answer: Whole<'_>,
    capture: Option<Capture<'_>>,
    keep: Keep<'_>,
) -> pingora::Result<()> {
    let Whole {
        winner,
        incoming,
        body,
    } = answer;
    let target = winner.target;
    let provider = &target.provider;
    let native = winner.ctx.endpoint == "responses";
    settle::attempt(ctx, shared, winner, Delivered::Whole).await;
    // Guarded before it is kept: the cache holds what clients may see.
    let body = match guards::response(ctx, &shared.guards, &shared.req.model, body) {
        Ok(body) => body,
        Err(e) => {
            incoming.release(shared.connector).await;
            return write_error(session, ctx, &e).await;
        }
    };
    if spans::captures(ctx, shared.policy) {
        if let Ok(answer) = serde_json::from_slice::<Value>(&body) {
            spans::answer(ctx, shared.policy, &answer);
        }
    }
    if let (Some(c), Ok(text)) = (capture, std::str::from_utf8(&body)) {
        c.keep(&provider.name, ctx, text.to_string()).await;
    }
    let body = match ctx.dialect {
        Dialect::OpenAi => body,
        Dialect::Anthropic => to_anthropic(&body, &shared.req.model),
        Dialect::Responses => {
            let body = to_responses(ctx, body, native);
            keep.turn(ctx).await;
            body
        }
    };
    incoming.release(shared.connector).await;
    let cost = ctx.cost.map(|c| format!("{c:.8}"));
    let extra: Vec<(&str, &str)> = cost
        .iter()
        .map(|c| ("x-switchyard-cost-usd", c.as_str()))
        .collect();
    write_body(session, ctx, 200, "application/json", &extra, body).await
}

/// A stream: relayed, then settled; kept when it completed.
#[allow(clippy::too_many_arguments)]
async fn stream(
    session: &mut Session,
    ctx: &mut RequestCtx,
    shared: &Shared<'_>,
    winner: Winner<'_>,
    incoming: Incoming,
    first: Option<Bytes>,
    capture: Option<Capture<'_>>,
    keep: Keep<'_>,
) -> pingora::Result<()> {
    let target = winner.target;
    let provider = &target.provider;
    let timeouts = shared.timeouts(provider);
    let captures = spans::captures(ctx, shared.policy);
    let relay = Relay {
        adapter: &provider.adapter,
        ctx: &winner.ctx,
        include_usage: shared.req.include_usage,
        idle_timeout: timeouts.idle.unwrap_or(Duration::from_secs(60)),
        max_duration: timeouts.stream.unwrap_or(Duration::from_secs(1800)),
        max_event: shared.cfg.settings.max_body_size.max(1 << 20),
        secrets: provider.secrets(),
        collect: capture.is_some() || captures,
        keep: Some(keep),
        guards: (!shared.guards.is_empty()).then_some(&shared.guards),
    };
    let (span, start_ns) = (winner.span, now_ns());
    let result = relay
        .run(
            session,
            ctx,
            incoming,
            first,
            shared.connector,
            &shared.req.model,
        )
        .await;
    if let (true, Ok(Some(whole))) = (captures, &result) {
        spans::answer(ctx, shared.policy, whole);
    }
    if let (Some(c), Ok(Some(whole))) = (capture, &result) {
        c.keep(&provider.name, ctx, whole.to_string()).await;
    }
    let broke = settle::broke(ctx.error);
    settle::attempt(ctx, shared, winner, Delivered::Stream { broke }).await;
    spans::stream(ctx, span, start_ns);
    result.map(|_| ())
}

/// An answer relayed as the provider sends it, then settled.
async fn raw(
    session: &mut Session,
    ctx: &mut RequestCtx,
    shared: &Shared<'_>,
    winner: Winner<'_>,
    incoming: Incoming,
    first: Option<Bytes>,
) -> pingora::Result<()> {
    let timeouts = shared.timeouts(&winner.target.provider);
    let raw = raw::Raw {
        idle_timeout: timeouts.idle.unwrap_or(Duration::from_secs(60)),
        max_duration: timeouts.stream.unwrap_or(Duration::from_secs(1800)),
    };
    let (span, start_ns) = (winner.span, now_ns());
    let result = raw
        .run(session, ctx, incoming, first, shared.connector)
        .await;
    let broke = settle::broke(ctx.error);
    settle::attempt(ctx, shared, winner, Delivered::Stream { broke }).await;
    spans::stream(ctx, span, start_ns);
    result
}

/// Answers from a cached (or coalesced) answer: JSON, or a replayed stream.
/// It passed the request's guardrails before it was kept (and the cache
/// key names the guardrails it passed: see [`crate::guard::Guardrails::fingerprint`]).
pub async fn cached(
    session: &mut Session,
    ctx: &mut RequestCtx,
    req: &ClientRequest,
    answer: &Cached,
) -> pingora::Result<()> {
    ctx.provider = Some(answer.provider.clone());
    ctx.model = Some(answer.model.clone());
    if req.stream && req.endpoint == Endpoint::Chat {
        let body: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
        let mut sink = Sink::new(ctx, &req.model, false);
        let include_usage = req.include_usage || ctx.dialect == Dialect::Anthropic;
        let mut out = Vec::new();
        for chunk in cache::replay_chunks(&body, include_usage) {
            sink.chunk(&mut out, &chunk);
        }
        sink.done(&mut out);
        return relay::write_whole(session, ctx, Bytes::from(out)).await;
    }
    let body = match ctx.dialect {
        Dialect::OpenAi => Bytes::from(answer.body.clone()),
        Dialect::Anthropic => to_anthropic(answer.body.as_bytes(), &req.model),
        Dialect::Responses => to_responses(ctx, Bytes::from(answer.body.clone()), false),
    };
    write_body(session, ctx, 200, "application/json", &[], body).await
}

/// A Responses client's answer: a hub answer made a Response object, or a
/// native one as it came; either is the turn's response, to keep.
fn to_responses(ctx: &mut RequestCtx, body: Bytes, native: bool) -> Bytes {
    let Some(turn) = ctx.turn.as_mut() else {
        return body;
    };
    let mut parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if native {
        conversation::echo(&mut parsed, turn);
        let out = Bytes::from(serde_json::to_vec(&parsed).unwrap_or_default());
        turn.response = Some(parsed);
        return out;
    }
    let response = responses::response_from_hub(&parsed, &turn.meta);
    let out = Bytes::from(serde_json::to_vec(&response).unwrap_or_default());
    turn.response = Some(response);
    out
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
