//! Raw config → [`Config`]: parse units, expand `${VAR}` and decrypt
//! `enc:v1:` secrets (`expand.rs`), compile adapter scripts, check every
//! cross-reference. Collects every problem, each with the line it comes
//! from, before failing.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;
use sha2::{Digest, Sha256};

use super::catalog::Catalog;
use super::guardrails;
use super::load::{ConfigIssue, Source};
use super::policy::{self, Report};
use super::pricing::{self, Pricing};
use super::raw::{RawConfig, RawProvider, RawRoute, RawServer, RawTimeouts};
use super::values;
use super::{Config, Settings};
use crate::adapter::script::engine::{build_engine, ScriptLimits};
use crate::adapter::{Adapter, Capabilities};
use crate::provider::models::{Models, PriceList};
use crate::provider::scorer::Scorer;
use crate::provider::{Provider, CAPABILITIES, OPT_IN};
use crate::routing::strategy::{Strategy, Weights};
use crate::routing::{HedgeAfter, Route, RoutePolicy, RouteTable, Target};
use crate::secrets::Secret;
use crate::secrets::{MasterKey, SecretError};
use crate::upstream::{Timeouts, Upstream};
pub use adapters::shown;
use adapters::{AdapterProblem, Adapters};
use expand::Unresolved;
pub use upgrade::default_upgrade_sock;

/// Default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default adapter script directory, relative to the config file.
pub const DEFAULT_SCRIPTS: &str = "scripts/providers";

struct Ctx<'a> {
    source: &'a Source,
    issues: Vec<ConfigIssue>,
    warnings: Vec<String>,
    /// `SWITCHYARD_MASTER_KEY`, read at the first `enc:v1:` value.
    master: Option<Result<MasterKey, SecretError>>,
}

impl Ctx<'_> {
    fn issue(&mut self, path: &str, message: impl Into<String>) {
        let issue = self.source.issue(path, message);
        self.issues.push(issue);
    }
}

impl Report for Ctx<'_> {
    fn issue(&mut self, path: &str, message: String) {
        Ctx::issue(self, path, message);
    }

    fn warn(&mut self, message: String) {
        self.warnings.push(message);
    }
}

/// Validates `raw` (parsed from `source`) into a [`Config`] whose data
/// directory is the config's folder.
pub fn validate(raw: RawConfig, source: &Source) -> Result<Config, Vec<ConfigIssue>> {
    validate_in(raw, source, None)
}

