//! The policy sections of `routes.yaml` — `auth:`, `state:`, `ledger:`,
//! `cache:`, `admin:`, `budget:` at the top, `limits:` and `budget:` of
//! providers and routes and `cache:` of routes — from raw YAML to
//! validated values. Kept apart from
//! `validate.rs`, which is about reaching providers; this is about who may
//! reach them, how often, and what is remembered.

pub use crate::limits::Limits;
pub use crate::routing::{CacheWhen, Fallback, RouteCache, SemanticCache};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use wildmatch::WildMatch;

use super::raw::{OneOrMany, Scalar};
use super::values;

// ---------------------------------------------------------------- raw ----

/// `auth:` — virtual keys clients authenticate with.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuth {
    /// Default true when the section is present; `false` serves anyone.
    pub enabled: Option<bool>,
    #[serde(default)]
    pub keys: Vec<RawKey>,
}

/// One virtual key (`switchyard key new` prints one).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKey {
    pub name: String,
    /// `sha256:<hex>` of the key; the key itself is never stored.
    pub key_hash: String,
    /// False: the key is known but refused with 403.
    pub enabled: Option<bool>,
    /// Route names (globs) the key may use; default all.
    pub routes: Option<OneOrMany>,
    /// Upstream model names (globs) the key may use; default all.
    pub models: Option<OneOrMany>,
    /// Requests per minute.
    pub rpm: Option<u64>,
    /// Tokens (prompt + completion) per minute.
    pub tpm: Option<u64>,
    pub budget: Option<RawBudget>,
    /// Free-form labels (team, owner…), shown in the admin API.
    #[serde(default)]
    pub metadata: BTreeMap<String, serde_yaml::Value>,
}

/// `budget:` of the gateway (at the top), a route, a provider or a key, in
/// USD per UTC day and month.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBudget {
    pub daily: Option<f64>,
    pub monthly: Option<f64>,
    /// Soft thresholds: `50%` or `0.5`; each fires once per period.
    #[serde(default)]
    pub alerts: Vec<Scalar>,
    /// A route's: past `at`, only targets under a price ceiling serve.
    pub degrade: Option<RawDegrade>,
    /// The top-level budget's: where alerts are POSTed.
    pub webhook: Option<RawWebhook>,
}

/// `degrade:` of a route's budget.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDegrade {
    /// `80%` or `0.8` of the day's or month's budget.
    pub at: Scalar,
    /// USD per million input tokens.
    pub max_input_price: Option<f64>,
    /// USD per million output tokens.
    pub max_output_price: Option<f64>,
}

/// `budget.webhook:` — budget alerts POSTed as signed JSON.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebhook {
    pub url: String,
    /// HMAC-SHA256 key of the `x-switchyard-signature` header; usually
    /// `${SWITCHYARD_WEBHOOK_SECRET}`.
    pub secret: Option<String>,
    /// Per POST (default 5s).
    pub timeout: Option<Scalar>,
    /// Tries in all (default 5).
    pub attempts: Option<u32>,
    /// First wait between tries, doubled each time (default 1s).
    pub backoff: Option<Scalar>,
}

/// `limits:` of a provider or a route.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
}

/// `cache:` of a route: `true`, or the details.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawRouteCache {
    Switch(bool),
    Details(RawRouteCacheDetails),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRouteCacheDetails {
    pub enabled: Option<bool>,
    /// How long an answer is served from cache (default 1h).
    pub ttl: Option<Scalar>,
    /// `deterministic` (default: only `temperature: 0` requests, or with
    /// the opt-in header) or `always`.
    pub when: Option<String>,
    /// Share entries between keys (default false: each key its own).
    pub shared: Option<bool>,
    /// Identical concurrent requests make one upstream call (default true).
    pub coalesce: Option<bool>,
    /// How long past the TTL an entry still answers when every provider
    /// is down (default: not kept).
    pub serve_stale: Option<Scalar>,
    /// Match prompts by meaning too.
    pub semantic: Option<RawSemantic>,
}

