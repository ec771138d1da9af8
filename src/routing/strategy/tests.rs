use super::*;

fn c(cost: Option<f64>, latency_ms: Option<f64>, quality: Option<f64>) -> Components {
    Components {
        cost,
        latency_ms,
        quality,
        headroom: None,
    }
}

/// `c` with a quota headroom.
fn h(c: Components, headroom: Option<f64>) -> Components {
    Components { headroom, ..c }
}

fn order(strategy: Strategy, comps: &[Components]) -> Vec<usize> {
    rank_components(strategy, comps)
}

/// rank() over components alone (the target references are only
/// carried along).
fn rank_components(strategy: Strategy, comps: &[Components]) -> Vec<usize> {
    let yaml =
        "providers:\n  p:\n    adapter: openai\n    base_url: http://127.0.0.1:1/v1\nroutes: []\n";
    let (_dir, target) = target_from(yaml);
    let targets: Vec<(&Target, Components)> = comps.iter().map(|c| (&target, *c)).collect();
    rank(strategy, &targets, 0.0)
}

/// The target of provider `p` in `yaml` (with the repo's scripts).
fn target_from(yaml: &str) -> (tempfile::TempDir, Target) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("routes.yaml");
    std::fs::write(
        &path,
        format!(
            "scripts: {}/scripts/providers\n{yaml}",
            env!("CARGO_MANIFEST_DIR")
        ),
    )
    .unwrap();
    let cfg = crate::config::Config::load(&path).unwrap();
    let target = Target {
        provider: cfg.providers["p"].clone(),
        model: None,
        configured: false,
    };
    (dir, target)
}

#[test]
fn each_strategy_orders_as_expected() {
    let comps = [
        c(Some(3.0), Some(100.0), Some(0.9)),
        c(Some(1.0), Some(300.0), Some(0.7)),
        c(None, None, None),
    ];
    assert_eq!(order(Strategy::Ordered, &comps), vec![0, 1, 2]);
    assert_eq!(
        order(Strategy::Cost, &comps),
        vec![1, 0, 2],
        "unknown price last"
    );
    assert_eq!(
        order(Strategy::Latency, &comps),
        vec![2, 0, 1],
        "unknown latency is tried first"
    );
    assert_eq!(order(Strategy::Quality, &comps), vec![0, 1, 2]);
    let cheap = Weights {
        cost: 1.0,
        latency: 0.0,
        quality: 0.1,
        headroom: 0.0,
    };
    assert_eq!(order(Strategy::Hybrid(cheap), &comps)[0], 1);
    let best = Weights {
        cost: 0.1,
        latency: 0.0,
        quality: 1.0,
        headroom: 0.0,
    };
    assert_eq!(order(Strategy::Hybrid(best), &comps)[0], 0);
}

#[test]
fn round_robin_starts_one_further_each_request_and_keeps_the_rest_in_order() {
    let comps = [
        c(Some(3.0), None, None),
        c(Some(1.0), None, None),
        c(None, None, None),
    ];
    let policy = RoutePolicy {
        strategy: Strategy::RoundRobin,
        ..RoutePolicy::default()
    };
    let yaml =
        "providers:\n  p:\n    adapter: openai\n    base_url: http://127.0.0.1:1/v1\nroutes: []\n";
    let (_dir, target) = target_from(yaml);
    let targets: Vec<(&Target, Components)> = comps.iter().map(|c| (&target, *c)).collect();
    let orders: Vec<Vec<usize>> = (0..4).map(|_| super::order(&policy, &targets)).collect();
    assert_eq!(
        orders,
        [vec![0, 1, 2], vec![1, 2, 0], vec![2, 0, 1], vec![0, 1, 2]]
    );
    let ordered = RoutePolicy::default();
    assert_eq!(super::order(&ordered, &targets), [0, 1, 2]);
    assert_eq!(
        super::order(&ordered, &targets),
        [0, 1, 2],
        "ordered never rotates"
    );
    assert_eq!(
        Strategy::parse(
            "round-robin",
            Weights {
                cost: 1.0,
                latency: 1.0,
                quality: 1.0,
                headroom: 0.0,
            }
        ),
        Ok(Strategy::RoundRobin)
    );
}

