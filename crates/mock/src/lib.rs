//! Mock LLM provider: an in-process HTTP server that speaks OpenAI's,
//! Anthropic's, Gemini's, Cohere's (v2) and Ollama's wire formats (see
//! `shared/notes/wire-formats.md` §1, §2, §4, §7, and the modules below).
//!
//! Tests, benchmarks and `switchyard demo` start it on `127.0.0.1:0` and point
//! the gateway at [`MockServer::url`]. The flow of one request:
//! `state` (record, count, snapshot the config) → `call` (latency, hang, auth,
//! status fault) → `openai` / `anthropic` / `cohere` / `ollama` /
//! `embeddings` (validate, build the reply) → `faults` (cut or corrupt the
//! reply) → `body` (pace and send it). Gemini's endpoints take the same
//! steps in `gemini`.
//!
//! Endpoints: `POST /v1/chat/completions`, `POST /v1/embeddings`,
//! `GET /v1/models` (each also without the `/v1` prefix),
//! `POST /v1/messages` (Anthropic), `POST /v1beta/models/{model}:{method}`
//! (Gemini), `POST /v2/chat` and `/v2/embed` (Cohere), `POST /api/chat`
//! (NDJSON streams) and `/api/embed` (Ollama).

mod anthropic;
mod body;
mod call;
mod cohere;
pub mod demo;
mod dialect;
mod embeddings;
mod faults;
mod gemini;
mod hostile;
mod ollama;
mod openai;
mod reply;
mod slow_header;
mod state;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use faults::{Fault, ParseFaultError};
pub use state::RecordedRequest;

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
    /// A failure to inject into the chat, messages and embeddings endpoints.
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
        }
    }
}

/// A running mock provider. Dropping it (or calling [`MockServer::stop`])
/// stops accepting connections and aborts the requests in progress.
pub struct MockServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
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
        let app = router(Arc::clone(&shared));
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

    /// Requests received by the LLM endpoints (chat, messages, embeddings),
    /// whether they completed or not. `/models` and unknown paths do not count.
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

/// The routes; OpenAI paths are mounted with and without the `/v1` prefix.
fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(openai::chat))
        .route("/chat/completions", post(openai::chat))
        .route("/v1/embeddings", post(embeddings::create))
        .route("/embeddings", post(embeddings::create))
        .route("/v1/models", get(openai::models))
        .route("/models", get(openai::models))
        .route("/v1/messages", post(anthropic::messages))
        .route("/v1beta/models/{*rest}", post(gemini::models))
        .route("/v2/chat", post(cohere::chat))
        .route("/v2/embed", post(cohere::embed))
        .route("/api/chat", post(ollama::chat))
        .route("/api/embed", post(ollama::embed))
        .fallback(fallback)
        .with_state(shared)
}

/// Paths not routed above. A `POST` to any path ending in
/// `/chat/completions` or `/embeddings` is answered by the OpenAI handlers,
/// so presets whose base path differs (`/openai/v1`, `/api/paas/v4`, Azure's
/// `/openai/deployments/{d}/…`) can be tested end to end; anything else is
/// OpenAI's 404.
async fn fallback(
    shared: axum::extract::State<Arc<Shared>>,
    request: axum::extract::Request,
) -> axum::response::Response {
    let path = request.uri().path();
    if request.method() == axum::http::Method::POST {
        if path.ends_with("/chat/completions") {
            return openai::chat(shared, request).await.unwrap_or_else(|r| r);
        }
        if path.ends_with("/embeddings") {
            let answer = embeddings::create(shared, request).await;
            return answer.unwrap_or_else(|r| r);
        }
    }
    openai::not_found(shared, request).await
}

#[cfg(test)]
mod tests;