/// Validates `raw` into a [`Config`] that writes in `data_dir` (default:
/// the config's folder): relative SQLite ledger and upgrade socket paths
/// are taken from there.
pub fn validate_in(
    raw: RawConfig,
    source: &Source,
    data_dir: Option<&Path>,
) -> Result<Config, Vec<ConfigIssue>> {
    let mut cx = Ctx {
        source,
        issues: Vec::new(),
        warnings: Vec::new(),
        master: None,
    };
    let listen_text = raw.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
    let listen = listen_text.parse::<SocketAddr>().unwrap_or_else(|_| {
        cx.issue(
            "listen",
            format!("`{listen_text}` is not an address such as 127.0.0.1:8080"),
        );
        SocketAddr::from(([127, 0, 0, 1], 8080))
    });
    let mut settings = settings(&raw.server, &mut cx);
    let policy = policy::policy(raw.policy, &mut cx);
    let base_dir = source
        .path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let data_dir = data_dir.map_or_else(|| base_dir.clone(), Path::to_path_buf);
    settings.upgrade_sock = upgrade::upgrade_sock(
        raw.server.upgrade_sock.as_deref(),
        listen,
        &data_dir,
        &mut cx,
    );
    let scripts_dir = base_dir.join(raw.scripts.as_deref().unwrap_or(DEFAULT_SCRIPTS));
    let mut engine = build_engine(&settings.script_limits);
    crate::guard::natives::register(&mut engine);
    let engine = Arc::new(engine);
    let mut adapters = Adapters::new(
        base_dir.clone(),
        scripts_dir,
        engine,
        settings.script_limits.clone(),
    );
    let catalog = Catalog::load(&adapters.dir).unwrap_or_else(|issues| {
        cx.issues.extend(issues);
        Catalog::default()
    });
    let pricing = Pricing::load(&adapters.dir).unwrap_or_else(|issues| {
        cx.issues.extend(issues);
        Pricing::default()
    });
    let mut providers = IndexMap::new();
    let mut broken = raw.broken_providers;
    for (name, p) in raw.providers {
        let p = match catalog.apply(p) {
            Ok(p) => p,
            Err(e) => {
                cx.issue(&format!("providers.{name}.preset"), e);
                broken.push(name);
                continue;
            }
        };
        match provider(&name, p, &mut adapters, &pricing.list, &mut cx) {
            Some(p) => drop(providers.insert(name, Arc::new(p))),
            None => broken.push(name),
        }
    }
    let mut scoring = Scoring {
        dir: adapters
            .dir
            .parent()
            .map(|p| p.join("scoring"))
            .unwrap_or_else(|| PathBuf::from("scripts/scoring")),
        engine: adapters.engine.clone(),
        timeout: adapters.limits.timeout,
        texts: Vec::new(),
        base: base_dir.clone(),
    };
    let mut guard_env = guardrails::Env {
        base: base_dir.clone(),
        dir: adapters
            .dir
            .parent()
            .map(|p| p.join("guardrails"))
            .unwrap_or_else(|| PathBuf::from("scripts/guardrails")),
        engine: adapters.engine.clone(),
        timeout: adapters.limits.timeout,
        providers: &providers,
        texts: Vec::new(),
    };
    let global = guardrails::guardrails("guardrails", raw.guardrails, &mut guard_env, &mut cx);
    let routes = routes(
        raw.routes,
        &providers,
        &broken,
        &mut scoring,
        &mut guard_env,
        &mut cx,
    );
    let routes = RouteTable::new(routes, providers.clone());
    semantic_targets(&routes, &mut cx);
    if !cx.issues.is_empty() {
        return Err(cx.issues);
    }
    scoring.texts.append(&mut guard_env.texts);
    let version = version(
        source,
        &adapters,
        &[&catalog.text, &pricing.text],
        &scoring.texts,
    );
    Ok(Config {
        path: source.path.clone(),
        data_dir,
        listen,
        settings,
        scripts_dir: adapters.dir.clone(),
        routes,
        providers,
        version,
        warnings: cx.warnings,
        catalog,
        policy,
        pricing,
        guardrails: global,
    })
}

