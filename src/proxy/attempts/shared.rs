//! What every attempt of one request shares: the client's request and its
//! hub body (behind a lock: a hedged request runs two attempts at once),
//! the deadline, the estimated demand, and the checks that rule a target
//! out before anything is sent.

#![allow(clippy::result_large_err)]

use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use rhai::{Dynamic, Map};
use serde_json::Value;

use super::errors::describe;
use super::outcome::{Failure, Outcome};
use crate::config::policy::VirtualKey;
use crate::config::Config;
use crate::error::GatewayError;
use crate::policy::budget::Gate;
use crate::provider::Provider;
use crate::request::{ClientRequest, Endpoint};
use crate::routing::strategy::{Components, Demand};
use crate::routing::{Route, RoutePolicy, Target};
use crate::state::StateStore;
use crate::trace::span::Span;
use crate::trace::AttemptTrace;
use crate::upstream::backend::Backend;
use crate::upstream::balance::Strategy;
use crate::upstream::Timeouts;
use pingora::connectors::http::Connector;
use pingora::http::RequestHeader;

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
    pub(super) encoding_format: Option<String>,
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
    /// The request's trace, for the attempts' spans (none: not traced).
    pub trace: Option<AttemptTrace>,
    /// The attempts' finished spans, when the trace is sampled.
    pub spans: Mutex<Vec<Span>>,
    /// Attempts begun so far (traced requests only): an attempt's index.
    pub(super) attempts_begun: AtomicUsize,
    /// What budgets rule out: providers over theirs, targets above a
    /// degraded route's price ceiling.
    pub gate: Gate,
    /// The guardrails answers pass: the global ones, then the route's.
    pub guards: crate::guard::Guardrails,
}

/// A target's backend to try.
#[derive(Clone)]
pub struct Candidate<'t> {
    pub target: &'t Target,
    pub backend: Arc<Backend>,
}

impl<'a> Shared<'a> {
    /// What the attempts of `req` on `route` share; `head` is the
    /// client's request head (its headers are kept only when a target's
    /// balancer hashes them).
    pub fn new(
        cfg: &'a Config,
        connector: &'a Connector,
        mut req: ClientRequest,
        route: &'a Route,
        started: Instant,
        head: &RequestHeader,
    ) -> Self {
        let policy = &route.policy;
        let hashes = route
            .targets
            .iter()
            .any(|t| t.provider.backends.strategy() == Strategy::ConsistentHash);
        let headers = if hashes {
            head.headers.clone()
        } else {
            http::HeaderMap::new()
        };
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
            trace: None,
            spans: Mutex::new(Vec::new()),
            attempts_begun: AtomicUsize::new(0),
            gate: Gate::default(),
            guards: cfg.guardrails.chain(&policy.guardrails),
        }
    }

    /// The attempts make spans of `trace` and send it on to providers.
    pub fn traced(mut self, trace: Option<AttemptTrace>) -> Self {
        self.trace = trace;
        self
    }

    /// The attempts' finished spans.
    pub fn take_spans(&self) -> Vec<Span> {
        std::mem::take(&mut *self.spans.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Only targets `key` allows are tried, and providers' rate limits are
    /// counted in `store`.
    pub fn for_key(mut self, key: Option<Arc<VirtualKey>>, store: &StateStore) -> Self {
        self.key = key;
        self.store = Some(store.clone());
        self
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
        m.insert("headroom".into(), opt(c.headroom));
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

    /// Why budgets rule `target` out, if they do.
    fn over_budget(&self, target: &Target) -> Option<GatewayError> {
        let provider = &target.provider;
        if self.gate.over.contains(&provider.name) {
            return Some(GatewayError::QuotaExceeded(format!(
                "The provider `{}` has used its budget; it is not tried until the period resets (UTC).",
                provider.name
            )));
        }
        let d = self.gate.degrade.as_ref()?;
        let model = target.model_for(&self.req.model);
        let info = provider.models.get(model);
        let price = |p: Option<f64>| p.map_or("unknown".to_string(), |p| format!("${p}"));
        let above = |ceiling: Option<f64>, price: Option<f64>| match (ceiling, price) {
            (None, _) => false,
            (Some(c), Some(p)) => p > c,
            (Some(_), None) => true,
        };
        let input = info.and_then(|i| i.input_per_mtok);
        let output = info.and_then(|i| i.output_per_mtok);
        let c = d.ceiling;
        if !above(c.max_input_price, input) && !above(c.max_output_price, output) {
            return None;
        }
        Some(GatewayError::QuotaExceeded(format!(
            "The route `{}` is past {}% of its {} budget: only targets at or under {}/{} per million input/output tokens serve, and `{model}` costs {}/{}.",
            d.route,
            (c.at * 100.0).round(),
            d.period,
            price(c.max_input_price),
            price(c.max_output_price),
            price(input),
            price(output),
        )))
    }

    /// Why `target` cannot be tried at all (disabled, lacks a capability).
    pub fn precheck(&self, target: &Target) -> Result<(), Failure> {
        let provider = &target.provider;
        let fail =
            |outcome: Outcome, error: GatewayError| Failure::new(&provider.name, outcome, error);
        if let Some(reason) = &provider.disabled {
            let e = GatewayError::NoUsableProvider(format!(
                "provider `{}` is disabled: {reason}",
                provider.name
            ));
            return Err(fail(Outcome::Disabled, e));
        }
        if let Some(key) = &self.key {
            let model = target.model_for(&self.req.model);
            if !key.allows_model(&provider.name, model) {
                let e = GatewayError::Forbidden {
                    message: format!("the API key `{}` may not use `{model}`", key.name),
                    code: "model_not_allowed",
                };
                return Err(fail(Outcome::NotAllowed, e));
            }
        }
        if let Some(e) = self.over_budget(target) {
            return Err(fail(Outcome::OverBudget, e));
        }
        if !self.req.endpoint.translated() && provider.adapter.name() != "openai" {
            let e = GatewayError::Unsupported(format!(
                "provider `{}` does not serve {} (only OpenAI-format providers do)",
                provider.name,
                describe(self.req.endpoint.capability())
            ));
            return Err(fail(Outcome::Unsupported, e));
        }
        if let Some(missing) = self.needs.iter().find(|n| !provider.supports(n)) {
            let e = GatewayError::Unsupported(format!(
                "provider `{}` does not support {}",
                provider.name,
                describe(missing)
            ));
            return Err(fail(Outcome::Unsupported, e));
        }
        Ok(())
    }
}
