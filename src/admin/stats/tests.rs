use super::*;

use prometheus::{
    CounterVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry,
};

fn hist(buckets: &[(f64, u64)], count: u64) -> Histogram {
    Histogram {
        buckets: buckets.to_vec(),
        count,
    }
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-9)
}

#[test]
fn quantile_interpolates_within_the_bucket_holding_the_rank() {
    let h = hist(&[(0.1, 10), (0.5, 30), (1.0, 40)], 40);
    // rank 20: 10 below 0.1, 20 in (0.1, 0.5] → halfway.
    assert!(close(h.quantile(0.5), 0.3), "{:?}", h.quantile(0.5));
    // rank 38: 30 below 0.5, 10 in (0.5, 1.0] → 8/10 of the way.
    assert!(close(h.quantile(0.95), 0.9), "{:?}", h.quantile(0.95));
    // The first bucket starts at 0.
    assert!(close(h.quantile(0.125), 0.05), "{:?}", h.quantile(0.125));
}

#[test]
fn quantile_in_the_inf_bucket_is_the_highest_finite_bound() {
    let h = hist(&[(0.1, 10), (1.0, 40)], 50);
    assert!(close(h.quantile(0.95), 1.0));
    assert!(close(h.quantile(0.5), 0.1 + 0.9 * 15.0 / 30.0));
}

#[test]
fn quantile_of_nothing_is_none() {
    assert_eq!(hist(&[(0.1, 0), (1.0, 0)], 0).quantile(0.5), None);
    assert_eq!(Histogram::default().quantile(0.5), None);
    assert_eq!(hist(&[(0.1, 1)], 1).quantile(1.5), None);
}

#[test]
fn since_subtracts_bucket_by_bucket() {
    let old = hist(&[(0.1, 10), (1.0, 10)], 10);
    let new = hist(&[(0.1, 10), (1.0, 30)], 31);
    let d = new.since(&old);
    assert_eq!(d, hist(&[(0.1, 0), (1.0, 20)], 21));
    // All 20 recent observations sit in (0.1, 1.0]: p50 is in there, not
    // dragged down by the 10 old fast ones.
    assert!(close(d.quantile(0.5), 0.1 + 0.9 * 10.5 / 20.0));
}

/// A registry with the gateway's metric names and a little traffic.
fn registry() -> Registry {
    let r = Registry::new();
    let requests = IntCounterVec::new(
        Opts::new("gateway_requests_total", "r"),
        &["route", "provider", "model", "status"],
    )
    .unwrap();
    let cost = CounterVec::new(
        Opts::new("gateway_cost_usd_total", "c"),
        &["provider", "model"],
    )
    .unwrap();
    let tokens = IntCounterVec::new(
        Opts::new("gateway_tokens_total", "t"),
        &["provider", "model", "type"],
    )
    .unwrap();
    let latency = HistogramVec::new(
        HistogramOpts::new("gateway_request_duration_seconds", "l").buckets(vec![0.1, 1.0]),
        &["route", "provider"],
    )
    .unwrap();
    let cache =
        IntCounterVec::new(Opts::new("gateway_cache_requests_total", "c"), &["result"]).unwrap();
    let limited = IntCounterVec::new(
        Opts::new("gateway_ratelimit_rejections_total", "l"),
        &["scope"],
    )
    .unwrap();
    let in_flight = IntGauge::new("gateway_requests_in_flight", "f").unwrap();
    let other = IntGauge::new("something_else", "x").unwrap();
    for c in [
        Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
        Box::new(cost.clone()),
        Box::new(tokens.clone()),
        Box::new(latency.clone()),
        Box::new(cache.clone()),
        Box::new(limited.clone()),
        Box::new(in_flight.clone()),
        Box::new(other.clone()),
    ] {
        r.register(c).unwrap();
    }
    requests
        .with_label_values(&["main", "good", "gpt", "200"])
        .inc_by(7);
    requests
        .with_label_values(&["main", "bad", "bad-model", "502"])
        .inc_by(2);
    requests
        .with_label_values(&["other", "good", "gpt", "404"])
        .inc();
    requests.with_label_values(&["", "", "", "429"]).inc();
    cost.with_label_values(&["good", "gpt"]).inc_by(0.25);
    tokens
        .with_label_values(&["good", "gpt", "prompt"])
        .inc_by(100);
    tokens
        .with_label_values(&["good", "gpt", "completion"])
        .inc_by(40);
    for (route, provider, secs) in [
        ("main", "good", 0.05),
        ("main", "bad", 0.5),
        ("other", "good", 0.5),
    ] {
        latency.with_label_values(&[route, provider]).observe(secs);
    }
    cache.with_label_values(&["hit"]).inc_by(3);
    cache.with_label_values(&["miss"]).inc();
    limited.with_label_values(&["key"]).inc();
    in_flight.set(2);
    other.set(99);
    r
}

