//! What a provider says of its own quota, read off every answer, per
//! backend (one endpoint, or one key of an account): how many requests and
//! tokens are left in its window, and when the window resets.
//!
//! - OpenAI, Azure, Groq and most OpenAI-compatible APIs send
//!   `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`, the reset as a
//!   duration (`1s`, `6m0s`, `20ms`, `1m30.5s`).
//! - Anthropic sends `anthropic-ratelimit-{requests,tokens}-{limit,remaining,reset}`
//!   (or `input-tokens` for the tokens), the reset as an RFC 3339 time.
//!
//! Requests in flight count against what is left ([`Quota::take`], until
//! their [`Taken`] is dropped): an answer's count does not know of the requests sent
//! after it, so that several in flight do not all spend the last of a
//! window. Within one window the lowest count heard wins. A backend that cannot cover a
//! request until its reset is skipped like a benched one
//! ([`Quota::short_until`]), and a 429 without `Retry-After` benches it
//! until the reset its headers gave ([`Quota::reset_after_refusal`]):
//! quota is not failure, so the circuit breaker is not told.
//!
//! In a fleet (a Redis state store) the instances count together, by the
//! same rule (`src/state/scripts/quota_*.lua`): every answer's reading is
//! merged into one count per backend (the lowest heard in a window wins, a
//! new window replaces it), and every request takes a lease on it before it
//! is sent — refused when the count less every instance's requests in
//! flight cannot cover it ([`FleetTake`], [`Quota::learn_fleet`]) — and
//! gives the lease back when answered. So N instances spend a quota as one
//! would. A lease lapses at its request's deadline, so the requests of an
//! instance that died stop counting when they would have timed out. This
//! instance's own count is still kept, and checked first (it costs no round
//! trip); while Redis is away it is all there is: quota is advisory (the
//! provider has the last word), so it fails open whatever the store's fail
//! mode.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime};

use http::HeaderMap;

/// Longest reset believed: a header further out is a provider's mistake
/// (or a daily quota, which a bench this long would not help).
const MAX_RESET: Duration = Duration::from_secs(3600);

/// A quota window: what one answer says of it, or what is known of it now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Signal {
    pub limit: Option<u64>,
    pub remaining: u64,
    /// Until the window resets.
    pub reset_in: Duration,
}

/// What one answer says, of requests and of tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Reading {
    pub requests: Option<Signal>,
    pub tokens: Option<Signal>,
}

impl Reading {
    pub fn is_empty(&self) -> bool {
        self.requests.is_none() && self.tokens.is_none()
    }
}

/// How long a 429 with neither `Retry-After` nor quota headers benches its
/// backend, unless its provider says otherwise (`quota.refusal_bench`):
/// long enough to stop hammering it, short enough to lose little of a
/// provider that refuses now and then (at 1 s, one whose 5% of answers are
/// such 429s lost most of its traffic in the routing bench).
pub const REFUSAL_BENCH: Duration = Duration::from_millis(200);

/// How one provider announces its quota, beyond the two families
/// (`quota:` in routes.yaml).
#[derive(Debug, Clone)]
pub struct Rules {
    /// The provider's own headers, per kind, read before the built-in ones.
    pub requests: Option<Names>,
    pub tokens: Option<Names>,
    /// How long a 429 with neither `Retry-After` nor quota headers benches.
    pub refusal_bench: Duration,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            requests: None,
            tokens: None,
            refusal_bench: REFUSAL_BENCH,
        }
    }
}

/// The headers of one window (lowercase, as `HeaderMap` keeps them).
#[derive(Debug, Clone)]
pub struct Names {
    pub limit: Option<String>,
    pub remaining: String,
    pub reset: String,
}

/// Reads the quota headers of an answer: the provider's own (`rules`),
/// else either family's; `now` is the wall clock an RFC 3339 reset is
/// measured from.
pub fn read(headers: &HeaderMap, rules: &Rules, now: SystemTime) -> Reading {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let own = |names: &Option<Names>| {
        let n = names.as_ref()?;
        let limit = n.limit.as_deref().and_then(get);
        signal(limit, get(&n.remaining), get(&n.reset), now)
    };
    // [limit, remaining, reset] of each family and kind, first found wins.
    let window = |families: &[[&str; 3]]| {
        families
            .iter()
            .find_map(|[l, r, t]| signal(get(l), get(r), get(t), now))
    };
    Reading {
        requests: own(&rules.requests).or_else(|| window(&REQUESTS)),
        tokens: own(&rules.tokens).or_else(|| window(&TOKENS)),
    }
}