fn settings(raw: &RawServer, cx: &mut Ctx) -> Settings {
    let mut s = Settings::default();
    if let Some(t) = raw.threads {
        if t == 0 {
            cx.issue("server.threads", "must be at least 1");
        } else {
            s.threads = t;
        }
    }
    if let Some(v) = &raw.max_body_size {
        match values::size(v) {
            Ok(0) => cx.issue("server.max_body_size", "must be more than 0"),
            Ok(n) => s.max_body_size = n,
            Err(e) => cx.issue("server.max_body_size", e),
        }
    }
    if let Some(v) = &raw.max_response_size {
        match values::size(v) {
            Ok(0) => cx.issue("server.max_response_size", "must be more than 0"),
            Ok(n) => s.max_response_size = n,
            Err(e) => cx.issue("server.max_response_size", e),
        }
    }
    let durations = [
        ("drain_timeout", &raw.drain_timeout, &mut s.drain_timeout),
        (
            "connect_timeout",
            &raw.connect_timeout,
            &mut s.connect_timeout,
        ),
        (
            "first_byte_timeout",
            &raw.first_byte_timeout,
            &mut s.first_byte_timeout,
        ),
        ("idle_timeout", &raw.idle_timeout, &mut s.idle_timeout),
        (
            "request_timeout",
            &raw.request_timeout,
            &mut s.request_timeout,
        ),
        ("stream_timeout", &raw.stream_timeout, &mut s.stream_timeout),
        ("header_timeout", &raw.header_timeout, &mut s.header_timeout),
        ("body_timeout", &raw.body_timeout, &mut s.body_timeout),
        ("send_timeout", &raw.send_timeout, &mut s.send_timeout),
        ("responses_ttl", &raw.responses_ttl, &mut s.responses_ttl),
    ];
    for (name, value, slot) in durations {
        if let Some(v) = value {
            match values::duration(v) {
                Ok(d) if d.is_zero() => cx.issue(&format!("server.{name}"), "must be more than 0"),
                Ok(d) => *slot = d,
                Err(e) => cx.issue(&format!("server.{name}"), e),
            }
        }
    }
    client_limits(raw, &mut s, cx);
    let limits = &raw.scripts;
    let mut l = ScriptLimits {
        max_string_size: s.max_body_size.saturating_mul(4).max(1 << 20),
        max_memory: s.max_body_size.saturating_mul(16).max(256 << 20),
        ..ScriptLimits::default()
    };
    if let Some(n) = limits.max_operations {
        l.max_operations = n;
    }
    if limits.native.is_some() {
        cx.warnings.push(
            "server.scripts.native is no longer used: the shipped formats are built in".into(),
        );
    }
    // Rhai takes 0 as "no limit", so 0 is refused rather than passed on.
    let counts = [
        (
            "max_call_depth",
            limits.max_call_depth,
            &mut l.max_call_depth,
        ),
        (
            "max_array_size",
            limits.max_array_size,
            &mut l.max_array_size,
        ),
        ("max_map_size", limits.max_map_size, &mut l.max_map_size),
    ];
    for (name, value, slot) in counts {
        match value {
            Some(0) => cx.issue(&format!("server.scripts.{name}"), "must be at least 1"),
            Some(n) => *slot = n,
            None => {}
        }
    }
    let sizes = [
        (
            "max_string_size",
            &limits.max_string_size,
            &mut l.max_string_size,
        ),
        ("max_memory", &limits.max_memory, &mut l.max_memory),
    ];
    for (name, value, slot) in sizes {
        if let Some(v) = value {
            match values::size(v) {
                Ok(0) => cx.issue(&format!("server.scripts.{name}"), "must be more than 0"),
                Ok(n) => *slot = n,
                Err(e) => cx.issue(&format!("server.scripts.{name}"), e),
            }
        }
    }
    if let Some(v) = &limits.timeout {
        match values::duration(v) {
            Ok(d) if d.is_zero() => cx.issue("server.scripts.timeout", "must be more than 0"),
            Ok(d) => l.timeout = d,
            Err(e) => cx.issue("server.scripts.timeout", e),
        }
    }
    s.script_limits = l;
    s
}

/// Pingora's own cap on a request head, which a larger setting could not lift.
const PINGORA_MAX_HEADER: usize = 1024 * 1024 - 1;

/// `server.max_header_size`, `max_connections` and `max_streams`.
fn client_limits(raw: &RawServer, s: &mut Settings, cx: &mut Ctx) {
    if let Some(v) = &raw.max_header_size {
        match values::size(v) {
            Ok(n) if n < 1024 => cx.issue("server.max_header_size", "must be at least 1KiB"),
            Ok(n) if n > PINGORA_MAX_HEADER => cx.issue(
                "server.max_header_size",
                "must be below 1MiB (the HTTP server's own limit)",
            ),
            Ok(n) => s.max_header_size = n,
            Err(e) => cx.issue("server.max_header_size", e),
        }
    }
    for (name, value, slot) in [
        (
            "max_connections",
            raw.max_connections,
            &mut s.max_connections,
        ),
        ("max_streams", raw.max_streams, &mut s.max_streams),
    ] {
        match value {
            Some(0) => cx.issue(&format!("server.{name}"), "must be at least 1"),
            Some(n) => *slot = n,
            None => {}
        }
    }
}

