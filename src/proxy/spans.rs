//! A request's trace, from the proxy's side: begun with the request (the
//! client's `traceparent` continued), its prompt and completion captured
//! where the route says so, its stream's span, and the request's own span
//! built from what [`RequestCtx`] knows when the request is recorded.
//! Attempts make their own spans (`attempts::span`).

use std::borrow::Cow;

use serde_json::Value;

use super::RequestCtx;
use crate::config::Config;
use crate::routing::RoutePolicy;
use crate::trace::span::{Attr, Kind, SpanId, Status};
use crate::trace::{capped, now_ns};

/// Begins `ctx`'s trace when tracing is on.
pub fn begin(ctx: &mut RequestCtx, cfg: &Config, headers: &http::HeaderMap) {
    if let Some(t) = &cfg.policy.tracing {
        ctx.trace = Some(Box::new(t.begin(headers)));
    }
}

/// Whether `ctx`'s trace records the prompt and completion (its route,
/// `policy`, says so).
pub fn captures(ctx: &RequestCtx, policy: &RoutePolicy) -> bool {
    policy.capture_content && ctx.trace.as_ref().is_some_and(|t| t.sampled)
}

/// Notes the requested model, and the prompt when the route captures it.
pub fn request(ctx: &mut RequestCtx, policy: &RoutePolicy, model: &str, body: &Value) {
    let capture = captures(ctx, policy);
    let Some(t) = ctx.trace.as_mut().filter(|t| t.sampled) else {
        return;
    };
    t.request_model = Some(model.to_string());
    if capture {
        let prompt = ["messages", "input", "prompt", "system"]
            .iter()
            .filter_map(|k| body.get(*k).map(|v| (*k, v)))
            .next();
        if let Some((_, v)) = prompt {
            t.input = Some(capped(&v.to_string(), t.content_limit()));
        }
    }
}

/// Notes the completion of a whole OpenAI-format answer (its `choices`,
/// or an embeddings answer's size), where the route captures it.
pub fn answer(ctx: &mut RequestCtx, policy: &RoutePolicy, answer: &Value) {
    if !captures(ctx, policy) {
        return;
    }
    let Some(t) = ctx.trace.as_mut() else {
        return;
    };
    if let Some(choices) = answer.get("choices") {
        t.output = Some(capped(&choices.to_string(), t.content_limit()));
    }
}

/// The span of a stream's life under its attempt `parent`: begun when
/// its relay began (`start_ns`), ending now.
pub fn stream(ctx: &mut RequestCtx, parent: Option<SpanId>, start_ns: u64) {
    let events = ctx.stream_events;
    let ttft = ctx.ttft;
    let ended = ctx.error.unwrap_or("complete");
    let model = ctx.model.clone().unwrap_or_default();
    let Some(t) = ctx.trace.as_mut().filter(|t| t.sampled) else {
        return;
    };
    let mut attrs = vec![
        Attr::int("switchyard.stream.events", events as i64),
        Attr::str("switchyard.stream.end", ended),
    ];
    if let Some(ttft) = ttft {
        attrs.push(Attr::f64(
            "switchyard.time_to_first_token_ms",
            ttft.as_secs_f64() * 1000.0,
        ));
    }
    let status = if ended == "complete" || ended == "client_closed" {
        Status::Unset
    } else {
        Status::Error(Cow::Borrowed(ended))
    };
    let span = t.for_attempts().span(
        SpanId::random(),
        parent,
        Cow::Owned(format!("stream {model}")),
        Kind::Internal,
        start_ns,
        now_ns(),
        attrs,
        status,
    );
    t.spans.push(span);
}

/// Ends `ctx`'s trace: the request's span, with its children, to the
/// exporter.
pub fn finish(ctx: &mut RequestCtx) {
    let Some(t) = ctx.trace.take() else {
        return;
    };
    if !t.sampled {
        return;
    }
    let operation = match ctx.endpoint {
        "messages" | "responses" => "chat",
        e => e,
    };
    let requested = t.request_model.clone().unwrap_or_default();
    let mut name = String::with_capacity(operation.len() + 1 + requested.len());
    name.push_str(operation);
    if !requested.is_empty() {
        name.push(' ');
        name.push_str(&requested);
    }
    let mut attrs = Vec::with_capacity(24);
    attrs.extend([
        Attr::str("gen_ai.operation.name", operation),
        Attr::int("http.response.status_code", i64::from(ctx.status)),
        Attr::str("switchyard.request_id", ctx.request_id.clone()),
        Attr::str("switchyard.endpoint", ctx.endpoint),
        Attr::bool("switchyard.stream", ctx.stream),
        Attr::str("switchyard.config_version", ctx.config_version.clone()),
    ]);
    if !requested.is_empty() {
        attrs.push(Attr::str("gen_ai.request.model", requested));
    }
    let texts = [
        ("gen_ai.response.model", &ctx.model),
        ("switchyard.route", &ctx.route),
        ("switchyard.provider", &ctx.provider),
        ("switchyard.key", &ctx.key),
    ];
    for (k, v) in texts {
        if let Some(v) = v {
            attrs.push(Attr::str(k, v.clone()));
        }
    }
    if let Some(s) = ctx.strategy {
        attrs.push(Attr::str("switchyard.strategy", s));
    }
    if let Some(c) = ctx.cache {
        attrs.push(Attr::str("switchyard.cache", c));
    }
    if !ctx.attempts.is_empty() {
        attrs.push(Attr::str("switchyard.attempts", ctx.attempts_header()));
    }
    if let Some(u) = ctx.usage {
        attrs.extend([
            Attr::int("gen_ai.usage.input_tokens", u.prompt as i64),
            Attr::int("gen_ai.usage.output_tokens", u.completion as i64),
        ]);
        if u.cached > 0 {
            attrs.push(Attr::int(
                "gen_ai.usage.cache_read.input_tokens",
                u.cached as i64,
            ));
        }
    }
    if let Some(c) = ctx.cost {
        attrs.push(Attr::f64("switchyard.cost_usd", c));
    }
    if let Some(ttft) = ctx.ttft {
        attrs.push(Attr::f64(
            "switchyard.time_to_first_token_ms",
            ttft.as_secs_f64() * 1000.0,
        ));
    }
    let mut t = t;
    if let Some(input) = t.input.take() {
        attrs.push(Attr::str("gen_ai.input.messages", input));
    }
    if let Some(output) = t.output.take() {
        attrs.push(Attr::str("gen_ai.output.messages", output));
    }
    // A server span is in error for a 5xx, or a stream cut short; a 4xx
    // is the client's error, named in `error.type` only.
    let status = match ctx.error {
        Some(e) => {
            attrs.push(Attr::str("error.type", e));
            if ctx.status >= 500 || (ctx.status == 200 && e != "client_closed") {
                Status::Error(Cow::Borrowed(e))
            } else {
                Status::Unset
            }
        }
        None if ctx.status >= 500 => {
            attrs.push(Attr::str("error.type", ctx.status.to_string()));
            Status::Error(Cow::Owned(format!("status {}", ctx.status)))
        }
        None => Status::Unset,
    };
    t.finish(Cow::Owned(name), attrs, status);
}
