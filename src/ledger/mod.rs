//! The usage ledger: one row per finished request (who, which route and
//! model, tokens, cost, latency, outcome) in SQLite or PostgreSQL, for usage
//! reports and for seeding spend budgets at start-up.
//!
//! The request path only calls [`Ledger::record`], which stamps the record
//! and pushes it onto a channel: no lock held across I/O, no database call,
//! never an error. A dedicated OS thread (not a tokio task: the request path
//! runs on Pingora's runtimes and must never wait on the database) writes
//! the records in batches, one transaction per batch, whenever `max_batch`
//! records wait or the oldest has waited `flush_interval`.
//!
//! **Durability.** A record is durable once its batch commits. So if the
//! process is killed (even `kill -9`), what is missing is at most the records
//! accepted during the last `flush_interval`, plus those of a batch being
//! committed at that moment — as long as the database keeps up with the
//! request rate (a writer that falls behind writes full batches back to
//! back, and its backlog is what a kill loses). SQLite runs in WAL mode with
//! `synchronous=NORMAL`: a commit is in the WAL file when it returns, which
//! survives a killed process; only a power loss or OS crash can lose the last
//! commits. [`Ledger::flush`] (and dropping or closing the last handle)
//! writes everything accepted so far, for graceful shutdown.
//!
//! **Outages.** When the database is unreachable or a write fails, records
//! stay in memory — at most `max_buffer`; beyond that the oldest are dropped,
//! counted ([`Ledger::dropped`]) and logged — and the writer reconnects with
//! jittered backoff (100 ms doubling to 5 s). A batch whose commit failed
//! ambiguously (the connection broke during `COMMIT`) is written again, so a
//! record may rarely appear twice: neither `id` nor `request_id` is unique.
//!
//! A PostgreSQL password never appears in logs, errors or
//! [`Ledger::target_label`].

mod pg;
mod query;
mod sqlite;
mod store;
mod target;
mod writer;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use query::{GroupBy, SpendBy, UsageQuery, UsageRow};
pub use target::LedgerTarget;

use store::{Pending, Store, StoreError};
use writer::{Msg, Shared, Wake};

/// One finished request.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct UsageRecord {
    /// Unix time in ms when the request finished.
    pub at_ms: i64,
    pub request_id: String,
    /// Virtual key name (`""` when auth is off).
    pub key: String,
    pub route: String,
    pub provider: String,
    pub model: String,
    /// `"chat_completions"`, `"embeddings"`, `"messages"`, …
    pub endpoint: String,
    pub status: u16,
    pub stream: bool,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cached_tokens: u64,
    pub cost_usd: f64,
    pub latency_ms: u64,
    pub ttft_ms: Option<u64>,
    pub attempts: u32,
    /// `"hit"`, `"miss"`, `"coalesced"` or `""`.
    pub cache: String,
    pub error: Option<String>,
    /// The request's OpenTelemetry trace id (32 hex digits), when traced.
    pub trace_id: Option<String>,
    /// The guardrail that blocked the request or its answer, if one did.
    pub guardrail: Option<String>,
}

/// Unix time now in milliseconds (for [`UsageRecord::at_ms`]).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// How the writer batches and buffers.
#[derive(Debug, Clone)]
pub struct LedgerOptions {
    /// Longest a record waits before its batch is written (default 1 s):
    /// the most a `kill -9` can lose.
    pub flush_interval: Duration,
    /// Records per transaction; reaching it triggers a write (default 1,000).
    pub max_batch: usize,
    /// Records kept in memory while the database is down (default 100,000);
    /// the oldest are dropped beyond it.
    pub max_buffer: usize,
    /// How long closing keeps retrying a failing database before dropping
    /// the records it could not write (default 5 s).
    pub close_timeout: Duration,
}

impl Default for LedgerOptions {
    fn default() -> Self {
        Self {
            flush_interval: Duration::from_secs(1),
            max_batch: 1000,
            max_buffer: 100_000,
            close_timeout: Duration::from_secs(5),
        }
    }
}

/// What can go wrong with the ledger. Messages name the target by its
/// label, never with a password.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LedgerError {
    /// The database could not be opened, reached with valid credentials, or
    /// its table created: the ledger did not start.
    #[error("cannot open the usage ledger {target}: {message}")]
    Open { target: String, message: String },
    /// A write failed (database down or refusing); the records stay in
    /// memory and are retried, so a later flush may succeed.
    #[error("usage ledger {target} unavailable, {buffered} records kept for retry: {message}")]
    Unavailable {
        target: String,
        message: String,
        buffered: usize,
    },
    /// Closing gave up after `close_timeout`: `lost` records were not written.
    #[error("usage ledger {target} closed with {lost} records unwritten: {message}")]
    Lost {
        target: String,
        message: String,
        lost: usize,
    },
    /// A query or spend lookup failed.
    #[error("usage ledger query on {target} failed: {message}")]
    Query { target: String, message: String },
    /// The ledger was closed; nothing more is written.
    #[error("usage ledger {target} is closed")]
    Closed { target: String },
    /// Options that cannot work (a zero `max_batch` or `max_buffer`).
    #[error("invalid usage ledger options: {0}")]
    Options(String),
}

