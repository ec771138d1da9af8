//! The exporter: finished spans queued without blocking the request that
//! made them, and sent to the collector in batches from a thread of its
//! own — when `batch` spans wait, or the oldest has waited `delay`.
//!
//! **Bounded, and never in the way.** At most `max_queue` spans wait; a
//! request whose spans would pass that drops them (counted in
//! `gateway_trace_spans_dropped_total{reason="queue_full"}`). A collector
//! that is down, slow or refusing costs the requests nothing: only the
//! exporter's thread waits on it (at most `timeout` per export, one retry
//! for a transient failure), and the batch it could not send is dropped
//! and counted (`export_failed`).
//!
//! **Wake-ups.** As the ledger's writer does, the thread parks instead of
//! blocking on the channel (a blocked receiver makes every send a futex
//! call on the request path), and a request unparks it only when its spans
//! are the first waiting or complete a batch.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TryRecvError};
use std::sync::{Arc, LazyLock, Mutex, OnceLock, Weak};
use std::thread::Thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use pingora::connectors::http::Connector;

use super::span::{Attr, Span};
use super::ExportSettings;
use crate::metrics::metrics;
use crate::upstream::call::{self, PostError};

/// The instrumentation scope the spans are reported under.
const SCOPE: &str = "switchyard";
/// At most one log line about failed exports this often.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// Every exporter alive, to share one between configs with the same
/// settings and to flush them all at shutdown.
static EXPORTERS: LazyLock<Mutex<Vec<Weak<Exporter>>>> = LazyLock::new(Mutex::default);

/// Sends spans to one collector.
#[derive(Debug)]
pub struct Exporter {
    settings: ExportSettings,
    /// Started with the first span: a config that is only checked, or
    /// never serves a traced request, starts no thread.
    handle: OnceLock<Option<Handle>>,
}

#[derive(Debug)]
struct Handle {
    tx: Sender<Msg>,
    thread: Thread,
    /// Spans sent and not yet exported or dropped.
    queued: Arc<AtomicUsize>,
}

enum Msg {
    Spans(Vec<Span>),
    /// Export everything received so far, then answer.
    Flush(SyncSender<()>),
}

impl Exporter {
    /// The exporter for `settings`: the one running already, or a new one.
    pub fn shared(settings: &ExportSettings) -> Arc<Self> {
        let mut all = EXPORTERS.lock().unwrap_or_else(|e| e.into_inner());
        all.retain(|w| w.strong_count() > 0);
        if let Some(e) = all
            .iter()
            .filter_map(Weak::upgrade)
            .find(|e| e.settings == *settings)
        {
            return e;
        }
        let e = Arc::new(Self {
            settings: settings.clone(),
            handle: OnceLock::new(),
        });
        all.push(Arc::downgrade(&e));
        e
    }

    /// Queues `spans` for export, or drops them (counted) when the queue
    /// is full. Never blocks.
    pub fn send(&self, spans: Vec<Span>) {
        let Some(h) = self.handle.get_or_init(|| self.start()) else {
            drop_spans(spans.len(), "export_failed");
            return;
        };
        let n = spans.len();
        let before = h.queued.fetch_add(n, Ordering::Relaxed);
        if before + n > self.settings.max_queue {
            h.queued.fetch_sub(n, Ordering::Relaxed);
            drop_spans(n, "queue_full");
            return;
        }
        if h.tx.send(Msg::Spans(spans)).is_err() {
            h.queued.fetch_sub(n, Ordering::Relaxed);
            drop_spans(n, "export_failed");
            return;
        }
        let batch = self.settings.batch;
        if before == 0 || before / batch != (before + n) / batch {
            h.thread.unpark();
        }
    }

    /// Exports what is queued, waiting at most `timeout`; `Err` with the
    /// spans still unsent if that was not enough.
    pub fn flush(&self, timeout: Duration) -> Result<(), usize> {
        let Some(Some(h)) = self.handle.get() else {
            return Ok(());
        };
        let (ack, done) = mpsc::sync_channel(1);
        let sent = h.tx.send(Msg::Flush(ack)).is_ok();
        h.thread.unpark();
        if sent && done.recv_timeout(timeout).is_ok() {
            return Ok(());
        }
        Err(h.queued.load(Ordering::Relaxed))
    }

