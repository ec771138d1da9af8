//! Mock LLM provider: an in-process HTTP server that speaks OpenAI's,
//! Anthropic's, Gemini's, Cohere's (v2) and Ollama's wire formats (see
//! `shared/notes/wire-formats.md` §1, §2, §4, §7, and the modules below).
//!
//! Tests, benchmarks and `switchyard demo` start it on `127.0.0.1:0` and point
//! the gateway at [`MockServer::url`]. The flow of one request:
//! `state` (record, count, snapshot the config, parse a multipart `form`)
//! → `call` (latency, hang, auth, status fault) → an endpoint module
//! (validate with `params`, build the reply) → `faults` (cut or corrupt the
//! reply) → `body` (pace and send it). Gemini's endpoints take the same
//! steps in `gemini`. `routes` maps paths to endpoint modules.
//!
//! Endpoints, the OpenAI ones each also without the `/v1` prefix:
//!
//! - `POST /v1/chat/completions`, `POST /v1/embeddings`, `GET /v1/models`
//!   (`openai`, `embeddings`); embeddings are an 8-dimension hash of the
//!   input, except for models named `mock-semantic-*` (e.g.
//!   `mock-semantic-embed`): a bag-of-words embedder (256 dimensions, or
//!   `dimensions` 16..=4096) on which paraphrases land near each other, a
//!   stand-in for a real embedding model so the gateway's semantic cache
//!   can be tested and measured offline;
//! - `POST /v1/responses`: the Responses API, JSON or typed event stream
//!   (`responses`);
//! - `POST /v1/images/generations` (JSON) and `/v1/images/edits`
//!   (multipart) (`images`);
//! - `POST /v1/audio/transcriptions`, `/v1/audio/translations` (multipart)
//!   and `/v1/audio/speech` (a paced binary body) (`audio`);
//! - `POST /v1/moderations` (`moderations`);
//! - `POST /v1/rerank`, `/rerank` and `/v2/rerank`, Cohere/Jina style
//!   (`rerank`);
//! - `POST`/`GET /v1/files`, `GET`/`DELETE /v1/files/{id}`,
//!   `GET /v1/files/{id}/content`, `POST`/`GET /v1/batches`,
//!   `GET /v1/batches/{id}`, `POST /v1/batches/{id}/cancel`, kept in the
//!   server's memory (`files`, `store`);
//! - any method on `/v1/mock/echo/{*rest}`: what arrived (`echo`);
//! - `POST /v1/messages` (Anthropic), `POST /v1beta/models/{model}:{method}`
//!   (Gemini), `POST /v2/chat` and `/v2/embed` (Cohere), `POST /api/chat`
//!   (NDJSON streams) and `/api/embed` (Ollama);
//! - `POST /model/{model}/converse` and `/converse-stream` (AWS Bedrock, SigV4, event stream) (`bedrock`);
//! - Google Vertex AI (`vertex`): `POST /token` (OAuth2), and under
//!   `/v1/projects/{p}/locations/{l}/`: `publishers/google/models/{m}:generateContent`
//!   / `:streamGenerateContent`, `publishers/anthropic/models/{m}:rawPredict` /
//!   `:streamRawPredict`, `endpoints/openapi/chat/completions` (bearer token, not `api_key`);
//! - `POST /v1/traces`: OTLP/HTTP span exports, answered 200 and counted
//!   ([`MockServer::otlp_exports`]), so `mock-provider` can stand in for a
//!   collector in load runs (tests that read spans have their own);
//! - `POST /hooks/{name}`: a webhook receiver for the gateway's budget
//!   alerts, answered 200 `{"ok":true}` and recorded
//!   ([`MockServer::webhooks`]), the first `MockConfig::webhook_failures`
//!   answered 503 (`hooks`).
//!
//! Every endpoint but `/v1/models`, the two sinks and unknown paths is a hit and goes
//! through `call`: `api_key`, `latency`, `error_rate`, the faults and the
//! `quota` apply (`quota`: its windows and rate-limit headers).

mod anthropic;
mod audio;
mod bedrock;
mod body;
mod call;
mod cohere;
pub mod demo;
mod dialect;
mod echo;
mod embeddings;
mod faults;
mod files;
mod form;
mod gemini;
mod hooks;
mod hostile;
mod images;
mod moderations;
mod ollama;
mod openai;
mod params;
mod quota;
mod reply;
mod rerank;
mod responses;
mod routes;
mod slow_header;
mod state;
mod store;
mod vertex;

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use bedrock::AwsAuth;
pub use faults::{Fault, ParseFaultError};
pub use form::{Form, FormPart};
pub use hooks::Hook;
pub use quota::Quota;
pub use state::RecordedRequest;
pub use vertex::GcpAuth;