/// The adapter (and patch) a provider names; issues for what does not
/// resolve or compile.
fn adapter(
    provider: &str,
    name: &str,
    patch: Option<&str>,
    adapters: &mut Adapters,
    cx: &mut Ctx,
) -> Option<Adapter> {
    let at = |field: &str| format!("providers.{provider}.{field}");
    let base = adapters.base.clone();
    let report = |field: &str, problem: AdapterProblem, cx: &mut Ctx| match problem {
        AdapterProblem::Missing(message) => cx.issue(&at(field), message),
        AdapterProblem::Compile(e) => {
            cx.issues.push(ConfigIssue {
                file: base.join(&e.path),
                line: e.line,
                col: e.col,
                path: String::new(),
                message: e.message,
            });
            // Point at the provider too, so the user sees who named it.
            cx.issue(&at(field), format!("{field} `{name}` failed to compile"));
        }
    };
    if !valid_name(name) {
        cx.issue(
            &at("adapter"),
            "adapter names may use letters, digits, `-`, `_` and `.` only",
        );
        return None;
    }
    let (wire, origin) = match adapters.adapter(name) {
        Ok(found) => found,
        Err(problem) => {
            report("adapter", problem, cx);
            return None;
        }
    };
    let patch = match patch {
        None => None,
        Some(p) if !valid_name(p) => {
            cx.issue(
                &at("patch"),
                "patch names may use letters, digits, `-`, `_` and `.` only",
            );
            return None;
        }
        Some(p) => match adapters.patch(p) {
            Ok(patch) => Some(patch),
            Err(problem) => {
                report("patch", problem, cx);
                return None;
            }
        },
    };
    Some(Adapter::new(wire, origin, patch))
}

