//! `routes.yaml`, from file to a validated, immutable [`Config`].
//!
//! `load` reads and parses (every syntax and shape problem, with its line),
//! `validate` turns raw values into types that cannot be wrong and compiles
//! the adapter scripts, `watch` reloads on change and swaps atomically.

pub mod catalog;
pub mod guardrails;
pub mod load;
pub mod policy;
pub mod pricing;
pub mod raw;
pub mod tracing;
pub mod validate;
pub mod values;
pub mod watch;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;

pub use load::{ConfigIssue, Source};

use crate::adapter::script::engine::ScriptLimits;
use crate::provider::Provider;
use crate::routing::RouteTable;

/// Limits and timeouts from `server:`.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Worker threads (read at start only).
    pub threads: usize,
    pub max_body_size: usize,
    pub drain_timeout: Duration,
    pub connect_timeout: Duration,
    pub first_byte_timeout: Duration,
    pub idle_timeout: Duration,
    pub request_timeout: Duration,
    /// Longest life of a stream (over by route and provider `timeouts.stream`).
    pub stream_timeout: Duration,
    /// Largest non-streaming provider response body the gateway reads.
    pub max_response_size: usize,
    /// Largest request head (request line + headers), bytes.
    pub max_header_size: usize,
    /// From a connection's accept (or a kept-alive one's first byte) to the
    /// end of the request head.
    pub header_timeout: Duration,
    /// From the end of the head to the end of the request body.
    pub body_timeout: Duration,
    /// Longest one write to a client may stay blocked because the client
    /// reads nothing (nginx's `send_timeout`); then the connection is cut.
    pub send_timeout: Duration,
    /// How long a stored Responses API response (and its input items) is
    /// kept for `previous_response_id` and `GET /v1/responses/{id}`.
    pub responses_ttl: Duration,
    /// Client connections open at once (read per new connection).
    pub max_connections: usize,
    /// Streaming responses relayed at once.
    pub max_streams: usize,
    pub script_limits: ScriptLimits,
    /// Where `run --upgrade` receives the listening sockets (read at start only).
    pub upgrade_sock: PathBuf,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            threads: 2,
            max_body_size: 10 * 1024 * 1024,
            drain_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            first_byte_timeout: Duration::from_secs(120),
            idle_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(600),
            stream_timeout: Duration::from_secs(30 * 60),
            max_response_size: 64 * 1024 * 1024,
            max_header_size: 64 * 1024,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(60),
            send_timeout: Duration::from_secs(30),
            responses_ttl: Duration::from_secs(30 * 24 * 3600),
            max_connections: 4096,
            max_streams: 1024,
            script_limits: ScriptLimits::default(),
            upgrade_sock: validate::default_upgrade_sock(SocketAddr::from(([127, 0, 0, 1], 8080))),
        }
    }
}

/// One loaded, validated configuration: what a request is served with.
#[derive(Debug)]
pub struct Config {
    pub path: PathBuf,
    /// Where the gateway writes (`--data-dir`, `SWITCHYARD_DATA_DIR`;
    /// default the config's folder): a relative SQLite ledger path and
    /// `server.upgrade_sock` are taken from here.
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub settings: Settings,
    /// Directory the adapter scripts are read from.
    pub scripts_dir: PathBuf,
    pub providers: IndexMap<String, Arc<Provider>>,
    pub routes: RouteTable,
    /// Short content hash of the file and every script it uses.
    pub version: String,
    /// Non-fatal findings, such as providers disabled for a missing key.
    pub warnings: Vec<String>,
    /// The provider catalog the presets came from.
    pub catalog: catalog::Catalog,
    /// Keys, shared state, ledger, cache and admin settings.
    pub policy: policy::Policy,
    /// Guardrails every model request passes, before its route's own.
    pub guardrails: crate::guard::Guardrails,
    /// The pricing catalog that fills models' missing prices and limits.
    pub pricing: pricing::Pricing,
}

impl Config {
    /// Reads, parses and validates `path`, collecting every problem; the
    /// data directory is the config's folder.
    pub fn load(path: &Path) -> Result<Self, Vec<ConfigIssue>> {
        Self::load_in(path, None)
    }

    /// [`Config::load`] with the data directory `data_dir` (`None`: the
    /// config's folder).
    pub fn load_in(path: &Path, data_dir: Option<&Path>) -> Result<Self, Vec<ConfigIssue>> {
        let (raw, source, mut issues) = load::load_file(path)?;
        match validate::validate_in(raw, &source, data_dir) {
            Ok(cfg) if issues.is_empty() => Ok(cfg),
            Ok(_) => Err(issues),
            Err(more) => {
                issues.extend(more);
                Err(issues)
            }
        }
    }

    /// True when at least one provider can take requests.
    pub fn has_usable_provider(&self) -> bool {
        self.providers.values().any(|p| p.is_enabled())
    }

    /// Every secret of every provider, for redaction.
    pub fn secrets(&self) -> Vec<std::borrow::Cow<'_, str>> {
        self.providers.values().flat_map(|p| p.secrets()).collect()
    }

    /// Every secret this config holds — the providers', the admin key and
    /// metrics token, the passwords of the Redis and PostgreSQL URLs (as
    /// written and decoded) — for the log redactor.
    pub fn log_secrets(&self) -> Vec<String> {
        let mut out: Vec<String> = self.secrets().into_iter().map(|s| s.into_owned()).collect();
        if let Some(admin) = &self.policy.admin {
            out.push(admin.key.expose().to_string());
            out.extend(admin.metrics_token.iter().map(|t| t.expose().to_string()));
        }
        let urls = [
            self.policy.state.redis.as_deref(),
            self.policy.ledger.url.as_deref(),
        ];
        for url in urls.into_iter().flatten() {
            if let Some(password) = url::Url::parse(url)
                .ok()
                .and_then(|u| u.password().map(str::to_string))
            {
                if let Ok(decoded) = url::form_urlencoded::parse(format!("p={password}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .ok_or(())
                {
                    out.push(decoded);
                }
                out.push(password);
            }
        }
        // The collector's headers may carry its token.
        if let Some(t) = &self.policy.tracing {
            let headers = &t.settings.export.headers;
            out.extend(
                headers
                    .iter()
                    .filter(|(_, v)| v.len() >= 8)
                    .map(|(_, v)| v.clone()),
            );
        }
        // The budget webhook's signing key, and a token in its URL.
        if let Some(w) = &self.policy.webhook {
            out.extend(w.secret.iter().map(|s| s.expose().to_string()));
            if let Ok(u) = url::Url::parse(&w.url) {
                out.extend(u.password().map(str::to_string));
                out.extend(
                    u.query_pairs()
                        .map(|(_, v)| v.into_owned())
                        .filter(|v| v.len() >= 8),
                );
            }
        }
        out
    }
}
