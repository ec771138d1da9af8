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
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    fn state(tokens: f64, updated_ms: u64) -> Option<BucketState> {
        Some(BucketState { tokens, updated_ms })
    }

    #[test]
    fn absent_bucket_is_full_and_take_consumes() {
        let rate = Rate::new(60, MINUTE);
        let (left, taken) = take(None, rate, 1, 1_000);
        assert!(taken);
        assert_eq!(left, 59.0);
        let d = decide(left, taken, rate, 1);
        assert_eq!(d.remaining, 59);
        assert_eq!(d.reset, Duration::from_secs(1));
        assert_eq!(d.retry_after, None);
    }

    #[test]
    fn refill_is_continuous_and_capped_at_limit() {
        let rate = Rate::new(60, MINUTE); // one token per second
        assert_eq!(refill(state(0.0, 0), rate, 500), 0.5);
        assert_eq!(refill(state(0.0, 0), rate, 30_000), 30.0);
        assert_eq!(refill(state(10.0, 0), rate, 3_600_000), 60.0);
    }

    #[test]
    fn clock_going_backwards_does_not_drain() {
        let rate = Rate::new(10, MINUTE);
        assert_eq!(refill(state(4.0, 5_000), rate, 1_000), 4.0);
    }

    #[test]
    fn denial_reports_exact_retry_after() {
        let rate = Rate::new(10, Duration::from_secs(1)); // one token per 100 ms
        let (left, taken) = take(state(0.25, 0), rate, 3, 0);
        assert!(!taken);
        assert_eq!(left, 0.25);
        let d = decide(left, taken, rate, 3);
        assert_eq!(d.retry_after, Some(Duration::from_millis(275)));
        assert_eq!(d.reset, Duration::from_millis(975));
        // One millisecond early is not enough; exactly retry_after is.
        let after = BucketState {
            tokens: left,
            updated_ms: 0,
        };
        assert!(!take(Some(after), rate, 3, 274).1);
        assert!(take(Some(after), rate, 3, 275).1);
    }

    #[test]
    fn retry_after_is_exact_for_awkward_rates() {
        for (limit, window_ms, amount) in [(7, 60_000, 3), (3, 1_000, 1), (1_000_000, 60_000, 999)]
        {
            let rate = Rate::new(limit, Duration::from_millis(window_ms));
            let (left, _) = take(None, rate, limit, 0);
            let d = decide(left, false, rate, amount);
            let wait = d.retry_after.map_or(0, |r| r.as_millis() as u64);
            let s = Some(BucketState {
                tokens: left,
                updated_ms: 0,
            });
            assert!(take(s, rate, amount, wait).1, "{limit}/{window_ms}");
            assert!(!take(s, rate, amount, wait - 1).1, "{limit}/{window_ms}");
        }
    }

    #[test]
    fn amount_over_limit_never_fits() {
        let rate = Rate::new(100, MINUTE);
        let (left, taken) = take(None, rate, 101, 0);
        assert!(!taken);
        let d = decide(left, taken, rate, 101);
        assert!(d.exceeds_limit());
        assert_eq!(d.remaining, 100);
        assert_eq!(d.reset, Duration::ZERO);
    }

    #[test]
    fn adjust_up_creates_debt_that_delays_later_takes() {
        let rate = Rate::new(100, MINUTE);
        let (left, _) = take(None, rate, 50, 0); // reserved an estimate of 50
        let debt = adjust(state(left, 0), rate, 120, 0); // actual was 170
        assert_eq!(debt, -70.0);
        let (still, taken) = take(state(debt, 0), rate, 10, 0);
        assert!(!taken);
        let d = decide(still, taken, rate, 10);
        assert_eq!(d.remaining, 0);
        // 80 tokens missing at 100 per minute.
        assert_eq!(d.retry_after, Some(Duration::from_millis(48_000)));
        assert_eq!(d.reset, Duration::from_millis(102_000));
    }

    #[test]
    fn adjust_down_refunds_but_caps_at_limit() {
        let rate = Rate::new(100, MINUTE);
        assert_eq!(adjust(state(40.0, 0), rate, -30, 0), 70.0);
        assert_eq!(adjust(state(90.0, 0), rate, -30, 0), 100.0);
        assert_eq!(adjust(None, rate, -5, 0), 100.0);
    }

    #[test]
    fn zero_limit_denies_everything_forever() {
        let rate = Rate::new(0, MINUTE);
        let (left, taken) = take(None, rate, 1, 0);
        assert!(!taken);
        assert!(decide(left, taken, rate, 1).exceeds_limit());
    }

    #[test]
    fn zero_window_is_one_millisecond() {
        let rate = Rate::new(5, Duration::ZERO);
        assert_eq!(rate.window_ms, 1);
        assert_eq!(refill(state(0.0, 0), rate, 1), 5.0);
    }
}