/// `semantic:` of a route's cache.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSemantic {
    /// The embeddings model to ask, routed by this config.
    pub embeddings: Option<String>,
    /// Least cosine similarity of a match (default 0.95).
    pub threshold: Option<f64>,
    /// Shorter prompts are not embedded (default 12 characters).
    pub min_chars: Option<usize>,
    /// Longest wait for the embedding call (default 2s).
    pub timeout: Option<Scalar>,
    /// `dimensions` to ask of the embeddings model.
    pub dimensions: Option<u32>,
}

/// `fallback:` of a route: the answer when every provider is down.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFallback {
    pub message: String,
}

/// `state:` — where limits, spend and the L2 cache live: `redis://…`, or
/// the details.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawState {
    Url(String),
    Details(RawStateDetails),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStateDetails {
    /// `redis://host:port/db`; empty or absent: in memory (one node).
    pub redis: Option<String>,
    /// When Redis is unreachable: `open` (default: serve from local state)
    /// or `closed` (answer 503).
    pub on_error: Option<String>,
    /// Key prefix in Redis (default `switchyard:`).
    pub prefix: Option<String>,
}

/// `ledger:` — the durable usage record.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLedger {
    pub enabled: Option<bool>,
    /// `sqlite:<path>` (relative to the config file) or `postgres://…`.
    pub url: Option<String>,
    /// Longest time a finished request waits to be written (default 1s).
    pub flush_interval: Option<Scalar>,
}

/// `cache:` at the top: the response cache's shared settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCache {
    /// Size of the in-memory cache (default 64MiB).
    pub memory: Option<Scalar>,
    /// Size of the semantic cache's vectors and answers on each instance
    /// (default 64MiB).
    pub semantic_memory: Option<Scalar>,
}

/// `admin:` — the admin API's own listener.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdmin {
    pub listen: Option<String>,
    /// Bearer token for the admin API; usually `${SWITCHYARD_ADMIN_KEY}`.
    pub key: Option<String>,
    /// Bearer token that reads `/metrics` on the admin listener and nothing
    /// else (Prometheus's); usually `${SWITCHYARD_METRICS_TOKEN}`.
    pub metrics_token: Option<String>,
    /// Connections open at once on the admin listener; more are answered 503.
    pub max_connections: Option<usize>,
}

// ---------------------------------------------------------- validated ----

/// A client's virtual key.
#[derive(Debug)]
pub struct VirtualKey {
    pub name: String,
    pub hash: String,
    pub enabled: bool,
    pub routes: Vec<WildMatch>,
    pub models: Vec<WildMatch>,
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
    pub budget: crate::limits::Budget,
    pub metadata: BTreeMap<String, String>,
}

impl VirtualKey {
    /// Whether the key may use route `name`.
    pub fn allows_route(&self, name: &str) -> bool {
        self.routes.is_empty() || self.routes.iter().any(|p| p.matches(name))
    }

    /// Whether the key may use upstream model `model` (`provider/model`
    /// matches too).
    pub fn allows_model(&self, provider: &str, model: &str) -> bool {
        if self.models.is_empty() || self.models.iter().any(|p| p.matches(model)) {
            return true;
        }
        let qualified = format!("{provider}/{model}");
        self.models.iter().any(|p| p.matches(&qualified))
    }
}

/// Client authentication.
#[derive(Debug, Default)]
pub struct Auth {
    pub enabled: bool,
    /// Keys by their `sha256:` hash.
    pub by_hash: HashMap<String, Arc<VirtualKey>>,
    /// Keys in file order.
    pub keys: Vec<Arc<VirtualKey>>,
}

/// What the gateway does when the shared state store is unreachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    Open,
    Closed,
}

/// `state:`.
#[derive(Debug, Clone, PartialEq)]
pub struct StateSettings {
    /// `None`: in memory.
    pub redis: Option<String>,
    pub on_error: OnError,
    pub prefix: String,
}

/// `ledger:`.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerSettings {
    /// `None`: no ledger.
    pub url: Option<String>,
    pub flush_interval: Duration,
}

/// `admin:`.
#[derive(Debug, Clone, PartialEq)]
pub struct AdminSettings {
    pub listen: SocketAddr,
    pub key: crate::secrets::Secret,
    /// Reads `/metrics` only; the admin key reads it too.
    pub metrics_token: Option<crate::secrets::Secret>,
    /// Connections open at once on the admin listener.
    pub max_connections: usize,
}

/// The admin listener's default connection cap.
pub const ADMIN_MAX_CONNECTIONS: usize = 64;

