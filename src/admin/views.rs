//! What the admin API shows: JSON views of a config snapshot and of the
//! live state, with every secret left out (keys, key hashes, header values).

use std::time::Instant;

use serde_json::{json, Value};

use crate::config::Config;
use crate::policy::Policies;
use crate::routing::strategy;
use crate::upstream::breaker::BreakerState;

/// `GET /admin/config`: what is loaded, without secrets.
pub fn config(cfg: &Config, policies: &Policies) -> Value {
    let providers: Vec<Value> = cfg
        .providers
        .values()
        .map(|p| {
            json!({
                "name": p.name,
                "adapter": p.adapter.name(),
                // Built in or a script (its path), and its patch's hooks.
                "adapter_detail": p.adapter.describe(),
                "base_url": base_url(&p.upstream),
                "has_api_key": p.api_key.is_some(),
                // Header values may be credentials: names only.
                "headers": p.headers.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
                "models": p.models.keys().cloned().collect::<Vec<_>>(),
                "backends": p.backend_list.len(),
                "balance": format!("{:?}", p.backends.strategy()),
                "limits": {"rpm": p.limits.rpm, "tpm": p.limits.tpm},
                "budget": budget(&p.budget),
                "disabled": p.disabled,
            })
        })
        .collect();
    let routes: Vec<Value> = cfg
        .routes
        .routes()
        .iter()
        .map(|r| {
            json!({
                "name": r.name,
                "match": r.patterns,
                "strategy": r.policy.strategy.name(),
                "targets": r.targets.iter().map(|t| match &t.model {
                    Some(m) => format!("{}/{m}", t.provider.name),
                    None => t.provider.name.clone(),
                }).collect::<Vec<_>>(),
                "cache": r.policy.cache.as_ref().map(|c| json!({
                    "ttl_s": c.ttl.as_secs_f64(),
                    "when": format!("{:?}", c.when).to_lowercase(),
                    "shared": c.shared,
                    "coalesce": c.coalesce,
                    "serve_stale_s": c.serve_stale.as_secs_f64(),
                    "semantic": c.semantic.as_ref().map(|s| json!({
                        "embeddings": s.embeddings,
                        "threshold": s.threshold,
                        "min_chars": s.min_chars,
                    })),
                })),
                "fallback": r.policy.fallback.is_some(),
                "limits": {"rpm": r.policy.limits.rpm, "tpm": r.policy.limits.tpm},
                "budget": budget(&r.policy.budget),
                "guardrails": guardrails(&r.policy.guardrails),
            })
        })
        .collect();
    let semantic = policies.semantic.stats();
    json!({
        "version": cfg.version,
        "path": cfg.path.display().to_string(),
        "listen": cfg.listen.to_string(),
        "auth": {"enabled": cfg.policy.auth.enabled, "keys": cfg.policy.auth.keys.len()},
        "state": {
            "kind": policies.store.kind(),
            "redis": policies.state_settings.redis.as_deref().map(without_password),
            "healthy": policies.store.healthy(),
        },
        "semantic_cache": {"entries": semantic.entries, "bytes": semantic.bytes},
        "ledger": policies.ledger.as_ref().map(|l| json!({
            "target": l.target_label(),
            "pending": l.pending(),
        })),
        "providers": providers,
        "routes": routes,
        "guardrails": guardrails(&cfg.guardrails),
        "budget": budget(&cfg.policy.budget),
        "warnings": cfg.warnings,
    })
}

/// `GET /admin/keys`: names, rules and metadata of the virtual keys.
pub fn keys(cfg: &Config) -> Value {
    let keys: Vec<Value> = cfg
        .policy
        .auth
        .keys
        .iter()
        .map(|k| {
            json!({
                "name": k.name,
                "enabled": k.enabled,
                "routes": k.routes.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "models": k.models.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "rpm": k.rpm,
                "tpm": k.tpm,
                "budget": budget(&k.budget),
                "metadata": k.metadata,
            })
        })
        .collect();
    json!({"auth_enabled": cfg.policy.auth.enabled, "keys": keys})
}

