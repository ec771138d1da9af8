//! Per-request state: one [`RequestCtx`] follows a request from the first
//! byte to the access log line.

use std::time::{Duration, Instant};

use crate::metrics::metrics;
pub use crate::provider::Usage;
use crate::request::{Dialect, Endpoint};
use crate::trace::RequestTrace;

/// Counts a request as in flight for as long as it lives.
#[derive(Debug)]
pub struct InFlight;

impl InFlight {
    fn enter() -> Self {
        metrics().in_flight.inc();
        Self
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        metrics().in_flight.dec();
    }
}

/// What the gateway knows about one request.
#[derive(Debug)]
pub struct RequestCtx {
    pub started: Instant,
    pub request_id: String,
    pub config_version: String,
    pub endpoint: &'static str,
    /// The client's API format (errors are written in it too).
    pub dialect: crate::request::Dialect,
    pub route: Option<String>,
    /// The route's ranking strategy.
    pub strategy: Option<&'static str>,
    pub provider: Option<String>,
    /// Model label: the upstream model of the target that answered.
    pub model: Option<String>,
    pub status: u16,
    /// `provider:outcome` per attempt, in order.
    pub attempts: Vec<String>,
    pub stream: bool,
    pub ttft: Option<Duration>,
    pub usage: Option<Usage>,
    /// The request's cost in USD, from usage and the model's prices.
    pub cost: Option<f64>,
    /// A short reason when the request failed (also for streams cut short).
    pub error: Option<&'static str>,
    /// The client's virtual key (its name), when auth is on.
    pub key: Option<String>,
    /// `hit`, `miss` or `coalesced` when the route caches.
    pub cache: Option<&'static str>,
    /// Headers every response to this request carries (rate-limit state).
    pub extra_headers: Vec<(&'static str, String)>,
    /// The longest one write to the client may stay blocked
    /// (`server.send_timeout` of the request's config).
    pub send_timeout: Duration,
    /// A Responses API request's turn (its id, echo and answer).
    pub turn: Option<Box<super::conversation::Turn>>,
    /// The request's trace, when tracing is on.
    pub trace: Option<Box<RequestTrace>>,
    /// Events read from the provider's stream.
    pub stream_events: u64,
    /// The guardrail that blocked the request or its answer.
    pub guardrail: Option<String>,
    _in_flight: Option<InFlight>,
}

impl RequestCtx {
    /// A fresh context; counts as in flight until dropped.
    pub fn new() -> Self {
        Self {
            started: Instant::now(),
            request_id: String::new(),
            config_version: String::new(),
            endpoint: "",
            dialect: Dialect::OpenAi,
            route: None,
            strategy: None,
            provider: None,
            model: None,
            status: 0,
            attempts: Vec::new(),
            stream: false,
            ttft: None,
            usage: None,
            cost: None,
            error: None,
            key: None,
            cache: None,
            extra_headers: Vec::new(),
            send_timeout: Duration::from_secs(30),
            turn: None,
            trace: None,
            stream_events: 0,
            guardrail: None,
            _in_flight: Some(InFlight::enter()),
        }
    }

    /// A model request for `endpoint`, from a client speaking `dialect`.
    pub fn begin(&mut self, endpoint: Endpoint, dialect: Dialect) {
        self.endpoint = match dialect {
            Dialect::OpenAi => endpoint.name(),
            Dialect::Anthropic => "messages",
            Dialect::Responses => "responses",
        };
        self.dialect = dialect;
    }

    /// The client closed its connection before its answer (499, as nginx).
    pub fn client_closed(&mut self) {
        self.error = Some("client_closed");
        self.status = 499;
    }

    /// `x-switchyard-attempts`: each attempt's provider and outcome.
    pub fn attempts_header(&self) -> String {
        self.attempts.join(",")
    }
}

impl Default for RequestCtx {
    fn default() -> Self {
        Self::new()
    }
}
