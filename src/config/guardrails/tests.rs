//! `guardrails:` and `budget:` sections: what loads, and what each broken
//! one is told, with its line.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::config::{Config, ConfigIssue};
use crate::guard::{Check, OnError};

const SCRIPTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/providers");

const PROVIDERS: &str = "providers:\n  p:\n    adapter: openai\n    base_url: http://127.0.0.1:1/v1\n    models: { cheap: { input_per_mtok: 0.1, output_per_mtok: 0.4 } }\n  a:\n    adapter: anthropic\n    base_url: http://127.0.0.1:1\n";
const ROUTE: &str = "routes:\n  - match: { model: m }\n    targets: [{ provider: p }]\n";

fn load_in(dir: &std::path::Path, yaml: &str) -> Result<Config, Vec<ConfigIssue>> {
    let path = dir.join("routes.yaml");
    // A config with its own providers replaces the shared ones.
    let providers = if yaml.starts_with("providers:") {
        ""
    } else {
        PROVIDERS
    };
    std::fs::write(&path, format!("scripts: {SCRIPTS}\n{providers}{yaml}")).unwrap();
    Config::load(&path)
}

fn load(yaml: &str) -> Result<Config, Vec<ConfigIssue>> {
    let dir = tempfile::tempdir().unwrap();
    load_in(dir.path(), yaml)
}

fn problems(yaml: &str) -> Vec<String> {
    match load(yaml) {
        Ok(_) => Vec::new(),
        Err(issues) => issues
            .iter()
            .map(|i| format!("{}:{}: {}: {}", i.line, i.col, i.path, i.message))
            .collect(),
    }
}

#[test]
fn shipped_guardrails_load_globally_and_per_route() {
    let yaml = format!(
        "guardrails:\n  - builtin: pii\n    options: {{ answers: true }}\n  - name: mod\n    moderation: {{ provider: p, timeout: 500ms, categories: [violence] }}\n    on_error: open\n{ROUTE}    guardrails:\n      - builtin: max-tokens\n        options: {{ max: 256 }}\n      - builtin: deny-list\n        options: {{ words: [falcon] }}\n        enabled: true\n      - builtin: deny-list\n        name: off\n        enabled: false\n        options: {{}}\n"
    );
    let cfg = load(&yaml).unwrap_or_else(|e| panic!("{e:?}"));
    let names: Vec<_> = cfg.guardrails.iter().map(|g| g.name.clone()).collect();
    assert_eq!(names, ["pii", "mod"]);
    assert!(
        cfg.guardrails.on_request() && cfg.guardrails.on_response() && cfg.guardrails.on_chunk()
    );
    let m = cfg.guardrails.iter().nth(1).unwrap();
    assert_eq!(m.on_error, OnError::Open);
    match &m.check {
        Check::Moderation(m) => {
            assert_eq!(m.model, "omni-moderation-latest");
            assert_eq!(m.timeout, std::time::Duration::from_millis(500));
            assert_eq!(m.categories, ["violence"]);
        }
        other => panic!("{other:?}"),
    }
    let route = &cfg.routes.routes()[0];
    let own: Vec<_> = route
        .policy
        .guardrails
        .iter()
        .map(|g| g.name.clone())
        .collect();
    assert_eq!(own, ["max-tokens", "deny-list"]);
}

#[test]
fn a_script_guardrail_loads_from_scripts_guardrails_and_its_text_is_in_the_version() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("scripts/providers")).unwrap();
    std::fs::create_dir_all(dir.path().join("scripts/guardrails")).unwrap();
    let script = dir.path().join("scripts/guardrails/own.rhai");
    std::fs::write(&script, "fn on_request(r, c) { r.own = true; }").unwrap();
    let path = dir.path().join("routes.yaml");
    let yaml = format!("scripts: scripts/providers\n{PROVIDERS}guardrails:\n  - script: own\n");
    std::fs::write(&path, &yaml).unwrap();
    let cfg = Config::load(&path).unwrap_or_else(|e| panic!("{e:?}"));
    let g = cfg.guardrails.iter().next().unwrap();
    assert_eq!(g.name, "own");
    match &g.check {
        Check::Script { script, .. } => {
            assert_eq!(
                script.path(),
                std::path::Path::new("scripts/guardrails/own.rhai")
            );
            assert!(script.hooks.request && !script.hooks.chunk);
        }
        other => panic!("{other:?}"),
    }
    std::fs::write(&script, "fn on_request(r, c) { r.own = false; }").unwrap();
    let again = Config::load(&path).unwrap_or_else(|e| panic!("{e:?}"));
    assert_ne!(cfg.version, again.version);
    assert_ne!(
        cfg.guardrails.fingerprint(),
        again.guardrails.fingerprint(),
        "the cache would serve answers the old script passed"
    );
}

