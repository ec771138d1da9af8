//! The serde mirror of `routes.yaml`: every field the file may contain, and
//! nothing else (`deny_unknown_fields` turns typos into errors). Values are
//! still raw here (durations and sizes are strings, `${VAR}` not expanded);
//! `validate.rs` turns them into types that cannot be wrong.

use indexmap::IndexMap;
use serde::Deserialize;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Address the OpenAI-compatible API listens on, e.g. `127.0.0.1:8080`.
    pub listen: Option<String>,
    /// Limits and timeouts.
    #[serde(default)]
    pub server: RawServer,
    /// Directory of provider adapter scripts, relative to the config file.
    pub scripts: Option<String>,
    /// Named providers, in file order.
    #[serde(default)]
    pub providers: IndexMap<String, RawProvider>,
    /// Routes, tried in file order.
    #[serde(default)]
    pub routes: Vec<RawRoute>,
    /// `auth:`, `state:`, `ledger:`, `cache:` and `admin:`.
    #[serde(skip)]
    pub policy: super::policy::RawPolicy,
    /// `guardrails:`: run on every model request, before its route's own.
    #[serde(skip)]
    pub guardrails: Vec<super::guardrails::RawGuardrail>,
    /// Providers whose entry failed to parse (already reported).
    #[serde(skip)]
    pub broken_providers: Vec<String>,
}

/// A number or a string such as `30s` or `10MiB`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    Int(u64),
    Float(f64),
    Text(String),
}

/// `server:` settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    /// Worker threads (restart to change).
    pub threads: Option<usize>,
    /// Largest accepted request body, e.g. `10MiB`.
    pub max_body_size: Option<Scalar>,
    /// How long in-flight requests may take to finish on SIGTERM/SIGINT.
    pub drain_timeout: Option<Scalar>,
    /// TCP/TLS connect timeout towards providers.
    pub connect_timeout: Option<Scalar>,
    /// Time allowed from sending a request to the provider's response headers.
    pub first_byte_timeout: Option<Scalar>,
    /// Longest silence allowed between two reads of a provider's body.
    pub idle_timeout: Option<Scalar>,
    /// Total time allowed for a non-streaming request (all attempts).
    pub request_timeout: Option<Scalar>,
    /// Longest life of a stream, e.g. `30m`.
    pub stream_timeout: Option<Scalar>,
    /// Largest non-streaming provider response body read, e.g. `64MiB`.
    pub max_response_size: Option<Scalar>,
    /// Largest request head (request line and headers) a client may send.
    pub max_header_size: Option<Scalar>,
    /// Time a client has to send a request's head.
    pub header_timeout: Option<Scalar>,
    /// Time a client has to send a request's whole body.
    pub body_timeout: Option<Scalar>,
    /// Longest a write to a client may stay blocked (the client not reading).
    pub send_timeout: Option<Scalar>,
    /// How long stored Responses API responses are kept, e.g. `30d`.
    pub responses_ttl: Option<Scalar>,
    /// Client connections open at once; more are answered 503.
    pub max_connections: Option<usize>,
    /// Streaming responses relayed at once; more are answered 503.
    pub max_streams: Option<usize>,
    /// Limits for adapter scripts.
    #[serde(default)]
    pub scripts: RawScriptLimits,
    /// Unix socket over which `run --upgrade` takes the listening sockets
    /// from the running gateway (restart to change).
    pub upgrade_sock: Option<String>,
}

/// `server.scripts:` limits applied to every adapter script call.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScriptLimits {
    /// Maximum Rhai operations per hook call.
    pub max_operations: Option<u64>,
    /// Wall-clock budget per hook call, e.g. `1s`.
    pub timeout: Option<Scalar>,
    /// Maximum function call depth.
    pub max_call_depth: Option<usize>,
    /// Longest string a script may build, e.g. `40MiB`.
    pub max_string_size: Option<Scalar>,
    /// Most items in one array (nested arrays included).
    pub max_array_size: Option<usize>,
    /// Most properties in one object map (nested maps included).
    pub max_map_size: Option<usize>,
    /// Memory a hook call may hold, e.g. `256MiB`.
    pub max_memory: Option<Scalar>,
    /// No longer used (the shipped formats are built in); accepted with a
    /// warning.
    pub native: Option<bool>,
}

