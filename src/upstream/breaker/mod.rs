//! Passive health of one backend: a circuit breaker, consulted before each
//! attempt and told how the attempt ended.
//!
//! ```text
//!            N failures in a row, or error rate ≥ r over the window
//!   Closed ───────────────────────────────────────────────────────▶ Open { until }
//!     ▲                                                              │ cooldown over
//!     │ enough probe successes        any probe failure (longer      ▼
//!     └──────────────────────── HalfOpen ─────────────────────────▶ Open
//!                              (≤ half_open_probes in flight)   cooldown × 2ⁿ⁻¹)
//! ```
//!
//! `bench(until)` (a provider's `429` + `Retry-After`, or an explicit rate
//! limit) refuses every request until that instant whatever the state, and is
//! not a failure by itself: a caller that also wants a 429 counted reports
//! [`Permit::failure`] as well.
//!
//! The caller asks [`Breaker::try_acquire`] and reports the outcome on the
//! returned [`Permit`]; a permit dropped without a report counts as neither
//! but still frees its half-open probe slot. An outcome counts only if the
//! breaker is still in the phase that admitted it: a slow request started
//! before the breaker opened cannot close or re-open it later.
//!
//! Time is always passed in (`now`), never read here, so tests replay exact
//! timelines. All methods take `&self`; one short `Mutex` per backend guards
//! the state, and it is never held across an `await`.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Most buckets in the sliding window; windows over 60 s get wider buckets.
const MAX_BUCKETS: u64 = 60;
/// Narrowest bucket of the sliding window, in milliseconds.
const MIN_BUCKET_MS: u64 = 1000;

/// How one backend's breaker opens and recovers.
///
/// Check it with [`BreakerConfig::validate`]; an unchecked config never makes
/// the breaker panic, it just behaves as its numbers say.
#[derive(Debug, Clone, PartialEq)]
pub struct BreakerConfig {
    /// Failures in a row that open a closed breaker.
    pub consecutive_failures: u32,
    /// Failure rate, in (0, 1], over `window` that opens a closed breaker
    /// (checked whenever a failure is recorded).
    pub error_rate: f64,
    /// Fewest outcomes within `window` before `error_rate` applies.
    pub min_requests: u32,
    /// Span of the sliding window (at least 1 s). Outcomes are kept in at
    /// most 60 buckets of at least 1 s, so one is forgotten between
    /// `window - bucket` and `window` after it was recorded.
    pub window: Duration,
    /// How long a freshly opened breaker refuses requests.
    pub cooldown: Duration,
    /// Cap of the cooldown, which doubles on each re-open from half-open
    /// (`cooldown * 2^(n-1)`); equal to `cooldown` for a fixed cooldown.
    pub max_cooldown: Duration,
    /// Probe requests admitted at once while half-open (at least 1).
    pub half_open_probes: u32,
    /// Probe successes that close a half-open breaker; `None` means
    /// `half_open_probes`.
    pub half_open_successes: Option<u32>,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            consecutive_failures: 5,
            error_rate: 0.5,
            min_requests: 20,
            window: Duration::from_secs(30),
            cooldown: Duration::from_secs(10),
            max_cooldown: Duration::from_secs(300),
            half_open_probes: 1,
            half_open_successes: None,
        }
    }
}

impl BreakerConfig {
    /// Checks every field; on failure returns all problems, `; `-separated,
    /// each starting with the field's name.
    pub fn validate(&self) -> Result<(), String> {
        let mut problems = Vec::new();
        if self.consecutive_failures == 0 {
            problems.push("consecutive_failures must be at least 1".to_string());
        }
        if !(self.error_rate > 0.0 && self.error_rate <= 1.0) {
            problems.push(format!(
                "error_rate must be in (0, 1], got {}",
                self.error_rate
            ));
        }
        if self.min_requests == 0 {
            problems.push("min_requests must be at least 1".to_string());
        }
        if self.window < Duration::from_secs(1) {
            problems.push(format!("window must be at least 1s, got {:?}", self.window));
        }
        if self.cooldown.is_zero() {
            problems.push("cooldown must be longer than 0s".to_string());
        }
        if self.max_cooldown < self.cooldown {
            problems.push(format!(
                "max_cooldown ({:?}) must not be shorter than cooldown ({:?})",
                self.max_cooldown, self.cooldown
            ));
        }
        if self.half_open_probes == 0 {
            problems.push("half_open_probes must be at least 1".to_string());
        }
        if self.half_open_successes == Some(0) {
            problems.push("half_open_successes must be at least 1".to_string());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }

    fn probes(&self) -> u32 {
        self.half_open_probes.max(1)
    }

    fn successes_to_close(&self) -> u32 {
        self.half_open_successes.unwrap_or(self.probes()).max(1)
    }

    /// The cooldown of the `opens`-th opening since the breaker last closed.
    fn cooldown_after(&self, opens: u32) -> Duration {
        let factor = 1u32
            .checked_shl(opens.saturating_sub(1))
            .unwrap_or(u32::MAX);
        let cap = self.max_cooldown.max(self.cooldown);
        self.cooldown.checked_mul(factor).unwrap_or(cap).min(cap)
    }
}

/// What a breaker does now, for metrics and the admin view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Normal: every request passes.
    Closed,
    /// Tripped: requests are refused until `until`, then it half-opens.
    Open {
        /// End of the cooldown.
        until: Instant,
    },
    /// Recovering: a few probe requests pass.
    HalfOpen,
    /// Rate limited: requests are refused until `until` (when an open
    /// breaker's cooldown ends later, the state is `Open` instead).
    Benched {
        /// End of the bench.
        until: Instant,
    },
}