#[test]
fn broken_guardrails_and_budgets_are_reported_with_lines() {
    let table: &[(String, &str)] = &[
        ("guardrails:\n  - name: x\n".into(), "guardrails[0]: a guardrail is one of `builtin: <name>`"),
        ("guardrails:\n  - script: nope\n".into(), "guardrails[0].script: cannot read guardrail script nope.rhai"),
        ("guardrails:\n  - script: pii\n".into(), "(`pii` is built in: `builtin: pii`)"),
        ("guardrails:\n  - builtin: pii\n    moderation: { provider: p }\n".into(), "a guardrail is one of"),
        ("guardrails:\n  - builtin: nope\n".into(), "guardrails[0].builtin: no built-in guardrail `nope` (built in: pii, deny-list, max-tokens"),
        ("guardrails:\n  - builtin: max-tokens\n    options: { max: -1 }\n".into(), "guardrails[0].options: options.max must be a positive number"),
        ("guardrails:\n  - builtin: deny-list\n    options: { patterns: [\"(\"] }\n".into(), "options.patterns: invalid regex"),
        ("guardrails:\n  - builtin: pii\n    on_error: maybe\n".into(), "guardrails[0].on_error: unknown value `maybe` (expected closed or open)"),
        ("guardrails:\n  - builtin: pii\n  - builtin: pii\n".into(), "guardrails[1].name: two guardrails are named `pii`"),
        ("guardrails:\n  - moderation: { provider: nobody }\n".into(), "guardrails[0].moderation.provider: unknown provider `nobody`"),
        ("guardrails:\n  - moderation: { provider: a }\n".into(), "speaks `anthropic`: a moderation target must speak the OpenAI format"),
        ("guardrails:\n  - moderation: { provider: p, mode: verdict }\n".into(), "`mode: verdict` needs the chat model to ask"),
        ("guardrails:\n  - moderation: { provider: p, mode: vibes }\n".into(), "unknown mode `vibes`"),
        ("guardrails:\n  - moderation: { provider: p, timeout: 0s }\n".into(), "guardrails[0].moderation.timeout: must be more than 0"),
        ("guardrails:\n  - builtin: pii\n    colour: red\n".into(), "unknown field `colour`"),
        (format!("{ROUTE}    guardrails:\n      - script: missing\n"), "routes[0].guardrails[0].script: cannot read guardrail script"),
        ("budget: { daily: -1 }\n".into(), "10:18: budget.daily: must be a non-negative amount in USD"),
        ("budget: { daily: 10, alerts: [150%] }\n".into(), "budget.alerts[0]: must be more than 0% and at most 100%"),
        ("budget: { daily: 10, alerts: [lots] }\n".into(), "budget.alerts[0]: `lots` is not a fraction"),
        ("budget: { alerts: [50%] }\n".into(), "budget.alerts: alerts are fractions of a budget"),
        ("budget: { daily: 1, degrade: { at: 80%, max_output_price: 1 } }\n".into(), "budget.degrade: only a route's budget may degrade"),
        ("budget: { daily: 1, webhook: { url: ftp://x } }\n".into(), "budget.webhook.url: expected an http:// or https:// URL"),
        ("budget: { daily: 1, webhook: { url: \"http://127.0.0.1:9/h\", attempts: 0 } }\n".into(), "budget.webhook.attempts: must be at least 1"),
        (format!("{ROUTE}    budget: {{ daily: 5, webhook: {{ url: \"http://x/\" }} }}\n"), "routes[0].budget.webhook: the webhook is set once"),
        (format!("{ROUTE}    budget: {{ daily: 5, degrade: {{ at: 80% }} }}\n"), "routes[0].budget.degrade: give the ceiling"),
        (format!("{ROUTE}    budget: {{ degrade: {{ at: 80%, max_input_price: 1 }} }}\n"), "routes[0].budget.degrade: degrade applies past a fraction of a budget"),
        ("providers:\n  q:\n    adapter: openai\n    base_url: http://127.0.0.1:1/v1\n    budget: { monthly: 5, degrade: { at: 1, max_input_price: 1 } }\n".into(), "providers.q.budget.degrade: only a route's budget may degrade"),
    ];
    for (yaml, want) in table {
        let got = problems(yaml);
        assert!(
            got.iter().any(|p| p.contains(want)),
            "config:\n{yaml}\nwanted: {want}\ngot: {got:#?}"
        );
    }
}

#[test]
fn budgets_load_at_every_scope() {
    let hash = format!("sha256:{}", "a".repeat(64));
    let yaml = format!(
        "budget:\n  daily: 100\n  monthly: 2000\n  alerts: [50%, 0.8, 80%]\n  webhook: {{ url: \"https://hooks.example.com/s?token=tok-0123456789\", secret: s3cret, timeout: 2s, attempts: 3, backoff: 100ms }}\nauth:\n  keys:\n    - {{ name: k, key_hash: \"{hash}\", budget: {{ monthly: 10, alerts: [90%] }} }}\n{ROUTE}    budget: {{ daily: 5, alerts: [1], degrade: {{ at: 75%, max_output_price: 0.5 }} }}\n"
    );
    let cfg = load(&yaml).unwrap_or_else(|e| panic!("{e:?}"));
    let b = &cfg.policy.budget;
    assert_eq!((b.daily, b.monthly), (Some(100.0), Some(2000.0)));
    assert_eq!(b.alerts, [0.5, 0.8]);
    let w = cfg.policy.webhook.as_ref().unwrap();
    assert_eq!(
        (w.attempts, w.timeout),
        (3, std::time::Duration::from_secs(2))
    );
    assert!(!format!("{w:?}").contains("s3cret"));
    // Redacted from logs: the signing key, and a token in the URL.
    let secrets = cfg.log_secrets();
    assert!(secrets.iter().any(|s| s == "s3cret"), "{secrets:?}");
    assert!(secrets.iter().any(|s| s == "tok-0123456789"), "{secrets:?}");
    let r = &cfg.routes.routes()[0].policy.budget;
    assert_eq!(r.alerts, [1.0]);
    let d = r.degrade.unwrap();
    assert_eq!(
        (d.at, d.max_output_price, d.max_input_price),
        (0.75, Some(0.5), None)
    );
    assert_eq!(cfg.policy.auth.keys[0].budget.alerts, [0.9]);
}
