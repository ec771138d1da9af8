//! The shipped provider catalog, preset by preset: each one is loaded through
//! `Config::load` as `p: { preset: X, api_key: k-X }`, its adapter builds a
//! chat request, and the resulting URL and credential header are compared
//! with a table written by hand from the providers' documentation (not from
//! the catalog), so a wrong base URL or auth style fails here.

use std::path::Path;
use std::sync::Once;

use crate::adapter::Ctx;
use crate::config::raw::RawPreset;
use crate::config::Config;
use crate::provider::Provider;

const SCRIPTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/providers");

/// How a provider expects its key.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Auth {
    /// `Authorization: Bearer <key>`.
    Bearer,
    /// The raw key in this header.
    Header(&'static str),
    /// No credential.
    None,
}

/// Values of the `${VAR}` placeholders in the catalog during these tests.
const ACCOUNT: &str = "acct-123";
const RESOURCE: &str = "contoso";

/// Preset → the full URL of a non-streaming chat request (for the model
/// named in `MODEL_OF`, else `test-model`) and how the key is sent.
const EXPECTED: &[(&str, &str, Auth)] = &[
    ("openai", "https://api.openai.com/v1/chat/completions", Auth::Bearer),
    (
        "azure-openai",
        "https://contoso.openai.azure.com/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21",
        Auth::Header("api-key"),
    ),
    (
        "bedrock",
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/test-model/converse",
        Auth::Bearer,
    ),
    (
        "vertex",
        "https://aiplatform.googleapis.com/v1/projects/proj-123/locations/global/publishers/google/models/test-model:generateContent",
        Auth::Bearer,
    ),
    ("anthropic", "https://api.anthropic.com/v1/messages", Auth::Header("x-api-key")),
    (
        "gemini",
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent",
        Auth::Header("x-goog-api-key"),
    ),
    ("mistral", "https://api.mistral.ai/v1/chat/completions", Auth::Bearer),
    ("groq", "https://api.groq.com/openai/v1/chat/completions", Auth::Bearer),
    ("together", "https://api.together.xyz/v1/chat/completions", Auth::Bearer),
    ("fireworks", "https://api.fireworks.ai/inference/v1/chat/completions", Auth::Bearer),
    ("openrouter", "https://openrouter.ai/api/v1/chat/completions", Auth::Bearer),
    ("xai", "https://api.x.ai/v1/chat/completions", Auth::Bearer),
    ("perplexity", "https://api.perplexity.ai/chat/completions", Auth::Bearer),
    ("cerebras", "https://api.cerebras.ai/v1/chat/completions", Auth::Bearer),
    ("deepinfra", "https://api.deepinfra.com/v1/openai/chat/completions", Auth::Bearer),
    ("cohere", "https://api.cohere.ai/compatibility/v1/chat/completions", Auth::Bearer),
    ("cohere-v2", "https://api.cohere.com/v2/chat", Auth::Bearer),
    ("nvidia", "https://integrate.api.nvidia.com/v1/chat/completions", Auth::Bearer),
    (
        "cloudflare",
        "https://api.cloudflare.com/client/v4/accounts/acct-123/ai/v1/chat/completions",
        Auth::Bearer,
    ),
    ("github", "https://models.github.ai/inference/chat/completions", Auth::Bearer),
    ("huggingface", "https://router.huggingface.co/v1/chat/completions", Auth::Bearer),
    ("sambanova", "https://api.sambanova.ai/v1/chat/completions", Auth::Bearer),
    ("zai", "https://api.z.ai/api/paas/v4/chat/completions", Auth::Bearer),
    (
        "qwen-intl",
        "https://dashscope-intl.aliyuncs.com/compatible-mode/v1/chat/completions",
        Auth::Bearer,
    ),
    ("moonshot-intl", "https://api.moonshot.ai/v1/chat/completions", Auth::Bearer),
    ("minimax-intl", "https://api.minimax.io/v1/chat/completions", Auth::Bearer),
    ("siliconflow-intl", "https://api.siliconflow.com/v1/chat/completions", Auth::Bearer),
    ("deepseek", "https://api.deepseek.com/chat/completions", Auth::Bearer),
    ("moonshot", "https://api.moonshot.cn/v1/chat/completions", Auth::Bearer),
    ("zhipu", "https://open.bigmodel.cn/api/paas/v4/chat/completions", Auth::Bearer),
    (
        "qwen",
        "https://dashscope.aliyuncs.com/compatible-mode/v1/chat/completions",
        Auth::Bearer,
    ),
    ("minimax", "https://api.minimaxi.com/v1/chat/completions", Auth::Bearer),
    ("baichuan", "https://api.baichuan-ai.com/v1/chat/completions", Auth::Bearer),
    ("yi", "https://api.lingyiwanwu.com/v1/chat/completions", Auth::Bearer),
    ("siliconflow", "https://api.siliconflow.cn/v1/chat/completions", Auth::Bearer),
    ("volcengine", "https://ark.cn-beijing.volces.com/api/v3/chat/completions", Auth::Bearer),
    ("qianfan", "https://qianfan.baidubce.com/v2/chat/completions", Auth::Bearer),
    ("hunyuan", "https://api.hunyuan.cloud.tencent.com/v1/chat/completions", Auth::Bearer),
    ("stepfun", "https://api.stepfun.com/v1/chat/completions", Auth::Bearer),
    ("ollama", "http://127.0.0.1:11434/v1/chat/completions", Auth::None),
    ("ollama-native", "http://127.0.0.1:11434/api/chat", Auth::None),
    ("vllm", "http://127.0.0.1:8000/v1/chat/completions", Auth::None),
    ("llamacpp", "http://127.0.0.1:8080/v1/chat/completions", Auth::None),
    ("lmstudio", "http://127.0.0.1:1234/v1/chat/completions", Auth::None),
    ("localai", "http://127.0.0.1:8080/v1/chat/completions", Auth::None),
    ("sglang", "http://127.0.0.1:30000/v1/chat/completions", Auth::None),
];

