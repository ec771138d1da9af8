//! A table of broken configs and what `validate` says about each.

use std::path::Path;

use crate::config::{Config, ConfigIssue};

const SCRIPTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/providers");

fn load(yaml: &str) -> Result<Config, Vec<ConfigIssue>> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("routes.yaml");
    std::fs::write(&path, format!("scripts: {SCRIPTS}\n{yaml}")).unwrap();
    Config::load(&path)
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

const OK_PROVIDER: &str =
    "providers:\n  p:\n    adapter: openai\n    base_url: http://127.0.0.1:1/v1\n";

#[test]
fn broken_configs_are_reported_with_lines() {
    let table: &[(&str, &str)] = &[
        ("listen: nowhere\n", "2:9: listen: `nowhere` is not an address"),
        ("server:\n  idle_timeout: 5 parsecs\n", "3:17: server.idle_timeout: unknown duration unit"),
        ("server:\n  max_body_size: lots\n", "3:18: server.max_body_size: invalid size"),
        ("server:\n  drain_timeout: 0s\n", "server.drain_timeout: must be more than 0"),
        ("server:\n  stream_timeout: 0s\n", "server.stream_timeout: must be more than 0"),
        ("server:\n  stream_timeout: forever\n", "3:19: server.stream_timeout: invalid duration"),
        ("server:\n  max_response_size: lots\n", "3:22: server.max_response_size: invalid size"),
        ("server:\n  max_response_size: 0\n", "server.max_response_size: must be more than 0"),
        ("routes:\n  - match: { model: m }\n    timeouts: { stream: 0s }\n    targets: [{ provider: p }]\n", "routes[0].timeouts.stream: must be more than 0"),
        ("server:\n  max_header_size: 100\n", "3:20: server.max_header_size: must be at least 1KiB"),
        ("server:\n  max_header_size: 2MiB\n", "3:20: server.max_header_size: must be below 1MiB"),
        ("server:\n  header_timeout: 0s\n", "3:19: server.header_timeout: must be more than 0"),
        ("server:\n  body_timeout: soon\n", "3:17: server.body_timeout: invalid duration"),
        ("server:\n  max_connections: 0\n", "3:20: server.max_connections: must be at least 1"),
        ("server:\n  max_streams: 0\n", "3:16: server.max_streams: must be at least 1"),
        ("server:\n  max_streams: many\n", "server.max_streams"),
        ("server:\n  upgrade_sock: \"\"\n", "3:17: server.upgrade_sock: must not be empty"),
        (concat!("server:\n  upgrade_sock: /tmp/", "a-very-long-directory-name-that-goes-on/and-on-and-on/until-it-no-longer-fits-into-a-unix-socket-address/upgrade.sock\n"), "3:17: server.upgrade_sock: `/tmp/a-very-long"),
        ("server:\n  scripts: { max_array_size: 0 }\n", "server.scripts.max_array_size: must be at least 1"),
        ("server:\n  scripts:\n    max_memory: lots\n", "4:17: server.scripts.max_memory: invalid size"),
        ("server:\n  scripts: { max_string_size: 0 }\n", "server.scripts.max_string_size: must be more than 0"),
        ("providers:\n  p:\n    adapter: nope\n    base_url: http://x\n", "4:14: providers.p.adapter: no adapter `nope`: not built in"),
        ("providers:\n  p:\n    adapter: openai\n    base_url: ftp://x\n", "5:15: providers.p.base_url: base_url scheme must be http or https"),
        ("providers:\n  p:\n    adapter: openai\n    base_url: http://x\n    models:\n      m: { quality: 3 }\n", "providers.p.models.m.quality: quality must be between 0 and 1"),
        ("providers:\n  p:\n    adapter: openai\n    base_url: http://x\n    capabilities: { telepathy: true }\n", "providers.p.capabilities.telepathy: unknown capability `telepathy`"),
        ("providers:\n  p:\n    adapter: anthropic\n    base_url: http://x\n    capabilities: { images: true }\n", "providers.p.capabilities.images: `images` is served by OpenAI-format providers only (adapter: openai), not by adapter `anthropic`"),
        ("server:\n  responses_ttl: 2w\n", "server.responses_ttl: unknown duration unit `w`"),
        ("providers:\n  p:\n    adapter: openai\n    base_url: http://x\n    quota: { refusal_bench: 0s }\n", "providers.p.quota.refusal_bench: must be more than 0"),
        ("providers:\n  p:\n    adapter: openai\n    base_url: http://x\n    quota:\n      headers:\n        requests: { remaining: \"x left\", reset: x-reset }\n", "providers.p.quota.headers.requests.remaining: `x left` is not a header name"),
        ("providers:\n  p:\n    adapter: openai\n    base_url: http://x\n    quota:\n      headers:\n        tokens: { remaining: x-left }\n", "providers.p.quota.headers.tokens: missing field `reset`"),
        ("tracing:\n  endpoint: http://127.0.0.1:4318\n  sampler: sometimes\n", "4:12: tracing.sampler: unknown sampler `sometimes`"),
        ("tracing:\n  endpoint: http://127.0.0.1:4318\n  sample: 0.5\n", "4:3: tracing.sample: unknown field `sample`"),
        ("providers:\n  p:\n    preset: nonexistent\n", "providers.p.preset: unknown preset `nonexistent`"),
        ("providers:\n  p:\n    api_key: k\n", "providers.p: missing `adapter` (or a `preset`"),
        ("providers:\n  p:\n    adapter: ../etc\n    base_url: http://x\n", "providers.p.adapter: adapter names may use"),
        ("routes:\n  - match: { model: m }\n    targets: []\n", "8:5: routes[0].targets: a route needs at least one target"),
        ("routes:\n  - match: { model: m }\n    targets: [{ provider: ghost }]\n", "8:27: routes[0].targets[0].provider: unknown provider `ghost`"),
        ("routes:\n  - match: { model: m }\n", "routes[0]: missing field `targets`"),
        ("routes:\n  - match: { model: m }\n    strategy: fastest\n    targets: [{ provider: p }]\n", "routes[0].strategy: unknown strategy `fastest`"),
        ("routes:\n  - match: { model: m }\n    strategy: script\n    targets: [{ provider: p }]\n", "needs `script: <name>`"),
        ("routes:\n  - match: { model: m }\n    strategy: script\n    script: nowhere\n    targets: [{ provider: p }]\n", "routes[0].script: cannot read scoring script"),
        ("routes:\n  - match: { model: 5 }\n", "7:21: routes[0].match.model: expected a string or a list of strings"),
        ("routes:\n  - match: { model: [] }\n    targets: [{ provider: p }]\n", "routes[0].match.model: model patterns must be non-empty"),
    ];
    for (yaml, want) in table {
        check_table_row(yaml, want);
    }
}

