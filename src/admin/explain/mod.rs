//! `switchyard explain`: how a request would be routed — the route, its
//! strategy, every target with its score components, why some are set
//! aside, and the order they would be tried in — without calling anyone.

use serde_json::{json, Value};

use crate::config::Config;
use crate::error::GatewayError;
use crate::request::{self, Endpoint};
use crate::routing::strategy::{self, Components, Demand};
use crate::routing::tokens::Tokenizer;

/// The routing decision for `body` (an OpenAI chat or embeddings request).
pub fn explain(cfg: &Config, endpoint: Endpoint, body: Value) -> Result<Value, GatewayError> {
    let req = request::parse_value(endpoint, body)?;
    let route = cfg
        .routes
        .resolve(&req.model)
        .ok_or_else(|| GatewayError::UnknownModel(req.model.clone()))?;
    let policy = &route.policy;
    // A one-off: wait for the exact tokenizer (requests never do).
    let tokenizer = Tokenizer::for_model(&req.model);
    tokenizer.build();
    let demand = Demand {
        prompt_tokens: crate::routing::tokens::estimate_prompt(&req.body, &req.model),
        output_tokens: req
            .max_output_tokens()
            .unwrap_or(policy.expected_output_tokens),
        stream: req.stream,
    };
    let needs = req.needs();
    let mut usable = Vec::new();
    let mut set_aside = Vec::new();
    for target in &route.targets {
        let provider = &target.provider;
        let model = target.model_for(&req.model);
        let reason = if let Some(r) = &provider.disabled {
            Some(format!("disabled: {r}"))
        } else if let Some(n) = needs.iter().find(|n| !provider.supports(n)) {
            Some(format!("does not support {n}"))
        } else {
            strategy::too_small_window(target, model, &demand)
                .map(|w| format!("context window {w} is too small"))
        };
        match reason {
            Some(r) => {
                set_aside.push(json!({"provider": provider.name, "model": model, "reason": r}))
            }
            None => usable.push((target, strategy::components(target, model, &demand))),
        }
    }
    let order = strategy::rank(policy.strategy, &usable, 0.0);
    let ranked: Vec<Value> = order
        .iter()
        .filter_map(|i| usable.get(*i))
        .map(|(t, c)| candidate(t, &req.model, c))
        .collect();
    Ok(json!({
        "route": route.name,
        "strategy": policy.strategy.name(),
        "estimate": {"prompt_tokens": demand.prompt_tokens, "output_tokens": demand.output_tokens,
            "tokenizer": tokenizer.name()},
        "candidates": ranked,
        "set_aside": set_aside,
        "config_version": cfg.version,
    }))
}

fn candidate(t: &crate::routing::Target, requested: &str, c: &Components) -> Value {
    let backends: Vec<&str> = t
        .provider
        .backend_list
        .iter()
        .map(|b| b.label.as_str())
        .collect();
    // What each backend's provider said is left of its quota (only a
    // running gateway has learned any: `switchyard explain` has not).
    let now = std::time::Instant::now();
    let quota: Vec<Value> = t
        .provider
        .backend_list
        .iter()
        .map(|b| json!({"backend": b.label, "quota": b.quota.snapshot(now).view()}))
        .collect();
    json!({
        "provider": t.provider.name,
        "model": t.model_for(requested),
        "estimated_cost_usd": c.cost,
        "latency_ms": c.latency_ms,
        "quality": c.quality,
        "headroom": c.headroom,
        "backends": backends,
        "quota": quota,
    })
}

#[cfg(test)]
mod tests;
