//! What the relay does with each event of a provider's stream: translate
//! it with the adapter (and patch), or pass an OpenAI-format event through
//! as it came, looking only at what accounting and completeness need; and
//! how a stream ends — complete, cut short, or failed in-band.

use serde_json::{json, Value};

use super::relay::{Progress, Relay};
use super::sink::Sink;
use crate::adapter::ChunkOut;
use crate::error::redact;
use crate::metrics::metrics;
use crate::provider::Usage;
use crate::proxy::hostile::Hostile;
use crate::proxy::RequestCtx;
use crate::transform::peek;
use crate::transform::sse::SseEvent;

impl Relay<'_> {
    pub(super) fn events(
        &self,
        events: &mut Vec<SseEvent>,
        out: &mut Vec<u8>,
        p: &mut Progress,
        ctx: &mut RequestCtx,
    ) {
        let mut items = Vec::new();
        ctx.stream_events += events.len() as u64;
        for ev in events.drain(..) {
            if p.done || p.errored {
                continue;
            }
            if p.state.translates() {
                match p.state.event(&ev.event, &ev.data, &mut items) {
                    Ok(()) => items.drain(..).for_each(|c| self.emit(c, out, p, ctx)),
                    Err(e) => {
                        metrics()
                            .script_errors
                            .with_label_values(&[self.adapter.name()])
                            .inc();
                        let msg = redact(&e.to_string(), &self.secrets);
                        self.fail(out, p, ctx, "script", &msg);
                    }
                }
            } else if self.native() {
                self.native_event(ev, out, p, ctx);
            } else {
                self.passthrough(ev, out, p, ctx);
            }
        }
    }

    /// OpenAI-format upstream: forward each event as is, looking only at
    /// what accounting and completeness need.
    fn passthrough(&self, ev: SseEvent, out: &mut Vec<u8>, p: &mut Progress, ctx: &mut RequestCtx) {
        let data = ev.data.trim();
        if data == "[DONE]" {
            p.done = true;
            p.sink.done(out);
            return;
        }
        if data.is_empty() {
            return; // nothing to forward (an SDK would fail to parse it)
        }
        // One pass without building a tree (`transform::peek`): checks that
        // the event is a JSON object (forwarded as is, anything else breaks
        // the client's SDK mid-answer) and reads what accounting needs.
        // OpenAI sends `"usage": null` in every chunk once usage is asked
        // for, so only a usage that is there, or an error, takes the full
        // parse.
        let Some(peek) = peek::event(data.as_bytes()) else {
            Hostile::InvalidJson.count(provider_of(ctx));
            let msg = "the provider sent a stream event that is not JSON";
            return self.fail(out, p, ctx, "upstream_invalid_json", msg);
        };
        let inspected = p.collector.is_some() || p.guards.is_some();
        if inspected || peek.usage || peek.error || peek.escaped_keys {
            // (A number beyond f64 fails this parse: then forwarded as is.)
            if let Ok(v) = serde_json::from_str::<Value>(data) {
                self.emit(ChunkOut::Json(v), out, p, ctx);
                return;
            }
        }
        p.saw_finish |= peek.finished;
        p.sink.chunk_text(out, data);
    }

    /// A provider's own Responses event: forwarded as it came (its name
    /// too); its last one carries the Response, with its usage, to keep.
    fn native_event(
        &self,
        ev: SseEvent,
        out: &mut Vec<u8>,
        p: &mut Progress,
        ctx: &mut RequestCtx,
    ) {
        let data = ev.data.trim();
        if data.is_empty() {
            return;
        }
        if peek::event(data.as_bytes()).is_none() {
            Hostile::InvalidJson.count(provider_of(ctx));
            let msg = "the provider sent a stream event that is not JSON";
            return self.fail(out, p, ctx, "upstream_invalid_json", msg);
        }
        match ev.event.as_str() {
            "response.created" | "response.in_progress" => {
                let echoed = echoed(data, ctx);
                p.sink.native_event(out, &ev.event, &echoed.to_string());
            }
            "response.completed" | "response.incomplete" => {
                let v = echoed(data, ctx);
                if let Some(response) = v.get("response") {
                    p.usage = response.get("usage").and_then(Usage::from_json);
                    p.sink.set_response(response.clone());
                }
                p.done = true;
                p.sink.native_event(out, &ev.event, &v.to_string());
            }
            "response.failed" | "error" => {
                p.errored = true;
                ctx.error = Some("upstream_stream_error");
                let text = redact(data, &self.secrets);
                p.sink.native_event(out, &ev.event, &text);
            }
            _ => p.sink.native_event(out, &ev.event, data),
        }
    }

    /// Sends `item` on, through the guardrails' chunk hooks first (an
    /// error event goes on as it is: the stream is ending anyway).
    fn emit(&self, item: ChunkOut, out: &mut Vec<u8>, p: &mut Progress, ctx: &mut RequestCtx) {
        let ChunkOut::Json(v) = item else {
            return self.send(item, out, p, ctx);
        };
        let Some(guards) = p.guards.as_mut().filter(|_| !is_error(&v)) else {
            return self.send(ChunkOut::Json(v), out, p, ctx);
        };
        let mut items = Vec::new();
        if let Err(stop) = guards.chunk(v, &mut items) {
            let code = match stop.reason {
                crate::guard::Reason::Blocked { .. } => "guardrail_blocked",
                crate::guard::Reason::Failed(_) => "guardrail_unavailable",
            };
            let e = crate::proxy::guards::stopped(ctx, &stop);
            return self.fail(out, p, ctx, code, &e.to_string());
        }
        for item in items {
            if p.done || p.errored {
                return;
            }
            self.send(item, out, p, ctx);
        }
    }

    fn send(&self, item: ChunkOut, out: &mut Vec<u8>, p: &mut Progress, ctx: &mut RequestCtx) {
        match item {
            ChunkOut::Raw(s) if s.trim() == "[DONE]" => {
                p.done = true;
                p.sink.done(out);
            }
            ChunkOut::Raw(s) => {
                if let Sink::OpenAi = p.sink {
                    crate::transform::sse::write_data(out, s.trim());
                }
            }
            ChunkOut::Json(v) => {
                if is_error(&v) {
                    p.errored = true;
                    ctx.error = Some("upstream_stream_error");
                    let text = redact(&v.to_string(), &self.secrets);
                    let v = serde_json::from_str(&text).unwrap_or(v);
                    p.sink.error(out, &v);
                    return;
                }
                if let Some(c) = p.collector.as_mut() {
                    c.feed(&v);
                }
                if let Some(u) = v.get("usage").and_then(Usage::from_json) {
                    p.usage = Some(u);
                    let usage_only = v
                        .get("choices")
                        .and_then(Value::as_array)
                        .is_some_and(|c| c.is_empty());
                    if usage_only && !self.include_usage {
                        return;
                    }
                }
                let finish = v
                    .get("choices")
                    .and_then(|c| c.get(0))
                    .and_then(|c| c.get("finish_reason"))
                    .is_some_and(|f| !f.is_null());
                p.saw_finish |= finish;
                p.sink.chunk(out, &v);
            }
        }
    }

    /// Upstream EOF: complete the stream, or report that it was cut short.
    pub(super) fn end(&self, out: &mut Vec<u8>, p: &mut Progress, ctx: &mut RequestCtx) {
        if p.done || p.errored {
            return;
        }
        let mut items = Vec::new();
        match p.state.finish(&mut items) {
            Ok(()) => items.into_iter().for_each(|c| self.emit(c, out, p, ctx)),
            Err(e) => {
                let msg = redact(&e.to_string(), &self.secrets);
                return self.fail(out, p, ctx, "script", &msg);
            }
        }
        if p.done || p.errored {
            return;
        }
        if p.saw_finish && !p.state.has_translator() {
            // Some OpenAI-compatible servers end without `[DONE]`.
            p.done = true;
            p.sink.done(out);
            return;
        }
        self.fail(
            out,
            p,
            ctx,
            "stream_truncated",
            "the provider's stream ended before the response was complete",
        );
    }

    pub(super) fn fail(
        &self,
        out: &mut Vec<u8>,
        p: &mut Progress,
        ctx: &mut RequestCtx,
        code: &'static str,
        message: &str,
    ) {
        p.errored = true;
        ctx.error = Some(code);
        let body = json!({"error": {"message": message, "type": "api_error", "param": null, "code": code}});
        p.sink.error(out, &body);
    }
}

/// A native lifecycle event with the client's `store` and
/// `previous_response_id` in its response (see
/// [`crate::proxy::conversation::echo`]).
fn echoed(data: &str, ctx: &RequestCtx) -> Value {
    let mut v: Value = serde_json::from_str(data).unwrap_or(Value::Null);
    if let (Some(response), Some(turn)) = (v.get_mut("response"), ctx.turn.as_deref()) {
        crate::proxy::conversation::echo(response, turn);
    }
    v
}

/// Whether a chunk is an error event.
fn is_error(v: &Value) -> bool {
    v.get("error").is_some_and(|e| !e.is_null())
}

/// The provider serving the stream, for metrics.
pub(super) fn provider_of(ctx: &RequestCtx) -> &str {
    ctx.provider.as_deref().unwrap_or("")
}
