use super::*;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A config where only the rule under test can open the breaker.
fn cfg() -> BreakerConfig {
    BreakerConfig {
        consecutive_failures: 1000,
        error_rate: 1.0,
        min_requests: 1000,
        window: secs(10),
        cooldown: secs(10),
        max_cooldown: secs(10),
        half_open_probes: 1,
        half_open_successes: None,
    }
}

fn fail(b: &Breaker, now: Instant, n: u32) {
    for _ in 0..n {
        b.try_acquire(now).unwrap().failure(now);
    }
}

fn succeed(b: &Breaker, now: Instant, n: u32) {
    for _ in 0..n {
        b.try_acquire(now).unwrap().success(now);
    }
}

fn refusal(b: &Breaker, now: Instant) -> Refusal {
    b.try_acquire(now).unwrap_err()
}

#[test]
fn consecutive_failures_open_then_probes_close_it() {
    let t0 = Instant::now();
    let b = Breaker::new(BreakerConfig {
        consecutive_failures: 3,
        half_open_probes: 2,
        ..cfg()
    });
    fail(&b, t0, 2);
    succeed(&b, t0, 1); // breaks the streak
    fail(&b, t0, 2);
    assert_eq!(b.state(t0), BreakerState::Closed);
    fail(&b, t0, 1);
    let until = t0 + secs(10);
    assert_eq!(b.state(t0), BreakerState::Open { until });

    let during = t0 + secs(9);
    let r = refusal(&b, during);
    assert_eq!((r.reason, r.until), (RefusalReason::Open, Some(until)));

    assert_eq!(b.state(until), BreakerState::HalfOpen);
    let p1 = b.try_acquire(until).unwrap();
    let p2 = b.try_acquire(until).unwrap();
    assert!(p1.is_probe() && p2.is_probe());
    let r = refusal(&b, until);
    assert_eq!((r.reason, r.until), (RefusalReason::HalfOpenBusy, None));

    p1.success(until);
    assert_eq!(b.state(until), BreakerState::HalfOpen);
    p2.success(until);
    assert_eq!(b.state(until), BreakerState::Closed);
    assert!(!b.try_acquire(until).unwrap().is_probe());
}

#[test]
fn probe_failure_reopens_with_growing_capped_cooldown() {
    let t0 = Instant::now();
    let b = Breaker::new(BreakerConfig {
        consecutive_failures: 1,
        max_cooldown: secs(25),
        ..cfg()
    });
    fail(&b, t0, 1);
    let t1 = t0 + secs(10);
    assert_eq!(b.state(t0), BreakerState::Open { until: t1 });
    fail(&b, t1, 1); // the probe fails: 20 s
    let t2 = t1 + secs(20);
    assert_eq!(b.state(t1), BreakerState::Open { until: t2 });
    fail(&b, t2, 1); // 40 s, capped at 25 s
    let t3 = t2 + secs(25);
    assert_eq!(b.state(t2), BreakerState::Open { until: t3 });
    succeed(&b, t3, 1);
    assert_eq!(b.state(t3), BreakerState::Closed);
    fail(&b, t3, 1); // closed in between: back to 10 s
    assert_eq!(
        b.state(t3),
        BreakerState::Open {
            until: t3 + secs(10)
        }
    );
}

#[test]
fn error_rate_opens_with_interleaved_successes() {
    let t0 = Instant::now();
    let rate = BreakerConfig {
        consecutive_failures: 2,
        error_rate: 0.5,
        min_requests: 10,
        ..cfg()
    };
    let b = Breaker::new(rate.clone());
    for _ in 0..4 {
        succeed(&b, t0, 1);
        fail(&b, t0, 1);
    }
    succeed(&b, t0, 1);
    assert_eq!(b.state(t0), BreakerState::Closed); // 4 of 9
    fail(&b, t0, 1);
    assert!(matches!(b.state(t0), BreakerState::Open { .. })); // 5 of 10

    let below = Breaker::new(rate.clone());
    for _ in 0..4 {
        succeed(&below, t0, 2);
        fail(&below, t0, 1);
    }
    assert_eq!(below.state(t0), BreakerState::Closed); // 4 of 12

    let too_few = Breaker::new(rate);
    for _ in 0..4 {
        fail(&too_few, t0, 1);
        succeed(&too_few, t0, 1);
    }
    fail(&too_few, t0, 1);
    assert_eq!(too_few.state(t0), BreakerState::Closed); // 5 of 9 < min
}

