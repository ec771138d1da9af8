//! Token bucket arithmetic: the one definition of refill, take, adjust and
//! the [`Decision`] a caller sees. The memory store calls it directly; the
//! Lua scripts in `scripts/` mirror [`take`] and [`adjust`] operation for
//! operation (same order of floating-point operations, so both stores agree),
//! and the Redis store builds its [`Decision`] with [`decide`] from the
//! tokens the script returns.
//!
//! A bucket holds up to `limit` tokens and refills continuously at `limit`
//! per `window`. A full bucket and an absent one are the same thing, so a
//! store may forget (evict, expire) any bucket once it is full.

use std::time::Duration;

/// Slack when comparing tokens with an amount: tokens are whole numbers to
/// callers, and waiting exactly `retry_after` must be enough despite rounding.
pub(crate) const EPSILON: f64 = 1e-6;

/// What a `take` answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// Whether `amount` was taken.
    pub allowed: bool,
    /// The bucket's capacity (for `x-ratelimit-limit-*`).
    pub limit: u64,
    /// Whole tokens left after this call (0 while in debt).
    pub remaining: u64,
    /// Time until the bucket is full again.
    pub reset: Duration,
    /// When `!allowed`: how long until `amount` would fit. `None` together
    /// with `!allowed` means it never will (`amount > limit`): answer the
    /// client that the request is too large, not that it should retry.
    pub retry_after: Option<Duration>,
}

impl Decision {
    /// True when the request can never be admitted because `amount > limit`
    /// (denied without a `retry_after`).
    pub fn exceeds_limit(&self) -> bool {
        !self.allowed && self.retry_after.is_none()
    }
}

/// A bucket's capacity and refill period, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rate {
    pub limit: u64,
    /// At least 1 ms, so refill never divides by zero.
    pub window_ms: u64,
}

impl Rate {
    /// A rate of `limit` tokens per `window` (a zero window counts as 1 ms).
    pub fn new(limit: u64, window: Duration) -> Self {
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
        Self {
            limit,
            window_ms: window_ms.max(1),
        }
    }

    fn limit_f(self) -> f64 {
        self.limit as f64
    }

    /// Milliseconds until a bucket holding `tokens` is full (0 if it is).
    pub fn ms_until_full(self, tokens: f64) -> u64 {
        self.ms_to_refill(self.limit_f() - tokens)
    }

    /// Whole milliseconds (rounded up) to refill `missing` tokens, with the
    /// same [`EPSILON`] slack as [`take`], so that after exactly this long
    /// they fit and one millisecond earlier they do not.
    fn ms_to_refill(self, missing: f64) -> u64 {
        let missing = missing - EPSILON;
        if self.limit == 0 || missing <= 0.0 {
            return 0;
        }
        (missing * self.window_ms as f64 / self.limit_f()).ceil() as u64
    }
}

/// The stored state of one bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct BucketState {
    /// Tokens at `updated_ms`; negative is debt.
    pub tokens: f64,
    /// The store's clock, in milliseconds.
    pub updated_ms: u64,
}

/// The bucket at `now_ms`: `prev` refilled for the time elapsed (never
/// backwards), capped at the limit; an absent bucket is full.
pub(crate) fn refill(prev: Option<BucketState>, rate: Rate, now_ms: u64) -> f64 {
    match prev {
        None => rate.limit_f(),
        Some(s) => {
            let elapsed = now_ms.saturating_sub(s.updated_ms) as f64;
            let tokens = s.tokens + elapsed * rate.limit_f() / rate.window_ms as f64;
            tokens.min(rate.limit_f())
        }
    }
}

/// Takes `amount` if it fits. Returns the tokens left and whether it was
/// taken; the caller stores `BucketState { tokens, updated_ms: now_ms }` only
/// when it was (a denial changes nothing).
pub(crate) fn take(prev: Option<BucketState>, rate: Rate, amount: u64, now_ms: u64) -> (f64, bool) {
    let tokens = refill(prev, rate, now_ms);
    let amount = amount as f64;
    if tokens + EPSILON >= amount {
        (tokens - amount, true)
    } else {
        (tokens, false)
    }
}

/// Charges `delta` more tokens (`delta > 0`, may go into debt) or gives
/// `-delta` back (capped at the limit). Returns the new tokens.
pub(crate) fn adjust(prev: Option<BucketState>, rate: Rate, delta: i64, now_ms: u64) -> f64 {
    let tokens = refill(prev, rate, now_ms) - delta as f64;
    tokens.min(rate.limit_f())
}

/// The caller's view of a take that left `tokens` (taken or not).
pub(crate) fn decide(tokens: f64, taken: bool, rate: Rate, amount: u64) -> Decision {
    let remaining = if tokens <= 0.0 {
        0
    } else {
        (tokens.floor() as u64).min(rate.limit)
    };
    let retry_after = if taken || amount > rate.limit {
        None
    } else {
        let ms = rate.ms_to_refill(amount as f64 - tokens);
        Some(Duration::from_millis(ms.max(1)))
    };
    Decision {
        allowed: taken,
        limit: rate.limit,
        remaining,
        reset: Duration::from_millis(rate.ms_until_full(tokens)),
        retry_after,
    }
}

#[cfg(test)]
mod tests;