use state::{Shared, Shutdown};

/// The mock's checks of a request in a provider's wire format, for tests
/// of a translation: `Ok`, or the reason the mock would answer 400.
pub mod validate {
    /// A Cohere v2 `POST /v2/chat` body.
    pub fn cohere_chat(body: &[u8]) -> Result<(), String> {
        crate::cohere::validate::chat(body, 1).map(drop)
    }

    /// A Cohere v2 `POST /v2/embed` body.
    pub fn cohere_embed(body: &[u8]) -> Result<(), String> {
        crate::cohere::validate::embed(body).map(drop)
    }

    /// An Ollama `POST /api/chat` body.
    pub fn ollama_chat(body: &[u8]) -> Result<(), String> {
        crate::ollama::validate::chat(body, 1).map(drop)
    }

    /// An Ollama `POST /api/embed` body.
    pub fn ollama_embed(body: &[u8]) -> Result<(), String> {
        crate::ollama::validate::embed(body).map(drop)
    }
}

/// What the mock's answers contain, for tests that check them byte for
/// byte.
pub mod expected {
    pub use crate::audio::{speech_audio, SPEECH_PIECE};
    pub use crate::images::{IMAGE_TOKENS, PNG_BASE64};
}

/// How long [`MockServer::stop`] waits for open connections to close before
/// aborting the server task.
const STOP_GRACE: Duration = Duration::from_secs(1);

/// Behaviour of a [`MockServer`]; change it at runtime with
/// [`MockServer::set_config`] or [`MockServer::set_fault`].
#[derive(Clone, Debug)]
pub struct MockConfig {
    /// Delay before the response headers of the LLM endpoints.
    pub latency: Duration,
    /// Number of content deltas in a text reply (`"tok0 "`, `"tok1 "`, ...).
    pub chunks: usize,
    /// Delay between two stream events.
    pub chunk_delay: Duration,
    /// Write each SSE event in two writes about 5 ms apart (tests reassembly).
    pub split_events: bool,
    /// If set, requests must carry this key (OpenAI: `Authorization: Bearer K`,
    /// Anthropic: `x-api-key: K`); otherwise they get a 401.
    pub api_key: Option<String>,
    /// A failure to inject into the provider endpoints (all but `/models`).
    pub fault: Option<Fault>,
    /// OpenAI chat replies carry DeepSeek-style `reasoning_content`: on the
    /// message, and in stream deltas before the content.
    pub reasoning: bool,
    /// Share (0..1) of requests to the LLM endpoints answered with
    /// `error_status` (after `latency`) instead of a reply. Which ones is
    /// drawn from `seed` and the request's sequence number, so the same
    /// run of requests fails the same way every time.
    pub error_rate: f64,
    /// The status of those errors: 500 (default), 429, 503…
    pub error_status: u16,
    /// Seed of the error draws.
    pub seed: u64,
    /// How many requests [`MockServer::requests`] keeps, the oldest dropped
    /// first: all of them in tests (the default), a few in a long load run,
    /// where keeping every body would grow without bound.
    pub keep_requests: usize,
    /// AWS credentials Bedrock requests must be signed with (SigV4); with
    /// `None`, Bedrock takes unsigned requests (or `api_key` as a bearer
    /// token, if set).
    pub aws: Option<AwsAuth>,
    /// Google Cloud credentials for the Vertex AI endpoints (`/token` and
    /// `/v1/projects/…`); with `None`, `/token` is an unknown path and the
    /// Vertex model endpoints take any request.
    pub gcp: Option<GcpAuth>,
    /// How many of the first `POST /hooks/{name}` are answered 503 before
    /// the receiver accepts them (0: none).
    pub webhook_failures: usize,
    /// A quota the mock enforces per fixed window, announced in the
    /// rate-limit headers of the dialect it answers in (OpenAI's
    /// `x-ratelimit-*`, Anthropic's `anthropic-ratelimit-*`); over it, a 429
    /// without `retry-after` (unless `retry_after` is set). Off (`None`) by
    /// default.
    pub quota: Option<Quota>,
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            latency: Duration::ZERO,
            chunks: 5,
            chunk_delay: Duration::ZERO,
            split_events: false,
            api_key: None,
            fault: None,
            reasoning: false,
            error_rate: 0.0,
            error_status: 500,
            seed: 0,
            keep_requests: usize::MAX,
            aws: None,
            gcp: None,
            webhook_failures: 0,
            quota: None,
        }
    }
}

