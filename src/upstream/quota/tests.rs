use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue};

use super::*;

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

#[test]
fn go_durations_and_bare_seconds_parse() {
    for (text, want) in [
        ("1s", 1.0),
        ("6m0s", 360.0),
        ("20ms", 0.02),
        ("1m30.5s", 90.5),
        ("1h2m3s", 3723.0),
        ("250us", 0.00025),
        ("0.5", 0.5),
        ("2", 2.0),
        ("0s", 0.0),
    ] {
        assert_eq!(duration(text), Some(secs(want)), "{text}");
    }
    for bad in ["", "s", "1x", "-1s", "1.2.3s", "abc", "5 s"] {
        assert_eq!(duration(bad), None, "{bad:?}");
    }
}

#[test]
fn rfc3339_resets_count_from_now_and_are_capped() {
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let in_30s = chrono::DateTime::<chrono::Utc>::from(now + Duration::from_secs(30)).to_rfc3339();
    assert_eq!(reset_in(&in_30s, now), Some(secs(30.0)));
    let past = chrono::DateTime::<chrono::Utc>::from(now - Duration::from_secs(5)).to_rfc3339();
    assert_eq!(reset_in(&past, now), Some(Duration::ZERO));
    assert_eq!(reset_in("2026-12-07T11:00:30Z", now), Some(Duration::ZERO));
    assert_eq!(reset_in("999999h", now), Some(MAX_RESET));
    assert_eq!(reset_in("tomorrow", now), None);
}

#[test]
fn openai_headers_are_read() {
    let h = headers(&[
        ("x-ratelimit-limit-requests", "40"),
        ("x-ratelimit-remaining-requests", "39"),
        ("x-ratelimit-reset-requests", "1s"),
        ("x-ratelimit-limit-tokens", "150000"),
        ("x-ratelimit-remaining-tokens", "149984"),
        ("x-ratelimit-reset-tokens", "6m0s"),
    ]);
    let r = read(&h, &Rules::default(), SystemTime::now());
    assert_eq!(
        r.requests,
        Some(Signal {
            limit: Some(40),
            remaining: 39,
            reset_in: secs(1.0)
        })
    );
    assert_eq!(
        r.tokens,
        Some(Signal {
            limit: Some(150_000),
            remaining: 149_984,
            reset_in: secs(360.0)
        })
    );
}

#[test]
fn anthropic_headers_are_read() {
    let now = SystemTime::now();
    let at =
        |s: u64| chrono::DateTime::<chrono::Utc>::from(now + Duration::from_secs(s)).to_rfc3339();
    let (r10, r60) = (at(10), at(60));
    let h = headers(&[
        ("anthropic-ratelimit-requests-limit", "50"),
        ("anthropic-ratelimit-requests-remaining", "0"),
        ("anthropic-ratelimit-requests-reset", &r10),
        ("anthropic-ratelimit-input-tokens-limit", "40000"),
        ("anthropic-ratelimit-input-tokens-remaining", "39000"),
        ("anthropic-ratelimit-input-tokens-reset", &r60),
    ]);
    let r = read(&h, &Rules::default(), now);
    let req = r.requests.unwrap();
    assert_eq!((req.limit, req.remaining), (Some(50), 0));
    assert!(
        req.reset_in <= secs(10.0) && req.reset_in > secs(8.0),
        "{req:?}"
    );
    assert_eq!(r.tokens.unwrap().remaining, 39_000);
}

#[test]
fn partial_or_malformed_headers_say_nothing() {
    let r = read(
        &headers(&[
            ("x-ratelimit-remaining-requests", "12"),
            ("x-ratelimit-remaining-tokens", "lots"),
            ("x-ratelimit-reset-tokens", "1s"),
        ]),
        &Rules::default(),
        SystemTime::now(),
    );
    assert!(r.is_empty(), "a remaining count needs its reset: {r:?}");
    assert!(read(&HeaderMap::new(), &Rules::default(), SystemTime::now()).is_empty());
    // A fractional count is rounded down.
    let r = read(
        &headers(&[
            ("x-ratelimit-remaining-requests", "2.9"),
            ("x-ratelimit-reset-requests", "1s"),
        ]),
        &Rules::default(),
        SystemTime::now(),
    );
    assert_eq!(r.requests.unwrap().remaining, 2);
}

fn reading(requests: Option<(u64, f64)>, tokens: Option<(u64, f64)>) -> Reading {
    let sig = |(remaining, reset): (u64, f64)| Signal {
        limit: Some(1000),
        remaining,
        reset_in: secs(reset),
    };
    Reading {
        requests: requests.map(sig),
        tokens: tokens.map(sig),
    }
}

