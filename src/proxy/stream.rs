//! Relaying a provider's event stream to the client, event by event and
//! without buffering: each upstream read is parsed, every complete event is
//! translated (or passed through) and written at once. A stream is never
//! silently truncated: if the provider stops early or fails, the client
//! gets an in-band `data: {"error": …}` event instead of a false `[DONE]`.

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, TRANSFER_ENCODING};
use http::{HeaderName, HeaderValue};
use pingora::connectors::http::Connector;
use pingora::http::ResponseHeader;
use pingora_proxy::Session;
use serde_json::{json, Value};

use super::ctx::{RequestCtx, Usage};
use super::forward::client_gone;
use super::hostile::{self, Hostile};
use super::respond::{bounded, common_headers, response_parts, set};
use crate::adapter::{Adapter, ChunkOut, Ctx, Framing, StreamState};
use crate::error::redact;
use crate::metrics::metrics;
use crate::transform::ndjson::NdjsonParser;
use crate::transform::sse::{EventTooLarge, SseEvent, SseParser};

use super::sink::Sink;
use crate::policy::collect::Collector;
use crate::upstream::call::Incoming;

/// Tells nginx-style proxies in front not to buffer the stream.
const X_ACCEL_BUFFERING: HeaderName = HeaderName::from_static("x-accel-buffering");

/// The time a write may take once the stream's own time is up.
const LAST_WRITE: std::time::Duration = std::time::Duration::from_secs(1);

/// How one stream is relayed.
pub struct Relay<'a> {
    pub adapter: &'a Adapter,
    /// What the adapter's hooks see.
    pub ctx: &'a std::sync::Arc<Ctx>,
    /// The client asked for the final usage chunk.
    pub include_usage: bool,
    pub idle_timeout: std::time::Duration,
    /// Longest life of the stream, from the request's arrival.
    pub max_duration: std::time::Duration,
    pub max_event: usize,
    pub secrets: Vec<&'a str>,
    /// Rebuild the whole answer (for the response cache).
    pub collect: bool,
}

/// The stream format the client expects.
pub enum ClientFormat {
    OpenAi,
    /// Anthropic events, for `/v1/messages`; the model name the client asked for.
    Anthropic(String),
}

/// Where a stream stands.
struct Progress {
    done: bool,
    errored: bool,
    saw_finish: bool,
    usage: Option<Usage>,
    /// The adapter's (and patch's) per-stream state.
    state: StreamState,
    sink: Sink,
    collector: Option<Collector>,
}

/// Counts a stream as in flight for as long as it lives.
struct StreamGauge;

impl StreamGauge {
    fn enter() -> Self {
        metrics().streams_in_flight.inc();
        Self
    }
}

impl Drop for StreamGauge {
    fn drop(&mut self) {
        metrics().streams_in_flight.dec();
    }
}

/// Writes a stream whose events are all known (a cached answer replayed):
/// the stream's headers, then `body` at once.
pub async fn write_whole(
    session: &mut Session,
    ctx: &mut RequestCtx,
    body: Bytes,
) -> pingora::Result<()> {
    let mut parts = response_parts(200, 12)?;
    let h = &mut parts.headers;
    set(h, CONTENT_TYPE, "text/event-stream")?;
    set(h, CACHE_CONTROL, "no-cache")?;
    h.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    common_headers(h, ctx)?;
    ctx.status = 200;
    let head = ResponseHeader::from(parts);
    let limit = ctx.send_timeout;
    bounded(limit, session.write_response_header(Box::new(head), false)).await?;
    bounded(limit, session.write_response_body(Some(body), true)).await
}

enum Step {
    Data(Result<Option<Bytes>, crate::upstream::call::CallError>),
    ClientGone,
    /// The stream reached its maximum duration.
    Expired,
}

