//! From the `model` a client sends to a [`Route`]: its ordered targets.
//!
//! Resolution order: the routes of routes.yaml in file order (exact names
//! through a hash map, globs such as `gpt-*` in order), then
//! `provider/model`, then a bare model listed under a provider's `models:`.

pub mod strategy;
pub mod tokens;

use std::collections::HashMap;
use std::sync::Arc;

use indexmap::IndexMap;
use wildmatch::WildMatch;

use std::time::Duration;

use crate::provider::Provider;
use crate::upstream::Timeouts;

/// When a route's answers may come from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheWhen {
    /// `temperature: 0` requests, or with `x-switchyard-cache: use`.
    Deterministic,
    Always,
}

/// A route's response cache.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteCache {
    pub ttl: Duration,
    pub when: CacheWhen,
    pub shared: bool,
    pub coalesce: bool,
    /// How long past its TTL an entry is kept to answer when every
    /// provider is down (`x-switchyard-cache: stale`); zero: not kept.
    pub serve_stale: Duration,
    /// Answers also matched by meaning (none: exact matches only).
    pub semantic: Option<SemanticCache>,
}

/// A route's semantic cache: prompts are embedded through another route
/// of the same config, and a prompt near enough to a cached one gets its
/// answer.
#[derive(Debug, Clone, PartialEq)]
pub struct SemanticCache {
    /// The model the embeddings are asked for: one this config routes.
    pub embeddings: String,
    /// Least cosine similarity of a match, in (0, 1].
    pub threshold: f32,
    /// Prompts shorter than this (in characters) are not embedded: too
    /// little text to match by meaning safely.
    pub min_chars: usize,
    /// Longest wait for the embedding call; past it the request goes on
    /// without the semantic cache.
    pub timeout: Duration,
    /// `dimensions` asked of the embeddings model (OpenAI's
    /// text-embedding-3 shorten their vectors on request): smaller
    /// vectors, less memory and a faster search.
    pub dimensions: Option<u32>,
}

/// What a route answers when every provider is down and no stale answer
/// is at hand: a fixed, clearly marked message (opt-in).
#[derive(Debug, Clone, PartialEq)]
pub struct Fallback {
    pub message: String,
}

/// A provider and the model to ask it for.
#[derive(Debug, Clone)]
pub struct Target {
    pub provider: Arc<Provider>,
    /// `None`: the model the client sent.
    pub model: Option<String>,
    /// The model name comes from the config (routes.yaml or the provider's
    /// `models:`), not from the client: safe as a metric label.
    pub configured: bool,
}

impl Target {
    /// The model name to send upstream for a client's `requested` model.
    pub fn model_for<'a>(&'a self, requested: &'a str) -> &'a str {
        self.model.as_deref().unwrap_or(requested)
    }
}

/// A named list of candidate targets, tried in order.
#[derive(Debug)]
pub struct Route {
    pub name: String,
    pub patterns: Vec<String>,
    pub targets: Vec<Target>,
    pub policy: RoutePolicy,
}

/// How a route tries its targets.
#[derive(Debug, Clone)]
pub struct RoutePolicy {
    /// Over the providers' and the server's.
    pub timeouts: Timeouts,
    /// Most attempts for one request, across targets.
    pub max_attempts: u32,
    /// First backoff between attempts; doubles up to `max_backoff`, jittered.
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// Try the next target too when the first has not answered by then.
    pub hedge_after: Option<HedgeAfter>,
    /// When every target is cooling down, wait up to this long for one.
    pub wait_for_cooldown: Option<Duration>,
    /// How the targets are ranked per request.
    pub strategy: strategy::Strategy,
    /// Share of requests that try the runner-up first.
    pub explore: f64,
    /// Output tokens assumed for cost when the request has no `max_tokens`.
    pub expected_output_tokens: u64,
    /// How long a latency observation counts.
    pub latency_memory: Duration,
    /// The scoring script of `strategy: script`.
    pub scorer: Option<std::sync::Arc<crate::provider::scorer::Scorer>>,
    /// Response cache and coalescing; `None`: off.
    pub cache: Option<RouteCache>,
    /// Requests and tokens per minute for the whole route.
    pub limits: crate::limits::Limits,
    /// Requests ranked so far: where `round-robin` starts the next one.
    pub rotation: Arc<std::sync::atomic::AtomicUsize>,
    /// Unknown `/v1/...` paths naming this route's models are passed
    /// through to its targets.
    pub passthrough: bool,
    /// Trace spans hold the prompt and completion text.
    pub capture_content: bool,
    /// The route's own guardrails, run after the global ones.
    pub guardrails: crate::guard::Guardrails,
    /// What the route may spend (empty: no budget).
    pub budget: crate::limits::Budget,
    /// The answer when every provider is down (none: the error).
    pub fallback: Option<Fallback>,
}