/// Every top-level policy section, validated.
#[derive(Debug)]
pub struct Policy {
    pub auth: Auth,
    pub state: StateSettings,
    pub ledger: LedgerSettings,
    /// Bytes of the in-memory response cache.
    pub cache_memory: usize,
    /// Bytes of the semantic cache on this instance.
    pub semantic_memory: usize,
    pub admin: Option<AdminSettings>,
    /// OpenTelemetry tracing, when a collector is configured.
    pub tracing: Option<Arc<crate::trace::Tracing>>,
    /// What the whole gateway may spend.
    pub budget: crate::limits::Budget,
    /// Where budget alerts are POSTed.
    pub webhook: Option<WebhookSettings>,
}

/// `budget.webhook:` validated.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookSettings {
    /// Where events are POSTed: an `http://` or `https://` URL.
    pub url: String,
    /// The HMAC key of the signature header; no header without one.
    pub secret: Option<crate::secrets::Secret>,
    /// The longest one POST may take (default 5 s).
    pub timeout: Duration,
    /// Tries of one event in all, the first included (default 5).
    pub attempts: u32,
    /// The wait before the first retry, doubled for each next one (default 1 s).
    pub backoff: Duration,
}

impl WebhookSettings {
    /// The defaults for `url`: no secret, 5 s per POST, 5 tries, 1 s backoff.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            secret: None,
            timeout: Duration::from_secs(5),
            attempts: 5,
            backoff: Duration::from_secs(1),
        }
    }
}

/// The default ledger file, beside the config.
pub const DEFAULT_LEDGER: &str = "sqlite:switchyard-usage.db";

/// The raw top-level policy sections.
#[derive(Debug, Default)]
pub struct RawPolicy {
    pub auth: Option<RawAuth>,
    pub state: Option<RawState>,
    pub ledger: Option<RawLedger>,
    pub cache: Option<RawCache>,
    pub admin: Option<RawAdmin>,
    pub tracing: Option<super::tracing::RawTracing>,
    pub budget: Option<RawBudget>,
}

/// Where problems go: `(path, message)`, and warnings.
pub trait Report {
    fn issue(&mut self, path: &str, message: String);
    fn warn(&mut self, message: String);
}

/// Expands `${VAR}` in a policy value; `None` when it expands to nothing.
pub(super) fn expand(at: &str, text: &str, r: &mut dyn Report) -> Option<String> {
    match values::interpolate(text, |k| std::env::var(k).ok()) {
        Ok(v) if v.trim().is_empty() => None,
        Ok(v) => Some(v.trim().to_string()),
        Err(values::Interpolation::Unset(name)) => {
            r.issue(
                at,
                format!(
                    "environment variable `{name}` is not set (use `${{{name}:-}}` to allow that)"
                ),
            );
            None
        }
        Err(values::Interpolation::Malformed(_)) => {
            r.issue(at, "`${` without its closing `}`".to_string());
            None
        }
    }
}

/// Validates the top-level policy sections.
pub fn policy(raw: RawPolicy, r: &mut dyn Report) -> Policy {
    let auth = auth(raw.auth, r);
    let state = match raw.state {
        None => StateSettings {
            redis: None,
            on_error: OnError::Open,
            prefix: "switchyard:".into(),
        },
        Some(RawState::Url(u)) => StateSettings {
            redis: redis_url("state", &u, r),
            on_error: OnError::Open,
            prefix: "switchyard:".into(),
        },
        Some(RawState::Details(d)) => {
            let on_error = match d.on_error.as_deref() {
                None | Some("open") => OnError::Open,
                Some("closed") => OnError::Closed,
                Some(other) => {
                    r.issue(
                        "state.on_error",
                        format!("unknown value `{other}` (expected open or closed)"),
                    );
                    OnError::Open
                }
            };
            StateSettings {
                redis: d
                    .redis
                    .as_deref()
                    .and_then(|u| redis_url("state.redis", u, r)),
                on_error,
                prefix: d.prefix.unwrap_or_else(|| "switchyard:".into()),
            }
        }
    };
    let ledger = ledger(raw.ledger, r);
    let (mut cache_memory, mut semantic_memory) = (64 << 20, 64 << 20);
    let raw_cache = raw.cache.unwrap_or_default();
    for (at, v, out) in [
        ("cache.memory", raw_cache.memory, &mut cache_memory),
        (
            "cache.semantic_memory",
            raw_cache.semantic_memory,
            &mut semantic_memory,
        ),
    ] {
        if let Some(v) = v {
            match values::size(&v) {
                Ok(n) => *out = n,
                Err(e) => r.issue(at, e),
            }
        }
    }
    let admin = raw.admin.and_then(|a| admin(a, r));
    let env = |k: &str| std::env::var(k).ok();
    let tracing = super::tracing::tracing(raw.tracing, &env, r)
        .map(|t| Arc::new(crate::trace::Tracing::new(t)));
    let raw_budget = raw.budget.unwrap_or_default();
    let webhook = raw_budget
        .webhook
        .as_ref()
        .and_then(|w| webhook("budget.webhook", w, r));
    let budget = budget("budget", &raw_budget, Scope::Gateway, r);
    Policy {
        auth,
        state,
        ledger,
        cache_memory,
        semantic_memory,
        admin,
        tracing,
        budget,
        webhook,
    }
}

