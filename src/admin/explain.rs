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
    json!({
        "provider": t.provider.name,
        "model": t.model_for(requested),
        "estimated_cost_usd": c.cost,
        "latency_ms": c.latency_ms,
        "quality": c.quality,
        "backends": backends,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explains_ranking_and_exclusions() {
        let yaml = "providers:\n  cheap:\n    adapter: openai\n    base_url: http://127.0.0.1:1/v1\n    models: { x: { input_per_mtok: 0.1, output_per_mtok: 0.1, context_window: 100 } }\n  dear:\n    adapter: openai\n    base_url: http://127.0.0.1:2/v1\n    models: { x: { input_per_mtok: 5, output_per_mtok: 5 } }\n  text:\n    adapter: anthropic\n    base_url: http://127.0.0.1:3\nroutes:\n  - match: { model: m }\n    strategy: cost\n    targets: [{ provider: dear, model: x }, { provider: cheap, model: x }, { provider: text, model: x }]\n";
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("routes.yaml");
        std::fs::write(
            &path,
            format!(
                "scripts: {}/scripts/providers\n{yaml}",
                env!("CARGO_MANIFEST_DIR")
            ),
        )
        .unwrap();
        let cfg = Config::load(&path).unwrap();
        let small = json!({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]});
        let out = explain(&cfg, Endpoint::Chat, small).unwrap();
        assert_eq!(out["strategy"], "cost");
        let order: Vec<&str> = out["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["provider"].as_str().unwrap())
            .collect();
        assert_eq!(order, vec!["cheap", "dear", "text"], "{out}");
        let big = json!({"model": "m", "max_tokens": 500, "messages": [{"role": "user", "content": "hi"}]});
        let out = explain(&cfg, Endpoint::Chat, big).unwrap();
        assert_eq!(out["set_aside"][0]["provider"], "cheap");
        assert!(out["set_aside"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("context window 100"));
        // An OpenAI model is counted with its tokenizer (13 digits: 5
        // tokens, + 3 per message + 3), and priced from the pricing catalog.
        let gpt = json!({"model": "cheap/gpt-4o", "max_tokens": 10, "messages": [{"role": "user", "content": "1234567890123"}]});
        let out = explain(&cfg, Endpoint::Chat, gpt).unwrap();
        assert_eq!(out["estimate"]["tokenizer"], "o200k_base");
        assert_eq!(out["estimate"]["prompt_tokens"], 11, "{out}");
        let cost = out["candidates"][0]["estimated_cost_usd"].as_f64().unwrap();
        assert!(
            (cost - (11.0 * 2.5 + 10.0 * 10.0) / 1e6).abs() < 1e-12,
            "{out}"
        );
        let emb = json!({"model": "m", "input": "x"});
        let out = explain(&cfg, Endpoint::Embeddings, emb).unwrap();
        assert!(
            out["set_aside"]
                .to_string()
                .contains("does not support embeddings"),
            "{out}"
        );
        assert!(explain(
            &cfg,
            Endpoint::Chat,
            json!({"model": "nope", "messages": [{"role": "user", "content": "x"}]})
        )
        .is_err());
    }
}
