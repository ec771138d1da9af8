//! Adapters: how a request in the hub format (OpenAI's chat and embeddings
//! API) becomes a provider's request, and how its answer and its stream
//! events come back to the hub format.
//!
//! One interface, [`Wire`], two kinds of implementation:
//! - **built in**, in Rust against typed wire structs, for the formats the
//!   gateway ships: OpenAI and every OpenAI-compatible preset
//!   ([`openai`]), Azure OpenAI ([`azure`]), Anthropic ([`anthropic`],
//!   whose wire types the `/v1/messages` dialect shares), Gemini
//!   ([`gemini`]) and Amazon Bedrock's Converse API ([`bedrock`], whose
//!   streams come in AWS's binary event-stream framing). They are part of
//!   the binary: `adapter: anthropic` works from a routes.yaml in any
//!   folder.
//! - **scripts** ([`script`]): a `.rhai` file in the scripts folder with the
//!   same hooks is an adapter for any other provider, hot-reloaded; and a
//!   `patch:` script may tweak any provider's requests, answers and stream
//!   chunks after its adapter.

pub mod anthropic;
pub mod azure;
pub mod bedrock;
pub mod chain;
pub mod fixtures;
pub mod gemini;
pub(crate) mod hub;
pub mod openai;
pub mod script;
#[cfg(test)]
pub(crate) mod sweep;
pub mod vertex;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

/// Why an adapter refused a request or failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AdapterError {
    /// The request cannot be expressed in the provider's format (a 4xx
    /// for the client, e.g. `n > 1` where the provider returns one
    /// choice). Not the provider's fault: no failover.
    #[error("{message}")]
    Rejected { status: u16, message: String },
    /// The adapter could not do its work: a provider answer that is not
    /// the shape its API documents, a script error or limit. `adapter`
    /// names it (`anthropic`, or a script's path relative to the config).
    #[error("adapter {adapter}{}: {hook}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Failed {
        adapter: String,
        hook: &'static str,
        line: Option<usize>,
        message: String,
    },
}

impl AdapterError {
    /// A 400 refusal.
    pub fn rejected(message: impl Into<String>) -> Self {
        Self::Rejected {
            status: 400,
            message: message.into(),
        }
    }

    /// A failure of built-in adapter `adapter` in `hook`.
    pub fn failed(adapter: &str, hook: &'static str, message: impl Into<String>) -> Self {
        Self::Failed {
            adapter: adapter.to_string(),
            hook,
            line: None,
            message: message.into(),
        }
    }
}

/// One item a stream translator produced for the client.
#[derive(Debug, Clone, PartialEq)]
pub enum ChunkOut {
    /// A chunk to send as `data: <json>` (a `chat.completion.chunk`, or an
    /// `{"error": …}` that ends the stream).
    Json(Value),
    /// A raw data line, such as `[DONE]`.
    Raw(String),
}

/// How a provider frames its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Framing {
    /// Server-sent events (`event:` / `data:` lines, blank-line separated).
    #[default]
    Sse,
    /// One JSON object per line (Ollama's `application/x-ndjson`): each
    /// line reaches the translator as an event with an empty name.
    Ndjson,
    /// AWS's binary event-stream framing
    /// (`application/vnd.amazon.eventstream`, Bedrock's ConverseStream):
    /// each message reaches the translator as an event named by its
    /// `:event-type` header (`exception:<type>` for an exception, `error`
    /// for an error), its payload as the data (see
    /// [`crate::transform::eventstream`]).
    EventStream,
}

/// What an attempt's hooks see: the request's shape, the target and its
/// credentials. Built once per attempt; a script adapter converts it to a
/// Rhai map once, not per call.
#[derive(Debug, Default)]
pub struct Ctx {
    /// `chat` or `embeddings`.
    pub endpoint: &'static str,
    /// The model name at the provider.
    pub model: String,
    pub stream: bool,
    /// The client asked for the final usage chunk.
    pub include_usage: bool,
    /// The provider's name in routes.yaml.
    pub provider: String,
    /// The backend's credential.
    pub api_key: Option<String>,
    /// `options:` of the provider (preset's, then routes.yaml's).
    pub options: Arc<serde_json::Map<String, Value>>,
    /// The request's `encoding_format` (embeddings), for response transforms.
    pub encoding_format: Option<String>,
    /// Its Rhai form, built by the first script hook that needs it
    /// (leave it empty: `OnceLock::new()`).
    pub script: std::sync::OnceLock<rhai::Dynamic>,
}

/// A copy without the cached Rhai form (which the copy's edits would make
/// stale).
impl Clone for Ctx {
    fn clone(&self) -> Self {
        Self {
            endpoint: self.endpoint,
            model: self.model.clone(),
            stream: self.stream,
            include_usage: self.include_usage,
            provider: self.provider.clone(),
            api_key: self.api_key.clone(),
            options: self.options.clone(),
            encoding_format: self.encoding_format.clone(),
            script: std::sync::OnceLock::new(),
        }
    }
}