fn redis_url(at: &str, text: &str, r: &mut dyn Report) -> Option<String> {
    let url = expand(at, text, r)?;
    if url.starts_with("redis://") || url.starts_with("rediss://") {
        Some(url)
    } else {
        r.issue(at, "expected a `redis://host:port` URL".to_string());
        None
    }
}

fn ledger(raw: Option<RawLedger>, r: &mut dyn Report) -> LedgerSettings {
    let raw = raw.unwrap_or_default();
    let mut flush_interval = Duration::from_secs(1);
    if let Some(v) = &raw.flush_interval {
        match values::duration(v) {
            Ok(d) if d.is_zero() => r.issue("ledger.flush_interval", "must be more than 0".into()),
            Ok(d) => flush_interval = d,
            Err(e) => r.issue("ledger.flush_interval", e),
        }
    }
    let url = if raw.enabled == Some(false) {
        None
    } else {
        let text = raw.url.as_deref().unwrap_or(DEFAULT_LEDGER);
        let url = expand("ledger.url", text, r).unwrap_or_else(|| DEFAULT_LEDGER.to_string());
        let known = url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://")
            || !url.contains("://");
        if !known {
            r.issue(
                "ledger.url",
                "expected `sqlite:<path>` or `postgres://user@host/db`".into(),
            );
        }

        Some(url)
    };
    LedgerSettings {
        url,
        flush_interval,
    }
}

fn admin(raw: RawAdmin, r: &mut dyn Report) -> Option<AdminSettings> {
    let text = raw.listen.as_deref().unwrap_or("127.0.0.1:8081");
    let Ok(listen) = text.parse::<SocketAddr>() else {
        r.issue(
            "admin.listen",
            format!("`{text}` is not an address such as 127.0.0.1:8081"),
        );
        return None;
    };
    let Some(text) = raw.key.as_deref() else {
        r.issue(
            "admin",
            "the admin API needs `key:` (e.g. `${SWITCHYARD_ADMIN_KEY}`)".into(),
        );
        return None;
    };
    let max_connections = match raw.max_connections {
        Some(0) => {
            r.issue("admin.max_connections", "must be at least 1".into());
            ADMIN_MAX_CONNECTIONS
        }
        Some(n) => n,
        None => ADMIN_MAX_CONNECTIONS,
    };
    let metrics_token = raw
        .metrics_token
        .as_deref()
        .and_then(|t| expand("admin.metrics_token", t, r));
    if metrics_token.as_ref().is_some_and(|t| t.len() < 16) {
        r.issue(
            "admin.metrics_token",
            "the metrics token must be at least 16 characters".into(),
        );
    }
    match expand("admin.key", text, r) {
        Some(k) if metrics_token.as_deref() == Some(k.as_str()) => {
            r.issue(
                "admin.metrics_token",
                "must differ from the admin key: it is meant to read metrics only".into(),
            );
            None
        }
        Some(k) if k.len() >= 16 => Some(AdminSettings {
            listen,
            key: crate::secrets::Secret::new(k),
            metrics_token: metrics_token.map(crate::secrets::Secret::new),
            max_connections,
        }),
        Some(_) => {
            r.issue(
                "admin.key",
                "the admin key must be at least 16 characters".into(),
            );
            None
        }
        None => {
            r.warn("the admin API is off: `admin.key` is empty".into());
            None
        }
    }
}

