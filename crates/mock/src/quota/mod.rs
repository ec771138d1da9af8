//! A provider quota (`MockConfig::quota`): requests and tokens per fixed
//! window, checked by `call` after the key check. An admitted request takes
//! one request and, once answered, its tokens; a refused one (429) takes
//! nothing. Every answer of a model endpoint announces the standing in the
//! rate-limit headers of its dialect: OpenAI's `x-ratelimit-*` (reset as a
//! Go duration, `6m0s`) or Anthropic's `anthropic-ratelimit-*` (reset as an
//! RFC 3339 time); the other dialects enforce the quota without headers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, HeaderValue};
use tokio::time::Instant;

use super::bedrock::amz_date::civil_from_days;
use super::dialect::Dialect;

/// A quota the mock enforces per fixed window (see `MockConfig::quota`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quota {
    /// Requests per window.
    pub requests: u64,
    /// Tokens (prompt + completion as the mock counts them) per window;
    /// None: not limited nor announced.
    pub tokens: Option<u64>,
    /// Length of a window; the first starts at the first request.
    pub window: Duration,
    /// Send `retry-after: <secs until reset, rounded up>` on 429s.
    pub retry_after: bool,
}

impl Quota {
    /// The `--quota` flag: `REQUESTS/WINDOW`, e.g. `40/1s`: that many
    /// requests per window, tokens unlimited, no `retry-after`.
    pub fn from_flag(s: &str) -> Result<Quota, String> {
        let usage = || format!("{s:?}: expected REQUESTS/WINDOW, e.g. 40/1s or 500/1m");
        let (requests, window) = s.split_once('/').ok_or_else(usage)?;
        let requests: u64 = requests.trim().parse().map_err(|_| usage())?;
        let window = window.trim();
        let split = window
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(usage)?;
        let (amount, unit) = window.split_at(split);
        let amount: u64 = amount.parse().map_err(|_| usage())?;
        let window = match unit {
            "ms" => Duration::from_millis(amount),
            "s" => Duration::from_secs(amount),
            "m" => Duration::from_secs(amount.saturating_mul(60)),
            "h" => Duration::from_secs(amount.saturating_mul(3600)),
            _ => return Err(usage()),
        };
        if window.is_zero() {
            return Err(format!("{s:?}: the window must be longer than 0"));
        }
        Ok(Quota {
            requests,
            tokens: None,
            window,
            retry_after: false,
        })
    }
}

/// The windows of one server and the 429s they caused.
#[derive(Debug, Default)]
pub(crate) struct Windows {
    current: Mutex<Option<Window>>,
    refusals: AtomicUsize,
}

/// The current window: when it began and what it used.
#[derive(Clone, Copy, Debug)]
struct Window {
    start: Instant,
    requests: u64,
    tokens: u64,
}

/// An admitted request: the window it counts in.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ticket {
    quota: Quota,
    start: Instant,
}

/// What is left of the current window, for the headers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Standing {
    quota: Quota,
    requests_left: u64,
    tokens_left: u64,
    reset_in: Duration,
}

impl Windows {
    /// Takes one request from the window `now` falls in; `Err` (counted as
    /// a refusal) if its requests or tokens are used up.
    pub(crate) fn admit(&self, quota: Quota, now: Instant) -> Result<Ticket, Standing> {
        let mut current = self.lock();
        let window = roll(&mut current, quota.window, now);
        let tokens_out = quota.tokens.is_some_and(|limit| window.tokens >= limit);
        if window.requests >= quota.requests || tokens_out {
            self.refusals.fetch_add(1, Ordering::SeqCst);
            return Err(standing(quota, window, now));
        }
        window.requests += 1;
        Ok(Ticket {
            quota,
            start: window.start,
        })
    }

    /// Charges an answered request's `tokens` to its window (if it is
    /// still the current one) and returns the standing after it.
    pub(crate) fn settle(&self, ticket: Ticket, tokens: u64, now: Instant) -> Standing {
        let mut current = self.lock();
        let window = roll(&mut current, ticket.quota.window, now);
        if window.start == ticket.start {
            window.tokens = window.tokens.saturating_add(tokens);
        }
        standing(ticket.quota, window, now)
    }

    /// 429s sent because the quota was used up.
    pub(crate) fn refusals(&self) -> usize {
        self.refusals.load(Ordering::SeqCst)
    }