    /// Starts the export thread; `None` (logged) if it could not start.
    fn start(&self) -> Option<Handle> {
        let (tx, rx) = mpsc::channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let worker = Worker {
            rx,
            settings: self.settings.clone(),
            queued: queued.clone(),
            buffer: Vec::new(),
            oldest: None,
            body: Vec::new(),
            scratch: Default::default(),
            last_log: None,
        };
        match std::thread::Builder::new()
            .name("switchyard-otlp".into())
            .spawn(move || worker.run())
        {
            Ok(j) => Some(Handle {
                tx,
                thread: j.thread().clone(),
                queued,
            }),
            Err(e) => {
                tracing::error!(error = %e, "cannot start the trace exporter's thread; spans are dropped");
                None
            }
        }
    }
}

impl Drop for Exporter {
    /// The thread sends what it holds and stops (its channel is closed).
    fn drop(&mut self) {
        if let Some(Some(h)) = self.handle.take() {
            drop(h.tx);
            h.thread.unpark();
        }
    }
}

/// Flushes every exporter, sharing `timeout` between them.
pub fn flush_all(timeout: Duration) {
    let deadline = Instant::now() + timeout;
    let all: Vec<Arc<Exporter>> = EXPORTERS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter_map(Weak::upgrade)
        .collect();
    for e in all {
        let left = deadline.saturating_duration_since(Instant::now());
        if let Err(unsent) = e.flush(left) {
            drop_spans(unsent, "shutdown");
            tracing::warn!(endpoint = %e.settings.endpoint, spans = unsent, "spans still unsent at shutdown: dropped");
        }
    }
}

fn drop_spans(n: usize, reason: &str) {
    metrics()
        .trace_spans_dropped
        .with_label_values(&[reason])
        .inc_by(n as u64);
}

/// The export thread's state.
struct Worker {
    rx: Receiver<Msg>,
    settings: ExportSettings,
    queued: Arc<AtomicUsize>,
    buffer: Vec<Span>,
    /// When the oldest span in `buffer` arrived.
    oldest: Option<Instant>,
    /// The request body, and the encoder's buffers, reused.
    body: Vec<u8>,
    scratch: super::otlp::Scratch,
    last_log: Option<Instant>,
}