/// A handle on the ledger: cheap to clone, `Send + Sync`. Dropping the last
/// handle writes what is pending (see [`Ledger::close`]) and stops the
/// writer; with the database down that blocks up to `close_timeout`.
#[derive(Clone)]
pub struct Ledger {
    inner: Arc<Inner>,
}

struct Inner {
    tx: mpsc::Sender<Msg>,
    wake: Wake,
    shared: Arc<Shared>,
    writer: Mutex<Option<JoinHandle<()>>>,
    target: LedgerTarget,
    table: String,
    label: String,
    /// Past this many pending records (twice `max_buffer`: the writer is
    /// stuck in a write and not draining the channel), `record` drops.
    max_pending: usize,
    /// The query connection, opened on first use.
    reader: Mutex<Option<Box<dyn Store>>>,
}

impl Ledger {
    /// Opens the ledger: connects, creates the table and its indexes if
    /// missing (idempotent), and starts the writer thread.
    ///
    /// Fails if a SQLite file cannot be opened or created, or if PostgreSQL
    /// answers with an error (bad credentials, unknown database, no
    /// permission). An *unreachable* PostgreSQL does not fail: the ledger
    /// starts, logs the error, buffers records and keeps reconnecting.
    /// Blocks up to the connect timeout (5 s unless the URL sets
    /// `connect_timeout`); safe to call from async code at start-up.
    pub fn open(target: &LedgerTarget, opts: LedgerOptions) -> Result<Ledger, LedgerError> {
        Self::open_table(target, opts, store::DEFAULT_TABLE)
    }

    /// [`Ledger::open`] on another table (tests use one table each).
    pub(crate) fn open_table(
        target: &LedgerTarget,
        opts: LedgerOptions,
        table: &str,
    ) -> Result<Ledger, LedgerError> {
        let label = target.label();
        if opts.max_batch == 0 || opts.max_buffer == 0 {
            return Err(LedgerError::Options(
                "max_batch and max_buffer must be at least 1".into(),
            ));
        }
        if !store::valid_table_name(table) {
            return Err(LedgerError::Options(format!("bad table name `{table}`")));
        }
        let shared = Arc::new(Shared::default());
        let max_pending = opts.max_buffer.saturating_mul(2);
        let (tx, handle, wake) = writer::start(target, table, opts, shared.clone())?;
        Ok(Ledger {
            inner: Arc::new(Inner {
                tx,
                wake,
                shared,
                writer: Mutex::new(Some(handle)),
                target: target.clone(),
                table: table.to_string(),
                label,
                max_pending,
                reader: Mutex::new(None),
            }),
        })
    }

    /// Accepts a record for writing. Never blocks and never fails: it only
    /// pushes onto the writer's channel. If the ledger is closed, or the
    /// writer has fallen `2 × max_buffer` records behind, the record is
    /// dropped and counted in [`Ledger::dropped`].
    pub fn record(&self, r: UsageRecord) {
        let inner = &self.inner;
        if inner.shared.pending.load(Ordering::SeqCst) >= inner.max_pending {
            inner
                .shared
                .drop_records(1, &inner.label, "the writer is too far behind");
            return;
        }
        let before = inner.shared.pending.fetch_add(1, Ordering::SeqCst);
        let msg = Msg::Record(Pending {
            record: r,
            accepted: Instant::now(),
        });
        if inner.tx.send(msg).is_err() {
            inner.shared.pending.fetch_sub(1, Ordering::SeqCst);
            inner
                .shared
                .drop_records(1, &inner.label, "the ledger is closed");
            return;
        }
        inner.wake.after_record(before);
    }

    /// Blocks until every record accepted before the call is committed.
    /// Fails with [`LedgerError::Unavailable`] if the database cannot take
    /// them now (they stay buffered and are retried) or
    /// [`LedgerError::Closed`]. It blocks the calling thread: async callers
    /// must use `tokio::task::spawn_blocking`.
    pub fn flush(&self) -> Result<(), LedgerError> {
        self.inner.ask(Msg::Flush)
    }