fn provider(
    name: &str,
    p: RawProvider,
    adapters: &mut Adapters,
    prices: &Arc<PriceList>,
    cx: &mut Ctx,
) -> Option<Provider> {
    let at = |field: &str| format!("providers.{name}.{field}");
    if !valid_name(name) {
        cx.issue(
            &format!("providers.{name}"),
            "provider names may use letters, digits, `-`, `_` and `.` only",
        );
    }
    let (Some(adapter_name), Some(base_url)) = (p.adapter.clone(), p.base_url.clone()) else {
        let missing = if p.adapter.is_none() {
            "adapter"
        } else {
            "base_url"
        };
        cx.issue(
            &format!("providers.{name}"),
            format!("missing `{missing}` (or a `preset` from the provider catalog that sets it)"),
        );
        return None;
    };
    let mut disabled = (p.enabled == Some(false)).then(|| "enabled: false".to_string());
    let cloud = cloud::cloud(name, &adapter_name, &p, cx);
    if let Some(reason) = &cloud.disabled {
        disabled.get_or_insert(reason.clone());
    }
    let mut fill = |field: &str, value: Result<String, Unresolved>, cx: &mut Ctx| match value {
        Ok(v) => Some(v),
        Err(Unresolved::Unset(var)) => {
            disabled.get_or_insert(format!("environment variable {var} is not set ({field})"));
            None
        }
        Err(Unresolved::Invalid(message)) => {
            cx.issue(&at(field), message);
            None
        }
    };
    let url = cx.expand(&base_url).map(|u| match &cloud.region {
        Some(region) => crate::cloud::fill_region(&u, region),
        None => u,
    });
    let base_url = fill("base_url", url, cx);
    if base_url.as_deref().is_some_and(|u| u.contains("{region}")) {
        cx.issue(
            &at("base_url"),
            "`{region}` needs a region: set aws.region or gcp.region",
        );
    }
    let api_key = match p.api_key.as_deref() {
        Some(k) => {
            let key = cx.expand_secret(k);
            fill("api_key", key, cx)
        }
        None => None,
    }
    .filter(|k| !k.is_empty())
    .map(Secret::new);
    let mut headers = Vec::new();
    for (k, v) in &p.headers {
        if http::HeaderName::from_bytes(k.as_bytes()).is_err() {
            cx.issue(&at(&format!("headers.{k}")), "invalid header name");
        }
        let value = cx.expand_secret(v);
        if let Some(v) = fill(&format!("headers.{k}"), value, cx) {
            headers.push((k.to_ascii_lowercase(), v));
        }
    }
    let upstream = match base_url.as_deref().map(Upstream::parse) {
        Some(Ok(u)) => Some(u),
        Some(Err(e)) => {
            cx.issue(&at("base_url"), e);
            None
        }
        // Unset variable in the URL: the provider is disabled; keep a placeholder.
        None => Upstream::parse("http://127.0.0.1:9").ok(),
    };
    let adapter = adapter(name, &adapter_name, p.patch.as_deref(), adapters, cx);
    let mut options = match p.options.as_ref().map(serde_json::to_value) {
        None | Some(Ok(serde_json::Value::Null)) => serde_json::Map::new(),
        Some(Ok(serde_json::Value::Object(m))) => m,
        Some(_) => {
            cx.issue(&at("options"), "options must be a mapping");
            serde_json::Map::new()
        }
    };
    for (k, v) in &cloud.options {
        options
            .entry(k.to_string())
            .or_insert_with(|| serde_json::Value::String(v.clone()));
    }
    if let Some(a) = &adapter {
        if let Err(e) = a.check_options(&options) {
            cx.issue(&at("options"), e);
        }
    }
    let options = Arc::new(options);
    let models = Models::new(models(name, &p.models, cx), prices.clone());
    let capabilities = capabilities(name, adapter.as_ref(), &p.capabilities, cx);
    let defaults = backends::Defaults {
        base_url: base_url.as_deref(),
        api_key: api_key.as_ref(),
        adapter: adapter.as_ref(),
        options: &options,
    };
    let backends = backends::backends(name, &p, &defaults, cx);
    if let Some(reason) = &disabled {
        cx.warnings
            .push(format!("provider `{name}` is disabled: {reason}"));
    }
    Some(Provider {
        name: name.to_string(),
        adapter: Arc::new(adapter?),
        upstream: upstream?,
        api_key,
        headers,
        models,
        options,
        disabled,
        capabilities,
        backends: backends.balancer,
        backend_list: backends.list,
        hash_key: backends.hash_key,
        health: backends.health,
        limits: policy::limits(&format!("providers.{name}.limits"), p.limits.as_ref(), cx),
        budget: p.budget.as_ref().map_or_else(Default::default, |b| {
            let at = format!("providers.{name}.budget");
            policy::budget(&at, b, policy::Scope::Provider, cx)
        }),
        plans: Default::default(),
        auth: cloud.auth,
        quota: quota::rules(name, p.quota.as_ref(), cx),
        timeouts: timeouts(
            &format!("providers.{name}.timeouts"),
            p.timeouts.as_ref(),
            cx,
        ),
    })
}

/// `timeouts:` of a provider or route.
fn timeouts(at: &str, raw: Option<&RawTimeouts>, cx: &mut Ctx) -> Timeouts {
    let Some(raw) = raw else {
        return Timeouts::default();
    };
    let mut one = |name: &str, v: &Option<super::raw::Scalar>| {
        let v = v.as_ref()?;
        match values::duration(v) {
            Ok(d) if d.is_zero() => {
                cx.issue(&format!("{at}.{name}"), "must be more than 0");
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                cx.issue(&format!("{at}.{name}"), e);
                None
            }
        }
    };
    Timeouts {
        connect: one("connect", &raw.connect),
        first_byte: one("first_byte", &raw.first_byte),
        idle: one("idle", &raw.idle),
        total: one("total", &raw.total),
        stream: one("stream", &raw.stream),
    }
}

/// A duration field that must be more than 0.
fn positive(at: &str, v: &super::raw::Scalar, cx: &mut Ctx) -> Option<Duration> {
    match values::duration(v) {
        Ok(d) if d.is_zero() => {
            cx.issue(at, "must be more than 0");
            None
        }
        Ok(d) => Some(d),
        Err(e) => {
            cx.issue(at, e);
            None
        }
    }
}