impl Ctx {
    /// `ctx` as scripts see it, built once and shared by every call.
    pub fn script_map(&self) -> rhai::Dynamic {
        self.script.get_or_init(|| script::ctx_map(self)).clone()
    }

    /// `options.<name>` as text, when it is a string.
    pub fn option_str(&self, name: &str) -> Option<&str> {
        self.options.get(name).and_then(Value::as_str)
    }
}

/// What a request's head is: method, path (and query) under the provider's
/// base URL, headers (the credential among them).
#[derive(Debug, Clone, PartialEq)]
pub struct RequestPlan {
    pub method: http::Method,
    /// Path (and query) relative to the provider's base URL path.
    pub path: String,
    pub headers: Vec<(String, String)>,
    /// The same ctx always gets this plan (`false`: build it per request,
    /// e.g. for a signature over the current time).
    pub reuse: bool,
}

impl RequestPlan {
    /// A reusable `POST` to `path`.
    pub fn post(path: impl Into<String>, headers: Vec<(String, String)>) -> Self {
        Self {
            method: http::Method::POST,
            path: path.into(),
            headers,
            reuse: true,
        }
    }
}

/// The built-in adapters, by name.
pub const BUILT_IN: &[&str] = &[
    "openai",
    "azure-openai",
    "anthropic",
    "gemini",
    "vertex",
    "bedrock",
];

pub use chain::{Adapter, Origin, StreamState};

/// The built-in adapter `name`, if there is one.
pub fn builtin(name: &str) -> Option<Arc<dyn Wire>> {
    match name {
        "openai" => Some(Arc::new(openai::OpenAi)),
        "azure-openai" => Some(Arc::new(azure::Azure)),
        "gemini" => Some(Arc::new(gemini::Gemini)),
        "anthropic" => Some(Arc::new(anthropic::Anthropic)),
        "bedrock" => Some(Arc::new(bedrock::Bedrock)),
        "vertex" => Some(Arc::new(vertex::Vertex)),
        _ => None,
    }
}

/// The script adapters shipped with the gateway (`scripts/providers/`),
/// also built into the binary so that a config in any folder can name them;
/// a script of the same name in the config's scripts folder is used instead.
pub fn shipped_script(name: &str) -> Option<&'static str> {
    match name {
        "cohere" => Some(include_str!("../../scripts/providers/cohere.rhai")),
        "ollama" => Some(include_str!("../../scripts/providers/ollama.rhai")),
        _ => None,
    }
}

/// What an adapter declares it supports, by capability name (see
/// [`crate::provider::CAPABILITIES`]).
pub type Capabilities = BTreeMap<String, bool>;

/// One stream's translation: a small state machine fed each upstream event
/// in order, writing the hub chunks for the client.
pub trait StreamTranslator: Send {
    /// One upstream event: its `event:` name (empty for none, and for
    /// NDJSON) and its `data:` text. Chunks for the client go to `out`.
    fn event(
        &mut self,
        event: &str,
        data: &str,
        out: &mut Vec<ChunkOut>,
    ) -> Result<(), AdapterError>;

    /// The upstream stream ended; what completes it goes to `out` (nothing:
    /// the relay reports a truncation unless `[DONE]` or a finish came).
    fn finish(&mut self, out: &mut Vec<ChunkOut>) -> Result<(), AdapterError>;
}

/// A provider wire format: the interface built-in adapters and script
/// adapters implement alike.
pub trait Wire: Send + Sync {
    /// The adapter's name (`adapter:` in routes.yaml, or a script's path).
    fn name(&self) -> &str;

    /// What it supports.
    fn capabilities(&self) -> Capabilities;

    /// The request head for `ctx`.
    fn plan(&self, ctx: &Ctx) -> Result<RequestPlan, AdapterError>;

    /// The provider's request body for a hub request; `None` sends the hub
    /// body as it is (OpenAI-format providers).
    fn request(&self, body: &Value, ctx: &Ctx) -> Result<Option<Value>, AdapterError>;

    /// Whether [`Wire::response`] changes a non-streaming answer (else the
    /// provider's bytes go to the client as they came).
    fn translates_response(&self) -> bool;

    /// A provider's non-streaming 2xx answer in the hub format.
    fn response(&self, body: Value, ctx: &Ctx) -> Result<Value, AdapterError>;

    /// A translator for one stream; `None` relays the provider's events as
    /// they are (OpenAI-format streams).
    fn stream(&self, ctx: &Arc<Ctx>) -> Option<Box<dyn StreamTranslator>>;

    /// How the provider frames its stream.
    fn framing(&self) -> Framing {
        Framing::Sse
    }

    /// Checks a provider's `options` at load, so that a wrong one is a
    /// config error with its line rather than a failure per request.
    fn check_options(&self, _options: &serde_json::Map<String, Value>) -> Result<(), String> {
        Ok(())
    }
}
