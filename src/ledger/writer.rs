//! The writer thread: takes records off the channel into a buffer and writes
//! the buffer in batches of at most `max_batch`, one transaction each, as
//! soon as `max_batch` records wait or the oldest has waited
//! `flush_interval`. When the database fails it keeps the buffer (dropping
//! the oldest beyond `max_buffer`), reconnects with jittered exponential
//! backoff and never gives up until closed.
//!
//! **Wake-ups.** The writer does not block on the channel: a blocked
//! receiver makes every `send` wake it (a futex call on the request path and
//! a context switch per record, which cost the request path more than the
//! insert itself under load). It parks instead, and a handle unparks it only
//! when its record is the first pending one, completes a batch, or asks for
//! a flush or a close ([`Wake`]); otherwise it sleeps until the oldest
//! record is due. So a busy gateway wakes it once per `flush_interval` or
//! per `max_batch` records, not once per request.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TryRecvError};
use std::sync::Arc;
use std::thread::{JoinHandle, Thread};
use std::time::{Duration, Instant};

use rand::Rng;

use super::store::{self, Pending, Store, StoreError};
use super::{now_ms, LedgerError, LedgerOptions, LedgerTarget};

/// First wait after a failed write; doubles per failure up to `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// At most one "records dropped" log line this often.
const DROP_LOG_EVERY_MS: u64 = 10_000;

/// Counters shared by the handles and the writer.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// Accepted by `record`, neither written nor dropped yet.
    pub pending: AtomicUsize,
    /// Dropped: buffer overflow, or unwritten when the ledger closed.
    pub dropped: AtomicU64,
    /// Batches committed (for tests: batching must hold up under load).
    pub batches: AtomicU64,
    /// Times the writer woke from a park (for tests: records must not
    /// wake it one by one).
    pub wakes: AtomicU64,
    last_drop_log_ms: AtomicU64,
    drops_at_last_log: AtomicU64,
}

/// How a handle wakes the parked writer (see the module's doc).
#[derive(Debug, Clone)]
pub(crate) struct Wake {
    thread: Thread,
    max_batch: usize,
}

impl Wake {
    /// After sending a record that found `before` records pending.
    pub fn after_record(&self, before: usize) {
        if before == 0 || (before + 1) % self.max_batch == 0 {
            self.thread.unpark();
        }
    }

    /// After sending a flush or a close.
    pub fn now(&self) {
        self.thread.unpark();
    }
}

impl Shared {
    /// Counts `n` dropped records and logs (at most every ten seconds).
    pub fn drop_records(&self, n: usize, label: &str, why: &str) {
        let n = u64::try_from(n).unwrap_or(u64::MAX);
        let total = self.dropped.fetch_add(n, Ordering::SeqCst) + n;
        let now = u64::try_from(now_ms()).unwrap_or(0);
        let last = self.last_drop_log_ms.load(Ordering::SeqCst);
        let due = now.saturating_sub(last) >= DROP_LOG_EVERY_MS;
        if due
            && self
                .last_drop_log_ms
                .compare_exchange(last, now, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        {
            let since = total - self.drops_at_last_log.swap(total, Ordering::SeqCst);
            tracing::error!(ledger = %label, dropped = since, dropped_total = total, "usage records dropped: {why}");
        }
    }
}

/// What the handles send to the writer. Records travel unboxed: they are
/// nearly every message, and boxing would cost an allocation each.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Msg {
    Record(Pending),
    /// Write everything received so far, then answer.
    Flush(SyncSender<Result<(), LedgerError>>),
    /// Write everything (retrying up to `close_timeout`), answer and stop.
    Close(SyncSender<Result<(), LedgerError>>),
}