#[test]
fn ties_keep_configured_order() {
    let comps = [c(Some(1.0), None, None), c(Some(1.0), None, None)];
    assert_eq!(order(Strategy::Cost, &comps), vec![0, 1]);
}

const SPARING: Weights = Weights {
    cost: 1.0,
    latency: 0.0,
    quality: 0.0,
    headroom: 2.0,
};

#[test]
fn hybrid_with_a_headroom_weight_prefers_the_target_with_more_quota_left() {
    let same = c(Some(1.0), None, None);
    let comps = [h(same, Some(0.2)), h(same, Some(0.9))];
    assert_eq!(order(Strategy::Hybrid(SPARING), &comps), vec![1, 0]);
    let equal = [h(same, Some(0.5)), h(same, Some(0.5))];
    assert_eq!(
        order(Strategy::Hybrid(SPARING), &equal),
        vec![0, 1],
        "equal headroom keeps the configured order"
    );
}

#[test]
fn headroom_is_weighed_as_an_absolute_share_not_spread_across_candidates() {
    // 95% and 90% left differ by 0.05 * 2 = 0.1: less than the cost gap
    // (normalised to 1), so the cheaper target stays first. Min-max
    // scaling would have made it 0 against 1 and flipped the order.
    let comps = [
        h(c(Some(1.0), None, None), Some(0.90)),
        h(c(Some(2.0), None, None), Some(0.95)),
    ];
    assert_eq!(order(Strategy::Hybrid(SPARING), &comps), vec![0, 1]);
}

#[test]
fn a_zero_headroom_weight_changes_nothing() {
    let comps = [
        h(c(Some(1.0), Some(50.0), Some(0.8)), Some(0.01)),
        h(c(Some(2.0), Some(50.0), Some(0.8)), Some(1.0)),
    ];
    let plain = Weights {
        headroom: 0.0,
        ..SPARING
    };
    let without: Vec<Components> = comps.iter().map(|x| h(*x, None)).collect();
    assert_eq!(order(Strategy::Hybrid(plain), &comps), vec![0, 1]);
    assert_eq!(
        order(Strategy::Hybrid(plain), &comps),
        order(Strategy::Hybrid(plain), &without)
    );
}

#[test]
fn cost_latency_and_quality_ignore_headroom() {
    let comps = [
        h(c(Some(1.0), Some(10.0), Some(0.9)), Some(0.0)),
        h(c(Some(2.0), Some(20.0), Some(0.8)), Some(1.0)),
    ];
    for s in [Strategy::Cost, Strategy::Latency, Strategy::Quality] {
        assert_eq!(order(s, &comps), vec![0, 1], "{}", s.name());
    }
}

#[test]
fn unknown_headroom_counts_as_untouched() {
    let same = c(Some(1.0), None, None);
    let comps = [h(same, Some(0.5)), h(same, None)];
    assert_eq!(order(Strategy::Hybrid(SPARING), &comps), vec![1, 0]);
    let full = [h(same, None), h(same, Some(1.0))];
    assert_eq!(
        order(Strategy::Hybrid(SPARING), &full),
        vec![0, 1],
        "unknown ties with full"
    );
}

#[test]
fn a_providers_headroom_is_the_mean_over_its_backends_that_know_theirs() {
    let yaml = "providers:\n  p:\n    adapter: openai\n    base_url: http://127.0.0.1:1/v1\n    backends:\n      - { name: a }\n      - { name: b }\n      - { name: c }\nroutes: []\n";
    let (_dir, target) = target_from(yaml);
    let provider = &target.provider;
    assert_eq!(headroom_of(provider), None, "nothing heard yet");
    let now = std::time::Instant::now();
    let left = |remaining: u64| crate::upstream::quota::Reading {
        requests: Some(crate::upstream::quota::Signal {
            limit: Some(100),
            remaining,
            reset_in: std::time::Duration::from_secs(60),
        }),
        tokens: None,
    };
    provider.backend_list[0].quota.observe(&left(40), now);
    provider.backend_list[1].quota.observe(&left(80), now);
    let mean = headroom_of(provider).unwrap();
    assert!(
        (mean - 0.6).abs() < 1e-9,
        "{mean}: the unknown third is left out"
    );
}