impl BreakerState {
    /// A low-cardinality label: `closed`, `open`, `half_open` or `benched`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open { .. } => "open",
            Self::HalfOpen => "half_open",
            Self::Benched { .. } => "benched",
        }
    }
}

/// Why [`Breaker::try_acquire`] refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RefusalReason {
    /// The breaker is open (cooling down after failures).
    #[error("circuit open")]
    Open,
    /// The breaker is half-open and every probe slot is taken.
    #[error("circuit half-open, probes busy")]
    HalfOpenBusy,
    /// The backend is benched (rate limited).
    #[error("rate limited")]
    Benched,
}

impl RefusalReason {
    /// A low-cardinality label: `open`, `half_open_busy` or `benched`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::HalfOpenBusy => "half_open_busy",
            Self::Benched => "benched",
        }
    }
}

/// A refused request: why, and when the backend admits again (`None` when
/// that depends on probes in flight).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("backend unavailable: {reason}")]
pub struct Refusal {
    /// When a request would be admitted again, if known.
    pub until: Option<Instant>,
    /// Why the request was refused.
    pub reason: RefusalReason,
}

/// One backend's circuit breaker; share it (e.g. in an `Arc`) between threads.
#[derive(Debug)]
pub struct Breaker {
    inner: Arc<Mutex<Inner>>,
}

impl Default for Breaker {
    fn default() -> Self {
        Self::new(BreakerConfig::default())
    }
}

impl Breaker {
    /// A closed breaker with `cfg` (which should pass `validate`).
    pub fn new(cfg: BreakerConfig) -> Self {
        let inner = Inner {
            window: Window::new(cfg.window, None),
            cfg,
            phase: Phase::Closed,
            epoch: 0,
            consecutive: 0,
            opens: 0,
            bench_until: None,
        };
        Self {
            inner: Arc::new(Mutex::new(inner)),
        }
    }

    /// Admits a request at `now`, or says why not and until when. A permit
    /// taken while half-open holds one of the `half_open_probes` slots until
    /// it is reported or dropped.
    pub fn try_acquire(&self, now: Instant) -> Result<Permit, Refusal> {
        let (epoch, probe) = lock(&self.inner).admit(now)?;
        Ok(Permit {
            inner: Arc::clone(&self.inner),
            epoch,
            probe,
            settled: false,
        })
    }

    /// Refuses every request until `until`, whatever the state; not a
    /// failure by itself. A shorter bench never cuts a longer one short.
    pub fn bench(&self, until: Instant) {
        let mut inner = lock(&self.inner);
        inner.bench_until = inner.bench_until.max(Some(until));
    }

    /// The state at `now`.
    pub fn state(&self, now: Instant) -> BreakerState {
        lock(&self.inner).state(now)
    }

    /// When a request would be admitted: `now` if it would be now, the end
    /// of the cooldown or bench if refused, `None` when every half-open
    /// probe slot is taken (it depends on how the probes end).
    pub fn soonest_available(&self, now: Instant) -> Option<Instant> {
        match lock(&self.inner).check(now) {
            Ok(()) => Some(now),
            Err(refusal) => refusal.until,
        }
    }

    /// Replaces the config and keeps the state: phase (an open breaker keeps
    /// its cooldown's end), failure streak, bench and the window's outcomes
    /// (re-bucketed when `window` changed). New limits apply from the next
    /// admission or outcome.
    pub fn set_config(&self, cfg: BreakerConfig) {
        let mut inner = lock(&self.inner);
        inner.window.resize(cfg.window);
        inner.cfg = cfg;
    }

    /// The config in force.
    pub fn config(&self) -> BreakerConfig {
        lock(&self.inner).cfg.clone()
    }
}