/// Starts the writer thread, which connects (creating the schema) and
/// reports back before taking records. It connects on its own thread because
/// the synchronous PostgreSQL client must not run inside a tokio runtime,
/// and `open` may be called from one. Fails if the database refused (see
/// [`StoreError::refused`]) or the thread could not start; an unreachable
/// database is logged and retried.
pub(crate) fn start(
    target: &LedgerTarget,
    table: &str,
    opts: LedgerOptions,
    shared: Arc<Shared>,
) -> Result<(Sender<Msg>, JoinHandle<()>, Wake), LedgerError> {
    let label = target.label();
    let max_batch = opts.max_batch;
    let open_err = |message: String| LedgerError::Open {
        target: label.clone(),
        message,
    };
    let (tx, rx) = mpsc::channel();
    let (ready_tx, ready_rx) = mpsc::sync_channel(1);
    let (target, table) = (target.clone(), table.to_string());
    let handle = std::thread::Builder::new()
        .name("switchyard-ledger".into())
        .spawn(move || {
            let store = match store::connect(&target, &table) {
                Ok(store) => Some(store),
                Err(e) if e.refused => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
                Err(e) => {
                    tracing::error!(ledger = %target.label(), error = %e.message, "usage ledger database unreachable at start-up; buffering records and retrying");
                    None
                }
            };
            let _ = ready_tx.send(Ok(()));
            Writer::new(rx, target, table, opts, shared, store).run();
        })
        .map_err(|e| open_err(format!("cannot start the writer thread: {e}")))?;
    match ready_rx.recv() {
        Ok(Ok(())) => {
            let wake = Wake {
                thread: handle.thread().clone(),
                max_batch,
            };
            Ok((tx, handle, wake))
        }
        Ok(Err(e)) => {
            let _ = handle.join();
            Err(open_err(e.message))
        }
        Err(_) => {
            let _ = handle.join();
            Err(open_err("the writer thread stopped while starting".into()))
        }
    }
}

struct Writer {
    rx: Receiver<Msg>,
    target: LedgerTarget,
    table: String,
    label: String,
    opts: LedgerOptions,
    shared: Arc<Shared>,
    store: Option<Box<dyn Store>>,
    buffer: VecDeque<Pending>,
    retry_at: Option<Instant>,
    backoff: Duration,
    failing_since: Option<Instant>,
}

impl Writer {
    fn new(
        rx: Receiver<Msg>,
        target: LedgerTarget,
        table: String,
        opts: LedgerOptions,
        shared: Arc<Shared>,
        store: Option<Box<dyn Store>>,
    ) -> Self {
        // Unreachable at start-up (`start` logged it): retry soon.
        let down = store.is_none();
        Self {
            rx,
            label: target.label(),
            target,
            table,
            opts,
            shared,
            store,
            buffer: VecDeque::new(),
            retry_at: down.then(|| Instant::now() + FIRST_BACKOFF),
            backoff: FIRST_BACKOFF,
            failing_since: down.then(Instant::now),
        }
    }

    /// The thread's body: runs until `Close` or until every handle is gone.
    fn run(mut self) {
        loop {
            // Take what is queued, up to a batch while the database takes
            // writes (a writer behind schedule then writes full batches);
            // everything while it is failing, so that the buffer, not the
            // channel, holds the backlog and drops its oldest.
            let mut more = false;
            loop {
                if self.retry_at.is_none() && self.buffer.len() >= self.opts.max_batch {
                    more = true;
                    break;
                }
                match self.rx.try_recv() {
                    Ok(msg) => {
                        if !self.handle(msg) {
                            return;
                        }
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        let _ = self.shutdown();
                        return;
                    }
                }
            }
            self.write_if_due();
            if !(more && self.retry_at.is_none()) {
                self.sleep();
            }
        }
    }

    /// Parks until the oldest buffered record is due (or the next retry),
    /// or until a handle wakes it. With nothing buffered it parks for good
    /// when nothing is pending either, and briefly when a record is
    /// counted but not yet sent (its handle is between the two steps).
    fn sleep(&self) {
        match self.wake_at() {
            Some(at) => std::thread::park_timeout(at.saturating_duration_since(Instant::now())),
            None if self.shared.pending.load(Ordering::SeqCst) == 0 => std::thread::park(),
            None => std::thread::park_timeout(self.opts.flush_interval),
        }
        self.shared.wakes.fetch_add(1, Ordering::Relaxed);
    }

    /// Handles one message; false when the writer must stop.
    fn handle(&mut self, msg: Msg) -> bool {
        match msg {
            Msg::Record(p) => self.push(p),
            Msg::Flush(reply) => {
                let _ = reply.send(self.write_buffered());
            }
            Msg::Close(reply) => {
                let mut replies = vec![reply];
                while let Ok(msg) = self.rx.try_recv() {
                    match msg {
                        Msg::Record(p) => self.push(p),
                        Msg::Flush(r) | Msg::Close(r) => replies.push(r),
                    }
                }
                let result = self.shutdown();
                for r in replies {
                    let _ = r.send(result.clone());
                }
                return false;
            }
        }
        true
    }