impl Worker {
    fn run(mut self) {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "cannot start the trace exporter's runtime; spans are dropped");
                return self.discard();
            }
        };
        // Its own connection pool: the exporter's connections are not the
        // providers'.
        let connector = Connector::new(None);
        let resource: Vec<Attr> = self
            .settings
            .resource
            .iter()
            .map(|(k, v)| Attr {
                key: k.clone().into(),
                value: super::span::Value::Str(v.clone().into()),
            })
            .collect();
        let exporter = Post {
            connector: &connector,
            resource: &resource,
        };
        loop {
            let mut closed = false;
            let mut flushes = Vec::new();
            loop {
                match self.rx.try_recv() {
                    Ok(Msg::Spans(spans)) => {
                        self.oldest.get_or_insert_with(Instant::now);
                        self.buffer.extend(spans);
                    }
                    Ok(Msg::Flush(ack)) => flushes.push(ack),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        closed = true;
                        break;
                    }
                }
            }
            let due = self
                .oldest
                .is_some_and(|t| t.elapsed() >= self.settings.delay);
            if closed || due || !flushes.is_empty() {
                while !self.buffer.is_empty() {
                    runtime.block_on(self.export_batch(&exporter));
                }
                self.oldest = None;
            } else {
                while self.buffer.len() >= self.settings.batch {
                    runtime.block_on(self.export_batch(&exporter));
                }
                if self.buffer.is_empty() {
                    self.oldest = None;
                }
            }
            for ack in flushes {
                let _ = ack.send(());
            }
            if closed {
                return;
            }
            match self.oldest {
                Some(t) => {
                    std::thread::park_timeout(self.settings.delay.saturating_sub(t.elapsed()))
                }
                None => std::thread::park_timeout(Duration::from_secs(1)),
            }
        }
    }

    /// Sends the first `batch` spans of the buffer; drops them (counted)
    /// if the collector would not take them.
    async fn export_batch(&mut self, to: &Post<'_>) {
        let n = self.buffer.len().min(self.settings.batch);
        self.body.clear();
        self.scratch.encode(
            to.resource,
            SCOPE,
            env!("CARGO_PKG_VERSION"),
            &self.buffer[..n],
            &mut self.body,
        );
        self.buffer.drain(..n);
        if !self.buffer.is_empty() {
            self.oldest = Some(Instant::now());
        }
        let result = to
            .post(&self.settings, Bytes::copy_from_slice(&self.body))
            .await;
        self.queued.fetch_sub(n, Ordering::Relaxed);
        match result {
            Ok(()) => metrics().trace_spans_exported.inc_by(n as u64),
            Err(e) => {
                drop_spans(n, "export_failed");
                if self.last_log.is_none_or(|t| t.elapsed() >= LOG_EVERY) {
                    self.last_log = Some(Instant::now());
                    tracing::warn!(endpoint = %self.settings.endpoint, error = %e, spans = n, "trace export failed; spans dropped");
                }
            }
        }
    }

    /// Drops whatever arrives, until the exporter is gone.
    fn discard(self) {
        while let Ok(msg) = self.rx.recv() {
            match msg {
                Msg::Spans(s) => {
                    self.queued.fetch_sub(s.len(), Ordering::Relaxed);
                    drop_spans(s.len(), "export_failed");
                }
                Msg::Flush(ack) => drop(ack.send(())),
            }
        }
    }
}

/// One POST of an encoded batch to the collector.
struct Post<'a> {
    connector: &'a Connector,
    resource: &'a [Attr],
}

impl Post<'_> {
    /// Posts `body`, retrying once after a transient failure (a connection
    /// error, 429, 502, 503, 504), all within the export timeout.
    async fn post(&self, settings: &ExportSettings, body: Bytes) -> Result<(), String> {
        let deadline = Instant::now() + settings.timeout;
        let mut last = String::new();
        for attempt in 0..2 {
            if attempt > 0 {
                let pause = Duration::from_millis(250);
                if Instant::now() + pause >= deadline {
                    break;
                }
                tokio::time::sleep(pause).await;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.once(settings, body.clone(), left)).await {
                Ok(Ok(())) => return Ok(()),
                Ok(Err((e, transient))) => {
                    last = e;
                    if !transient {
                        break;
                    }
                }
                Err(_) => {
                    last = format!("no answer within {:?}", settings.timeout);
                    break;
                }
            }
        }
        Err(last)
    }

    /// One try; the error says whether another could succeed.
    async fn once(
        &self,
        settings: &ExportSettings,
        body: Bytes,
        timeout: Duration,
    ) -> Result<(), (String, bool)> {
        let mut headers = vec![(
            "content-type".to_string(),
            "application/x-protobuf".to_string(),
        )];
        headers.extend(settings.headers.iter().cloned());
        // The answer is small (an ExportTraceServiceResponse); reading it
        // lets the connection be reused.
        let post = call::post(
            self.connector,
            &settings.endpoint,
            &headers,
            body,
            timeout,
            64 * 1024,
        );
        let status = match post.await {
            Ok((status, _)) => status,
            // The collector answered; an unread body does not undo a 2xx.
            Err(PostError::Unread { status, .. }) => status,
            Err(e @ PostError::Invalid(_)) => return Err((e.to_string(), false)),
            Err(e @ PostError::Call(_)) => return Err((e.to_string(), true)),
        };
        if (200..300).contains(&status) {
            return Ok(());
        }
        let transient = matches!(status, 429 | 502 | 503 | 504);
        Err((format!("the collector answered {status}"), transient))
    }
}
