//! Shared state of a mock server: its configuration, the recorded requests,
//! the counters, the stored files and batches, and the guards that keep
//! `in_flight` and `cancelled_streams` right when a response body finishes
//! or is dropped.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::Request;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use tokio::sync::watch;

use super::dialect::openai_error;
use super::form::{self, Form};
use super::quota::Windows;
use super::store::Store;
use super::vertex::Tokens;
use super::MockConfig;

/// Largest request body the mock reads.
const MAX_BODY: usize = 32 * 1024 * 1024;

/// One request as the mock received it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// HTTP method, e.g. `POST`.
    pub method: String,
    /// Path without the query, e.g. `/v1/chat/completions`.
    pub path: String,
    /// The raw query string, without `?`.
    pub query: Option<String>,
    /// Headers in arrival order, names lowercase.
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: Bytes,
    /// The body's fields and files when it is `multipart/form-data`
    /// (images edits, audio, file uploads); `None` for any other body.
    pub form: Option<Form>,
}

impl RecordedRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON, or `None` if it is not JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// Whether a request counts as a hit (LLM endpoints) or not (`/models`, 404).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Llm,
    Meta,
}

/// Resolves once the server stops (the `watch` sender was dropped).
#[derive(Clone, Debug)]
pub(crate) struct Shutdown(watch::Receiver<()>);

impl Shutdown {
    pub(crate) fn new(rx: watch::Receiver<()>) -> Self {
        Self(rx)
    }

    /// Waits until the server stops.
    pub(crate) async fn wait(&mut self) {
        while self.0.changed().await.is_ok() {}
    }

    /// Whether the server has stopped.
    pub(crate) fn is_stopped(&self) -> bool {
        self.0.has_changed().is_err()
    }

    /// Like [`Shutdown::wait`], consuming `self` (for `with_graceful_shutdown`).
    pub(crate) async fn wait_owned(mut self) {
        self.wait().await;
    }
}

/// State shared by the [`super::MockServer`] handle and the handlers.
#[derive(Debug)]
pub(crate) struct Shared {
    config: Mutex<MockConfig>,
    /// The latest requests, at most `config.keep_requests`.
    requests: Mutex<VecDeque<RecordedRequest>>,
    /// Every request begun, kept or not.
    seen: AtomicUsize,
    hits: AtomicUsize,
    cancelled: AtomicUsize,
    in_flight: AtomicUsize,
    shutdown: Shutdown,
    /// Files and batches uploaded to this server.
    pub(crate) store: Store,
    /// Access tokens issued by Vertex AI's `/token`.
    pub(crate) gcp_tokens: Tokens,
    /// The windows of `MockConfig::quota`.
    pub(crate) quota: Windows,
}

/// Locks a mutex, ignoring poisoning (the data stays usable).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub(crate) fn new(config: MockConfig, shutdown: Shutdown) -> Self {
        Self {
            config: Mutex::new(config),
            requests: Mutex::new(VecDeque::new()),
            seen: AtomicUsize::new(0),
            hits: AtomicUsize::new(0),
            cancelled: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            shutdown,
            store: Store::default(),
            gcp_tokens: Tokens::default(),
            quota: Windows::default(),
        }
    }

    pub(crate) fn config(&self) -> MockConfig {
        lock(&self.config).clone()
    }

    pub(crate) fn update_config(&self, f: impl FnOnce(&mut MockConfig)) {
        f(&mut lock(&self.config));
    }

    pub(crate) fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    pub(crate) fn cancelled_streams(&self) -> usize {
        self.cancelled.load(Ordering::SeqCst)
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    pub(crate) fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.requests).iter().cloned().collect()
    }

    pub(crate) fn last_request(&self) -> Option<RecordedRequest> {
        lock(&self.requests).back().cloned()
    }

    /// Counts a request served below HTTP (the `slow-header` fault) as a
    /// hit in flight; the guard ends it, the [`Shutdown`] says when to stop.
    pub(crate) fn begin_raw(self: &Arc<Self>) -> (InFlight, Shutdown) {
        self.hits.fetch_add(1, Ordering::SeqCst);
        (InFlight::new(Arc::clone(self)), self.shutdown.clone())
    }

    /// Starts handling `request`: counts it, reads and records it, and
    /// snapshots the configuration. Fails (400) if the body cannot be read.
    pub(crate) async fn begin(
        self: &Arc<Self>,
        request: Request,
        endpoint: Endpoint,
    ) -> Result<Started, Response> {
        let guard = InFlight::new(Arc::clone(self));
        if endpoint == Endpoint::Llm {
            self.hits.fetch_add(1, Ordering::SeqCst);
        }
        let recorded = read(request).await?;
        let cfg = self.config();
        let seq = {
            let mut requests = lock(&self.requests);
            if cfg.keep_requests > 0 {
                if requests.len() >= cfg.keep_requests {
                    requests.pop_front();
                }
                requests.push_back(recorded.clone());
            }
            self.seen.fetch_add(1, Ordering::SeqCst) + 1
        };
        Ok(Started {
            req: recorded,
            cfg,
            seq,
            guard,
            shutdown: self.shutdown.clone(),
        })
    }
}

/// A request that has been counted and recorded.
#[derive(Debug)]
pub(crate) struct Started {
    pub req: RecordedRequest,
    pub cfg: MockConfig,
    /// 1-based position among all requests; used in ids.
    pub seq: usize,
    pub guard: InFlight,
    pub shutdown: Shutdown,
}

/// Reads the whole request into a [`RecordedRequest`].
async fn read(request: Request) -> Result<RecordedRequest, Response> {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, MAX_BODY).await.map_err(|e| {
        let message = format!("could not read the request body: {e}");
        openai_error(
            StatusCode::BAD_REQUEST,
            &message,
            "invalid_request_error",
            None,
            None,
        )
    })?;
    let content_type = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let form = form::parse(content_type, &body).await;
    Ok(RecordedRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: header_list(&parts.headers),
        body,
        form,
    })
}

fn header_list(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_owned(), value)
        })
        .collect()
}

/// Counts one request in progress; decrements `in_flight` when dropped.
#[derive(Debug)]
pub(crate) struct InFlight(Arc<Shared>);

impl InFlight {
    fn new(shared: Arc<Shared>) -> Self {
        shared.in_flight.fetch_add(1, Ordering::SeqCst);
        Self(shared)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Lives as long as a stream body; counts a cancelled stream if dropped
/// before [`StreamGuard::finish`] was called.
#[derive(Debug)]
pub(crate) struct StreamGuard {
    in_flight: InFlight,
    finished: bool,
}

impl StreamGuard {
    pub(crate) fn new(in_flight: InFlight) -> Self {
        Self {
            in_flight,
            finished: false,
        }
    }

    /// Marks the stream as fully sent (or ended on purpose by the mock).
    pub(crate) fn finish(&mut self) {
        self.finished = true;
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        if !self.finished {
            self.in_flight.0.cancelled.fetch_add(1, Ordering::SeqCst);
        }
    }
}