    /// Writes everything pending (retrying a failing database for up to
    /// `close_timeout`) and stops the writer; later records are dropped.
    /// Dropping the last handle does the same. A second call returns
    /// `Ok(())`. Blocks like [`Ledger::flush`].
    pub fn close(&self) -> Result<(), LedgerError> {
        self.inner.close()
    }

    /// Aggregated usage per `q`, read on the ledger's query connection (not
    /// the writer's). Sees committed records only: [`Ledger::flush`] first
    /// for read-your-writes. Blocks (async callers: `spawn_blocking`).
    pub fn query(&self, q: &UsageQuery) -> Result<Vec<UsageRow>, LedgerError> {
        self.inner.read(|store| store.query(q))
    }

    /// Total `cost_usd` per key, route or provider (`by`) over records at
    /// or after `since_ms`; records whose value for `by` is empty (no key
    /// when auth is off, say) are left out. Fails with
    /// [`LedgerError::Query`] when the database cannot answer. Blocks like
    /// [`Ledger::query`].
    pub fn spend_by(
        &self,
        by: SpendBy,
        since_ms: i64,
    ) -> Result<HashMap<String, f64>, LedgerError> {
        self.inner.read(|store| store.spend_by(by, since_ms))
    }

    /// [`Ledger::spend_by`] per key, for seeding budgets at start-up.
    pub fn spend_by_key(&self, since_ms: i64) -> Result<HashMap<String, f64>, LedgerError> {
        self.spend_by(SpendBy::Key, since_ms)
    }

    /// Total `cost_usd` over all records at or after `since_ms` (0 when
    /// there are none). Fails and blocks like [`Ledger::spend_by`].
    pub fn spend_total(&self, since_ms: i64) -> Result<f64, LedgerError> {
        self.inner.read(|store| store.spend_total(since_ms))
    }

    /// `sqlite:/path/usage.db` or `postgres://host:port/db`, without password.
    pub fn target_label(&self) -> String {
        self.inner.label.clone()
    }

    /// Records accepted but not yet written (nor dropped).
    pub fn pending(&self) -> usize {
        self.inner.shared.pending.load(Ordering::SeqCst)
    }

    /// Records dropped so far: buffer overflow during an outage, or still
    /// unwritten when the ledger closed.
    pub fn dropped(&self) -> u64 {
        self.inner.shared.dropped.load(Ordering::SeqCst)
    }
}

impl Inner {
    /// Sends a request to the writer and waits for its answer.
    fn ask(
        &self,
        msg: fn(mpsc::SyncSender<Result<(), LedgerError>>) -> Msg,
    ) -> Result<(), LedgerError> {
        let closed = || LedgerError::Closed {
            target: self.label.clone(),
        };
        let (reply_tx, reply_rx) = mpsc::sync_channel(1);
        self.tx.send(msg(reply_tx)).map_err(|_| closed())?;
        self.wake.now();
        reply_rx.recv().map_err(|_| closed())?
    }

    fn close(&self) -> Result<(), LedgerError> {
        let handle = self
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        let Some(handle) = handle else {
            return Ok(());
        };
        let result = self.ask(Msg::Close);
        let _ = handle.join();
        result
    }

    /// Runs `f` on the query connection, (re)connecting first if needed, on
    /// a short-lived plain thread: the synchronous PostgreSQL client panics
    /// inside a tokio runtime, and the caller may be in one.
    fn read<T: Send>(
        &self,
        f: impl FnOnce(&mut dyn Store) -> Result<T, StoreError> + Send,
    ) -> Result<T, LedgerError> {
        let fail = |message: String| LedgerError::Query {
            target: self.label.clone(),
            message,
        };
        let run = || {
            let mut reader = self
                .reader
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if reader.is_none() {
                *reader = Some(store::connect(&self.target, &self.table)?);
            }
            let Some(store) = reader.as_mut() else {
                return Err(StoreError::new("no query connection"));
            };
            let result = f(store.as_mut());
            if result.is_err() {
                // Maybe a broken connection: the next query reconnects.
                *reader = None;
            }
            result
        };
        std::thread::scope(|s| match s.spawn(run).join() {
            Ok(result) => result.map_err(|e| fail(e.message)),
            Err(_) => Err(fail("the query thread panicked".into())),
        })
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            tracing::error!(ledger = %self.label, error = %e, "usage ledger closed with errors");
        }
        // Closing a PostgreSQL connection panics inside a tokio runtime,
        // and the last handle may well be dropped in one.
        let reader = self
            .reader
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(reader) = reader {
            std::thread::scope(|s| {
                s.spawn(move || drop(reader));
            });
        }
    }
}
