//! Relaying a provider's event stream to the client, event by event and
//! without buffering: each upstream read is parsed ([`super::parser`]),
//! every complete event is translated or passed through
//! ([`super::events`]) and written at once. A stream is never silently
//! truncated: if the provider stops early or fails, the client gets an
//! in-band `data: {"error": …}` event instead of a false `[DONE]`.

use bytes::Bytes;
use futures_util::FutureExt;
use http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, TRANSFER_ENCODING};
use http::{HeaderName, HeaderValue};
use pingora::connectors::http::Connector;
use pingora::http::ResponseHeader;
use pingora_proxy::Session;
use serde_json::Value;

use super::events::provider_of;
use super::parser::Parser;
use super::sink::Sink;
use crate::adapter::{Adapter, Ctx, StreamState};
use crate::metrics::metrics;
use crate::policy::collect::Collector;
use crate::provider::Usage;
use crate::proxy::client::client_gone;
use crate::proxy::hostile::Hostile;
use crate::proxy::pipeline::Keep;
use crate::proxy::respond::{bounded, common_headers, response_parts, set};
use crate::proxy::RequestCtx;
use crate::transform::sse::SseEvent;
use crate::upstream::call::{CallError, Incoming};

/// Tells nginx-style proxies in front not to buffer the stream.
const X_ACCEL_BUFFERING: HeaderName = HeaderName::from_static("x-accel-buffering");

/// At most this many upstream reads that were ready at once go out in one
/// write, and at most this many bytes.
const MAX_DRAINED_READS: usize = 64;
const MAX_BATCH: usize = 64 << 10;

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
    pub secrets: Vec<std::borrow::Cow<'a, str>>,
    /// Rebuild the whole answer (for the response cache).
    pub collect: bool,
    /// Where a Responses turn is kept before the stream's last event.
    pub keep: Option<Keep<'a>>,
    /// The guardrails each chunk passes.
    pub guards: Option<&'a crate::guard::Guardrails>,
}

/// Where a stream stands.
pub(super) struct Progress {
    pub(super) done: bool,
    pub(super) errored: bool,
    pub(super) saw_finish: bool,
    pub(super) usage: Option<Usage>,
    /// The adapter's (and patch's) per-stream state.
    pub(super) state: StreamState,
    pub(super) sink: Sink,
    pub(super) collector: Option<Collector>,
    /// The guardrails' chunk hooks, with their per-stream state.
    pub(super) guards: Option<crate::guard::StreamGuards>,
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
    Data(Result<Option<Bytes>, CallError>),
    ClientGone,
    /// The stream reached its maximum duration.
    Expired,
}

impl Relay<'_> {
    /// Whether the provider streams Responses events itself.
    pub(super) fn native(&self) -> bool {
        self.ctx.endpoint == "responses"
    }

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
        model: &str,
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

        let mut feed = Feed::new(self, ctx, model);
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
                    ctx.usage = feed.progress.usage;
                    return Ok(None);
                }
                Step::Expired => {
                    feed.expired(&mut out, ctx);
                    true
                }
                Step::Data(read) => feed.read(read, &mut out, ctx),
            };
            // What the provider sent in the same burst — chunks Pingora
            // already holds from the read that brought this one, or bytes
            // already in the socket — goes out in the same write: each read
            // is polled once and never waited for, so nothing is held back
            // for bytes still to come; bounded, so that a provider that is
            // never silent cannot starve the write or the expiry. (A write
            // per upstream chunk was 27 `sendto` per 20-chunk stream where
            // the bare-Pingora floor makes 11.) Except for the first bytes
            // the client gets: they go out alone, as soon as they are
            // ready, so that the time to the first token does not include
            // the work on the rest of the burst.
            let mut finished = finished;
            let drain = if ctx.ttft.is_none() && !out.is_empty() {
                0
            } else {
                MAX_DRAINED_READS
            };
            for _ in 0..drain {
                if finished || out.len() >= MAX_BATCH {
                    break;
                }
                let Some(read) = incoming.read().now_or_never() else {
                    break;
                };
                finished = feed.read(read, &mut out, ctx);
            }
            if ctx.ttft.is_none() && !out.is_empty() {
                ctx.ttft = Some(ctx.started.elapsed());
            }
            if finished {
                let response = feed.progress.sink.response().cloned();
                self.keep_turn(response, ctx).await;
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
        ctx.usage = feed.progress.usage;
        bounded(write_limit(ctx), session.write_response_body(None, true)).await?;
        let complete = feed.complete();
        if complete {
            // Drain what is left (normally nothing) so the connection can be reused.
            while let Ok(Some(_)) = incoming.read().await {}
            incoming.release(connector).await;
        }
        Ok(feed
            .progress
            .collector
            .filter(|_| complete)
            .map(Collector::finish))
    }
}