fn auth(raw: Option<RawAuth>, r: &mut dyn Report) -> Auth {
    let Some(raw) = raw else {
        return Auth::default();
    };
    let mut out = Auth {
        enabled: raw.enabled.unwrap_or(true),
        ..Auth::default()
    };
    let mut names = std::collections::HashSet::new();
    for (i, k) in raw.keys.into_iter().enumerate() {
        let at = format!("auth.keys[{i}]");
        if !names.insert(k.name.clone()) {
            r.issue(
                &format!("{at}.name"),
                format!("duplicate key name `{}`", k.name),
            );
        }
        let hash = k.key_hash.trim().to_ascii_lowercase();
        let hex = hash.strip_prefix("sha256:").unwrap_or("");
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            r.issue(
                &format!("{at}.key_hash"),
                "expected `sha256:` and 64 hex digits (`switchyard key new` prints it)".into(),
            );
            continue;
        }
        for (field, v) in [("rpm", k.rpm), ("tpm", k.tpm)] {
            if v == Some(0) {
                r.issue(&format!("{at}.{field}"), "must be at least 1".into());
            }
        }
        let budget = budget(
            &format!("{at}.budget"),
            &k.budget.unwrap_or_default(),
            Scope::Key,
            r,
        );
        let globs = |v: Option<OneOrMany>| -> Vec<WildMatch> {
            v.map(|v| v.to_vec())
                .unwrap_or_default()
                .iter()
                .map(|p| WildMatch::new(p))
                .collect()
        };
        let metadata = k
            .metadata
            .into_iter()
            .map(|(name, v)| {
                let text = match v {
                    serde_yaml::Value::String(s) => s,
                    other => serde_yaml::to_string(&other)
                        .unwrap_or_default()
                        .trim()
                        .to_string(),
                };
                (name, text)
            })
            .collect();
        let key = Arc::new(VirtualKey {
            name: k.name,
            hash: hash.clone(),
            enabled: k.enabled.unwrap_or(true),
            routes: globs(k.routes),
            models: globs(k.models),
            rpm: k.rpm,
            tpm: k.tpm,
            budget,
            metadata,
        });
        if out.by_hash.insert(hash, key.clone()).is_some() {
            r.issue(
                &format!("{at}.key_hash"),
                "two keys have the same hash".into(),
            );
        }
        out.keys.push(key);
    }
    if out.enabled && out.keys.is_empty() {
        r.issue(
            "auth",
            "auth is enabled but no keys are defined (add keys with `switchyard key new`, or set `enabled: false`)"
                .into(),
        );
    }
    out
}

/// `limits:` of a provider or a route.
pub fn limits(at: &str, raw: Option<&RawLimits>, r: &mut dyn Report) -> Limits {
    let Some(raw) = raw else {
        return Limits::default();
    };
    for (field, v) in [("rpm", raw.rpm), ("tpm", raw.tpm)] {
        if v == Some(0) {
            r.issue(&format!("{at}.{field}"), "must be at least 1".into());
        }
    }
    Limits {
        rpm: raw.rpm.filter(|n| *n > 0),
        tpm: raw.tpm.filter(|n| *n > 0),
    }
}

