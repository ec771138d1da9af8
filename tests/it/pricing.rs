//! The shipped pricing catalog (`scripts/providers/pricing.yaml`): models
//! without configured prices are ranked and billed at its list prices, and
//! routes.yaml wins over it.

use serde_json::Value;

use crate::common::*;

/// Catalog list prices (USD per million tokens) the tests rely on.
const GPT_4O: (f64, f64) = (2.5, 10.0);
const GPT_4O_MINI: (f64, f64) = (0.15, 0.6);

async fn two_mocks() -> (MockServer, MockServer) {
    (
        MockServer::start(MockConfig::default()).await.unwrap(),
        MockServer::start(MockConfig::default()).await.unwrap(),
    )
}

fn cost_route(a_model: &str, b_model: &str) -> String {
    format!("routes:\n  - match: {{ model: cheap }}\n    strategy: cost\n    targets: [{{ provider: a, model: {a_model} }}, {{ provider: b, model: {b_model} }}]\n")
}

async fn served_by(gw: &Gateway, model: &str) -> String {
    let r = gw.post("/v1/chat/completions", &chat(model, false)).await;
    assert_eq!(r.status(), 200);
    r.headers()["x-switchyard-provider"]
        .to_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn cost_strategy_ranks_unpriced_models_by_catalog_prices() {
    let (a, b) = two_mocks().await;
    // No prices anywhere in routes.yaml: gpt-4o-mini is the cheaper by the
    // catalog, though listed second (and dated, which the catalog strips).
    let yaml = format!(
        "providers:\n{}{}{}",
        provider("a", "openai", &a, None),
        provider("b", "openai", &b, None),
        cost_route("gpt-4o", "gpt-4o-mini-2024-07-18"),
    );
    let gw = Gateway::start(&yaml).await;
    assert_eq!(served_by(&gw, "cheap").await, "b");
    assert_eq!(served_by(&gw, "cheap").await, "b");
    assert_eq!(a.hits(), 0);
}

#[tokio::test]
async fn routes_yaml_prices_override_the_catalog() {
    let (a, b) = two_mocks().await;
    let yaml = format!(
        "providers:\n{}    models: {{ gpt-4o: {{ input_per_mtok: 0.01, output_per_mtok: 0.02 }} }}\n{}{}",
        provider("a", "openai", &a, None),
        provider("b", "openai", &b, None),
        cost_route("gpt-4o", "gpt-4o-mini"),
    );
    let gw = Gateway::start(&yaml).await;
    assert_eq!(
        served_by(&gw, "cheap").await,
        "a",
        "the configured price wins"
    );
    // The cost header is billed at the configured price too.
    let r = gw.post("/v1/chat/completions", &chat("cheap", false)).await;
    let cost = cost_header(&r);
    let body: Value = r.json().await.unwrap();
    let expected = billed(&body, (0.01, 0.02));
    assert!((cost - expected).abs() < 1e-12, "{cost} vs {expected}");
}

#[tokio::test]
async fn cost_header_is_computed_from_catalog_prices() {
    let (a, _b) = two_mocks().await;
    let yaml = format!(
        "providers:\n{}routes: []\n",
        provider("a", "openai", &a, None)
    );
    let gw = Gateway::start(&yaml).await;
    // `provider/model` passthrough: nothing about the model is configured.
    for (model, prices) in [("a/gpt-4o", GPT_4O), ("a/gpt-4o-mini", GPT_4O_MINI)] {
        let r = gw.post("/v1/chat/completions", &chat(model, false)).await;
        assert_eq!(r.status(), 200);
        let cost = cost_header(&r);
        let body: Value = r.json().await.unwrap();
        let expected = billed(&body, prices);
        assert!(expected > 0.0);
        assert!(
            (cost - expected).abs() < 1e-12,
            "{model}: {cost} vs {expected}"
        );
    }
    // A model the catalog does not know has no cost.
    let r = gw
        .post("/v1/chat/completions", &chat("a/house-model", false))
        .await;
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("x-switchyard-cost-usd").is_none());
}

fn cost_header(r: &reqwest::Response) -> f64 {
    r.headers()
        .get("x-switchyard-cost-usd")
        .expect("x-switchyard-cost-usd")
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// USD for the usage of an OpenAI response at `(input, output)` prices.
fn billed(body: &Value, (input, output): (f64, f64)) -> f64 {
    let tokens = |k: &str| body["usage"][k].as_f64().unwrap();
    (tokens("prompt_tokens") * input + tokens("completion_tokens") * output) / 1e6
}