#[test]
fn sliding_window_forgets_old_failures() {
    let t0 = Instant::now();
    let rate = BreakerConfig {
        error_rate: 0.5,
        min_requests: 4,
        ..cfg()
    };
    let later = |elapsed: Duration| {
        let b = Breaker::new(rate.clone());
        fail(&b, t0, 3);
        let t = t0 + elapsed;
        succeed(&b, t, 3);
        fail(&b, t, 1);
        b.state(t)
    };
    assert!(matches!(later(secs(9)), BreakerState::Open { .. })); // 4 of 7
    assert_eq!(later(secs(10)), BreakerState::Closed); // 1 of 4
    assert_eq!(later(secs(15)), BreakerState::Closed); // stale, not overwritten
}

#[test]
fn closing_resets_the_window() {
    let t0 = Instant::now();
    let b = Breaker::new(BreakerConfig {
        consecutive_failures: 2,
        error_rate: 0.5,
        min_requests: 4,
        window: secs(60),
        ..cfg()
    });
    succeed(&b, t0, 1);
    fail(&b, t0, 2);
    let t1 = t0 + secs(10);
    succeed(&b, t1, 1); // probe closes it
    succeed(&b, t1, 1);
    fail(&b, t1, 1);
    // 1 failure of 2 since closing; 3 of 5 had the window been kept
    assert_eq!(b.state(t1), BreakerState::Closed);
}

#[test]
fn bench_refuses_until_then_admits_without_counting_as_failure() {
    let t0 = Instant::now();
    let b = Breaker::new(BreakerConfig {
        consecutive_failures: 1,
        ..cfg()
    });
    let permit = b.try_acquire(t0).unwrap();
    let until = t0 + secs(5);
    b.bench(until); // a 429 the caller does not count
    drop(permit);
    b.bench(t0 + secs(2)); // never shortens the bench
    assert_eq!(b.state(t0), BreakerState::Benched { until });
    let r = refusal(&b, t0 + secs(4));
    assert_eq!((r.reason, r.until), (RefusalReason::Benched, Some(until)));
    assert_eq!(b.state(until), BreakerState::Closed);
    assert!(!b.try_acquire(until).unwrap().is_probe());
}

#[test]
fn bench_longer_than_cooldown_outlasts_it() {
    let t0 = Instant::now();
    let b = Breaker::new(BreakerConfig {
        consecutive_failures: 1,
        ..cfg()
    });
    fail(&b, t0, 1); // a 429 counted as a failure: open for 10 s
    let bench = t0 + secs(30);
    b.bench(bench); // and benched for its Retry-After
    assert_eq!(b.state(t0), BreakerState::Benched { until: bench });
    assert_eq!(refusal(&b, t0 + secs(15)).reason, RefusalReason::Benched);
    assert_eq!(b.state(bench), BreakerState::HalfOpen);

    let b = Breaker::new(BreakerConfig {
        consecutive_failures: 1,
        ..cfg()
    });
    fail(&b, t0, 1);
    b.bench(t0 + secs(3)); // shorter than the cooldown
    let open = t0 + secs(10);
    assert_eq!(b.state(t0), BreakerState::Open { until: open });
    assert_eq!(b.soonest_available(t0), Some(open));
}

#[test]
fn dropped_permit_frees_its_probe_slot_and_counts_as_neither() {
    let t0 = Instant::now();
    let b = Breaker::new(BreakerConfig {
        consecutive_failures: 1,
        ..cfg()
    });
    fail(&b, t0, 1);
    let t1 = t0 + secs(10);
    let probe = b.try_acquire(t1).unwrap();
    assert_eq!(refusal(&b, t1).reason, RefusalReason::HalfOpenBusy);
    drop(probe);
    assert_eq!(b.state(t1), BreakerState::HalfOpen);
    let probe = b.try_acquire(t1).unwrap();
    assert!(probe.is_probe());
    probe.success(t1);
    assert_eq!(b.state(t1), BreakerState::Closed);
}