/// `cache:` of a route.
pub fn route_cache(
    at: &str,
    raw: Option<&RawRouteCache>,
    r: &mut dyn Report,
) -> Option<RouteCache> {
    let details = match raw? {
        RawRouteCache::Switch(false) => return None,
        RawRouteCache::Switch(true) => &RawRouteCacheDetails::default(),
        RawRouteCache::Details(d) if d.enabled == Some(false) => return None,
        RawRouteCache::Details(d) => d,
    };
    let mut ttl = Duration::from_secs(3600);
    if let Some(v) = &details.ttl {
        match values::duration(v) {
            Ok(d) if d.is_zero() => r.issue(&format!("{at}.ttl"), "must be more than 0".into()),
            Ok(d) => ttl = d,
            Err(e) => r.issue(&format!("{at}.ttl"), e),
        }
    }
    let when = match details.when.as_deref() {
        None | Some("deterministic") => CacheWhen::Deterministic,
        Some("always") => CacheWhen::Always,
        Some(other) => {
            r.issue(
                &format!("{at}.when"),
                format!("unknown value `{other}` (expected deterministic or always)"),
            );
            CacheWhen::Deterministic
        }
    };
    let mut serve_stale = Duration::ZERO;
    if let Some(v) = &details.serve_stale {
        match values::duration(v) {
            Ok(d) => serve_stale = d,
            Err(e) => r.issue(&format!("{at}.serve_stale"), e),
        }
    }
    let semantic = details
        .semantic
        .as_ref()
        .and_then(|s| semantic(&format!("{at}.semantic"), s, r));
    Some(RouteCache {
        ttl,
        when,
        shared: details.shared.unwrap_or(false),
        coalesce: details.coalesce.unwrap_or(true),
        serve_stale,
        semantic,
    })
}

/// `semantic:` of a route's cache. Whether `embeddings` names a routed
/// model is checked once every route is known.
fn semantic(at: &str, raw: &RawSemantic, r: &mut dyn Report) -> Option<SemanticCache> {
    let Some(embeddings) = raw.embeddings.as_deref().map(str::trim) else {
        r.issue(
            &format!("{at}.embeddings"),
            "a semantic cache needs `embeddings: <model>` (a model of an embeddings route)".into(),
        );
        return None;
    };
    if embeddings.is_empty() {
        r.issue(&format!("{at}.embeddings"), "must not be empty".into());
        return None;
    }
    let threshold = raw.threshold.unwrap_or(0.95);
    if !(threshold > 0.0 && threshold <= 1.0) {
        r.issue(
            &format!("{at}.threshold"),
            format!("must be more than 0 and at most 1 (a cosine similarity), not {threshold}"),
        );
        return None;
    }
    let mut timeout = Duration::from_secs(2);
    if let Some(v) = &raw.timeout {
        match values::duration(v) {
            Ok(d) if d.is_zero() => r.issue(&format!("{at}.timeout"), "must be more than 0".into()),
            Ok(d) => timeout = d,
            Err(e) => r.issue(&format!("{at}.timeout"), e),
        }
    }
    if raw.dimensions == Some(0) {
        r.issue(&format!("{at}.dimensions"), "must be at least 1".into());
    }
    Some(SemanticCache {
        embeddings: embeddings.to_string(),
        threshold: threshold as f32,
        min_chars: raw.min_chars.unwrap_or(12),
        timeout,
        dimensions: raw.dimensions.filter(|d| *d > 0),
    })
}

/// `fallback:` of a route.
pub fn fallback(at: &str, raw: &RawFallback, r: &mut dyn Report) -> Option<Fallback> {
    let message = raw.message.trim();
    if message.is_empty() {
        r.issue(&format!("{at}.message"), "must not be empty".into());
        return None;
    }
    Some(Fallback {
        message: message.to_string(),
    })
}

/// Which kind of scope a `budget:` belongs to: only a route's may degrade,
/// only the gateway's has a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Gateway,
    Route,
    Provider,
    Key,
}

impl Scope {
    /// As metrics, logs and alerts name it.
    pub fn label(self) -> &'static str {
        match self {
            Scope::Gateway => "gateway",
            Scope::Route => "route",
            Scope::Provider => "provider",
            Scope::Key => "key",
        }
    }
}

