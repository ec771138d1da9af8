//! A mock OpenTelemetry collector: an OTLP/HTTP trace receiver
//! (`POST /v1/traces`) that gateway tests point the exporter at, to read
//! the spans it sent, the headers it sent them with, and to see how it
//! copes with a collector that fails or never answers.
//!
//! `decode` reads an export (protobuf or JSON, maybe gzipped) with the
//! types opentelemetry-proto generates from the published definitions —
//! independent of the gateway's own encoder — and `received` flattens it
//! into [`ReceivedSpan`]s. It lives with the tests, not in the mock crate,
//! so that the gateway's build does not carry the OpenTelemetry crates.

mod decode;
mod received;

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use received::{AttrValue, ReceivedSpan};

/// How long [`Collector::stop`] waits for open connections to close.
const STOP_GRACE: Duration = Duration::from_secs(1);
/// How often [`Collector::wait_for_spans`] looks.
const POLL: Duration = Duration::from_millis(5);

/// How a [`Collector`] answers exports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CollectorMode {
    /// Decode and keep the spans, answer 200.
    #[default]
    Accept,
    /// Answer this status, keeping nothing.
    Fail(u16),
    /// Read the request head and never answer (until [`Collector::stop`]).
    Hang,
}

/// What the handlers and the [`Collector`] handle share.
#[derive(Debug)]
struct Inner {
    mode: Mutex<CollectorMode>,
    requests: AtomicUsize,
    headers: Mutex<Vec<Vec<(String, String)>>>,
    spans: Mutex<Vec<ReceivedSpan>>,
    /// Changes (its sender dropped) when the collector stops.
    stopped: watch::Receiver<()>,
}

/// Locks a mutex, ignoring poisoning (the data stays usable).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running mock collector on `127.0.0.1`. Dropping it (or calling
/// [`Collector::stop`]) stops it and aborts the requests in progress.
pub struct Collector {
    addr: SocketAddr,
    inner: Arc<Inner>,
    /// Dropping the sender is the shutdown signal for the server and handlers.
    stop_tx: Option<watch::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl Collector {
    /// Starts a collector on `127.0.0.1:0`, accepting exports; returns once
    /// the socket is listening. Fails if the socket cannot be bound.
    pub async fn start() -> io::Result<Collector> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (stop_tx, stop_rx) = watch::channel(());
        let inner = Arc::new(Inner {
            mode: Mutex::new(CollectorMode::Accept),
            requests: AtomicUsize::new(0),
            headers: Mutex::new(Vec::new()),
            spans: Mutex::new(Vec::new()),
            stopped: stop_rx.clone(),
        });
        let app = Router::new()
            .route("/v1/traces", post(export))
            .with_state(Arc::clone(&inner));
        let mut stopped = stop_rx;
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { while stopped.changed().await.is_ok() {} })
                .await
        });
        Ok(Collector {
            addr,
            inner,
            stop_tx: Some(stop_tx),
            task: Some(task),
        })
    }

    /// The base URL, `http://127.0.0.1:PORT`; exports go to `/v1/traces`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `POST /v1/traces` requests received, whatever their answer (refused,
    /// failed on purpose, or still hanging).
    pub fn requests(&self) -> usize {
        self.inner.requests.load(Ordering::SeqCst)
    }

    /// Every span accepted so far, in arrival order.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        lock(&self.inner.spans).clone()
    }

    /// The headers of each `POST /v1/traces`, in arrival order (names
    /// lowercase, values as sent).
    pub fn headers(&self) -> Vec<Vec<(String, String)>> {
        lock(&self.inner.headers).clone()
    }

    /// How exports that arrive from now on are answered.
    pub fn set_mode(&self, mode: CollectorMode) {
        *lock(&self.inner.mode) = mode;
    }

    /// Waits until at least `n` spans were accepted or `timeout` passed;
    /// returns the spans accepted by then (maybe fewer than `n`).
    pub async fn wait_for_spans(&self, n: usize, timeout: Duration) -> Vec<ReceivedSpan> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let spans = self.spans();
            if spans.len() >= n || tokio::time::Instant::now() >= deadline {
                return spans;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Stops serving: closes the listener and every connection (hanging
    /// requests end), waiting at most one second for them to close.
    pub async fn stop(mut self) {
        self.stop_tx.take();
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(STOP_GRACE, &mut task).await.is_err() {
                task.abort();
            }
        }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.stop_tx.take();
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// `POST /v1/traces` on a [`Collector`]: counts the request and keeps its
/// headers, then answers as the mode says.
async fn export(State(inner): State<Arc<Inner>>, request: Request) -> Response {
    inner.requests.fetch_add(1, Ordering::SeqCst);
    let headers = request
        .headers()
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_owned(), value)
        })
        .collect();
    lock(&inner.headers).push(headers);
    let mode = *lock(&inner.mode);
    match mode {
        CollectorMode::Accept => {}
        CollectorMode::Fail(status) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return decode::Refusal::new(status, "failing on purpose").into_response();
        }
        CollectorMode::Hang => {
            let mut stopped = inner.stopped.clone();
            while stopped.changed().await.is_ok() {}
            return decode::Refusal::new(StatusCode::SERVICE_UNAVAILABLE, "stopped")
                .into_response();
        }
    }
    match decode::read(request).await {
        Ok((export, format)) => {
            lock(&inner.spans).extend(received::flatten(export));
            decode::accepted(format)
        }
        Err(refusal) => refusal.into_response(),
    }
}

#[cfg(test)]
mod tests;
