use super::*;

const SECOND: Duration = Duration::from_secs(1);

#[test]
fn take_denies_when_empty_and_refills_over_time() {
    let m = MemoryState::new();
    let rate = Rate::new(3, SECOND);
    for _ in 0..3 {
        assert!(m.take_at("k", rate, 1, 0).allowed);
    }
    let d = m.take_at("k", rate, 1, 0);
    assert!(!d.allowed);
    assert_eq!(d.retry_after, Some(Duration::from_millis(334)));
    assert!(!m.take_at("k", rate, 1, 333).allowed);
    assert!(m.take_at("k", rate, 1, 334).allowed);
}

#[test]
fn buckets_are_independent() {
    let m = MemoryState::new();
    let rate = Rate::new(1, SECOND);
    assert!(m.take_at("a", rate, 1, 0).allowed);
    assert!(m.take_at("b", rate, 1, 0).allowed);
    assert!(!m.take_at("a", rate, 1, 0).allowed);
}

#[test]
fn adjust_debt_delays_and_refund_restores() {
    let m = MemoryState::new();
    let rate = Rate::new(100, Duration::from_secs(60));
    assert!(m.take_at("tpm", rate, 60, 0).allowed);
    m.adjust_at("tpm", rate, 90, 0); // 150 used: 50 in debt
    let d = m.take_at("tpm", rate, 1, 0);
    assert!(!d.allowed);
    assert_eq!(d.retry_after, Some(Duration::from_millis(30_600)));
    m.adjust_at("tpm", rate, -1_000, 0); // refund capped at the limit
    assert_eq!(m.take_at("tpm", rate, 100, 0).remaining, 0);
}

#[test]
fn full_buckets_are_forgotten() {
    let m = MemoryState::new();
    let rate = Rate::new(10, SECOND);
    assert!(m.take_at("a", rate, 1, 0).allowed);
    m.adjust_at("a", rate, -1, 0);
    assert_eq!(m.bucket_count(), 0);
    // Denials of an absent bucket do not create it.
    assert!(!m.take_at("huge", rate, 11, 0).allowed);
    assert_eq!(m.bucket_count(), 0);
}

#[test]
fn idle_buckets_are_evicted_by_sweep() {
    let m = MemoryState::new();
    let rate = Rate::new(10, SECOND);
    for i in 0..1_000 {
        m.take_at(&format!("invented-{i}"), rate, 1, 0);
    }
    assert_eq!(m.bucket_count(), 1_000);
    let in_debt = Rate::new(10, Duration::from_secs(3_600));
    m.adjust_at("debtor", in_debt, 100, 0);
    // Touch every shard after the sweep interval.
    for i in 0..1_000 {
        m.take_at(&format!("probe-{i}"), rate, 0, SWEEP_EVERY_MS + 1);
    }
    assert_eq!(m.bucket_count(), 1, "only the refilling bucket remains");
}

#[test]
fn spend_adds_per_counter_with_own_expiry() {
    let m = MemoryState::new();
    let day = Duration::from_secs(86_400);
    let month = Duration::from_secs(30 * 86_400);
    let counters = [("k:day", day), ("k:month", month)];
    assert_eq!(m.add_spend_at(&counters, 1.5, 0), vec![1.5, 1.5]);
    assert_eq!(m.add_spend_at(&counters, 0.25, 10), vec![1.75, 1.75]);
    let next_day = 86_400_000;
    assert_eq!(
        m.spend_at(&["k:day", "k:month", "other"], next_day),
        vec![0.0, 1.75, 0.0]
    );
    assert_eq!(m.add_spend_at(&counters, 1.0, next_day), vec![1.0, 2.75]);
}

#[test]
fn seed_spend_only_sets_absent_counters() {
    let m = MemoryState::new();
    let ttl = Duration::from_secs(60);
    m.seed_spend_at("c", 5.0, ttl, 0);
    m.seed_spend_at("c", 9.0, ttl, 0);
    assert_eq!(m.spend_at(&["c"], 0), vec![5.0]);
    m.add_spend_at(&[("c", ttl)], 1.0, 1);
    assert_eq!(m.spend_at(&["c"], 1), vec![6.0]);
}

#[test]
fn expired_spend_counters_are_swept() {
    let m = MemoryState::new();
    m.add_spend_at(&[("old", SECOND)], 1.0, 0);
    m.seed_spend_at("new", 1.0, SECOND, SWEEP_EVERY_MS + 1);
    assert_eq!(lock(&m.spend).counters.len(), 1);
}