const REQUESTS: [[&str; 3]; 2] = [
    [
        "x-ratelimit-limit-requests",
        "x-ratelimit-remaining-requests",
        "x-ratelimit-reset-requests",
    ],
    [
        "anthropic-ratelimit-requests-limit",
        "anthropic-ratelimit-requests-remaining",
        "anthropic-ratelimit-requests-reset",
    ],
];

const TOKENS: [[&str; 3]; 3] = [
    [
        "x-ratelimit-limit-tokens",
        "x-ratelimit-remaining-tokens",
        "x-ratelimit-reset-tokens",
    ],
    [
        "anthropic-ratelimit-tokens-limit",
        "anthropic-ratelimit-tokens-remaining",
        "anthropic-ratelimit-tokens-reset",
    ],
    [
        "anthropic-ratelimit-input-tokens-limit",
        "anthropic-ratelimit-input-tokens-remaining",
        "anthropic-ratelimit-input-tokens-reset",
    ],
];

/// One window's headers; none without a remaining count and a reset.
fn signal(
    limit: Option<&str>,
    remaining: Option<&str>,
    reset: Option<&str>,
    now: SystemTime,
) -> Option<Signal> {
    let remaining = count(remaining?)?;
    let reset_in = reset_in(reset?, now)?;
    Some(Signal {
        limit: limit.and_then(count),
        remaining,
        reset_in,
    })
}

/// A count; a fractional one (some providers send `59.5`) rounded down.
fn count(v: &str) -> Option<u64> {
    let v = v.trim();
    v.parse::<u64>().ok().or_else(|| {
        let f = v.parse::<f64>().ok()?;
        (f.is_finite() && f >= 0.0).then_some(f as u64)
    })
}

/// A reset: a duration (`6m0s`, `20ms`, `1.5s`, or bare seconds) or an
/// RFC 3339 time; capped at [`MAX_RESET`]; a time past is zero.
pub fn reset_in(v: &str, now: SystemTime) -> Option<Duration> {
    let v = v.trim();
    let d = match chrono::DateTime::parse_from_rfc3339(v) {
        Ok(at) => {
            let at = SystemTime::from(at);
            at.duration_since(now).unwrap_or(Duration::ZERO)
        }
        Err(_) => duration(v)?,
    };
    Some(d.min(MAX_RESET))
}

/// A Go-style duration (`1h2m3.5s`, `6m0s`, `20ms`, `250us`) or bare
/// seconds (`2`, `0.5`). Written by hand: humantime and its kin do not take
/// Go's unit-less fractions and concatenated units together.
pub fn duration(v: &str) -> Option<Duration> {
    if v.is_empty() {
        return None;
    }
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(1e9)));
    }
    let mut total = 0f64;
    let mut rest = v;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        total += number * scale;
        rest = &rest[unit_len..];
    }
    (total.is_finite() && total >= 0.0).then(|| Duration::from_secs_f64(total.min(1e9)))
}

/// One window as last learned, counted down since.
#[derive(Debug, Clone, Copy)]
struct Window {
    limit: Option<u64>,
    remaining: u64,
    reset: Instant,
}

impl Window {
    fn from(s: Signal, now: Instant) -> Self {
        Self {
            limit: s.limit,
            remaining: s.remaining,
            reset: now + s.reset_in,
        }
    }

    /// Still describes the provider's window (its reset is ahead).
    fn live(&self, now: Instant) -> bool {
        self.reset > now
    }
}

#[derive(Debug, Default)]
struct State {
    requests: Option<Window>,
    tokens: Option<Window>,
    /// Requests sent and not yet answered, and their estimated tokens: an
    /// answer's count does not know of them.
    pending: u64,
    pending_tokens: u64,
    /// What the fleet's count said at this instance's last take (fleet
    /// mode; less every instance's requests in flight).
    fleet: Fleet,
}

/// This instance's view of the fleet's count of one backend.
#[derive(Debug, Default)]
struct Fleet {
    requests: Option<Window>,
    tokens: Option<Window>,
    /// Refused by the fleet's count until then.
    short_until: Option<Instant>,
    /// The fleet had not heard of the backend: not asked again before then
    /// (unless this instance hears its quota first).
    unknown_until: Option<Instant>,
}