/// A `budget:` at `at`.
pub fn budget(
    at: &str,
    raw: &RawBudget,
    scope: Scope,
    r: &mut dyn Report,
) -> crate::limits::Budget {
    for (field, v) in [("daily", raw.daily), ("monthly", raw.monthly)] {
        if v.is_some_and(|x| !x.is_finite() || x < 0.0) {
            r.issue(
                &format!("{at}.{field}"),
                "must be a non-negative amount in USD".into(),
            );
        }
    }
    let mut alerts = Vec::new();
    for (i, a) in raw.alerts.iter().enumerate() {
        match fraction(a) {
            Ok(f) => alerts.push(f),
            Err(e) => r.issue(&format!("{at}.alerts[{i}]"), e),
        }
    }
    alerts.sort_by(f64::total_cmp);
    alerts.dedup();
    let periods = raw.daily.is_some() || raw.monthly.is_some();
    if !alerts.is_empty() && !periods {
        r.issue(
            &format!("{at}.alerts"),
            "alerts are fractions of a budget: give `daily:`, `monthly:` or both".into(),
        );
    }
    let degrade = raw.degrade.as_ref().and_then(|d| {
        if scope != Scope::Route {
            r.issue(
                &format!("{at}.degrade"),
                "only a route's budget may degrade (to cheaper targets)".into(),
            );
            return None;
        }
        if !periods {
            r.issue(
                &format!("{at}.degrade"),
                "degrade applies past a fraction of a budget: give `daily:`, `monthly:` or both".into(),
            );
        }
        let at_fraction = fraction(&d.at)
            .map_err(|e| r.issue(&format!("{at}.degrade.at"), e))
            .ok()?;
        for (field, v) in [
            ("max_input_price", d.max_input_price),
            ("max_output_price", d.max_output_price),
        ] {
            if v.is_some_and(|x| !x.is_finite() || x < 0.0) {
                r.issue(
                    &format!("{at}.degrade.{field}"),
                    "must be a non-negative price in USD per million tokens".into(),
                );
            }
        }
        if d.max_input_price.is_none() && d.max_output_price.is_none() {
            r.issue(
                &format!("{at}.degrade"),
                "give the ceiling: `max_input_price`, `max_output_price` or both (USD per million tokens)".into(),
            );
        }
        Some(crate::limits::Degrade {
            at: at_fraction,
            max_input_price: d.max_input_price,
            max_output_price: d.max_output_price,
        })
    });
    if raw.webhook.is_some() && scope != Scope::Gateway {
        r.issue(
            &format!("{at}.webhook"),
            "the webhook is set once, in the top-level `budget:`, for every scope's alerts".into(),
        );
    }
    crate::limits::Budget {
        daily: raw.daily,
        monthly: raw.monthly,
        alerts,
        degrade,
    }
}

/// `80%` or `0.8`: a fraction in (0, 1].
fn fraction(v: &Scalar) -> Result<f64, String> {
    let f = match v {
        Scalar::Int(n) => *n as f64,
        Scalar::Float(f) => *f,
        Scalar::Text(t) => match t.trim().strip_suffix('%') {
            Some(p) => p
                .trim()
                .parse::<f64>()
                .map(|p| p / 100.0)
                .map_err(|_| format!("`{t}` is not a percentage such as 80%"))?,
            None => t
                .trim()
                .parse::<f64>()
                .map_err(|_| format!("`{t}` is not a fraction such as 0.8 or 80%"))?,
        },
    };
    if f.is_finite() && f > 0.0 && f <= 1.0 {
        Ok(f)
    } else {
        Err("must be more than 0% and at most 100%".into())
    }
}

fn webhook(at: &str, raw: &RawWebhook, r: &mut dyn Report) -> Option<WebhookSettings> {
    let url = expand(&format!("{at}.url"), &raw.url, r)?;
    match url::Url::parse(&url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {}
        _ => {
            r.issue(
                &format!("{at}.url"),
                "expected an http:// or https:// URL".into(),
            );
            return None;
        }
    }
    let secret = raw
        .secret
        .as_deref()
        .and_then(|s| expand(&format!("{at}.secret"), s, r))
        .map(crate::secrets::Secret::new);
    let mut duration = |field: &str, v: &Option<Scalar>, default: Duration| match v {
        None => default,
        Some(v) => match values::duration(v) {
            Ok(d) if d.is_zero() => {
                r.issue(&format!("{at}.{field}"), "must be more than 0".into());
                default
            }
            Ok(d) => d,
            Err(e) => {
                r.issue(&format!("{at}.{field}"), e);
                default
            }
        },
    };
    let d = WebhookSettings::new(url);
    let timeout = duration("timeout", &raw.timeout, d.timeout);
    let backoff = duration("backoff", &raw.backoff, d.backoff);
    let attempts = match raw.attempts {
        Some(0) => {
            r.issue(&format!("{at}.attempts"), "must be at least 1".into());
            1
        }
        Some(n) => n,
        None => d.attempts,
    };
    Some(WebhookSettings {
        secret,
        timeout,
        attempts,
        backoff,
        ..d
    })
}
