//! A provider's `backends:`, `balance:`, `hash_key:`, `health_check:` and
//! `circuit_breaker:` → its balancer of [`Backend`]s.

use std::sync::Arc;
use std::time::Duration;

use super::expand::Unresolved;
use super::Ctx;
use crate::adapter::{Adapter, Ctx as HookCtx};
use crate::config::raw::{RawBackend, RawBreaker, RawHealthCheck, RawProvider};
use crate::config::values;
use crate::secrets::Secret;
use crate::upstream::backend::{backend_id, balancer_for, breaker_for, latency_for, Backend};
use crate::upstream::balance::{Balancer, Member, Strategy};
use crate::upstream::breaker::BreakerConfig;
use crate::upstream::hash_key::HashKey;
use crate::upstream::health::{HealthConfig, ProbeKind};
use crate::upstream::Upstream;

/// What a provider's backend configuration validated into.
pub struct Backends {
    pub balancer: Arc<Balancer<Backend>>,
    /// The same backends, in configured order.
    pub list: Vec<Arc<Backend>>,
    pub hash_key: HashKey,
    pub health: Option<HealthConfig>,
}

/// The provider-level defaults a backend inherits.
pub struct Defaults<'a> {
    pub base_url: Option<&'a str>,
    pub api_key: Option<&'a Secret>,
    pub adapter: Option<&'a Adapter>,
    pub options: &'a Arc<serde_json::Map<String, serde_json::Value>>,
}

/// Validates the backend settings of provider `name`.
pub fn backends(name: &str, p: &RawProvider, d: &Defaults, cx: &mut Ctx) -> Backends {
    let at = |f: &str| format!("providers.{name}.{f}");
    let strategy = match p.balance.as_deref().map(strategy) {
        None => Strategy::Weighted,
        Some(Ok(s)) => s,
        Some(Err(e)) => {
            cx.issue(&at("balance"), e);
            Strategy::Weighted
        }
    };
    let hash_key = match p.hash_key.as_deref().map(HashKey::parse) {
        None => HashKey::default(),
        Some(Ok(k)) => k,
        Some(Err(e)) => {
            cx.issue(&at("hash_key"), e);
            HashKey::default()
        }
    };
    let health = p
        .health_check
        .as_ref()
        .map(|h| health(&at("health_check"), h, cx));
    let breaker = breaker(&at("circuit_breaker"), p.circuit_breaker.as_ref(), cx);
    let raw: Vec<RawBackend> = if p.backends.is_empty() {
        vec![RawBackend {
            name: None,
            base_url: None,
            api_key: None,
            weight: None,
        }]
    } else {
        p.backends.clone()
    };
    let several = raw.len() > 1;
    let mut members = Vec::new();
    for (i, b) in raw.iter().enumerate() {
        let bat = format!("providers.{name}.backends[{i}]");
        let label = match (&b.name, several) {
            (Some(n), _) => format!("{name}/{n}"),
            (None, true) => format!("{name}/{i}"),
            (None, false) => name.to_string(),
        };
        if let Some(member) = member(name, &label, b, &bat, d, &breaker, health.is_some(), cx) {
            members.push(member);
        }
    }
    let list = members.iter().map(|m| m.value.clone()).collect();
    Backends {
        list,
        balancer: balancer_for(name, strategy, members),
        hash_key,
        health,
    }
}

#[allow(clippy::too_many_arguments)]
fn member(
    provider: &str,
    label: &str,
    b: &RawBackend,
    at: &str,
    d: &Defaults,
    breaker: &BreakerConfig,
    probed: bool,
    cx: &mut Ctx,
) -> Option<Member<Backend>> {
    let fill = |field: &str, value: Result<String, Unresolved>, cx: &mut Ctx| match value {
        Ok(v) => Some(v),
        Err(Unresolved::Unset(var)) => {
            cx.warnings.push(format!(
                "backend `{label}` left out: environment variable {var} is not set ({field})"
            ));
            None
        }
        Err(Unresolved::Invalid(message)) => {
            cx.issue(&format!("{at}.{field}"), message);
            None
        }
    };
    let base_url = match &b.base_url {
        Some(u) => {
            let url = cx.expand(u);
            fill("base_url", url, cx)?
        }
        None => d.base_url?.to_string(),
    };
    let api_key = match &b.api_key {
        Some(k) => {
            let key = cx.expand_secret(k);
            Some(Secret::new(fill("api_key", key, cx)?)).filter(|k| !k.expose().is_empty())
        }
        None => d.api_key.cloned(),
    };
    let upstream = match Upstream::parse(&base_url) {
        Ok(u) => u,
        Err(e) => {
            cx.issue(&format!("{at}.base_url"), e);
            return None;
        }
    };
    let weight = b.weight.unwrap_or(1);
    if weight == 0 {
        cx.issue(&format!("{at}.weight"), "must be at least 1");
    }
    let name = label.rsplit('/').next().unwrap_or(label);
    let id = backend_id(
        provider,
        name,
        &base_url,
        api_key.as_ref().map(Secret::expose),
    );
    let probe_headers = if probed {
        probe_headers(provider, d, api_key.as_ref())
    } else {
        Vec::new()
    };
    Some(Member {
        id: id.clone(),
        weight: weight.max(1),
        value: Arc::new(Backend {
            id: id.clone(),
            label: label.to_string(),
            upstream,
            api_key,
            weight,
            breaker: breaker_for(&id, breaker),
            probe_headers,
            first_byte: Default::default(),
            latency: latency_for(&id),
            quota: crate::upstream::quota::quota_for(&id),
        }),
    })
}