/// What taking a request from the fleet's count of a backend's quota said
/// (`StateStore::quota_take`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FleetTake {
    /// The request is counted in flight; else the backend cannot cover it
    /// for `short_for`.
    pub taken: bool,
    pub short_for: Duration,
    /// The fleet has heard of the backend's quota (lately).
    pub heard: bool,
    /// What the fleet knows is left, less every instance's requests in
    /// flight (this one's included when taken); empty where no live window
    /// is known.
    pub known: Reading,
}

/// How long a backend the fleet knows nothing of is not asked about: a
/// provider that sends no quota headers costs one round trip a second per
/// instance, not one per request.
const FLEET_UNKNOWN: Duration = Duration::from_secs(1);

/// A request counted against a backend's quota until its answer came
/// ([`Quota::take`]): dropped, it gives its share back — however the
/// attempt ends, a hedge's loser or a client gone included.
#[derive(Debug)]
#[must_use = "hold it until the answer comes"]
pub struct Taken {
    quota: Arc<Quota>,
    tokens: u64,
}

impl Drop for Taken {
    fn drop(&mut self) {
        let mut s = self.quota.state();
        s.pending = s.pending.saturating_sub(1);
        s.pending_tokens = s.pending_tokens.saturating_sub(self.tokens);
    }
}

/// Readings whose resets are this close describe the same window (the
/// provider rounds, and answers travel).
pub const SAME_WINDOW: Duration = Duration::from_millis(250);

/// A backend's learned quota.
#[derive(Debug, Default)]
pub struct Quota {
    state: Mutex<State>,
}

/// A backend's headroom, per kind, as the admin API and metrics show it
/// (what is left, counting requests in flight); `None` where nothing live
/// is known.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Snapshot {
    pub requests: Option<Signal>,
    pub tokens: Option<Signal>,
}

impl Snapshot {
    /// As the admin API and `explain` show it: per kind, what is left, the
    /// window's limit and the milliseconds until it resets (null: nothing
    /// live is known).
    pub fn view(&self) -> serde_json::Value {
        let view = |w: Option<Signal>| {
            w.map(|w| {
                serde_json::json!({
                    "remaining": w.remaining,
                    "limit": w.limit,
                    "reset_in_ms": w.reset_in.as_millis() as u64,
                })
            })
        };
        serde_json::json!({
            "requests": view(self.requests),
            "tokens": view(self.tokens),
            "headroom": self.headroom(),
        })
    }

    /// The share of its window the tighter kind has left, 0 (spent) … 1
    /// (untouched); `None` when no live window with a known limit is
    /// known. What the scoring strategies weigh (a window whose limit the
    /// provider did not say has no share to give).
    pub fn headroom(&self) -> Option<f64> {
        [self.requests, self.tokens]
            .into_iter()
            .flatten()
            .filter_map(|w| {
                let limit = w.limit.filter(|l| *l > 0)?;
                Some((w.remaining as f64 / limit as f64).clamp(0.0, 1.0))
            })
            .reduce(f64::min)
    }
}

impl Quota {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Learns an answer's reading. Within the same window the lower count
    /// wins (answers arrive out of order: an earlier one knows of fewer
    /// requests); a new window replaces the old.
    pub fn observe(&self, r: &Reading, now: Instant) {
        if r.is_empty() {
            return;
        }
        let mut s = self.state();
        // Heard here: the fleet is told, so it knows now.
        s.fleet.unknown_until = None;
        let learn = |known: &mut Option<Window>, sig: Signal| {
            let new = Window::from(sig, now);
            *known = Some(match known {
                Some(w) if w.live(now) && same_window(w.reset, new.reset) => Window {
                    remaining: w.remaining.min(new.remaining),
                    ..new
                },
                _ => new,
            });
        };
        if let Some(sig) = r.requests {
            learn(&mut s.requests, sig);
        }
        if let Some(sig) = r.tokens {
            learn(&mut s.tokens, sig);
        }
    }

    /// When the backend can take a request needing `tokens` again, if it
    /// cannot now: no request left in its window, or fewer tokens than
    /// the request's estimate (unless the estimate is more than the whole
    /// window holds: then only the provider can say).
    /// `tokens` is asked only when a tokens window is known: counting a
    /// prompt's tokens costs.
    pub fn short_until(&self, tokens: impl FnOnce() -> u64, now: Instant) -> Option<Instant> {
        let s = self.state();
        let mut until = None;
        if let Some(w) = s.requests.filter(|w| w.live(now)) {
            if w.remaining.saturating_sub(s.pending) == 0 {
                until = Some(w.reset);
            }
        }
        if let Some(w) = s.tokens.filter(|w| w.live(now)) {
            let tokens = tokens();
            let fits_ever = w.limit.is_none_or(|l| tokens <= l);
            let left = w.remaining.saturating_sub(s.pending_tokens);
            if left < tokens && fits_ever {
                until = until.max(Some(w.reset));
            }
        }
        until.max(s.fleet.short_until.filter(|t| *t > now))
    }

