//! The budget-alert webhook: when a spend threshold is crossed, the budget
//! policy hands an event (a JSON object) to [`Webhook::send`], and it is
//! POSTed to the configured URL off the request path.
//!
//! **Never in the way.** `send` queues the event and returns; a thread of
//! the webhook's own (started with the first event, a current-thread tokio
//! runtime, as the trace exporter's) delivers the events in order, the
//! retries of one before the next. At most [`QUEUE`] events wait or are
//! being delivered; one more is dropped, counted and logged.
//!
//! **Each POST** carries `content-type: application/json`,
//! `user-agent: switchyard`, `x-switchyard-event-id` (the same on every
//! try of one event, so a receiver can drop duplicates) and, with a secret,
//! [`SIGNATURE_HEADER`]: `t=<unix second>,v1=<hex HMAC-SHA256>` over
//! `"<t>." + body` (Stripe's scheme: a receiver checks `t` to refuse a
//! replay). A 2xx delivers it; a connection error, a timeout, 408, 429 or
//! a 5xx is tried again after [`backoff`] (doubling from
//! `WebhookSettings::backoff`, capped at a minute, ±20% jitter), up to
//! `attempts` tries in all; any other answer fails it at once.
//!
//! Outcomes are counted in `gateway_webhook_deliveries_total{outcome}`:
//! `delivered`, `retried` (each retry), `failed` (given up), `dropped`
//! (queue full). A failure is logged with the URL shown without its
//! userinfo or query, where secrets may be.

use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hmac::{Hmac, Mac};
use pingora::connectors::http::Connector;
use rand::Rng;
use sha2::Sha256;

use crate::metrics::metrics;
use crate::upstream::call::{self, PostError};

/// The header carrying the HMAC signature of a POST's body.
pub const SIGNATURE_HEADER: &str = "x-switchyard-signature";
/// The header carrying the event's id, the same on every try.
pub const EVENT_ID_HEADER: &str = "x-switchyard-event-id";
/// Events waiting or being delivered, at most; more are dropped.
pub const QUEUE: usize = 64;
/// The longest wait between two tries (before jitter is applied, and after).
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How much of a receiver's answer is read (the rest is not needed; reading
/// a small answer lets the connection be reused).
const MAX_ANSWER: usize = 64 * 1024;

pub use crate::config::policy::WebhookSettings;

/// Sends events to one webhook URL; cheap to clone (clones share the queue
/// and the thread). When the last clone is dropped, the thread delivers
/// what is queued, then stops.
#[derive(Clone)]
pub struct Webhook {
    inner: Arc<Inner>,
}

struct Inner {
    state: Arc<State>,
    /// The queue to the delivery thread, started with the first event;
    /// `None` if the thread could not start.
    queue: OnceLock<Option<Sender<Job>>>,
}

/// What the caller and the delivery thread share.
struct State {
    settings: WebhookSettings,
    /// `settings.url` without userinfo, query or fragment: what logs show.
    shown: String,
    /// Events queued or being delivered; `drained` is notified as it falls.
    pending: Mutex<usize>,
    drained: Condvar,
    /// This webhook's outcomes (the metric counts every webhook's).
    counts: Counts,
}

#[derive(Default)]
struct Counts {
    delivered: AtomicU64,
    retried: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
}

/// One event to deliver.
struct Job {
    id: String,
    body: Bytes,
}

/// How a delivery ended, or a retry began.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Delivered,
    Retried,
    Failed,
    Dropped,
}

impl Webhook {
    /// A webhook for `settings`; no thread starts before the first event.
    pub fn new(settings: WebhookSettings) -> Self {
        let shown = redact(&settings.url);
        Self {
            inner: Arc::new(Inner {
                state: Arc::new(State {
                    settings,
                    shown,
                    pending: Mutex::new(0),
                    drained: Condvar::new(),
                    counts: Counts::default(),
                }),
                queue: OnceLock::new(),
            }),
        }
    }