/// `enc:v1:` values that are wrong whatever the master key: reported at
/// their line, without needing SWITCHYARD_MASTER_KEY.
#[test]
fn malformed_encrypted_values_are_reported_with_lines() {
    let p = "providers:\n  p:\n    adapter: openai\n";
    let table: &[(&str, &str)] = &[
        (
            "    base_url: http://x\n    api_key: \"enc:v1:@@@\"\n",
            "6:14: providers.p.api_key: malformed `enc:v1:` value: not valid base64",
        ),
        (
            "    base_url: http://x\n    api_key: enc:v1:AAAA\n",
            "6:14: providers.p.api_key: malformed `enc:v1:` value: too short",
        ),
        (
            "    base_url: http://x\n    headers: { x-token: \"enc:v1:%%\" }\n",
            "providers.p.headers.x-token: malformed `enc:v1:` value",
        ),
        (
            "    base_url: http://x\n    backends: [{ api_key: \"enc:v1:AA==\" }]\n",
            "providers.p.backends[0].api_key: malformed `enc:v1:` value: too short",
        ),
        (
            "    base_url: enc:v1:AAAA\n",
            "5:15: providers.p.base_url: `enc:v1:` values are for secrets",
        ),
    ];
    for (yaml, want) in table {
        check_table_row(&format!("{p}{yaml}"), want);
    }
}