/// `hedge:` of a route: a delay, or `pNN` with a fallback delay.
fn hedge_after(at: &str, h: &super::raw::RawHedge, cx: &mut Ctx) -> Option<HedgeAfter> {
    let percentile = match &h.after {
        super::raw::Scalar::Text(t) => t
            .trim()
            .strip_prefix('p')
            .and_then(|n| n.parse::<f64>().ok()),
        _ => None,
    };
    match percentile {
        Some(p) if p > 0.0 && p < 100.0 => {
            let fallback = match &h.fallback {
                Some(v) => positive(&format!("{at}.fallback"), v, cx)?,
                None => Duration::from_secs(2),
            };
            Some(HedgeAfter::Percentile { p, fallback })
        }
        Some(_) => {
            cx.issue(
                &format!("{at}.after"),
                "a percentile must be between p1 and p99",
            );
            None
        }
        None => positive(&format!("{at}.after"), &h.after, cx).map(HedgeAfter::Fixed),
    }
}

/// `timeouts:`, `retry:`, `hedge:` and `wait_for_cooldown:` of route `at`.
fn route_policy(at: &str, r: &RawRoute, cx: &mut Ctx) -> RoutePolicy {
    let mut policy = RoutePolicy {
        timeouts: timeouts(&format!("{at}.timeouts"), r.timeouts.as_ref(), cx),
        passthrough: r.passthrough,
        capture_content: r.capture_content,
        ..RoutePolicy::default()
    };
    if let Some(retry) = &r.retry {
        match retry.max_attempts {
            Some(0) => cx.issue(&format!("{at}.retry.max_attempts"), "must be at least 1"),
            Some(n) => policy.max_attempts = n,
            None => {}
        }
        if let Some(v) = &retry.backoff {
            match values::duration(v) {
                Ok(d) => policy.backoff = d,
                Err(e) => cx.issue(&format!("{at}.retry.backoff"), e),
            }
        }
        if let Some(d) = retry
            .max_backoff
            .as_ref()
            .and_then(|v| positive(&format!("{at}.retry.max_backoff"), v, cx))
        {
            policy.max_backoff = d;
        }
    }
    if let Some(h) = &r.hedge {
        policy.hedge_after = hedge_after(&format!("{at}.hedge"), h, cx);
    }
    if let Some(s) = &r.strategy {
        let w = r.weights.as_ref();
        let weights = Weights {
            cost: w.and_then(|w| w.cost).unwrap_or(1.0),
            latency: w.and_then(|w| w.latency).unwrap_or(1.0),
            quality: w.and_then(|w| w.quality).unwrap_or(1.0),
            headroom: w.and_then(|w| w.headroom).unwrap_or(0.0),
        };
        if [
            weights.cost,
            weights.latency,
            weights.quality,
            weights.headroom,
        ]
        .iter()
        .any(|x| !x.is_finite() || *x < 0.0)
        {
            cx.issue(
                &format!("{at}.weights"),
                "weights must be non-negative numbers",
            );
        }
        match Strategy::parse(s, weights) {
            Ok(st) => {
                policy.strategy = st;
                if matches!(st, Strategy::Latency | Strategy::Hybrid(_)) {
                    policy.explore = 0.02;
                }
            }
            Err(e) => cx.issue(&format!("{at}.strategy"), e),
        }
    } else if r.weights.is_some() {
        cx.issue(
            &format!("{at}.weights"),
            "weights apply to `strategy: hybrid` only",
        );
    }
    match r.explore {
        Some(x) if !(0.0..=1.0).contains(&x) => {
            cx.issue(&format!("{at}.explore"), "must be between 0 and 1")
        }
        Some(x) => policy.explore = x,
        None => {}
    }
    if let Some(n) = r.expected_output_tokens {
        policy.expected_output_tokens = n;
    }
    if let Some(d) = r
        .latency_memory
        .as_ref()
        .and_then(|v| positive(&format!("{at}.latency_memory"), v, cx))
    {
        policy.latency_memory = d;
    }
    if let Some(v) = &r.wait_for_cooldown {
        policy.wait_for_cooldown = positive(&format!("{at}.wait_for_cooldown"), v, cx);
    }
    policy
}