/// When a hedged request sends its second attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HedgeAfter {
    /// A fixed delay.
    Fixed(Duration),
    /// The first backend's observed percentile of time to first byte;
    /// `fallback` until it has enough samples.
    Percentile { p: f64, fallback: Duration },
}

impl Default for RoutePolicy {
    fn default() -> Self {
        Self {
            timeouts: Timeouts::default(),
            max_attempts: 8,
            backoff: Duration::from_millis(20),
            max_backoff: Duration::from_secs(1),
            hedge_after: None,
            wait_for_cooldown: None,
            strategy: strategy::Strategy::Ordered,
            explore: 0.0,
            expected_output_tokens: 512,
            latency_memory: Duration::from_secs(300),
            scorer: None,
            cache: None,
            limits: Default::default(),
            rotation: Arc::default(),
            passthrough: false,
            capture_content: false,
            guardrails: Default::default(),
            budget: Default::default(),
            fallback: None,
        }
    }
}

/// A model the gateway serves, for `GET /v1/models`.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelEntry {
    pub id: String,
    pub owned_by: String,
}

/// Every route of a config snapshot, indexed for lookup.
#[derive(Debug, Default)]
pub struct RouteTable {
    routes: Vec<Arc<Route>>,
    exact: HashMap<String, usize>,
    globs: Vec<(usize, WildMatch)>,
    providers: IndexMap<String, Arc<Provider>>,
    /// `provider/model` and bare names of models listed under providers.
    listed: HashMap<String, Arc<Route>>,
}

fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?'])
}

impl RouteTable {
    /// Indexes `routes` (file order) and the providers' listed models.
    pub fn new(routes: Vec<Route>, providers: IndexMap<String, Arc<Provider>>) -> Self {
        let routes: Vec<Arc<Route>> = routes.into_iter().map(Arc::new).collect();
        let mut exact = HashMap::new();
        let mut globs = Vec::new();
        for (i, route) in routes.iter().enumerate() {
            for p in &route.patterns {
                if is_glob(p) {
                    globs.push((i, WildMatch::new(p)));
                } else {
                    exact.entry(p.clone()).or_insert(i);
                }
            }
        }
        let mut listed = HashMap::new();
        for provider in providers.values().filter(|p| p.is_enabled()) {
            for model in provider.models.keys() {
                let route = Arc::new(direct_route(provider, model));
                listed.entry(model.clone()).or_insert_with(|| route.clone());
                listed.insert(route.name.clone(), route);
            }
        }
        Self {
            routes,
            exact,
            globs,
            providers,
            listed,
        }
    }

    /// The route serving `model`, if any.
    pub fn resolve(&self, model: &str) -> Option<Arc<Route>> {
        let exact = self.exact.get(model).copied();
        let glob = self
            .globs
            .iter()
            .take_while(|(i, _)| exact.is_none_or(|e| *i < e))
            .find(|(_, m)| m.matches(model))
            .map(|(i, _)| *i);
        if let Some(i) = glob.or(exact) {
            return self.routes.get(i).cloned();
        }
        if let Some(route) = self.listed.get(model) {
            return Some(route.clone());
        }
        let (provider, upstream_model) = model.split_once('/')?;
        let provider = self.providers.get(provider)?;
        (!upstream_model.is_empty()).then(|| Arc::new(direct_route(provider, upstream_model)))
    }

    /// The configured routes, in file order.
    pub fn routes(&self) -> &[Arc<Route>] {
        &self.routes
    }

    /// Names clients may send: exact route names, then listed provider models.
    pub fn models(&self) -> Vec<ModelEntry> {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for route in &self.routes {
            if !route.targets.iter().any(|t| t.provider.is_enabled()) {
                continue;
            }
            for p in route.patterns.iter().filter(|p| !is_glob(p)) {
                if seen.insert(p.clone()) {
                    out.push(ModelEntry {
                        id: p.clone(),
                        owned_by: "switchyard".to_string(),
                    });
                }
            }
        }
        for provider in self.providers.values().filter(|p| p.is_enabled()) {
            for model in provider.models.keys() {
                if seen.insert(model.clone()) {
                    out.push(ModelEntry {
                        id: model.clone(),
                        owned_by: provider.name.clone(),
                    });
                }
            }
        }
        out
    }
}

fn direct_route(provider: &Arc<Provider>, model: &str) -> Route {
    let configured = provider.models.contains_key(model);
    Route {
        name: if configured {
            format!("{}/{}", provider.name, model)
        } else {
            format!("{}/*", provider.name)
        },
        patterns: Vec::new(),
        policy: RoutePolicy::default(),
        targets: vec![Target {
            provider: provider.clone(),
            model: Some(model.to_string()),
            configured,
        }],
    }
}