impl Relay<'_> {
    /// Writes the stream header, then relays until the upstream ends; the
    /// whole answer as a `chat.completion` when `collect` is set and the
    /// stream completed.
    pub async fn run(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        mut incoming: Incoming,
        first: Option<Bytes>,
        connector: &Connector,
        format: ClientFormat,
    ) -> pingora::Result<Option<Value>> {
        let _gauge = StreamGauge::enter();
        let mut parts = response_parts(200, 12)?;
        let h = &mut parts.headers;
        set(h, CONTENT_TYPE, "text/event-stream")?;
        set(h, CACHE_CONTROL, "no-cache")?;
        set(h, TRANSFER_ENCODING, "chunked")?;
        set(h, X_ACCEL_BUFFERING, "no")?;
        common_headers(h, ctx)?;
        ctx.status = 200;
        let head = ResponseHeader::from(parts);
        let expires = tokio::time::Instant::from_std(ctx.started + self.max_duration);
        // Time blocked on a write counts against the stream's life too;
        // past it, a last write (the timeout's error event) gets a moment.
        let write_limit = |ctx: &RequestCtx| {
            let left = expires.saturating_duration_since(tokio::time::Instant::now());
            ctx.send_timeout.min(left.max(LAST_WRITE))
        };
        bounded(
            write_limit(ctx),
            session.write_response_header(Box::new(head), false),
        )
        .await?;

        let mut parser = Parser::new(self.adapter.framing(), self.max_event);
        let sink = match format {
            ClientFormat::OpenAi => Sink::OpenAi,
            ClientFormat::Anthropic(model) => Sink::Anthropic(Box::new(
                crate::dialect::anthropic::StreamEncoder::new(&model),
            )),
        };
        let mut progress = Progress {
            done: false,
            errored: false,
            saw_finish: false,
            usage: None,
            state: self.adapter.stream(self.ctx),
            sink,
            collector: self.collect.then(Collector::default),
        };
        let mut events = Vec::new();
        // The bytes read while deciding on this provider come first.
        let mut first = Some(first);
        let expiry = tokio::time::sleep_until(expires);
        tokio::pin!(expiry);
        loop {
            let step = match first.take() {
                Some(bytes) => Step::Data(Ok(bytes)),
                None => tokio::select! {
                    biased;
                    // First, so that a provider that is never silent
                    // cannot starve it.
                    () = &mut expiry => Step::Expired,
                    r = incoming.read() => Step::Data(r),
                    _ = client_gone(session) => Step::ClientGone,
                },
            };
            let mut out = Vec::new();
            let finished = match step {
                Step::ClientGone => {
                    ctx.error = Some("client_closed");
                    ctx.usage = progress.usage;
                    return Ok(None);
                }
                Step::Expired => {
                    let secs = self.max_duration.as_secs_f64();
                    let msg =
                        format!("the provider's stream ran past the stream timeout ({secs}s)");
                    Hostile::StreamTimeout.count(provider_of(ctx));
                    self.fail(&mut out, &mut progress, ctx, "stream_timeout", &msg);
                    true
                }
                Step::Data(Ok(Some(chunk))) => {
                    if let Err(e) = parser.feed(&chunk, &mut events) {
                        Hostile::EventTooLarge.count(provider_of(ctx));
                        self.fail(
                            &mut out,
                            &mut progress,
                            ctx,
                            "upstream_event_too_large",
                            &e.to_string(),
                        );
                        true
                    } else {
                        self.events(&mut events, &mut out, &mut progress, ctx);
                        progress.done || progress.errored
                    }
                }
                Step::Data(Ok(None)) => {
                    parser.finish(&mut events);
                    self.events(&mut events, &mut out, &mut progress, ctx);
                    if parser.saw_junk() && !progress.done && !progress.errored {
                        Hostile::InvalidSse.count(provider_of(ctx));
                        let msg = "the provider's stream is not server-sent events";
                        self.fail(&mut out, &mut progress, ctx, "upstream_invalid_sse", msg);
                    }
                    self.end(&mut out, &mut progress, ctx);
                    true
                }
                Step::Data(Err(e)) => {
                    if matches!(e, crate::upstream::call::CallError::Timeout { .. }) {
                        Hostile::IdleTimeout.count(provider_of(ctx));
                    }
                    parser.finish(&mut events);
                    self.events(&mut events, &mut out, &mut progress, ctx);
                    if !progress.done {
                        let msg = format!("the provider's stream failed: {e}");
                        self.fail(&mut out, &mut progress, ctx, "stream_interrupted", &msg);
                    }
                    true
                }
            };
            if ctx.ttft.is_none() && !out.is_empty() {
                ctx.ttft = Some(ctx.started.elapsed());
            }
            // A client that stops reading blocks this write: bounded by
            // `server.send_timeout`, and by the stream's own timeout.
            if !out.is_empty() {
                let write = session.write_response_body(Some(Bytes::from(out)), false);
                bounded(write_limit(ctx), write).await?;
            }
            if finished {
                break;
            }
        }
        ctx.usage = progress.usage;
        bounded(write_limit(ctx), session.write_response_body(None, true)).await?;
        let complete = progress.done && !progress.errored;
        if complete {
            // Drain what is left (normally nothing) so the connection can be reused.
            while let Ok(Some(_)) = incoming.read().await {}
            incoming.release(connector).await;
        }
        Ok(progress
            .collector
            .filter(|_| complete)
            .map(Collector::finish))
    }

    fn events(
        &self,
        events: &mut Vec<SseEvent>,
        out: &mut Vec<u8>,
        p: &mut Progress,
        ctx: &mut RequestCtx,
    ) {
        let mut items = Vec::new();
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
        // One pass without building a tree: checks that the event is a
        // JSON object (forwarded as is, anything else breaks the client's
        // SDK mid-answer) and reads what accounting needs. OpenAI sends
        // `"usage": null` in every chunk once usage is asked for, so only a
        // usage that is there, or an error, takes the full parse.
        let peek = if hostile::looks_like_json_object(data) {
            serde_json::from_str::<EventPeek>(data).ok()
        } else {
            None
        };
        let full = match &peek {
            Some(e) => p.collector.is_some() || e.usage.is_some() || e.error.is_some(),
            // Valid JSON the peek refused (a duplicate key, say).
            None => serde_json::from_str::<serde::de::IgnoredAny>(data).is_ok(),
        };
        if full {
            if let Ok(v) = serde_json::from_str::<Value>(data) {
                if v.is_object() {
                    self.emit(ChunkOut::Json(v), out, p, ctx);
                    return;
                }
            }
        }
        let Some(peek) = peek else {
            Hostile::InvalidJson.count(provider_of(ctx));
            let msg = "the provider sent a stream event that is not JSON";
            return self.fail(out, p, ctx, "upstream_invalid_json", msg);
        };
        p.saw_finish |= peek.finished();
        p.sink.chunk_text(out, data);
    }

    fn emit(&self, item: ChunkOut, out: &mut Vec<u8>, p: &mut Progress, ctx: &mut RequestCtx) {
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
                if v.get("error").is_some_and(|e| !e.is_null()) {
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
    fn end(&self, out: &mut Vec<u8>, p: &mut Progress, ctx: &mut RequestCtx) {
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

    fn fail(
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

/// What the relay reads of an OpenAI-format stream event it forwards as
/// is; everything else is checked as JSON and skipped.
#[derive(serde::Deserialize)]
struct EventPeek {
    /// Present and not null: the final usage chunk.
    #[serde(default)]
    usage: Option<serde::de::IgnoredAny>,
    /// Present and not null: an in-band error.
    #[serde(default)]
    error: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    choices: Option<Vec<ChoicePeek>>,
}

#[derive(serde::Deserialize)]
struct ChoicePeek {
    #[serde(default)]
    finish_reason: Option<serde::de::IgnoredAny>,
}

impl EventPeek {
    /// A choice has a finish reason.
    fn finished(&self) -> bool {
        self.choices
            .iter()
            .flatten()
            .any(|c| c.finish_reason.is_some())
    }
}

/// The reader of the provider's stream framing.
enum Parser {
    Sse(SseParser),
    Ndjson(NdjsonParser),
}

impl Parser {
    fn new(framing: Framing, max_event: usize) -> Self {
        match framing {
            Framing::Sse => Self::Sse(SseParser::new(max_event)),
            Framing::Ndjson => Self::Ndjson(NdjsonParser::new(max_event)),
        }
    }

    fn feed(&mut self, bytes: &[u8], out: &mut Vec<SseEvent>) -> Result<(), EventTooLarge> {
        match self {
            Self::Sse(p) => p.feed(bytes, out),
            Self::Ndjson(p) => p.feed(bytes, out),
        }
    }

    fn finish(&mut self, out: &mut Vec<SseEvent>) {
        match self {
            Self::Sse(p) => p.finish(out),
            Self::Ndjson(p) => p.finish(out),
        }
    }

    fn saw_junk(&self) -> bool {
        match self {
            Self::Sse(p) => p.saw_junk(),
            Self::Ndjson(p) => p.saw_junk(),
        }
    }
}

/// The provider serving the stream, for metrics.
fn provider_of(ctx: &RequestCtx) -> &str {
    ctx.provider.as_deref().unwrap_or("")
}