/// The adapter's declared capabilities, overridden by the entry's.
fn capabilities(
    provider: &str,
    adapter: Option<&Adapter>,
    own: &IndexMap<String, bool>,
    cx: &mut Ctx,
) -> Capabilities {
    let mut caps = adapter.map(Adapter::capabilities).unwrap_or_default();
    for (k, v) in own {
        if !CAPABILITIES.contains(&k.as_str()) {
            cx.issue(
                &format!("providers.{provider}.capabilities.{k}"),
                format!(
                    "unknown capability `{k}` (known: {})",
                    CAPABILITIES.join(", ")
                ),
            );
        }
        let openai_format = adapter.is_none_or(|a| a.name() == "openai");
        if *v && OPT_IN.contains(&k.as_str()) && !openai_format {
            cx.issue(
                &format!("providers.{provider}.capabilities.{k}"),
                format!(
                    "`{k}` is served by OpenAI-format providers only (adapter: openai), not by adapter `{}`",
                    adapter.map_or("", Adapter::name)
                ),
            );
        }
        caps.insert(k.clone(), *v);
    }
    caps
}

/// A provider's listed models (gaps are filled from the pricing catalog by
/// [`Models::new`]).
fn models(
    provider: &str,
    raw: &IndexMap<String, Option<super::raw::RawModel>>,
    cx: &mut Ctx,
) -> IndexMap<String, crate::provider::ModelInfo> {
    let mut out = IndexMap::new();
    for (model, m) in raw {
        let m = m.clone().unwrap_or_default();
        let at = format!("providers.{provider}.models.{model}");
        let prices = [m.input_per_mtok, m.output_per_mtok, m.cached_input_per_mtok];
        if prices.iter().flatten().any(|p| !p.is_finite() || *p < 0.0) {
            cx.issue(
                &at,
                "prices must be non-negative numbers (USD per million tokens)",
            );
        }
        if m.quality.is_some_and(|q| !(0.0..=1.0).contains(&q)) {
            cx.issue(&format!("{at}.quality"), "quality must be between 0 and 1");
        }
        out.insert(model.clone(), pricing::info(m));
    }
    out
}

/// Scoring scripts compiled for `strategy: script` routes.
struct Scoring {
    dir: PathBuf,
    engine: Arc<rhai::Engine>,
    timeout: Duration,
    /// Name and text of every script compiled (part of the version).
    texts: Vec<(String, String)>,
    /// The config's folder: script paths are shown relative to it.
    base: PathBuf,
}

impl Scoring {
    fn compile(&mut self, at: &str, name: &str, cx: &mut Ctx) -> Option<Arc<Scorer>> {
        if !valid_name(name) {
            cx.issue(
                at,
                "script names may use letters, digits, `-`, `_` and `.` only",
            );
            return None;
        }
        let path = self.dir.join(format!("{name}.rhai"));
        let shown = shown(&path, &self.base);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                cx.issue(
                    at,
                    format!("cannot read scoring script {}: {e}", shown.display()),
                );
                return None;
            }
        };
        match Scorer::compile(name, &shown, &text, self.engine.clone(), self.timeout) {
            Ok(s) => {
                self.texts.push((name.to_string(), text));
                Some(Arc::new(s))
            }
            Err(e) => {
                cx.issue(at, e.to_string());
                None
            }
        }
    }
}