    /// Queues `event` (a JSON object) for delivery and returns at once
    /// (never blocks the request path). A full queue ([`QUEUE`] events)
    /// drops it, counted and logged.
    pub fn send(&self, event: serde_json::Value) {
        let state = &self.inner.state;
        let Some(queue) = self.inner.queue.get_or_init(|| start(state)) else {
            state.record(Outcome::Dropped);
            tracing::warn!(url = %state.shown, "budget webhook event dropped: no delivery thread");
            return;
        };
        {
            let mut pending = state.pending();
            if *pending >= QUEUE {
                drop(pending);
                state.record(Outcome::Dropped);
                tracing::warn!(url = %state.shown, queued = QUEUE, "budget webhook queue full: event dropped");
                return;
            }
            *pending += 1;
        }
        let job = Job {
            id: event_id(),
            body: Bytes::from(event.to_string()),
        };
        if queue.send(job).is_err() {
            state.done();
            state.record(Outcome::Dropped);
            tracing::warn!(url = %state.shown, "budget webhook event dropped: the delivery thread stopped");
        }
    }

    /// Waits up to `within` for every queued event to be delivered (or to
    /// fail); returns how many are still undelivered.
    pub fn flush(&self, within: Duration) -> usize {
        let state = &self.inner.state;
        let pending = state.pending();
        match state
            .drained
            .wait_timeout_while(pending, within, |n| *n > 0)
        {
            Ok((n, _)) => *n,
            Err(poisoned) => *poisoned.into_inner().0,
        }
    }
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook")
            .field("url", &self.inner.state.shown)
            .finish_non_exhaustive()
    }
}

impl State {
    fn pending(&self) -> MutexGuard<'_, usize> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One event is no longer pending.
    fn done(&self) {
        let mut pending = self.pending();
        *pending = pending.saturating_sub(1);
        if *pending == 0 {
            self.drained.notify_all();
        }
    }

    fn record(&self, outcome: Outcome) {
        let (label, count) = match outcome {
            Outcome::Delivered => ("delivered", &self.counts.delivered),
            Outcome::Retried => ("retried", &self.counts.retried),
            Outcome::Failed => ("failed", &self.counts.failed),
            Outcome::Dropped => ("dropped", &self.counts.dropped),
        };
        count.fetch_add(1, Ordering::Relaxed);
        metrics()
            .webhook_deliveries
            .with_label_values(&[label])
            .inc();
    }
}

/// Starts the delivery thread; `None` (logged) if it could not start.
fn start(state: &Arc<State>) -> Option<Sender<Job>> {
    let (tx, rx) = mpsc::channel();
    let worker_state = Arc::clone(state);
    match std::thread::Builder::new()
        .name("switchyard-webhook".into())
        .spawn(move || run(&worker_state, &rx))
    {
        Ok(_) => Some(tx),
        Err(e) => {
            tracing::error!(url = %state.shown, error = %e, "cannot start the budget webhook's thread; events are dropped");
            None
        }
    }
}

/// The delivery thread: each event in turn, until every sender is gone.
fn run(state: &State, rx: &Receiver<Job>) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(url = %state.shown, error = %e, "cannot start the budget webhook's runtime; events are dropped");
            while rx.recv().is_ok() {
                state.record(Outcome::Failed);
                state.done();
            }
            return;
        }
    };
    // Its own connection pool: the webhook's connections are not the
    // providers'.
    let connector = Connector::new(None);
    while let Ok(job) = rx.recv() {
        runtime.block_on(deliver(state, &connector, &job));
        state.done();
    }
}

/// Tries `job` until it is delivered, fails for good, or runs out of tries.
async fn deliver(state: &State, connector: &Connector, job: &Job) {
    let settings = &state.settings;
    let attempts = settings.attempts.max(1);
    let mut tries = 0;
    let failure = loop {
        tries += 1;
        match post_once(settings, connector, job).await {
            Ok(()) => {
                state.record(Outcome::Delivered);
                return;
            }
            Err(f) if f.retryable() && tries < attempts => {
                state.record(Outcome::Retried);
                let wait = jittered(
                    backoff(settings.backoff, tries - 1),
                    rand::thread_rng().gen(),
                );
                tracing::debug!(url = %state.shown, event_id = %job.id, attempt = tries, error = %f, ?wait, "budget webhook delivery failed; retrying");
                tokio::time::sleep(wait).await;
            }
            Err(f) => break f,
        }
    };
    state.record(Outcome::Failed);
    tracing::warn!(url = %state.shown, event_id = %job.id, attempts = tries, error = %failure, "budget webhook delivery failed; event dropped");
}

/// Why one POST did not deliver an event.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Failure {
    /// The receiver answered with this status, not a 2xx.
    Status(u16),
    /// No answer within the timeout.
    Timeout(Duration),
    /// The receiver could not be reached or did not answer.
    Unreachable(String),
    /// The URL or a header cannot make a request.
    Invalid(String),
}