fn check_table_row(yaml: &str, want: &str) {
    let yaml = if yaml.starts_with("routes") {
        format!("{OK_PROVIDER}{yaml}")
    } else {
        yaml.to_string()
    };
    let got = problems(&yaml);
    assert!(
        got.iter().any(|g| g.contains(want)),
        "for\n{yaml}\nwanted `{want}`, got {got:#?}"
    );
}

#[test]
fn duplicate_route_names_are_refused() {
    let yaml = format!("{OK_PROVIDER}routes:\n  - match: {{ model: a }}\n    name: x\n    targets: [{{ provider: p }}]\n  - match: {{ model: b }}\n    name: x\n    targets: [{{ provider: p }}]\n");
    let got = problems(&yaml);
    assert!(
        got.iter().any(|g| g.contains("duplicate route name `x`")),
        "{got:?}"
    );
}

#[test]
fn unset_key_disables_the_provider_with_a_warning() {
    let cfg = load("providers:\n  p:\n    adapter: openai\n    base_url: http://x\n    api_key: ${SWITCHYARD_SURELY_UNSET_VAR}\n").unwrap();
    assert!(!cfg.providers["p"].is_enabled());
    assert!(!cfg.has_usable_provider());
    assert!(
        cfg.warnings[0].contains("SWITCHYARD_SURELY_UNSET_VAR"),
        "{:?}",
        cfg.warnings
    );
}

#[test]
fn upgrade_sock_defaults_per_listen_address_and_resolves_beside_the_config() {
    let a = load("listen: 127.0.0.1:9123\n").unwrap();
    let b = load("listen: 127.0.0.1:9124\n").unwrap();
    assert_ne!(a.settings.upgrade_sock, b.settings.upgrade_sock);
    assert!(a
        .settings
        .upgrade_sock
        .ends_with("switchyard-upgrade-127.0.0.1-9123.sock"));
    let c = load("server:\n  upgrade_sock: run/up.sock\n").unwrap();
    assert_eq!(
        c.settings.upgrade_sock,
        c.path.parent().unwrap().join("run/up.sock")
    );
}

#[test]
fn version_changes_with_content_only() {
    let a = load(OK_PROVIDER).unwrap();
    let b = load(OK_PROVIDER).unwrap();
    let c = load(&format!("{OK_PROVIDER}# comment\n")).unwrap();
    assert_eq!(a.version, b.version);
    assert_ne!(a.version, c.version);
    assert_eq!(a.version.len(), 12);
}

#[test]
fn routes_resolve_in_file_order_then_provider_models() {
    let yaml = format!(
        "{OK_PROVIDER}    models: {{ listed: {{}} }}\nroutes:\n  - match: {{ model: \"gpt-*\" }}\n    name: glob\n    targets: [{{ provider: p }}]\n  - match: {{ model: gpt-4o }}\n    name: exact\n    targets: [{{ provider: p }}]\n  - match: {{ model: smart }}\n    targets: [{{ provider: p, model: big }}]\n"
    );
    let cfg = load(&yaml).unwrap();
    let name = |m: &str| cfg.routes.resolve(m).map(|r| r.name.clone());
    assert_eq!(
        name("gpt-4o").as_deref(),
        Some("glob"),
        "the earlier glob wins"
    );
    assert_eq!(name("smart").as_deref(), Some("smart"));
    assert_eq!(name("listed").as_deref(), Some("p/listed"));
    assert_eq!(
        name("p/anything").as_deref(),
        Some("p/*"),
        "client-made names stay out of labels"
    );
    assert_eq!(name("nope"), None);
    assert_eq!(name("ghost/x"), None);
    let smart = cfg.routes.resolve("smart").unwrap();
    assert_eq!(smart.targets[0].model_for("smart"), "big");
    let _ = Path::new("");
}