fn routes(
    raw: Vec<RawRoute>,
    providers: &IndexMap<String, Arc<Provider>>,
    broken: &[String],
    scoring: &mut Scoring,
    guard_env: &mut guardrails::Env<'_>,
    cx: &mut Ctx,
) -> Vec<Route> {
    let mut names = HashSet::new();
    let mut out = Vec::new();
    for (i, mut r) in raw.into_iter().enumerate() {
        let at = format!("routes[{i}]");
        let patterns = r.matcher.model.to_vec();
        if patterns.is_empty() || patterns.iter().any(|p| p.trim().is_empty()) {
            cx.issue(
                &format!("{at}.match.model"),
                "model patterns must be non-empty",
            );
            continue;
        }
        let mut policy = route_policy(&at, &r, cx);
        policy.cache = policy::route_cache(&format!("{at}.cache"), r.cache.as_ref(), cx);
        policy.limits = policy::limits(&format!("{at}.limits"), r.limits.as_ref(), cx);
        if let Some(f) = &r.fallback {
            policy.fallback = policy::fallback(&format!("{at}.fallback"), f, cx);
        }
        if let Some(b) = &r.budget {
            policy.budget = policy::budget(&format!("{at}.budget"), b, policy::Scope::Route, cx);
        }
        policy.guardrails = guardrails::guardrails(
            &format!("{at}.guardrails"),
            std::mem::take(&mut r.guardrails),
            guard_env,
            cx,
        );
        match (&policy.strategy, &r.script) {
            (Strategy::Script, Some(name)) => {
                policy.scorer = scoring.compile(&format!("{at}.script"), name, cx);
            }
            (Strategy::Script, None) => cx.issue(
                &format!("{at}.strategy"),
                "`strategy: script` needs `script: <name>` (scripts/scoring/<name>.rhai)",
            ),
            (_, Some(_)) => cx.issue(
                &format!("{at}.script"),
                "`script` applies to `strategy: script` only",
            ),
            _ => {}
        }
        let name = r.name.unwrap_or_else(|| patterns[0].clone());
        if !names.insert(name.clone()) {
            cx.issue(
                &format!("{at}.name"),
                format!("duplicate route name `{name}`"),
            );
        }
        if r.targets.is_empty() {
            cx.issue(
                &format!("{at}.targets"),
                "a route needs at least one target",
            );
        }
        let mut targets = Vec::new();
        for (j, t) in r.targets.into_iter().enumerate() {
            match providers.get(&t.provider) {
                Some(p) => targets.push(Target {
                    provider: p.clone(),
                    configured: t.model.is_some(),
                    model: t.model,
                }),
                // Its own problem was reported already.
                None if broken.contains(&t.provider) => {}
                None => cx.issue(
                    &format!("{at}.targets[{j}].provider"),
                    format!(
                        "unknown provider `{}` (defined: {})",
                        t.provider,
                        providers.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                ),
            }
        }
        out.push(Route {
            name,
            patterns,
            targets,
            policy,
        });
    }
    out
}

/// Each semantic cache's `embeddings` model is routed, to another route.
fn semantic_targets(routes: &RouteTable, cx: &mut Ctx) {
    for (i, route) in routes.routes().iter().enumerate() {
        let Some(s) = route
            .policy
            .cache
            .as_ref()
            .and_then(|c| c.semantic.as_ref())
        else {
            continue;
        };
        let at = format!("routes[{i}].cache.semantic.embeddings");
        match routes.resolve(&s.embeddings) {
            None => cx.issue(&at, format!("no route serves the model `{}`", s.embeddings)),
            Some(r) if r.name == route.name => cx.issue(
                &at,
                format!(
                    "`{}` is served by this same route: name an embeddings route",
                    s.embeddings
                ),
            ),
            Some(_) => {}
        }
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A short hash of the config text, the shipped data files (provider and
/// pricing catalogs) and every script it compiled.
fn version(
    source: &Source,
    adapters: &Adapters,
    data: &[&str],
    scoring: &[(String, String)],
) -> String {
    let mut h = Sha256::new();
    for (name, text) in scoring {
        h.update(name.as_bytes());
        h.update([0]);
        h.update(text.as_bytes());
    }
    h.update(source.text.as_bytes());
    for text in data {
        h.update([0]);
        h.update(text.as_bytes());
    }
    for (name, text) in adapters.texts() {
        h.update(name.as_bytes());
        h.update([0]);
        h.update(text.as_bytes());
    }
    h.finalize()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

mod adapters;
mod backends;
mod cloud;
mod expand;
mod quota;
#[cfg(test)]
mod tests;
mod upgrade;