/// Leave to send one request; report how it ended with [`Permit::success`]
/// or [`Permit::failure`]. Dropping it unreported counts as neither (e.g. a
/// client gone, or a 429 the caller only benches for) and frees its probe slot.
#[must_use = "report the outcome with success() or failure()"]
pub struct Permit {
    inner: Arc<Mutex<Inner>>,
    epoch: u64,
    probe: bool,
    settled: bool,
}

impl Permit {
    /// Whether this is a half-open probe (its outcome decides the breaker).
    pub fn is_probe(&self) -> bool {
        self.probe
    }

    /// The request succeeded at `now`.
    pub fn success(mut self, now: Instant) {
        self.settled = true;
        lock(&self.inner).report(self.epoch, false, now);
    }

    /// The request failed at `now` (the caller decides what is a failure).
    pub fn failure(mut self, now: Instant) {
        self.settled = true;
        lock(&self.inner).report(self.epoch, true, now);
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if !self.settled {
            lock(&self.inner).release(self.epoch);
        }
    }
}

impl std::fmt::Debug for Permit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Permit")
            .field("probe", &self.probe)
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

/// The state machine's position; `epoch` in [`Inner`] numbers each entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Closed,
    Open { until: Instant },
    HalfOpen { in_flight: u32, successes: u32 },
}

#[derive(Debug)]
struct Inner {
    cfg: BreakerConfig,
    phase: Phase,
    /// Bumped on every phase change; permits from older epochs are ignored.
    epoch: u64,
    /// Failures in a row while closed.
    consecutive: u32,
    /// Openings since the breaker last closed (grows the cooldown).
    opens: u32,
    bench_until: Option<Instant>,
    window: Window,
}

impl Inner {
    fn enter(&mut self, phase: Phase) {
        self.phase = phase;
        self.epoch = self.epoch.wrapping_add(1);
    }

    /// Applies what time alone changes: cooldown and bench ending.
    fn advance(&mut self, now: Instant) {
        if let Phase::Open { until } = self.phase {
            if now >= until {
                self.enter(Phase::HalfOpen {
                    in_flight: 0,
                    successes: 0,
                });
            }
        }
        if self.bench_until.is_some_and(|until| until <= now) {
            self.bench_until = None;
        }
    }

    fn state(&mut self, now: Instant) -> BreakerState {
        self.advance(now);
        match (self.phase, self.bench_until) {
            (Phase::Open { until }, Some(bench)) if until > bench => BreakerState::Open { until },
            (_, Some(until)) => BreakerState::Benched { until },
            (Phase::Open { until }, None) => BreakerState::Open { until },
            (Phase::Closed, None) => BreakerState::Closed,
            (Phase::HalfOpen { .. }, None) => BreakerState::HalfOpen,
        }
    }

    /// Whether a request would be admitted at `now`.
    fn check(&mut self, now: Instant) -> Result<(), Refusal> {
        let refused = |until, reason| Err(Refusal { until, reason });
        match self.state(now) {
            BreakerState::Open { until } => refused(Some(until), RefusalReason::Open),
            BreakerState::Benched { until } => refused(Some(until), RefusalReason::Benched),
            BreakerState::HalfOpen if self.probes_full() => {
                refused(None, RefusalReason::HalfOpenBusy)
            }
            BreakerState::HalfOpen | BreakerState::Closed => Ok(()),
        }
    }

    fn probes_full(&self) -> bool {
        matches!(self.phase, Phase::HalfOpen { in_flight, .. } if in_flight >= self.cfg.probes())
    }

    /// Admits a request: its epoch and whether it is a probe.
    fn admit(&mut self, now: Instant) -> Result<(u64, bool), Refusal> {
        self.check(now)?;
        let probe = match &mut self.phase {
            Phase::HalfOpen { in_flight, .. } => {
                *in_flight = in_flight.saturating_add(1);
                true
            }
            Phase::Closed | Phase::Open { .. } => false,
        };
        Ok((self.epoch, probe))
    }

    /// Frees a probe slot taken in `epoch`, if that half-open phase lasts.
    fn release(&mut self, epoch: u64) {
        if epoch != self.epoch {
            return;
        }
        if let Phase::HalfOpen { in_flight, .. } = &mut self.phase {
            *in_flight = in_flight.saturating_sub(1);
        }
    }

    fn report(&mut self, epoch: u64, failed: bool, now: Instant) {
        if epoch != self.epoch {
            return;
        }
        match self.phase {
            Phase::Closed => self.record_closed(failed, now),
            Phase::HalfOpen { .. } => self.record_probe(failed, now),
            Phase::Open { .. } => {}
        }
    }

    fn record_closed(&mut self, failed: bool, now: Instant) {
        self.window.record(now, failed);
        if !failed {
            self.consecutive = 0;
            return;
        }
        self.consecutive = self.consecutive.saturating_add(1);
        if self.consecutive >= self.cfg.consecutive_failures || self.rate_reached(now) {
            self.trip(now);
        }
    }