/// One entry of `providers:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProvider {
    /// A preset from the provider catalog (`scripts/providers/catalog.yaml`)
    /// that supplies the fields below; fields given here override it.
    pub preset: Option<String>,
    /// The adapter: a built-in one (`openai`, `azure-openai`, `anthropic`,
    /// `gemini`) or a script `scripts/providers/<adapter>.rhai`.
    pub adapter: Option<String>,
    /// A patch script `scripts/patches/<patch>.rhai` run after the adapter.
    pub patch: Option<String>,
    /// Base URL, e.g. `https://api.openai.com/v1`.
    pub base_url: Option<String>,
    /// API key; usually `${ENV_VAR}` or an `enc:v1:` value. Omit for
    /// providers without auth.
    pub api_key: Option<String>,
    /// Extra headers sent on every request to this provider (values as
    /// `api_key`: `${VAR}` or `enc:v1:`).
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    /// Models this provider serves, with optional metadata.
    #[serde(default)]
    pub models: IndexMap<String, Option<RawModel>>,
    /// Free-form options handed to the adapter as `ctx.options`.
    pub options: Option<serde_yaml::Value>,
    /// Set to false to keep the entry but never use it.
    pub enabled: Option<bool>,
    /// Overrides of what the adapter declares it supports (e.g. `vision: false`).
    #[serde(default)]
    pub capabilities: IndexMap<String, bool>,
    /// Timeouts for this provider (over `server:`'s).
    pub timeouts: Option<RawTimeouts>,
    /// Several endpoints, regions or keys; default: one, from `base_url`
    /// and `api_key`.
    #[serde(default)]
    pub backends: Vec<RawBackend>,
    /// How a backend is chosen: `weighted` (default), `round-robin`,
    /// `random`, `consistent-hash`, `least-connections`, `priority`.
    pub balance: Option<String>,
    /// The key `consistent-hash` hashes: `session` (default), `header:<name>`,
    /// `user`, `client-key` or `conversation`.
    pub hash_key: Option<String>,
    /// Active health checks of every backend.
    pub health_check: Option<RawHealthCheck>,
    /// Passive health: when a backend's circuit opens.
    pub circuit_breaker: Option<RawBreaker>,
    /// Requests and tokens per minute this gateway sends the provider, to
    /// stay under its own quota; over it, the next target is tried.
    pub limits: Option<super::policy::RawLimits>,
    /// What this gateway may spend on the provider; over it, the next
    /// target is tried.
    pub budget: Option<super::policy::RawBudget>,
    /// AWS SigV4 signing (Bedrock): region and where the keys come from.
    pub aws: Option<RawAws>,
    /// Google OAuth2 (Vertex AI): project, region and the credentials file.
    pub gcp: Option<RawGcp>,
    /// How the provider announces its own quota, when neither the OpenAI
    /// nor the Anthropic headers, and how long a bare 429 benches.
    pub quota: Option<RawQuota>,
}

/// `quota:` of a provider.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawQuota {
    /// The provider's own header names, read before the built-in ones.
    #[serde(default)]
    pub headers: RawQuotaHeaders,
    /// How long a 429 with neither `Retry-After` nor quota headers
    /// benches its backend (default 200ms).
    pub refusal_bench: Option<Scalar>,
}

/// `quota.headers:` of a provider: per kind, where each value is said.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawQuotaHeaders {
    pub requests: Option<RawQuotaNames>,
    pub tokens: Option<RawQuotaNames>,
}

/// The headers of one quota window: what is left and when it resets
/// (needed), and the window's limit (optional: without it, the window has
/// no headroom share to rank by).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawQuotaNames {
    pub limit: Option<String>,
    pub remaining: String,
    pub reset: String,
}

