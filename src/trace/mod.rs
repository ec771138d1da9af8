//! OpenTelemetry tracing: a trace for every model request, with a span for
//! the request, one per attempt and one for a stream's life, exported over
//! OTLP/HTTP ([`export`]). A client's W3C `traceparent` is continued
//! ([`context`]), providers get one, and the trace id goes back in
//! `x-switchyard-trace-id` and into the access log and ledger row.
//!
//! Why not the OpenTelemetry SDK: its span API allocates per attribute as
//! the request goes, and its batch processor drops spans without a count
//! the gateway could export. Here a request keeps its facts where it keeps
//! them anyway ([`crate::proxy::RequestCtx`]); its spans are built once,
//! when it ends, queued without blocking (bounded, drops counted), and
//! encoded ([`otlp`]) and sent on the exporter's own thread.

pub mod context;
pub mod export;
pub mod otlp;
pub mod sampler;
pub mod span;

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderValue;

use sampler::Sampler;
use span::{Attr, Kind, Span, SpanId, Status, TraceId};

/// Where and how spans are exported; one exporter serves every config
/// with the same settings (a reload keeps its queue).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ExportSettings {
    /// The full OTLP/HTTP traces URL (`…/v1/traces`).
    pub endpoint: String,
    /// Sent with every export; may hold credentials (never shown).
    pub headers: Vec<(String, String)>,
    /// Resource attributes, `service.name` first.
    pub resource: Vec<(String, String)>,
    pub timeout: Duration,
    pub max_queue: usize,
    pub batch: usize,
    pub delay: Duration,
}

impl fmt::Debug for ExportSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("ExportSettings")
            .field("endpoint", &self.endpoint)
            .field("headers", &names)
            .field("resource", &self.resource)
            .field("timeout", &self.timeout)
            .field("max_queue", &self.max_queue)
            .field("batch", &self.batch)
            .field("delay", &self.delay)
            .finish()
    }
}

/// The validated `tracing:` section.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceSettings {
    pub export: ExportSettings,
    pub sampler: Sampler,
    /// The most prompt or completion text one span holds, where a route
    /// captures content.
    pub content_limit: usize,
}

/// Tracing as one config has it: its sampler, and the exporter its
/// spans go to.
#[derive(Debug)]
pub struct Tracing {
    pub settings: TraceSettings,
    exporter: Arc<export::Exporter>,
}

impl Tracing {
    /// Tracing with `settings`, on the exporter already running with the
    /// same export settings, if any (its thread starts with the first span).
    pub fn new(settings: TraceSettings) -> Self {
        let exporter = export::Exporter::shared(&settings.export);
        Self { settings, exporter }
    }

    /// A request's trace: the client's continued (`traceparent`,
    /// `tracestate`) or a new one, sampled or not.
    pub fn begin(self: &Arc<Self>, headers: &http::HeaderMap) -> RequestTrace {
        let parent = context::parent(
            headers.get("traceparent").map(HeaderValue::as_bytes),
            headers
                .get_all("tracestate")
                .iter()
                .map(HeaderValue::as_bytes),
        );
        let trace_id = parent.as_ref().map_or_else(TraceId::random, |p| p.trace_id);
        let sampled = self.settings.sampler.sampled(trace_id, parent.as_ref());
        let (parent, state) = match parent {
            Some(p) => (Some(p.span_id), p.state),
            None => (None, None),
        };
        RequestTrace {
            tracing: self.clone(),
            hex: trace_id.hex(),
            trace_id,
            span_id: SpanId::random(),
            parent,
            sampled,
            state,
            start_ns: now_ns(),
            spans: Vec::new(),
            request_model: None,
            input: None,
            output: None,
        }
    }
}

/// One request's trace: its ids, whether it is recorded, and its finished
/// child spans.
#[derive(Debug)]
pub struct RequestTrace {
    pub tracing: Arc<Tracing>,
    pub trace_id: TraceId,
    /// The trace id as 32 hex digits (the response header, the access log
    /// and the ledger show it).
    pub hex: String,
    /// The request's own span.
    pub span_id: SpanId,
    /// The client's span, when it sent a `traceparent`.
    pub parent: Option<SpanId>,
    pub sampled: bool,
    pub state: Option<Arc<str>>,
    pub start_ns: u64,
    /// Finished spans under the request's (attempts, the stream).
    pub spans: Vec<Span>,
    /// The model the client asked for.
    pub request_model: Option<String>,
    /// The prompt and the completion, capped, where the route captures
    /// content.
    pub input: Option<String>,
    pub output: Option<String>,
}

impl RequestTrace {
    /// What an attempt needs to make its own span.
    pub fn for_attempts(&self) -> AttemptTrace {
        AttemptTrace {
            trace_id: self.trace_id,
            parent: self.span_id,
            sampled: self.sampled,
            state: self.state.clone(),
        }
    }

    /// The most prompt or completion text a span holds.
    pub fn content_limit(&self) -> usize {
        self.tracing.settings.content_limit
    }

    /// Ends the request's span (`name`, `attrs`, `status`, ending now)
    /// and hands it, with its children, to the exporter: nothing when the
    /// trace is not sampled.
    pub fn finish(self, name: Cow<'static, str>, attrs: Vec<Attr>, status: Status) {
        if !self.sampled {
            return;
        }
        let mut spans = self.spans;
        spans.push(Span {
            trace_id: self.trace_id,
            span_id: self.span_id,
            parent: self.parent,
            remote_parent: self.parent.is_some(),
            trace_state: self.state,
            name,
            kind: Kind::Server,
            start_ns: self.start_ns,
            end_ns: now_ns(),
            attrs,
            events: Vec::new(),
            status,
        });
        self.tracing.exporter.send(spans);
    }
}

/// The part of a request's trace its attempts share (they may run two at
/// once, when hedged).
#[derive(Debug, Clone)]
pub struct AttemptTrace {
    pub trace_id: TraceId,
    /// The request's span: every attempt's parent.
    pub parent: SpanId,
    pub sampled: bool,
    pub state: Option<Arc<str>>,
}

impl AttemptTrace {
    /// `traceparent` for a request sent as span `span`.
    pub fn traceparent(&self, span: SpanId) -> HeaderValue {
        context::traceparent(self.trace_id, span, self.sampled)
    }

    /// A finished child span of the request (or of `parent`).
    #[allow(clippy::too_many_arguments)]
    pub fn span(
        &self,
        span_id: SpanId,
        parent: Option<SpanId>,
        name: Cow<'static, str>,
        kind: Kind,
        start_ns: u64,
        end_ns: u64,
        attrs: Vec<Attr>,
        status: Status,
    ) -> Span {
        Span {
            trace_id: self.trace_id,
            span_id,
            parent: Some(parent.unwrap_or(self.parent)),
            remote_parent: false,
            trace_state: self.state.clone(),
            name,
            kind,
            start_ns,
            end_ns,
            attrs,
            events: Vec::new(),
            status,
        }
    }
}

/// Now, in nanoseconds since the Unix epoch.
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// `text` cut to at most `limit` bytes, at a character boundary, marked
/// with `…` when cut.
pub fn capped(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_string();
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// Spans still queued go out, within `timeout` (at shutdown).
pub fn flush_all(timeout: Duration) {
    export::flush_all(timeout);
}