#[test]
fn outcomes_from_an_earlier_phase_are_ignored() {
    let t0 = Instant::now();
    let b = Breaker::new(BreakerConfig {
        consecutive_failures: 1,
        ..cfg()
    });
    let slow_ok = b.try_acquire(t0).unwrap();
    let slow_err = b.try_acquire(t0).unwrap();
    fail(&b, t0, 1);
    let t1 = t0 + secs(10);
    let probe = b.try_acquire(t1).unwrap();
    slow_ok.success(t1); // would close it were it a probe
    assert_eq!(b.state(t1), BreakerState::HalfOpen);
    slow_err.failure(t1); // would re-open it were it a probe
    assert_eq!(b.state(t1), BreakerState::HalfOpen);
    assert_eq!(refusal(&b, t1).reason, RefusalReason::HalfOpenBusy);
    probe.success(t1);
    assert_eq!(b.state(t1), BreakerState::Closed);
}

#[test]
fn soonest_available_in_each_state() {
    let t0 = Instant::now();
    let b = Breaker::new(BreakerConfig {
        consecutive_failures: 1,
        ..cfg()
    });
    assert_eq!(b.soonest_available(t0), Some(t0));
    fail(&b, t0, 1);
    let t1 = t0 + secs(10);
    assert_eq!(b.soonest_available(t0 + secs(1)), Some(t1));
    assert_eq!(b.soonest_available(t1), Some(t1)); // half-open, slot free
    let probe = b.try_acquire(t1).unwrap();
    assert_eq!(b.soonest_available(t1), None); // waits on the probe
    probe.success(t1);
    b.bench(t1 + secs(7));
    assert_eq!(b.soonest_available(t1), Some(t1 + secs(7)));
    assert_eq!(b.soonest_available(t1 + secs(7)), Some(t1 + secs(7)));
}

#[test]
fn set_config_keeps_state() {
    let t0 = Instant::now();
    let b = Breaker::new(BreakerConfig {
        consecutive_failures: 3,
        ..cfg()
    });
    fail(&b, t0, 2);
    b.set_config(BreakerConfig {
        consecutive_failures: 4,
        ..cfg()
    });
    fail(&b, t0, 1);
    assert_eq!(b.state(t0), BreakerState::Closed); // streak of 3 of 4
    fail(&b, t0, 1);
    let until = t0 + secs(10);
    assert_eq!(b.state(t0), BreakerState::Open { until });
    b.set_config(BreakerConfig {
        cooldown: secs(60),
        max_cooldown: secs(60),
        half_open_probes: 2,
        ..cfg()
    });
    assert_eq!(b.state(t0), BreakerState::Open { until });
    let _p1 = b.try_acquire(until).unwrap();
    let _p2 = b.try_acquire(until).unwrap(); // the new probe limit
    assert_eq!(b.config().half_open_probes, 2);
}

#[test]
fn set_config_keeps_window_outcomes_across_a_new_span() {
    let t0 = Instant::now();
    let rate = BreakerConfig {
        error_rate: 0.5,
        min_requests: 4,
        ..cfg()
    };
    let b = Breaker::new(rate.clone());
    fail(&b, t0, 3);
    b.set_config(BreakerConfig {
        window: secs(300),
        ..rate
    });
    let t1 = t0 + secs(100); // beyond the old span, within the new one
    fail(&b, t1, 1);
    assert!(matches!(b.state(t1), BreakerState::Open { .. })); // 4 of 4
}

