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
    let small =
        json!({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]});
    let out = explain(&cfg, Endpoint::Chat, small).unwrap();
    assert_eq!(out["strategy"], "cost");
    let order: Vec<&str> = out["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["provider"].as_str().unwrap())
        .collect();
    assert_eq!(order, vec!["cheap", "dear", "text"], "{out}");
    let big =
        json!({"model": "m", "max_tokens": 500, "messages": [{"role": "user", "content": "hi"}]});
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