#[test]
fn a_backend_out_of_requests_is_short_until_its_reset_then_back() {
    let q = Quota::default();
    let now = Instant::now();
    assert_eq!(q.short_until(|| 100, now), None, "nothing known: go");
    q.observe(&reading(Some((0, 2.0)), None), now);
    assert_eq!(q.short_until(|| 1, now), Some(now + secs(2.0)));
    let later = now + secs(2.5);
    assert_eq!(q.short_until(|| 1, later), None, "the window reset");
}

#[test]
fn tokens_must_cover_the_estimate_unless_no_window_could() {
    let q = Quota::default();
    let now = Instant::now();
    q.observe(&reading(Some((10, 1.0)), Some((500, 3.0))), now);
    assert_eq!(q.short_until(|| 400, now), None);
    assert_eq!(q.short_until(|| 600, now), Some(now + secs(3.0)));
    // More than the whole window (limit 1000) holds: the provider decides.
    assert_eq!(q.short_until(|| 5000, now), None);
}

#[test]
fn requests_in_flight_count_against_what_is_left_until_answered() {
    let q = Arc::new(Quota::default());
    let now = Instant::now();
    q.observe(&reading(Some((2, 1.0)), Some((300, 1.0))), now);
    let a = q.take(|| 100, now);
    assert_eq!(q.short_until(|| 100, now), None);
    let b = q.take(|| 100, now);
    assert_eq!(
        q.short_until(|| 1, now),
        Some(now + secs(1.0)),
        "two in flight hold both"
    );
    assert_eq!(q.snapshot(now).tokens.unwrap().remaining, 100);
    // The first answer counts itself: 1 left, and b still in flight.
    q.observe(&reading(Some((1, 1.0)), Some((200, 1.0))), now);
    drop(a);
    assert!(q.short_until(|| 1, now).is_some(), "b holds the last one");
    // However b ends (a hedge's loser, a client gone), its share comes back.
    drop(b);
    assert_eq!(q.short_until(|| 1, now), None);
    assert_eq!(q.snapshot(now).requests.unwrap().remaining, 1);
}

#[test]
fn within_a_window_the_lowest_count_wins_and_a_new_window_replaces_it() {
    let q = Quota::default();
    let now = Instant::now();
    q.observe(&reading(Some((3, 1.0)), None), now);
    // An answer admitted earlier arrives late with a higher count.
    q.observe(&reading(Some((7, 1.05)), None), now);
    assert_eq!(q.snapshot(now).requests.unwrap().remaining, 3);
    // The next window.
    let later = now + secs(1.2);
    q.observe(&reading(Some((39, 1.0)), None), later);
    assert_eq!(q.snapshot(later).requests.unwrap().remaining, 39);
}

#[test]
fn a_refusal_without_retry_after_waits_for_the_window_that_ran_out() {
    let q = Quota::default();
    let now = Instant::now();
    let fallback = secs(1.0);
    assert_eq!(
        q.reset_after_refusal(now, fallback),
        now + fallback,
        "nothing known"
    );
    let learned = |requests, tokens| {
        let q = Quota::default();
        q.observe(&reading(Some(requests), Some(tokens)), now);
        q.reset_after_refusal(now, fallback)
    };
    assert_eq!(learned((0, 4.0), (900, 30.0)), now + secs(4.0));
    assert_eq!(learned((3, 4.0), (0, 30.0)), now + secs(30.0));
    // The headers say neither ran out: the sooner reset.
    assert_eq!(learned((3, 4.0), (10, 30.0)), now + secs(4.0));
    q.observe(&reading(Some((0, 4.0)), Some((900, 30.0))), now);
    // Everything known is past: the fallback.
    let later = now + secs(60.0);
    assert_eq!(q.reset_after_refusal(later, fallback), later + fallback);
    assert_eq!(q.snapshot(later), Snapshot::default());
}

#[test]
fn a_reload_keeps_what_a_backend_learned() {
    let a = quota_for("p/one#test-quota");
    a.observe(&reading(Some((0, 5.0)), None), Instant::now());
    let again = quota_for("p/one#test-quota");
    assert!(Arc::ptr_eq(&a, &again));
    assert!(!Arc::ptr_eq(&a, &quota_for("p/two#test-quota")));
}