/// `aws:` of a provider. Every field is optional: keys default to the
/// environment, then the shared credentials file (see `cloud::aws`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAws {
    /// Signing region (and `{region}` in the base URL), e.g. `us-east-1`.
    pub region: Option<String>,
    /// SigV4 service name; default `bedrock`.
    pub service: Option<String>,
    /// `${VAR}` or `enc:v1:` like `api_key`.
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    /// A profile of the shared credentials / config files.
    pub profile: Option<String>,
    /// The shared credentials file, instead of `~/.aws/credentials`.
    pub credentials_file: Option<String>,
}

/// `gcp:` of a provider (see `cloud::google`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGcp {
    /// Default: the credentials file's project, then
    /// `GOOGLE_CLOUD_PROJECT`.
    pub project: Option<String>,
    /// Vertex location, e.g. `us-east5`, or `global` (the default).
    #[serde(alias = "location")]
    pub region: Option<String>,
    /// A service account key or gcloud user credentials (JSON); default
    /// `GOOGLE_APPLICATION_CREDENTIALS`, then gcloud's default file.
    pub credentials_file: Option<String>,
}

/// One entry of a provider's `backends:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBackend {
    /// Name in metrics and headers; defaults to its position.
    pub name: Option<String>,
    /// Defaults to the provider's.
    pub base_url: Option<String>,
    /// Defaults to the provider's; `${VAR}` or `enc:v1:` like it.
    pub api_key: Option<String>,
    /// Share of the traffic (weighted balance), default 1.
    pub weight: Option<usize>,
}

/// `health_check:` of a provider.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHealthCheck {
    /// `http` (default) or `tcp`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// HTTP path relative to the base URL; default `/models` (free to call).
    pub path: Option<String>,
    /// Expected HTTP status, default 200.
    pub expect: Option<u16>,
    pub interval: Option<Scalar>,
    pub timeout: Option<Scalar>,
    /// Consecutive successes to become healthy again (default 1).
    pub healthy: Option<usize>,
    /// Consecutive failures to become unhealthy (default 2).
    pub unhealthy: Option<usize>,
}

/// `circuit_breaker:` of a provider.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBreaker {
    pub consecutive_failures: Option<u32>,
    pub error_rate: Option<f64>,
    pub min_requests: Option<u32>,
    pub window: Option<Scalar>,
    pub cooldown: Option<Scalar>,
    pub max_cooldown: Option<Scalar>,
    pub half_open_probes: Option<u32>,
}

/// Per-model metadata (prices in USD per million tokens).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModel {
    pub input_per_mtok: Option<f64>,
    pub output_per_mtok: Option<f64>,
    pub cached_input_per_mtok: Option<f64>,
    pub quality: Option<f64>,
    pub context_window: Option<u64>,
    pub max_output_tokens: Option<u64>,
}

/// One entry of `routes:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    /// Name used in metrics and logs; defaults to the first model pattern.
    pub name: Option<String>,
    /// What the client sends.
    #[serde(rename = "match")]
    pub matcher: RawMatch,
    /// Candidates, tried in order.
    pub targets: Vec<RawTarget>,
    /// Timeouts for this route (over the providers' and `server:`'s).
    pub timeouts: Option<RawTimeouts>,
    /// Attempts and backoff across targets.
    pub retry: Option<RawRetry>,
    /// Hedged requests: a second target is tried when the first is slow.
    pub hedge: Option<RawHedge>,
    /// When every target is cooling down, wait up to this long for the
    /// soonest one instead of failing.
    pub wait_for_cooldown: Option<Scalar>,
    /// Pass `/v1/...` paths the gateway does not model through to the
    /// targets (OpenAI-compatible ones), with the key swapped.
    #[serde(default)]
    pub passthrough: bool,
    /// Trace spans hold the prompt and completion text (within
    /// `tracing.content_limit`); off by default.
    #[serde(default)]
    pub capture_content: bool,
    /// How targets are ranked: `ordered` (default), `round-robin`, `cost`,
    /// `latency`, `quality`, `hybrid` or `script`.
    pub strategy: Option<String>,
    /// Weights of the `hybrid` strategy.
    pub weights: Option<RawWeights>,
    /// With `strategy: script`: `scripts/scoring/<script>.rhai`.
    pub script: Option<String>,
    /// Share of requests (0..1) that try the runner-up first, so that a
    /// recovered provider is rediscovered. Default 0.02 for `latency` and
    /// `hybrid`, 0 otherwise.
    pub explore: Option<f64>,
    /// Output tokens assumed for cost estimates when the request sets no
    /// `max_tokens` (default 512).
    pub expected_output_tokens: Option<u64>,
    /// How long a latency observation counts (default 5m).
    pub latency_memory: Option<Scalar>,
    /// Response cache and request coalescing for this route.
    pub cache: Option<super::policy::RawRouteCache>,
    /// Requests and tokens per minute for the whole route.
    pub limits: Option<super::policy::RawLimits>,
    /// What the route may spend.
    pub budget: Option<super::policy::RawBudget>,
    /// The route's own guardrails, run after the global ones.
    #[serde(default)]
    pub guardrails: Vec<super::guardrails::RawGuardrail>,
    /// The answer when every provider is down (opt-in).
    pub fallback: Option<super::policy::RawFallback>,
}