#[test]
fn broken_policy_sections_are_reported_with_lines() {
    let hash = format!("sha256:{}", "ab".repeat(32));
    let table: Vec<(String, &str)> = vec![
        ("auth:\n  keys: []\n".into(), "auth: auth is enabled but no keys are defined"),
        ("auth:\n  keys:\n    - name: a\n      key_hash: md5:xyz\n".into(), "5:17: auth.keys[0].key_hash: expected `sha256:`"),
        (format!("auth:\n  keys:\n    - name: a\n      key_hash: {hash}\n      rpm: 0\n"), "6:12: auth.keys[0].rpm: must be at least 1"),
        (format!("auth:\n  keys:\n    - name: a\n      key_hash: {hash}\n      budget: {{ daily: -1 }}\n"), "auth.keys[0].budget.daily: must be a non-negative amount"),
        (format!("auth:\n  keys:\n    - name: a\n      key_hash: {hash}\n      colour: red\n"), "6:7: auth.keys[0].colour: unknown field `colour`"),
        (format!("auth:\n  keys:\n    - {{ name: a, key_hash: {hash} }}\n    - {{ name: a, key_hash: {hash} }}\n"), "auth.keys[1].name: duplicate key name `a`"),
        ("state:\n  redis: http://x\n".into(), "3:10: state.redis: expected a `redis://host:port` URL"),
        ("state:\n  on_error: maybe\n".into(), "state.on_error: unknown value `maybe`"),
        ("ledger:\n  url: mysql://x\n".into(), "ledger.url: expected `sqlite:<path>` or `postgres://"),
        ("ledger:\n  flush_interval: 0s\n".into(), "ledger.flush_interval: must be more than 0"),
        ("cache:\n  memory: lots\n".into(), "cache.memory: invalid size"),
        ("admin:\n  listen: 127.0.0.1:9\n".into(), "admin: the admin API needs `key:`"),
        ("admin:\n  key: short\n".into(), "admin.key: the admin key must be at least 16 characters"),
        (format!("{OK_PROVIDER}    limits: {{ rpm: 0 }}\n"), "providers.p.limits.rpm: must be at least 1"),
        (format!("{OK_PROVIDER}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: p }}]\n    cache: {{ when: sometimes }}\n"), "routes[0].cache.when: unknown value `sometimes`"),
        (format!("{OK_PROVIDER}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: p }}]\n    cache: {{ ttl: forever }}\n"), "routes[0].cache.ttl: invalid duration"),
        (format!("{OK_PROVIDER}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: p }}]\n    cache: {{ serve_stale: soon }}\n"), "routes[0].cache.serve_stale: invalid duration"),
        (format!("{OK_PROVIDER}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: p }}]\n    fallback: {{ message: \" \" }}\n"), "9:26: routes[0].fallback.message: must not be empty"),
        (format!("{OK_PROVIDER}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: p }}]\n    fallback: {{ text: hi }}\n"), "9:17: routes[0].fallback.text: unknown field `text`"),
        (format!("{OK_PROVIDER}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: p }}]\n    cache: {{ semantic: {{ threshold: 0.9 }} }}\n"), "routes[0].cache.semantic.embeddings: a semantic cache needs `embeddings: <model>`"),
        (format!("{OK_PROVIDER}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: p }}]\n    cache: {{ semantic: {{ embeddings: e, threshold: 1.5 }} }}\n"), "routes[0].cache.semantic.threshold: must be more than 0 and at most 1"),
        (format!("{OK_PROVIDER}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: p }}]\n    cache:\n      semantic: {{ embeddings: nowhere }}\n"), "10:31: routes[0].cache.semantic.embeddings: no route serves the model `nowhere`"),
        (format!("{OK_PROVIDER}routes:\n  - match: {{ model: [m, e] }}\n    targets: [{{ provider: p }}]\n    cache: {{ semantic: {{ embeddings: e }} }}\n"), "routes[0].cache.semantic.embeddings: `e` is served by this same route"),
    ];
    for (yaml, expected) in &table {
        let found = problems(yaml);
        assert!(
            found.iter().any(|p| p.contains(expected)),
            "config:\n{yaml}\nexpected `{expected}`, got {found:#?}"
        );
    }
}