    fn lock(&self) -> MutexGuard<'_, Option<Window>> {
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The window `now` falls in, opened at `now` on the first request and
/// every `length` after it; a new window starts empty.
fn roll(current: &mut Option<Window>, length: Duration, now: Instant) -> &mut Window {
    let length = length.max(Duration::from_millis(1));
    let window = current.get_or_insert(Window {
        start: now,
        requests: 0,
        tokens: 0,
    });
    let elapsed = now.saturating_duration_since(window.start);
    if elapsed >= length {
        let passed = elapsed.as_nanos() / length.as_nanos();
        let skip = u64::try_from(passed * length.as_nanos()).unwrap_or(u64::MAX);
        *window = Window {
            start: window.start + Duration::from_nanos(skip),
            requests: 0,
            tokens: 0,
        };
    }
    window
}

fn standing(quota: Quota, window: &Window, now: Instant) -> Standing {
    let end = window.start + quota.window.max(Duration::from_millis(1));
    Standing {
        quota,
        requests_left: quota.requests.saturating_sub(window.requests),
        tokens_left: quota
            .tokens
            .map_or(0, |limit| limit.saturating_sub(window.tokens)),
        reset_in: end.saturating_duration_since(now),
    }
}

impl Standing {
    /// `retry-after` of a 429: seconds until the reset, rounded up, if the
    /// quota asks for it.
    pub(crate) fn retry_after(&self) -> Option<u64> {
        let d = self.reset_in;
        let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
        self.quota.retry_after.then_some(secs)
    }

    /// Adds the rate-limit headers of `dialect` (none for the dialects
    /// without them).
    pub(crate) fn announce(&self, dialect: Dialect, headers: &mut HeaderMap) {
        let q = self.quota;
        match dialect {
            Dialect::OpenAi | Dialect::Responses => {
                let reset = go_duration(self.reset_in);
                let mut put = |kind: &str, limit: u64, left: u64| {
                    insert(headers, &format!("x-ratelimit-limit-{kind}"), limit);
                    insert(headers, &format!("x-ratelimit-remaining-{kind}"), left);
                    insert(headers, &format!("x-ratelimit-reset-{kind}"), &reset);
                };
                put("requests", q.requests, self.requests_left);
                if let Some(limit) = q.tokens {
                    put("tokens", limit, self.tokens_left);
                }
            }
            Dialect::Anthropic => {
                let reset = rfc3339_after(self.reset_in);
                let mut put = |kind: &str, limit: u64, left: u64| {
                    insert(headers, &format!("anthropic-ratelimit-{kind}-limit"), limit);
                    insert(
                        headers,
                        &format!("anthropic-ratelimit-{kind}-remaining"),
                        left,
                    );
                    insert(
                        headers,
                        &format!("anthropic-ratelimit-{kind}-reset"),
                        &reset,
                    );
                };
                put("requests", q.requests, self.requests_left);
                if let Some(limit) = q.tokens {
                    put("tokens", limit, self.tokens_left);
                }
            }
            Dialect::Cohere | Dialect::Ollama | Dialect::Bedrock => {}
        }
    }
}

fn insert(headers: &mut HeaderMap, name: &str, value: impl std::fmt::Display) {
    let name = axum::http::HeaderName::try_from(name);
    let value = HeaderValue::try_from(value.to_string());
    if let (Ok(name), Ok(value)) = (name, value) {
        headers.insert(name, value);
    }
}

/// A duration the way OpenAI's reset headers write it (Go's
/// `time.Duration`, to the millisecond): `20ms`, `2s`, `1m30.5s`, `6m0s`,
/// `1h0m0s`.
pub(crate) fn go_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let (h, m, s, frac) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&s.to_string());
    if frac > 0 {
        let digits = format!("{frac:03}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    out.push('s');
    out
}

/// The UTC time `d` from now, rounded up to the second, in RFC 3339
/// (`2026-12-07T11:00:30Z`), as Anthropic's reset headers write it.
fn rfc3339_after(d: Duration) -> String {
    let at = SystemTime::now() + d;
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    rfc3339(since.as_secs() + u64::from(since.subsec_nanos() > 0))
}

/// `secs` since the epoch in RFC 3339, UTC.
pub(crate) fn rfc3339(secs: u64) -> String {
    let (y, m, d) = civil_from_days(secs / 86_400);
    let rem = secs % 86_400;
    let (hh, mm, ss) = (rem / 3600, rem % 3600 / 60, rem % 60);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
}

#[cfg(test)]
mod tests;