/// The model a chat request asks for, where the URL depends on it.
const MODEL_OF: &[(&str, &str)] = &[("azure-openai", "gpt-4o"), ("gemini", "gemini-2.5-flash")];

/// Presets the catalog must have (the providers users ask for first).
const REQUIRED: &[&str] = &[
    "openai",
    "azure-openai",
    "bedrock",
    "vertex",
    "anthropic",
    "gemini",
    "mistral",
    "groq",
    "together",
    "fireworks",
    "openrouter",
    "xai",
    "perplexity",
    "cerebras",
    "deepinfra",
    "cohere",
    "nvidia",
    "cloudflare",
    "github",
    "huggingface",
    "deepseek",
    "moonshot",
    "zhipu",
    "qwen",
    "minimax",
    "baichuan",
    "yi",
    "siliconflow",
    "volcengine",
    "qianfan",
    "hunyuan",
    "stepfun",
    "ollama",
    "vllm",
    "llamacpp",
    "lmstudio",
    "localai",
    "sglang",
];

/// Sets the placeholders the catalog uses and clears the local servers'
/// overrides, once for the whole test binary.
fn environment() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::env::set_var("AZURE_OPENAI_RESOURCE", RESOURCE);
        std::env::set_var("CLOUDFLARE_ACCOUNT_ID", ACCOUNT);
        std::env::set_var("GOOGLE_CLOUD_PROJECT", "proj-123");
        std::env::set_var("AWS_REGION", "us-east-1");
        for var in [
            "OLLAMA_BASE_URL",
            "VLLM_BASE_URL",
            "LLAMACPP_BASE_URL",
            "LMSTUDIO_BASE_URL",
            "LOCALAI_BASE_URL",
            "SGLANG_BASE_URL",
            "GOOGLE_CLOUD_LOCATION",
        ] {
            std::env::remove_var(var);
        }
    });
}

fn catalog() -> indexmap::IndexMap<String, RawPreset> {
    super::Catalog::load(Path::new(SCRIPTS)).unwrap().presets
}

fn adapter_exists(adapter: &str) -> bool {
    crate::adapter::BUILT_IN.contains(&adapter)
        || Path::new(SCRIPTS).join(format!("{adapter}.rhai")).is_file()
}

fn expected(preset: &str) -> (&'static str, Auth) {
    let (_, url, auth) = EXPECTED
        .iter()
        .find(|(p, _, _)| *p == preset)
        .unwrap_or_else(|| panic!("preset `{preset}` is missing from the EXPECTED table"));
    (url, *auth)
}

/// Loads `yaml` (after a `scripts:` line) as routes.yaml.
fn load(yaml: &str) -> Config {
    environment();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("routes.yaml");
    std::fs::write(&path, format!("scripts: {SCRIPTS}\n{yaml}")).unwrap();
    Config::load(&path).unwrap_or_else(|issues| {
        let text: Vec<String> = issues.iter().map(ToString::to_string).collect();
        panic!("config does not load:\n{}", text.join("\n"))
    })
}