impl Failure {
    /// Whether another try could succeed: a connection error, a timeout,
    /// 408, 429 or a 5xx.
    fn retryable(&self) -> bool {
        match self {
            Failure::Status(s) => matches!(s, 408 | 429 | 500..=599),
            Failure::Timeout(_) | Failure::Unreachable(_) => true,
            Failure::Invalid(_) => false,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Status(s) => write!(f, "answered {s}"),
            Failure::Timeout(t) => write!(f, "no answer within {t:?}"),
            Failure::Unreachable(e) => write!(f, "{e}"),
            Failure::Invalid(e) => write!(f, "cannot make the request: {e}"),
        }
    }
}

/// One POST of `job`, signed now.
async fn post_once(
    settings: &WebhookSettings,
    connector: &Connector,
    job: &Job,
) -> Result<(), Failure> {
    let mut headers = vec![
        ("content-type".to_string(), "application/json".to_string()),
        ("user-agent".to_string(), "switchyard".to_string()),
        (EVENT_ID_HEADER.to_string(), job.id.clone()),
    ];
    if let Some(secret) = &settings.secret {
        let value = signature(secret.expose().as_bytes(), unix_now(), &job.body);
        headers.push((SIGNATURE_HEADER.to_string(), value));
    }
    let post = call::post(
        connector,
        &settings.url,
        &headers,
        job.body.clone(),
        settings.timeout,
        MAX_ANSWER,
    );
    let status = match tokio::time::timeout(settings.timeout, post).await {
        Err(_) => return Err(Failure::Timeout(settings.timeout)),
        Ok(Ok((status, _))) => status,
        // The receiver answered; an unread body does not undo a 2xx.
        Ok(Err(PostError::Unread { status, .. })) => status,
        Ok(Err(PostError::Call(e))) => return Err(Failure::Unreachable(e)),
        // Its message starts with the URL, which logs must not show whole.
        Ok(Err(PostError::Invalid(e))) => {
            let detail = e
                .strip_prefix(settings.url.as_str())
                .and_then(|rest| rest.strip_prefix(": "))
                .unwrap_or("invalid URL or header");
            return Err(Failure::Invalid(detail.to_string()));
        }
    };
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(Failure::Status(status))
    }
}

/// The signature header's value for `body` sent at unix second
/// `timestamp`: `t=<timestamp>,v1=<lowercase hex HMAC-SHA256(secret,
/// "<timestamp>." + body)>` (Stripe's scheme; receivers check the
/// timestamp to refuse replays).
pub fn signature(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    let t = timestamp.to_string();
    let mac = hmac_sha256(secret, &[t.as_bytes(), b".", body]);
    format!("t={t},v1={}", hex(&mac))
}

/// HMAC-SHA256 of the concatenated `parts` under `key`.
fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    // HMAC takes keys of any length: this never fails.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return Vec::new();
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The wait before retry `n` (0 for the first): `first` doubled `n`
/// times, at most a minute.
fn backoff(first: Duration, n: u32) -> Duration {
    let factor = 1u32.checked_shl(n).unwrap_or(u32::MAX);
    first.saturating_mul(factor).min(MAX_BACKOFF)
}

/// `wait` moved by up to ±20%: `unit` (drawn from 0..1) 0 takes 20% off,
/// 0.5 leaves it, 1 adds 20%; never more than a minute.
fn jittered(wait: Duration, unit: f64) -> Duration {
    let factor = 0.8 + 0.4 * unit.clamp(0.0, 1.0);
    wait.mul_f64(factor).min(MAX_BACKOFF)
}

/// A random UUID (version 4), naming one event across its tries.
fn event_id() -> String {
    let r: u128 = rand::random();
    // The version (4) and variant (10) bits.
    let v = (((r & !(0xf << 76)) | (0x4 << 76)) & !(0x3 << 62)) | (0x2 << 62);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        v >> 96,
        (v >> 80) & 0xffff,
        (v >> 64) & 0xffff,
        (v >> 48) & 0xffff,
        v & 0xffff_ffff_ffff
    )
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `url` as logs may show it: without userinfo, query or fragment.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        }
        Err(_) => "(an invalid URL)".to_string(),
    }
}

#[cfg(test)]
mod tests;
