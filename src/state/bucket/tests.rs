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
    for (limit, window_ms, amount) in [(7, 60_000, 3), (3, 1_000, 1), (1_000_000, 60_000, 999)] {
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