/// The ctx a request's adapter hooks get (as `proxy/attempts/request.rs` builds it).
fn adapter_ctx(provider: &Provider, endpoint: &'static str, model: &str) -> Ctx {
    Ctx {
        endpoint,
        model: model.to_string(),
        provider: provider.name.clone(),
        api_key: provider.api_key.as_ref().map(|k| k.expose().to_string()),
        options: provider.options.clone(),
        ..Ctx::default()
    }
}

/// The URL and headers the provider's adapter builds for `endpoint`.
fn outgoing(
    provider: &Provider,
    endpoint: &'static str,
    model: &str,
) -> (String, Vec<(String, String)>) {
    let plan = provider
        .adapter
        .plan(&adapter_ctx(provider, endpoint, model))
        .unwrap_or_else(|e| panic!("{}: request(ctx) failed: {e}", provider.name));
    let up = &provider.upstream;
    let scheme = if up.tls { "https" } else { "http" };
    let url = format!("{scheme}://{}{}", up.authority, up.target(&plan.path));
    let mut headers = plan.headers;
    headers.extend(provider.headers.iter().cloned());
    (url, headers)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn auth_style(auth: Auth) -> String {
    match auth {
        Auth::Bearer => "bearer".into(),
        Auth::Header(name) => format!("header:{name}"),
        Auth::None => "none".into(),
    }
}

#[test]
fn every_preset_builds_the_documented_chat_url_and_auth() {
    let presets = catalog();
    let testable: Vec<&String> = presets
        .iter()
        .filter(|(_, p)| adapter_exists(&p.adapter))
        .map(|(name, _)| name)
        .collect();
    let mut yaml = String::from("providers:\n");
    for name in &testable {
        yaml.push_str(&format!(
            "  {name}: {{ preset: {name}, api_key: k-{name} }}\n"
        ));
    }
    let cfg = load(&yaml);
    for name in testable {
        let provider = &cfg.providers[name.as_str()];
        assert!(provider.is_enabled(), "{name}: {:?}", provider.disabled);
        let (want_url, auth) = expected(name);
        let model = MODEL_OF
            .iter()
            .find(|(p, _)| p == name)
            .map_or("test-model", |(_, m)| m);
        let (url, headers) = outgoing(provider, "chat", model);
        assert_eq!(url, want_url, "{name}: chat URL");
        let key = format!("k-{name}");
        let carrying: Vec<&str> = headers
            .iter()
            .filter(|(_, v)| v.contains(&key))
            .map(|(k, _)| k.as_str())
            .collect();
        match auth {
            Auth::Bearer => {
                assert_eq!(
                    header(&headers, "authorization"),
                    Some(format!("Bearer {key}").as_str()),
                    "{name}"
                );
                assert_eq!(
                    carrying,
                    ["authorization"],
                    "{name}: the key goes in one header only"
                );
            }
            Auth::Header(h) => {
                assert_eq!(
                    header(&headers, h),
                    Some(key.as_str()),
                    "{name}: raw key in `{h}`"
                );
                assert_eq!(carrying, [h], "{name}: the key goes in one header only");
            }
            Auth::None => assert!(
                carrying.is_empty(),
                "{name}: a local server gets no key: {headers:?}"
            ),
        }
    }
}

#[test]
fn every_preset_matches_the_documented_url_and_auth_as_data() {
    // The catalog's own fields (base URL and auth style), checked against
    // the table independently of any adapter.
    for (name, preset) in catalog() {
        let (url, auth) = expected(&name);
        let base = preset.base_url.trim_end_matches('/');
        // The cloud presets' `{region}`, as the EXPECTED table has it.
        let region = if base.contains("aiplatform") {
            "global"
        } else {
            "us-east-1"
        };
        let base = crate::cloud::fill_region(base, region);
        if !base.contains("${") {
            assert!(
                url.starts_with(&format!("{base}/")),
                "{name}: the documented URL {url} is not under base_url {base}"
            );
        }
        assert_eq!(
            preset.auth.as_deref(),
            Some(auth_style(auth).as_str()),
            "{name}: auth"
        );
    }
}

#[test]
fn openai_format_presets_put_embeddings_beside_chat() {
    let presets = catalog();
    let mut yaml = String::from("providers:\n");
    let names: Vec<&String> = presets
        .iter()
        .filter(|(_, p)| matches!(p.adapter.as_str(), "openai" | "azure-openai"))
        .map(|(n, _)| n)
        .collect();
    for name in &names {
        yaml.push_str(&format!(
            "  {name}: {{ preset: {name}, api_key: k-{name} }}\n"
        ));
    }
    let cfg = load(&yaml);
    for name in names {
        let model = if name == "azure-openai" {
            "gpt-4o"
        } else {
            "test-model"
        };
        let (url, _) = outgoing(&cfg.providers[name.as_str()], "embeddings", model);
        let want = expected(name).0.replace("/chat/completions", "/embeddings");
        assert_eq!(url, want, "{name}: embeddings URL");
    }
}

#[test]
fn azure_maps_models_to_deployments_and_takes_the_api_version_from_options() {
    let cfg = load(
        "providers:\n  az:\n    preset: azure-openai\n    api_key: k\n    options:\n      api_version: 2025-01-01-preview\n      deployments: { gpt-4o: prod-4o, o3: \"team a/o3\" }\n",
    );
    let az = &cfg.providers["az"];
    let base = "https://contoso.openai.azure.com/openai/deployments";
    let (url, headers) = outgoing(az, "chat", "gpt-4o");
    assert_eq!(
        url,
        format!("{base}/prod-4o/chat/completions?api-version=2025-01-01-preview")
    );
    assert_eq!(header(&headers, "api-key"), Some("k"));
    assert_eq!(header(&headers, "authorization"), None);
    let (url, _) = outgoing(az, "embeddings", "o3");
    assert_eq!(
        url,
        format!("{base}/team%20a%2Fo3/embeddings?api-version=2025-01-01-preview")
    );
    let (url, _) = outgoing(az, "chat", "unmapped-model");
    assert_eq!(
        url,
        format!("{base}/unmapped-model/chat/completions?api-version=2025-01-01-preview")
    );
}

#[test]
fn openai_auth_styles_from_options() {
    let yaml = "providers:\n\
        \x20 b: { adapter: openai, base_url: http://h/v1, api_key: k }\n\
        \x20 h: { adapter: openai, base_url: http://h/v1, api_key: k, options: { auth: \"header:X-Api-Key\" } }\n\
        \x20 n: { adapter: openai, base_url: http://h/v1, api_key: k, options: { auth: none } }\n\
        \x20 o: { preset: groq, api_key: k, options: { auth: \"header:api-key\", organization: org-1, project: proj-1 } }\n";
    let cfg = load(yaml);
    let (_, h) = outgoing(&cfg.providers["b"], "chat", "m");
    assert_eq!(h, [("authorization".to_string(), "Bearer k".to_string())]);
    let (_, h) = outgoing(&cfg.providers["h"], "chat", "m");
    assert_eq!(h, [("x-api-key".to_string(), "k".to_string())]);
    let (_, h) = outgoing(&cfg.providers["n"], "chat", "m");
    assert!(h.is_empty(), "{h:?}");
    // A provider's own options override the preset's auth, key by key.
    let (url, h) = outgoing(&cfg.providers["o"], "chat", "m");
    assert_eq!(url, "https://api.groq.com/openai/v1/chat/completions");
    assert_eq!(header(&h, "api-key"), Some("k"));
    assert_eq!(header(&h, "authorization"), None);
    assert_eq!(header(&h, "openai-organization"), Some("org-1"));
    assert_eq!(header(&h, "openai-project"), Some("proj-1"));
    // An unknown auth style is a config error, with its line.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("routes.yaml");
    std::fs::write(&path, format!("scripts: {SCRIPTS}\nproviders:\n  bad: {{ adapter: openai, base_url: http://h/v1, api_key: k, options: {{ auth: basic }} }}\n")).unwrap();
    let issues = Config::load(&path).unwrap_err();
    assert!(
        issues.iter().any(|i| i
            .to_string()
            .contains("providers.bad.options: unknown auth style 'basic'")),
        "{issues:?}"
    );
}

#[test]
fn the_catalog_covers_the_required_providers_and_every_preset_is_in_the_table() {
    let presets = catalog();
    assert!(presets.len() >= 40, "only {} presets", presets.len());
    for name in REQUIRED {
        assert!(presets.contains_key(*name), "missing preset `{name}`");
    }
    for (name, _, _) in EXPECTED {
        assert!(
            presets.contains_key(*name),
            "EXPECTED names `{name}`, which the catalog lacks"
        );
    }
    let mut display: Vec<&str> = presets.values().map(|p| p.name.as_str()).collect();
    display.sort_unstable();
    display.dedup();
    assert_eq!(display.len(), presets.len(), "display names must be unique");
}

#[test]
fn every_preset_is_well_formed() {
    for (name, p) in catalog() {
        assert!(!p.name.trim().is_empty(), "{name}: name");
        let env = p
            .env
            .as_deref()
            .unwrap_or_else(|| panic!("{name}: env is not set"));
        assert!(
            !env.is_empty()
                && env
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'),
            "{name}: env `{env}`"
        );
        let docs = p
            .docs
            .as_deref()
            .unwrap_or_else(|| panic!("{name}: docs is not set"));
        assert!(docs.starts_with("https://"), "{name}: docs `{docs}`");
        for cap in p.capabilities.keys() {
            assert!(
                crate::provider::CAPABILITIES.contains(&cap.as_str()),
                "{name}: unknown capability `{cap}`"
            );
        }
        match p.category.as_deref() {
            Some("local") => {
                assert_eq!(
                    p.auth.as_deref(),
                    Some("none"),
                    "{name}: local servers take no key"
                );
                let prefix = format!("${{{env}:-http://127.0.0.1:");
                // OpenAI-compatible servers live under /v1; a native API
                // (ollama-native) at the server's root.
                let suffix = if p.adapter == "openai" { "/v1}" } else { "}" };
                assert!(
                    p.base_url.starts_with(&prefix) && p.base_url.ends_with(suffix),
                    "{name}: base_url `{}` must be {prefix}PORT{suffix}",
                    p.base_url
                );
                assert!(
                    p.models.is_empty(),
                    "{name}: a local server's models are the user's"
                );
            }
            Some("international" | "china") => {
                assert!(
                    p.base_url.starts_with("https://"),
                    "{name}: base_url `{}`",
                    p.base_url
                );
                // Cloud providers name their credentials chain's variable.
                let cloud = matches!(p.adapter.as_str(), "bedrock" | "vertex");
                assert!(
                    env.ends_with("_API_KEY") || env.ends_with("_TOKEN") || cloud,
                    "{name}: env `{env}` should name a key"
                );
                assert!(
                    !p.models.is_empty() || name == "azure-openai",
                    "{name}: no default models"
                );
            }
            other => panic!("{name}: category {other:?}"),
        }
    }
}

#[test]
fn model_prices_are_sane() {
    let mut priced = 0;
    for (name, p) in catalog() {
        for (model, m) in &p.models {
            let at = format!("{name}.{model}");
            let Some(m) = m else { continue };
            for price in [m.input_per_mtok, m.output_per_mtok, m.cached_input_per_mtok]
                .into_iter()
                .flatten()
            {
                assert!(
                    price.is_finite() && (0.0..=200.0).contains(&price),
                    "{at}: price {price}"
                );
            }
            if let (Some(i), Some(o)) = (m.input_per_mtok, m.output_per_mtok) {
                priced += 1;
                assert!(o >= i, "{at}: output ({o}) cheaper than input ({i})");
            }
            if let Some(c) = m.cached_input_per_mtok {
                let i = m
                    .input_per_mtok
                    .unwrap_or_else(|| panic!("{at}: cached price without input price"));
                assert!(
                    c < i,
                    "{at}: cached input ({c}) not cheaper than input ({i})"
                );
            }
            if m.output_per_mtok.is_some() {
                assert!(
                    m.input_per_mtok.is_some(),
                    "{at}: output price without input price"
                );
            }
            if let Some(w) = m.context_window {
                assert!((4096..=10_000_000).contains(&w), "{at}: context_window {w}");
            }
            assert!(
                m.quality.is_none(),
                "{at}: quality is a user's judgement, not a preset's"
            );
        }
    }
    assert!(priced >= 20, "only {priced} models have prices");
}

#[test]
fn preset_models_are_served_and_listed() {
    let cfg =
        load("providers:\n  oa: { preset: openai, api_key: k, models: { my-fine-tune: {} } }\n");
    let models = &cfg.providers["oa"].models;
    assert_eq!(
        models.get("gpt-4o-mini").unwrap().input_per_mtok,
        Some(0.15)
    );
    assert!(
        models.contains_key("my-fine-tune"),
        "the provider's own models are kept"
    );
}