    /// Whether to take from the fleet's count before sending (fleet mode):
    /// not while the fleet knew nothing of the backend lately.
    pub fn fleet_due(&self, now: Instant) -> bool {
        self.state().fleet.unknown_until.is_none_or(|t| t <= now)
    }

    /// Learns what a take from the fleet's count said: the fleet's windows
    /// (shown beside this instance's own), a refusal (this instance skips
    /// the backend without asking until then), or that the fleet knows
    /// nothing of it. When the refusal ends: `Some` if refused.
    pub fn learn_fleet(&self, take: &FleetTake, now: Instant) -> Option<Instant> {
        let mut s = self.state();
        let fleet = &mut s.fleet;
        fleet.requests = take.known.requests.map(|w| Window::from(w, now));
        fleet.tokens = take.known.tokens.map(|w| Window::from(w, now));
        fleet.unknown_until = (!take.heard).then(|| now + FLEET_UNKNOWN);
        fleet.short_until = (!take.taken).then(|| now + take.short_for);
        fleet.short_until
    }

    /// Counts a request about to be sent, with `tokens` estimated (asked
    /// only when a tokens window is known), against what is left, until
    /// the [`Taken`] is dropped: its answer's count will include it.
    pub fn take(self: &Arc<Self>, tokens: impl FnOnce() -> u64, now: Instant) -> Taken {
        let mut s = self.state();
        let tokens = match s.tokens.filter(|w| w.live(now)) {
            Some(_) => tokens(),
            None => 0,
        };
        s.pending += 1;
        s.pending_tokens += tokens;
        Taken {
            quota: Arc::clone(self),
            tokens,
        }
    }

    /// After a 429 without `Retry-After`: when to try again — the reset of
    /// the window that ran out (the later, if both did; the sooner of the
    /// two if the headers say neither did), or `fallback` from now.
    pub fn reset_after_refusal(&self, now: Instant, fallback: Duration) -> Instant {
        let s = self.state();
        let live: Vec<Window> = [s.requests, s.tokens]
            .into_iter()
            .flatten()
            .filter(|w| w.live(now))
            .collect();
        let spent = live
            .iter()
            .filter(|w| w.remaining == 0)
            .map(|w| w.reset)
            .max();
        spent
            .or_else(|| live.iter().map(|w| w.reset).min())
            .unwrap_or(now + fallback)
    }

    /// What is known and still live: of this instance's own count and
    /// the fleet's (at its last take), the lower.
    pub fn snapshot(&self, now: Instant) -> Snapshot {
        let s = self.state();
        let view = |w: Option<Window>, pending: u64| {
            w.filter(|w| w.live(now)).map(|w| Signal {
                limit: w.limit,
                remaining: w.remaining.saturating_sub(pending),
                reset_in: w.reset.saturating_duration_since(now),
            })
        };
        let lower = |a: Option<Signal>, b: Option<Signal>| match (a, b) {
            (Some(a), Some(b)) => Some(if b.remaining < a.remaining { b } else { a }),
            (a, b) => a.or(b),
        };
        Snapshot {
            requests: lower(view(s.requests, s.pending), view(s.fleet.requests, 0)),
            tokens: lower(view(s.tokens, s.pending_tokens), view(s.fleet.tokens, 0)),
        }
    }
}

fn same_window(a: Instant, b: Instant) -> bool {
    let gap = if a > b { a - b } else { b - a };
    gap <= SAME_WINDOW
}

static QUOTAS: LazyLock<Mutex<HashMap<String, Weak<Quota>>>> = LazyLock::new(Default::default);

/// The quota of backend `id`: the live one if a loaded config has the
/// backend (what was learned survives a reload), else a new one.
pub fn quota_for(id: &str) -> Arc<Quota> {
    let mut map = QUOTAS.lock().unwrap_or_else(|e| e.into_inner());
    map.retain(|_, w| w.strong_count() > 0);
    if let Some(q) = map.get(id).and_then(Weak::upgrade) {
        return q;
    }
    let q = Arc::new(Quota::default());
    map.insert(id.to_string(), Arc::downgrade(&q));
    q
}

#[cfg(test)]
mod tests;