/// `GET /admin/providers`: every backend's health, circuit, requests in
/// flight and latency, and every model's decayed latency averages.
pub fn providers(cfg: &Config) -> Value {
    let now = Instant::now();
    let providers: Vec<Value> = cfg
        .providers
        .values()
        .map(|p| {
            let backends: Vec<Value> = p
                .backend_list
                .iter()
                .map(|b| {
                    let circuit = match b.breaker.state(now) {
                        BreakerState::Closed => json!({"state": "closed"}),
                        BreakerState::HalfOpen => json!({"state": "half_open"}),
                        BreakerState::Open { until } => json!({
                            "state": "open",
                            "retry_in_ms": until.saturating_duration_since(now).as_millis() as u64,
                        }),
                        BreakerState::Benched { until } => json!({
                            "state": "benched",
                            "retry_in_ms": until.saturating_duration_since(now).as_millis() as u64,
                        }),
                    };
                    let ms = |p: f64| b.first_byte.percentile(p).map(|d| d.as_secs_f64() * 1000.0);
                    json!({
                        "label": b.label,
                        "base_url": base_url(&b.upstream),
                        "weight": b.weight,
                        "healthy": p.backends.is_healthy(&b.id).unwrap_or(true),
                        "circuit": circuit,
                        "in_flight": p.backends.in_flight_count(&b.id),
                        "first_byte_ms": {"p50": ms(50.0), "p95": ms(95.0)},
                        "quota": b.quota.snapshot(now).view(),
                    })
                })
                .collect();
            let models: Vec<Value> = p
                .models
                .keys()
                .map(|m| {
                    let (ttft, total) = strategy::latency_of(p, m);
                    json!({"model": m, "ttft_ms": ttft, "latency_ms": total})
                })
                .collect();
            json!({
                "name": p.name,
                "enabled": p.is_enabled(),
                "disabled": p.disabled,
                "backends": backends,
                "models": models,
            })
        })
        .collect();
    json!({"providers": providers})
}

fn base_url(u: &crate::upstream::Upstream) -> String {
    let scheme = if u.tls { "https" } else { "http" };
    format!("{scheme}://{}{}", u.authority, u.base_path)
}

/// `redis://user:secret@host` → `redis://user:***@host`.
pub fn without_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "(unparsable url)".to_string(),
    }
}

/// A budget as the admin API shows it (`null` when there is none).
fn budget(b: &crate::limits::Budget) -> Value {
    if b.is_empty() {
        return Value::Null;
    }
    json!({
        "daily": b.daily,
        "monthly": b.monthly,
        "alerts": b.alerts,
        "degrade": b.degrade.map(|d| json!({
            "at": d.at,
            "max_input_price": d.max_input_price,
            "max_output_price": d.max_output_price,
        })),
    })
}

/// Guardrails by name and kind: a script (its path and hooks) or a
/// moderation target; never their options, which may hold anything.
fn guardrails(list: &crate::guard::Guardrails) -> Vec<Value> {
    use crate::guard::Check;
    list.iter()
        .map(|g| {
            let on_error = match g.on_error {
                crate::guard::OnError::Open => "open",
                crate::guard::OnError::Closed => "closed",
            };
            match &g.check {
                Check::Builtin(b) => {
                    json!({"name": g.name, "kind": "builtin", "builtin": b.name()})
                }
                Check::Script { script, .. } => {
                    let h = script.hooks;
                    let hooks: Vec<&str> = [
                        (h.request, "on_request"),
                        (h.response, "on_response"),
                        (h.chunk, "on_chunk"),
                    ]
                    .into_iter()
                    .filter_map(|(on, name)| on.then_some(name))
                    .collect();
                    json!({"name": g.name, "kind": "script",
                        "script": script.path().display().to_string(),
                        "hooks": hooks, "on_error": on_error})
                }
                Check::Moderation(m) => json!({"name": g.name, "kind": "moderation",
                    "provider": m.provider.name, "model": m.model,
                    "mode": match m.mode {
                        crate::guard::moderation::Mode::Moderations => "moderations",
                        crate::guard::moderation::Mode::Verdict { .. } => "verdict",
                    },
                    "timeout_s": m.timeout.as_secs_f64(), "on_error": on_error}),
            }
        })
        .collect()
}