    /// When the loop must wake without a message: the next retry while
    /// failing, else when the oldest buffered record is due.
    fn wake_at(&self) -> Option<Instant> {
        let oldest = self.buffer.front()?;
        Some(
            self.retry_at
                .unwrap_or(oldest.accepted + self.opts.flush_interval),
        )
    }

    fn push(&mut self, p: Pending) {
        if self.buffer.len() >= self.opts.max_buffer {
            self.buffer.pop_front();
            self.shared.pending.fetch_sub(1, Ordering::SeqCst);
            self.shared.drop_records(
                1,
                &self.label,
                "buffer full while the database is unavailable (oldest dropped)",
            );
        }
        self.buffer.push_back(p);
    }

    fn write_if_due(&mut self) {
        let Some(oldest) = self.buffer.front() else {
            return;
        };
        let now = Instant::now();
        let due = match self.retry_at {
            // Failing: wait for the retry time, then write whatever waits.
            Some(at) => at <= now,
            None => {
                self.buffer.len() >= self.opts.max_batch
                    || oldest.accepted + self.opts.flush_interval <= now
            }
        };
        if due {
            // A failure is logged and scheduled for retry by `write_buffered`.
            let _ = self.write_buffered();
        }
    }

    /// Writes the whole buffer, `max_batch` records per transaction,
    /// reconnecting first if needed. Stops at the first failure, keeping
    /// what is unwritten and scheduling a retry.
    fn write_buffered(&mut self) -> Result<(), LedgerError> {
        while !self.buffer.is_empty() {
            if self.store.is_none() {
                match store::connect(&self.target, &self.table) {
                    Ok(store) => self.store = Some(store),
                    Err(e) => return Err(self.failed(e)),
                }
            }
            let Some(store) = self.store.as_mut() else {
                continue;
            };
            let n = self.buffer.len().min(self.opts.max_batch);
            let batch = &self.buffer.make_contiguous()[..n];
            if let Err(e) = store.insert(batch) {
                // The connection may be broken: start over with a new one.
                self.store = None;
                return Err(self.failed(e));
            }
            self.buffer.drain(..n);
            self.shared.pending.fetch_sub(n, Ordering::SeqCst);
            self.shared.batches.fetch_add(1, Ordering::SeqCst);
            self.recovered();
        }
        Ok(())
    }

    fn failed(&mut self, e: StoreError) -> LedgerError {
        let wait = self.backoff.mul_f64(rand::thread_rng().gen_range(0.8..1.2));
        self.retry_at = Some(Instant::now() + wait);
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        let buffered = self.buffer.len();
        if self.failing_since.is_none() {
            self.failing_since = Some(Instant::now());
            tracing::error!(ledger = %self.label, error = %e.message, buffered, retry_ms = wait.as_millis() as u64, "usage ledger write failed; records kept in memory");
        } else {
            tracing::warn!(ledger = %self.label, error = %e.message, buffered, retry_ms = wait.as_millis() as u64, "usage ledger still unavailable");
        }
        LedgerError::Unavailable {
            target: self.label.clone(),
            message: e.message,
            buffered,
        }
    }

    fn recovered(&mut self) {
        self.retry_at = None;
        self.backoff = FIRST_BACKOFF;
        if let Some(since) = self.failing_since.take() {
            tracing::info!(ledger = %self.label, down_ms = since.elapsed().as_millis() as u64, "usage ledger writable again");
        }
    }

    /// Writes what is left, retrying until `close_timeout`; what still could
    /// not be written is counted as dropped and reported.
    fn shutdown(&mut self) -> Result<(), LedgerError> {
        let deadline = Instant::now() + self.opts.close_timeout;
        loop {
            let err = match self.write_buffered() {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            let now = Instant::now();
            if now >= deadline {
                let lost = self.buffer.len();
                self.buffer.clear();
                self.shared.pending.fetch_sub(lost, Ordering::SeqCst);
                self.shared
                    .drop_records(lost, &self.label, "unwritten when the ledger closed");
                let message = match err {
                    LedgerError::Unavailable { message, .. } => message,
                    other => other.to_string(),
                };
                return Err(LedgerError::Lost {
                    target: self.label.clone(),
                    message,
                    lost,
                });
            }
            let retry = self.retry_at.unwrap_or(now).min(deadline);
            std::thread::sleep(retry.saturating_duration_since(now));
        }
    }
}