#[test]
fn validate_names_every_bad_field() {
    assert_eq!(BreakerConfig::default().validate(), Ok(()));
    assert_eq!(cfg().validate(), Ok(()));
    let bad = BreakerConfig {
        consecutive_failures: 0,
        error_rate: f64::NAN,
        min_requests: 0,
        window: Duration::from_millis(999),
        cooldown: Duration::ZERO,
        max_cooldown: Duration::ZERO,
        half_open_probes: 0,
        half_open_successes: Some(0),
    };
    let err = bad.validate().unwrap_err();
    for field in [
        "consecutive_failures",
        "error_rate",
        "min_requests",
        "window",
        "cooldown",
        "half_open_probes",
        "half_open_successes",
    ] {
        assert!(err.contains(field), "{field} missing from: {err}");
    }
    for rate in [0.0, -0.1, 1.01] {
        let c = BreakerConfig {
            error_rate: rate,
            ..cfg()
        };
        assert!(c.validate().unwrap_err().starts_with("error_rate"));
    }
    let c = BreakerConfig {
        max_cooldown: secs(5),
        ..cfg()
    };
    assert!(c.validate().unwrap_err().starts_with("max_cooldown"));
}

#[test]
fn invalid_config_and_time_going_backwards_do_not_panic() {
    let t0 = Instant::now() + secs(60);
    let b = Breaker::new(BreakerConfig {
        consecutive_failures: 0,
        error_rate: f64::NAN,
        window: Duration::ZERO,
        cooldown: Duration::MAX,
        half_open_probes: 0,
        ..cfg()
    });
    let p = b.try_acquire(t0).unwrap();
    p.failure(t0 - secs(60)); // an instant before the window's origin
    let _ = b.state(t0);
    let _ = b.try_acquire(t0 + secs(1));
    assert!(b.soonest_available(t0).is_some());
}

#[test]
fn breaker_and_permit_are_send_and_sync() {
    fn shared<T: Send + Sync + 'static>() {}
    shared::<Breaker>();
    shared::<Permit>();
}

#[test]
fn concurrent_acquire_and_report_neither_deadlocks_nor_leaks_slots() {
    const THREADS: u64 = 8;
    const ROUNDS: u64 = 2000;
    let t0 = Instant::now();
    let c = BreakerConfig {
        consecutive_failures: 3,
        min_requests: 5,
        window: secs(2),
        cooldown: Duration::from_millis(50),
        max_cooldown: Duration::from_millis(400),
        half_open_probes: 2,
        ..BreakerConfig::default()
    };
    let b = Arc::new(Breaker::new(c));
    let clock = Arc::new(AtomicU64::new(0)); // virtual milliseconds
    let (admitted, refused) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (done_tx, done_rx) = mpsc::channel();
    for thread in 0..THREADS {
        let (b, clock, done) = (Arc::clone(&b), Arc::clone(&clock), done_tx.clone());
        let (admitted, refused) = (Arc::clone(&admitted), Arc::clone(&refused));
        std::thread::spawn(move || {
            for i in 0..ROUNDS {
                let now = t0 + Duration::from_millis(clock.fetch_add(1, Ordering::Relaxed));
                match b.try_acquire(now) {
                    Ok(p) if (thread + i) % 3 == 0 => p.failure(now),
                    Ok(p) if i % 7 == 0 => drop(p),
                    Ok(p) => p.success(now),
                    Err(_) => {
                        refused.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                }
                admitted.fetch_add(1, Ordering::Relaxed);
                if i % 500 == 0 {
                    b.bench(now + Duration::from_millis(20));
                }
                let _ = (b.state(now), b.soonest_available(now));
            }
            done.send(()).unwrap();
        });
    }
    for _ in 0..THREADS {
        done_rx.recv_timeout(secs(30)).expect("a thread deadlocked");
    }
    assert!(admitted.load(Ordering::Relaxed) > 0 && refused.load(Ordering::Relaxed) > 0);

    // Every permit is settled: after any cooldown and bench, all probe
    // slots (or, if closed, any number of requests) are free.
    let end = t0 + Duration::from_millis(clock.load(Ordering::Relaxed)) + secs(1);
    let permits: Vec<Permit> = (0..2).map(|_| b.try_acquire(end).unwrap()).collect();
    if permits[0].is_probe() {
        assert_eq!(refusal(&b, end).reason, RefusalReason::HalfOpenBusy);
    }
}