/// A running mock provider. Dropping it (or calling [`MockServer::stop`])
/// stops accepting connections and aborts the requests in progress.
pub struct MockServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    /// Exports received on `POST /v1/traces`.
    otlp_exports: Arc<AtomicUsize>,
    /// What `POST /hooks/{name}` received.
    hooks: Arc<hooks::Hooks>,
    /// Dropping the sender is the shutdown signal for the server and handlers.
    stop_tx: Option<watch::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl MockServer {
    /// Starts a mock on `127.0.0.1:0`; returns once the socket is listening.
    ///
    /// Fails if the socket cannot be bound.
    pub async fn start(cfg: MockConfig) -> io::Result<MockServer> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), cfg).await
    }

    /// Starts a mock on `addr`; returns once the socket is listening.
    ///
    /// Fails if the socket cannot be bound.
    pub async fn start_on(addr: SocketAddr, cfg: MockConfig) -> io::Result<MockServer> {
        // A deep accept queue (tokio's `bind` asks for 1,024): the load
        // harness opens 1,000 streams at once, and a real provider does
        // not reset connections under such a burst.
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        let listener = socket.listen(8192)?;
        let addr = listener.local_addr()?;
        let (stop_tx, stop_rx) = watch::channel(());
        let shared = Arc::new(Shared::new(cfg, Shutdown::new(stop_rx.clone())));
        let otlp_exports = Arc::new(AtomicUsize::new(0));
        let hooks = Arc::new(hooks::Hooks::default());
        let app = routes::router(
            Arc::clone(&shared),
            Arc::clone(&otlp_exports),
            Arc::clone(&hooks),
        );
        let listener = slow_header::FaultyListener {
            inner: listener,
            shared: Arc::clone(&shared),
        };
        let stopped = Shutdown::new(stop_rx);
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(stopped.wait_owned())
                .await
        });
        Ok(MockServer {
            addr,
            shared,
            otlp_exports,
            hooks,
            stop_tx: Some(stop_tx),
            task: Some(task),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, `http://127.0.0.1:PORT` (no trailing slash, no `/v1`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Replaces the fault for requests that start from now on.
    pub fn set_fault(&self, fault: Option<Fault>) {
        self.shared.update_config(|cfg| cfg.fault = fault);
    }

    /// Replaces the whole configuration for requests that start from now on.
    pub fn set_config(&self, cfg: MockConfig) {
        self.shared.update_config(|current| *current = cfg);
    }

    /// The current configuration.
    pub fn config(&self) -> MockConfig {
        self.shared.config()
    }

    /// Requests received by the provider endpoints (chat, messages,
    /// embeddings, responses, images, audio, moderations, rerank, files,
    /// batches, echo), whether they completed or not. `/models` and
    /// unknown paths do not count.
    pub fn hits(&self) -> usize {
        self.shared.hits()
    }

    /// Every request received (all paths), in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests()
    }

    /// The most recent request received, if any.
    pub fn last_request(&self) -> Option<RecordedRequest> {
        self.shared.last_request()
    }

    /// Streams whose client went away before the mock sent the last event.
    pub fn cancelled_streams(&self) -> usize {
        self.shared.cancelled_streams()
    }

    /// Access tokens Vertex AI's `POST /token` issued so far.
    pub fn token_exchanges(&self) -> usize {
        self.shared.gcp_tokens.exchanges()
    }

    /// Refuses every token `POST /token` issued so far (401 from now on);
    /// tokens issued later and `GcpAuth::static_tokens` still work.
    pub fn revoke_tokens(&self) {
        self.shared.gcp_tokens.revoke_all();
    }

    /// 429s sent because `MockConfig::quota` was used up.
    pub fn quota_refusals(&self) -> usize {
        self.shared.quota.refusals()
    }

    /// Trace exports received on `POST /v1/traces`, in all.
    pub fn otlp_exports(&self) -> usize {
        self.otlp_exports.load(Ordering::SeqCst)
    }

    /// The POSTs to `/hooks/{name}` answered 200, in arrival order (those
    /// answered 503 under `MockConfig::webhook_failures` are not here).
    pub fn webhooks(&self) -> Vec<Hook> {
        self.hooks.accepted()
    }

    /// POSTs to `/hooks/{name}` received, the ones answered 503 included.
    pub fn webhook_attempts(&self) -> usize {
        self.hooks.attempts()
    }

    /// Requests in progress: from arrival until the response body is finished
    /// or dropped.
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight()
    }

    /// Stops serving: closes the listener and every connection (requests in
    /// progress are aborted), waiting at most one second for them to close.
    pub async fn stop(mut self) {
        self.stop_tx.take();
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(STOP_GRACE, &mut task).await.is_err() {
                task.abort();
            }
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.stop_tx.take();
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl std::fmt::Debug for MockServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