    fn rate_reached(&mut self, now: Instant) -> bool {
        let (total, failed) = self.window.totals(now);
        total > 0
            && total >= u64::from(self.cfg.min_requests)
            && failed as f64 / total as f64 >= self.cfg.error_rate
    }

    fn record_probe(&mut self, failed: bool, now: Instant) {
        self.release(self.epoch);
        if failed {
            return self.trip(now);
        }
        let need = self.cfg.successes_to_close();
        if let Phase::HalfOpen { successes, .. } = &mut self.phase {
            *successes = successes.saturating_add(1);
            if *successes >= need {
                self.close();
            }
        }
    }

    fn trip(&mut self, now: Instant) {
        self.opens = self.opens.saturating_add(1);
        let cooldown = self.cfg.cooldown_after(self.opens);
        // Only an absurd cooldown overflows `Instant`; then half-open at once.
        let until = now.checked_add(cooldown).unwrap_or(now);
        self.consecutive = 0;
        self.enter(Phase::Open { until });
    }

    fn close(&mut self) {
        self.opens = 0;
        self.consecutive = 0;
        self.window.reset();
        self.enter(Phase::Closed);
    }
}

/// Outcomes of one bucket of time; `idx` numbers the bucket since `origin`.
#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    idx: u64,
    ok: u32,
    failed: u32,
}

/// A sliding window of outcomes as a ring of time buckets.
#[derive(Debug)]
struct Window {
    /// The first instant seen; bucket numbers count from it.
    origin: Option<Instant>,
    width_ms: u64,
    buckets: Vec<Bucket>,
}

impl Window {
    fn new(span: Duration, origin: Option<Instant>) -> Self {
        let span_ms = u64::try_from(span.as_millis()).unwrap_or(u64::MAX);
        let width_ms = span_ms.div_ceil(MAX_BUCKETS).max(MIN_BUCKET_MS);
        let len = span_ms.div_ceil(width_ms).clamp(1, MAX_BUCKETS);
        Self {
            origin,
            width_ms,
            buckets: vec![Bucket::default(); len as usize],
        }
    }

    fn len(&self) -> u64 {
        self.buckets.len() as u64
    }

    /// The bucket number of `now` (earlier instants fall in bucket 0).
    fn index(&mut self, now: Instant) -> u64 {
        let origin = *self.origin.get_or_insert(now);
        let ms = now.saturating_duration_since(origin).as_millis();
        u64::try_from(ms).unwrap_or(u64::MAX) / self.width_ms
    }

    /// Adds counts to bucket `idx`, replacing an older bucket in its slot;
    /// counts older than the slot's bucket are dropped.
    fn add(&mut self, idx: u64, ok: u32, failed: u32) {
        let Some(slot) = idx.checked_rem(self.len()) else {
            return;
        };
        let Some(bucket) = self.buckets.get_mut(slot as usize) else {
            return;
        };
        if bucket.idx == idx {
            bucket.ok = bucket.ok.saturating_add(ok);
            bucket.failed = bucket.failed.saturating_add(failed);
        } else if bucket.idx < idx {
            *bucket = Bucket { idx, ok, failed };
        }
    }

    fn record(&mut self, now: Instant, failed: bool) {
        let idx = self.index(now);
        self.add(idx, u32::from(!failed), u32::from(failed));
    }

    /// Outcomes within the window at `now`: (total, failed).
    fn totals(&mut self, now: Instant) -> (u64, u64) {
        let idx = self.index(now);
        let len = self.len();
        self.buckets
            .iter()
            .filter(|b| b.idx.saturating_add(len) > idx)
            .fold((0, 0), |(total, failed), b| {
                let b_total = u64::from(b.ok) + u64::from(b.failed);
                (total + b_total, failed + u64::from(b.failed))
            })
    }

    fn reset(&mut self) {
        self.buckets.fill(Bucket::default());
    }

    /// Re-buckets the outcomes for a new span (a no-op if nothing changes).
    fn resize(&mut self, span: Duration) {
        let mut resized = Window::new(span, self.origin);
        if (resized.width_ms, resized.len()) == (self.width_ms, self.len()) {
            return;
        }
        let mut old: Vec<Bucket> = self.buckets.clone();
        old.sort_by_key(|b| b.idx);
        for b in old.iter().filter(|b| b.ok > 0 || b.failed > 0) {
            let start_ms = b.idx.saturating_mul(self.width_ms);
            resized.add(start_ms / resized.width_ms, b.ok, b.failed);
        }
        *self = resized;
    }
}

fn lock(inner: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    inner
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests;