impl Relay<'_> {
    /// A Responses stream's turn, kept before its last event goes out.
    async fn keep_turn(&self, response: Option<Value>, ctx: &mut RequestCtx) {
        let (Some(keep), Some(response)) = (self.keep, response) else {
            return;
        };
        if let Some(turn) = ctx.turn.as_mut() {
            turn.response = Some(response);
        }
        keep.turn(ctx).await;
    }
}

/// The relay's work on one stream's bytes, without its sockets: each
/// upstream read parsed, its events passed through or translated, and what
/// the client gets appended to `out`. [`Relay::run`] drives it; the
/// benches (`relay_per_event`) feed it directly.
pub struct Feed<'r> {
    relay: &'r Relay<'r>,
    parser: Parser,
    progress: Progress,
    events: Vec<SseEvent>,
}

impl<'r> Feed<'r> {
    /// A stream to `ctx`'s client; `model` is the name it asked for.
    pub fn new(relay: &'r Relay<'r>, ctx: &RequestCtx, model: &str) -> Self {
        let sink = Sink::new(ctx, model, relay.native());
        Self {
            relay,
            parser: Parser::new(relay.adapter.framing(), relay.max_event),
            progress: Progress {
                done: false,
                errored: false,
                saw_finish: false,
                usage: None,
                state: relay.adapter.stream(relay.ctx),
                sink,
                collector: relay.collect.then(Collector::default),
                guards: relay.guards.and_then(|g| {
                    g.stream(&crate::guard::Scope {
                        endpoint: ctx.endpoint,
                        model,
                        route: ctx.route.as_deref(),
                        key: ctx.key.as_deref(),
                        stream: true,
                    })
                }),
            },
            events: Vec::new(),
        }
    }

    /// What one upstream read gave: bytes, the end, or a failure; returns
    /// whether the stream is over (complete, or failed in-band).
    pub fn read(
        &mut self,
        read: Result<Option<Bytes>, CallError>,
        out: &mut Vec<u8>,
        ctx: &mut RequestCtx,
    ) -> bool {
        match read {
            Ok(Some(chunk)) => self.bytes(&chunk, out, ctx),
            Ok(None) => {
                self.eof(out, ctx);
                true
            }
            Err(e) => {
                self.broken(&e, out, ctx);
                true
            }
        }
    }

    /// One upstream read's bytes; returns whether the stream is over.
    pub fn bytes(&mut self, chunk: &[u8], out: &mut Vec<u8>, ctx: &mut RequestCtx) -> bool {
        let p = &mut self.progress;
        if let Err(e) = self.parser.feed(chunk, &mut self.events) {
            Hostile::EventTooLarge.count(provider_of(ctx));
            let msg = e.to_string();
            self.relay
                .fail(out, p, ctx, "upstream_event_too_large", &msg);
            return true;
        }
        self.relay.events(&mut self.events, out, p, ctx);
        p.done || p.errored
    }

    /// The upstream ended: the stream completes, or is reported cut short.
    pub fn eof(&mut self, out: &mut Vec<u8>, ctx: &mut RequestCtx) {
        let p = &mut self.progress;
        self.parser.finish(&mut self.events);
        self.relay.events(&mut self.events, out, p, ctx);
        if self.parser.saw_junk() && !p.done && !p.errored {
            Hostile::InvalidSse.count(provider_of(ctx));
            let msg = "the provider's stream is not server-sent events";
            self.relay.fail(out, p, ctx, "upstream_invalid_sse", msg);
        }
        self.relay.end(out, p, ctx);
    }

    /// The upstream failed mid-stream (a read error, or its idle timeout).
    pub fn broken(&mut self, e: &CallError, out: &mut Vec<u8>, ctx: &mut RequestCtx) {
        if matches!(e, CallError::Timeout { .. }) {
            Hostile::IdleTimeout.count(provider_of(ctx));
        }
        let p = &mut self.progress;
        self.parser.finish(&mut self.events);
        self.relay.events(&mut self.events, out, p, ctx);
        if !p.done {
            let msg = format!("the provider's stream failed: {e}");
            self.relay.fail(out, p, ctx, "stream_interrupted", &msg);
        }
    }

    /// The stream reached its maximum duration.
    pub fn expired(&mut self, out: &mut Vec<u8>, ctx: &mut RequestCtx) {
        let secs = self.relay.max_duration.as_secs_f64();
        let msg = format!("the provider's stream ran past the stream timeout ({secs}s)");
        Hostile::StreamTimeout.count(provider_of(ctx));
        self.relay
            .fail(out, &mut self.progress, ctx, "stream_timeout", &msg);
    }

    /// The stream ended complete: no in-band error, and its end was seen.
    pub fn complete(&self) -> bool {
        self.progress.done && !self.progress.errored
    }
}