#[test]
fn policy_sections_load_with_their_defaults() {
    let hash = format!("sha256:{}", "ab".repeat(32));
    let cfg = load(&format!(
        "auth:\n  keys:\n    - name: a\n      key_hash: {hash}\n      models: [\"gpt-*\"]\n      budget: {{ monthly: 10 }}\n{OK_PROVIDER}    limits: {{ tpm: 1000 }}\nroutes:\n  - match: {{ model: m }}\n    targets: [{{ provider: p }}]\n    cache: true\n"
    ))
    .unwrap();
    let p = &cfg.policy;
    assert!(p.auth.enabled);
    let key = p.auth.by_hash.get(&hash).unwrap();
    assert!(key.allows_model("p", "gpt-4o") && !key.allows_model("p", "claude"));
    assert_eq!(key.budget.monthly, Some(10.0));
    assert_eq!(p.state.redis, None);
    assert_eq!(p.ledger.url.as_deref(), Some("sqlite:switchyard-usage.db"));
    assert_eq!(p.ledger.flush_interval, std::time::Duration::from_secs(1));
    assert!(p.admin.is_none());
    assert_eq!(cfg.providers["p"].limits.tpm, Some(1000));
    let route = &cfg.routes.routes()[0];
    let cache = route.policy.cache.as_ref().unwrap();
    assert_eq!(cache.ttl, std::time::Duration::from_secs(3600));
    assert!(cache.coalesce && !cache.shared);
    // Without `auth:`, nobody is asked for a key.
    assert!(!load(OK_PROVIDER).unwrap().policy.auth.enabled);
}

#[test]
fn stream_timeouts_and_response_size_are_read_at_each_level() {
    let cfg = load(&format!(
        "server:\n  stream_timeout: 10m\n  max_response_size: 2MiB\n{OK_PROVIDER}    timeouts: {{ stream: 5m }}\nroutes:\n  - match: {{ model: m }}\n    timeouts: {{ stream: 90s }}\n    targets: [{{ provider: p }}]\n"
    ))
    .unwrap();
    assert_eq!(
        cfg.settings.stream_timeout,
        std::time::Duration::from_secs(600)
    );
    assert_eq!(cfg.settings.max_response_size, 2 << 20);
    let stream = |t: crate::upstream::Timeouts| t.stream.map(|d| d.as_secs());
    assert_eq!(stream(cfg.providers["p"].timeouts), Some(300));
    let route = cfg.routes.resolve("m").unwrap();
    assert_eq!(stream(route.policy.timeouts), Some(90));
    let defaults = load(OK_PROVIDER).unwrap();
    assert_eq!(
        defaults.settings.stream_timeout,
        std::time::Duration::from_secs(1800)
    );
    assert_eq!(defaults.settings.max_response_size, 64 << 20);
}

#[test]
fn hybrid_headroom_weight_defaults_to_zero_and_must_not_be_negative() {
    let route = |weights: &str| {
        format!("{OK_PROVIDER}routes:\n  - match: {{ model: m }}\n    strategy: hybrid\n    weights: {weights}\n    targets: [{{ provider: p }}]\n")
    };
    let headroom = |weights: &str| {
        let cfg = load(&route(weights)).unwrap();
        match cfg.routes.resolve("m").unwrap().policy.strategy {
            crate::routing::strategy::Strategy::Hybrid(w) => w.headroom,
            other => panic!("strategy {other:?}"),
        }
    };
    assert_eq!(headroom("{ cost: 1 }"), 0.0);
    assert_eq!(headroom("{ headroom: 2 }"), 2.0);
    for bad in ["{ headroom: -1 }", "{ headroom: .nan }"] {
        check_table_row(
            &route(bad),
            "routes[0].weights: weights must be non-negative numbers",
        );
    }
}
