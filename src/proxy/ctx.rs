//! Per-request state: one [`RequestCtx`] follows a request from the first
//! byte to the access log line.

use std::time::{Duration, Instant};

use crate::metrics::metrics;

/// Token counts reported by a provider (OpenAI's names).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt: u64,
    pub completion: u64,
    pub cached: u64,
}

impl Usage {
    /// Reads an OpenAI-format `usage` object.
    pub fn from_json(v: &serde_json::Value) -> Option<Self> {
        let obj = v.as_object()?;
        let n = |k: &str| obj.get(k).and_then(serde_json::Value::as_u64);
        Some(Self {
            prompt: n("prompt_tokens")?,
            completion: n("completion_tokens").unwrap_or(0),
            // `get` chains, not `pointer`: this runs per request and per
            // stream chunk, and `pointer` unescapes its path each time.
            cached: obj
                .get("prompt_tokens_details")
                .and_then(|d| d.get("cached_tokens"))
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0),
        })
    }
}

impl Usage {
    /// What these tokens cost at `model`'s prices (USD), when the config
    /// has input and output prices; cached input at its own price, else
    /// at the input price.
    pub fn cost(&self, model: &crate::provider::ModelInfo) -> Option<f64> {
        let input = model.input_per_mtok?;
        let output = model.output_per_mtok?;
        let cached_price = model.cached_input_per_mtok.unwrap_or(input);
        let cached = self.cached.min(self.prompt);
        let fresh = self.prompt - cached;
        Some(
            (fresh as f64 * input + cached as f64 * cached_price + self.completion as f64 * output)
                / 1e6,
        )
    }
}

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
    pub dialect: super::request::Dialect,
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
            dialect: super::request::Dialect::OpenAi,
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
            _in_flight: Some(InFlight::enter()),
        }
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