#[test]
fn a_providers_own_header_names_are_read_before_the_families() {
    let rules = Rules {
        requests: Some(Names {
            limit: Some("x-acme-rpm".into()),
            remaining: "x-acme-rpm-left".into(),
            reset: "x-acme-rpm-reset".into(),
        }),
        tokens: Some(Names {
            limit: None,
            remaining: "x-acme-tpm-left".into(),
            reset: "x-acme-tpm-reset".into(),
        }),
        ..Rules::default()
    };
    let h = headers(&[
        ("x-acme-rpm", "60"),
        ("x-acme-rpm-left", "7"),
        ("x-acme-rpm-reset", "30s"),
        ("x-acme-tpm-left", "900"),
        ("x-acme-tpm-reset", "2"),
        ("x-ratelimit-remaining-requests", "50"),
        ("x-ratelimit-reset-requests", "1s"),
    ]);
    let r = read(&h, &rules, SystemTime::now());
    assert_eq!(
        r.requests,
        Some(Signal {
            limit: Some(60),
            remaining: 7,
            reset_in: secs(30.0)
        })
    );
    assert_eq!(
        r.tokens,
        Some(Signal {
            limit: None,
            remaining: 900,
            reset_in: secs(2.0)
        })
    );
    // Where its own headers are absent, the families still speak.
    let r = read(
        &headers(&[
            ("x-ratelimit-remaining-requests", "50"),
            ("x-ratelimit-reset-requests", "1s"),
        ]),
        &rules,
        SystemTime::now(),
    );
    assert_eq!(r.requests.unwrap().remaining, 50);
    assert_eq!(Rules::default().refusal_bench, REFUSAL_BENCH);
}

#[test]
fn headroom_is_the_tighter_kinds_share_of_its_window() {
    let q = Quota::default();
    let now = Instant::now();
    assert_eq!(q.snapshot(now).headroom(), None, "nothing known");
    // `reading` announces a limit of 1000 for each kind.
    q.observe(&reading(Some((800, 5.0)), Some((250, 5.0))), now);
    assert_eq!(q.snapshot(now).headroom(), Some(0.25));
    let unlimited = Snapshot {
        requests: Some(Signal {
            limit: None,
            remaining: 3,
            reset_in: secs(1.0),
        }),
        tokens: None,
    };
    assert_eq!(unlimited.headroom(), None, "no limit, no share");
}

fn fleet(taken: bool, short_for: f64, known: Reading) -> FleetTake {
    FleetTake {
        taken,
        short_for: secs(short_for),
        heard: true,
        known,
    }
}

fn unheard() -> FleetTake {
    FleetTake {
        heard: false,
        ..fleet(true, 0.0, Reading::default())
    }
}

#[test]
fn a_fleet_refusal_skips_the_backend_here_until_it_ends() {
    let q = Quota::default();
    let now = Instant::now();
    let known = reading(Some((0, 3.0)), None);
    assert_eq!(
        q.learn_fleet(&fleet(false, 3.0, known), now),
        Some(now + secs(3.0))
    );
    assert_eq!(q.short_until(|| 1, now), Some(now + secs(3.0)));
    assert_eq!(q.short_until(|| 1, now + secs(3.1)), None);
    // A take that went through lifts it.
    assert_eq!(q.learn_fleet(&fleet(true, 0.0, known), now), None);
    assert_eq!(q.short_until(|| 1, now), None);
}

#[test]
fn a_backend_the_fleet_knows_nothing_of_is_not_asked_about_for_a_second() {
    let q = Quota::default();
    let now = Instant::now();
    assert!(q.fleet_due(now));
    q.learn_fleet(&unheard(), now);
    assert!(!q.fleet_due(now + secs(0.5)));
    assert!(q.fleet_due(now + FLEET_UNKNOWN));
    // A window the fleet has heard of, even none live now, is asked about.
    q.learn_fleet(&fleet(true, 0.0, Reading::default()), now);
    assert!(q.fleet_due(now));
    // Heard here, the fleet is told: asked again at once.
    q.learn_fleet(&unheard(), now);
    q.observe(&reading(Some((5, 1.0)), None), now);
    assert!(q.fleet_due(now));
}

#[test]
fn the_snapshot_shows_the_lower_of_this_instances_count_and_the_fleets() {
    let q = Arc::new(Quota::default());
    let now = Instant::now();
    q.observe(&reading(Some((30, 5.0)), None), now);
    // Other instances spent more than this one has heard of.
    q.learn_fleet(&fleet(true, 0.0, reading(Some((12, 5.0)), None)), now);
    assert_eq!(q.snapshot(now).requests.unwrap().remaining, 12);
    // This instance's own in flight count too, on its own count.
    let held: Vec<Taken> = (0..20).map(|_| q.take(|| 1, now)).collect();
    assert_eq!(q.snapshot(now).requests.unwrap().remaining, 10);
    drop(held);
    assert_eq!(q.snapshot(now).requests.unwrap().remaining, 12);
}