/// The adapter's auth headers, for health probes.
fn probe_headers(provider: &str, d: &Defaults, key: Option<&Secret>) -> Vec<(String, String)> {
    let Some(adapter) = d.adapter else {
        return Vec::new();
    };
    let ctx = HookCtx {
        endpoint: "chat",
        model: "health-check".into(),
        provider: provider.to_string(),
        api_key: key.map(|k| k.expose().to_string()),
        options: d.options.clone(),
        ..HookCtx::default()
    };
    adapter
        .plan(&ctx)
        .map(|plan| plan.headers)
        .unwrap_or_default()
}

fn strategy(s: &str) -> Result<Strategy, String> {
    Ok(match s {
        "weighted" => Strategy::Weighted,
        "round-robin" => Strategy::RoundRobin,
        "random" => Strategy::Random,
        "consistent-hash" => Strategy::ConsistentHash,
        "least-connections" => Strategy::LeastConnections,
        "priority" => Strategy::Priority,
        other => {
            return Err(format!(
                "unknown balance `{other}` (expected weighted, round-robin, random, consistent-hash, least-connections, priority)"
            ))
        }
    })
}

fn duration(
    at: &str,
    v: Option<&crate::config::raw::Scalar>,
    dflt: Duration,
    cx: &mut Ctx,
) -> Duration {
    match v.map(values::duration) {
        None => dflt,
        Some(Ok(d)) if !d.is_zero() => d,
        Some(Ok(_)) => {
            cx.issue(at, "must be more than 0");
            dflt
        }
        Some(Err(e)) => {
            cx.issue(at, e);
            dflt
        }
    }
}

fn health(at: &str, h: &RawHealthCheck, cx: &mut Ctx) -> HealthConfig {
    let d = HealthConfig::default();
    let kind = match h.kind.as_deref() {
        None | Some("http") => ProbeKind::Http {
            path: h.path.clone().unwrap_or_else(|| "/models".to_string()),
            expected_status: h.expect.unwrap_or(200),
        },
        Some("tcp") => ProbeKind::Tcp,
        Some(other) => {
            cx.issue(
                &format!("{at}.type"),
                format!("unknown health check type `{other}` (expected http or tcp)"),
            );
            ProbeKind::Tcp
        }
    };
    HealthConfig {
        kind,
        interval: duration(
            &format!("{at}.interval"),
            h.interval.as_ref(),
            d.interval,
            cx,
        ),
        timeout: duration(&format!("{at}.timeout"), h.timeout.as_ref(), d.timeout, cx),
        healthy_threshold: h.healthy.unwrap_or(1).max(1),
        unhealthy_threshold: h.unhealthy.unwrap_or(2).max(1),
    }
}

fn breaker(at: &str, b: Option<&RawBreaker>, cx: &mut Ctx) -> BreakerConfig {
    let d = BreakerConfig::default();
    let Some(b) = b else {
        return d;
    };
    let cfg = BreakerConfig {
        consecutive_failures: b.consecutive_failures.unwrap_or(d.consecutive_failures),
        error_rate: b.error_rate.unwrap_or(d.error_rate),
        min_requests: b.min_requests.unwrap_or(d.min_requests),
        window: duration(&format!("{at}.window"), b.window.as_ref(), d.window, cx),
        cooldown: duration(
            &format!("{at}.cooldown"),
            b.cooldown.as_ref(),
            d.cooldown,
            cx,
        ),
        max_cooldown: duration(
            &format!("{at}.max_cooldown"),
            b.max_cooldown.as_ref(),
            d.max_cooldown.max(d.cooldown),
            cx,
        ),
        half_open_probes: b.half_open_probes.unwrap_or(d.half_open_probes),
        half_open_successes: None,
    };
    // A cooldown longer than the default maximum raises the maximum.
    let cfg = BreakerConfig {
        max_cooldown: cfg.max_cooldown.max(cfg.cooldown),
        ..cfg
    };
    if let Err(e) = cfg.validate() {
        cx.issue(at, e);
    }
    cfg
}