#[test]
fn snapshot_sums_the_registry_by_class_route_and_model() {
    let s = Snapshot::from_families(&registry().gather());
    assert_eq!(
        s.requests,
        Counts {
            total: 11,
            client_errors: 2,
            server_errors: 2
        }
    );
    assert_eq!(s.by_route["main"].total, 9);
    assert_eq!(s.by_route["main"].server_errors, 2);
    let gpt = &s.by_model[&("good".to_string(), "gpt".to_string())];
    assert_eq!(gpt.requests.total, 8);
    assert_eq!((gpt.prompt_tokens, gpt.completion_tokens), (100, 40));
    assert!((gpt.cost_usd - 0.25).abs() < 1e-12);
    // Series of one histogram family are merged bucket by bucket.
    assert_eq!(s.latency, hist(&[(0.1, 1), (1.0, 3)], 3));
    assert_eq!(s.in_flight, 2);

    let v = s.view();
    assert_eq!(v["requests"]["total"], 11);
    assert_eq!(v["requests"]["5xx"], 2);
    assert_eq!(v["tokens"]["prompt"], 100);
    assert_eq!(v["cache"]["hit_ratio"], 0.75);
    assert_eq!(v["rejections"]["rate_limit"]["key"], 1);
    assert_eq!(v["latency_ms"]["count"], 3);
    assert!(v["latency_ms"]["p50"].as_f64().unwrap() > 100.0, "{v}");
    let models = v["models"].as_array().unwrap();
    let row = models.iter().find(|m| m["model"] == "gpt").unwrap();
    assert_eq!(row["provider"], "good");
    assert_eq!(row["cost_usd"], 0.25);
    assert_eq!(row["tokens"]["completion"], 40);
}

#[test]
fn recent_view_gives_rates_and_percentiles_of_the_window() {
    let old = Snapshot::from_families(&registry().gather());
    let mut new = old.clone();
    new.requests.add("200", 30);
    new.requests.add("500", 10);
    new.latency = hist(&[(0.1, 1), (1.0, 43)], 43);
    let v = new.recent_view(&old, Duration::from_secs(20));
    assert_eq!(v["requests"], 40);
    assert_eq!(v["requests_per_s"], 2.0);
    assert_eq!(v["error_ratio"], 0.25);
    assert_eq!(v["latency_ms"]["count"], 40);
    assert_eq!(v["cost_usd_per_min"], 0.0);
    assert!(v["latency_ms"]["p50"].as_f64().unwrap() > 100.0);
    // Nothing happened: no ratio, no percentiles.
    let idle = old.recent_view(&old, Duration::from_secs(20));
    assert!(idle["error_ratio"].is_null());
    assert!(idle["latency_ms"]["p50"].is_null());
}

#[test]
fn recent_compares_with_a_snapshot_about_a_window_back() {
    let recent = Recent::default();
    let t0 = Instant::now();
    let snap = |n: u64| {
        let mut s = Snapshot::default();
        s.requests.total = n;
        Arc::new(s)
    };
    assert!(recent.observe(t0, snap(0)).is_none(), "nothing older yet");
    let (age, base) = recent
        .observe(t0 + Duration::from_millis(2500), snap(1))
        .unwrap();
    assert_eq!((age, base.requests.total), (Duration::from_millis(2500), 0));
    // One a second at most; then the base moves to stay about a window back.
    for s in 3..=90u64 {
        recent.observe(t0 + Duration::from_secs(s), snap(s));
    }
    let (age, base) = recent
        .observe(t0 + Duration::from_secs(91), snap(91))
        .unwrap();
    // The newest snapshot at least a window old.
    assert_eq!(age, Duration::from_secs(60));
    assert_eq!(base.requests.total, 31);
    assert!(recent.ring.lock().unwrap().len() <= 62);
}

#[test]
fn recent_starts_afresh_after_a_quiet_spell() {
    let recent = Recent::default();
    let t0 = Instant::now();
    recent.observe(t0, Arc::new(Snapshot::default()));
    let later = t0 + Duration::from_secs(3600);
    assert!(
        recent
            .observe(later, Arc::new(Snapshot::default()))
            .is_none(),
        "an hour-old snapshot is not recent"
    );
    let (age, _) = recent
        .observe(
            later + Duration::from_secs(2),
            Arc::new(Snapshot::default()),
        )
        .unwrap();
    assert_eq!(age, Duration::from_secs(2));
}