/// `weights:` of a hybrid route.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWeights {
    pub cost: Option<f64>,
    pub latency: Option<f64>,
    pub quality: Option<f64>,
    /// Weight of the quota a target's providers say it has spent
    /// (default 0: quotas do not rank).
    pub headroom: Option<f64>,
}

/// `timeouts:` of a provider or a route; each is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTimeouts {
    /// TCP/TLS connect.
    pub connect: Option<Scalar>,
    /// From sending the request to the response headers.
    pub first_byte: Option<Scalar>,
    /// Longest silence inside a response or stream.
    pub idle: Option<Scalar>,
    /// Whole request: all attempts of a non-streaming request, or until the
    /// first byte of a stream.
    pub total: Option<Scalar>,
    /// Longest life of a stream.
    pub stream: Option<Scalar>,
}

/// `retry:` of a route.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetry {
    /// Most attempts for one request, across targets and backends.
    pub max_attempts: Option<u32>,
    /// First backoff between attempts (doubles, with jitter).
    pub backoff: Option<Scalar>,
    /// Largest backoff.
    pub max_backoff: Option<Scalar>,
}

/// `hedge:` of a route.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHedge {
    /// Delay before the next target is also tried: e.g. `2s`, or `p95` for
    /// the first backend's observed 95th percentile time to first byte.
    pub after: Scalar,
    /// With a percentile: the delay used until there are enough samples.
    pub fallback: Option<Scalar>,
}

/// `match:` of a route.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMatch {
    /// One model name or glob, or a list of them.
    pub model: OneOrMany,
}

/// A string or a list of strings.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    /// The values as a list.
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            Self::One(s) => vec![s.clone()],
            Self::Many(v) => v.clone(),
        }
    }
}

/// One target of a route: a provider and the model to ask it for.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    pub provider: String,
    /// Model name at the provider; defaults to the model the client sent.
    pub model: Option<String>,
}

/// One entry of the provider catalog (`catalog.yaml` beside the scripts):
/// the defaults a `preset:` brings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPreset {
    /// Display name, e.g. `Groq`.
    pub name: String,
    pub adapter: String,
    pub base_url: String,
    /// How the key is sent: `bearer` (default), `header:<name>`, or `none`.
    pub auth: Option<String>,
    /// The environment variable conventionally holding the key.
    pub env: Option<String>,
    /// `international`, `china` or `local`.
    pub category: Option<String>,
    /// API reference URL.
    pub docs: Option<String>,
    /// Notes for users (limits, quirks).
    pub notes: Option<String>,
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    pub options: Option<serde_yaml::Value>,
    /// Overrides of the adapter's declared capabilities (e.g. `vision: false`).
    #[serde(default)]
    pub capabilities: IndexMap<String, bool>,
    #[serde(default)]
    pub models: IndexMap<String, Option<RawModel>>,
}
