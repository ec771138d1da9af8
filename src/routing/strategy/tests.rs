use super::*;

fn c(cost: Option<f64>, latency_ms: Option<f64>, quality: Option<f64>) -> Components {
    Components {
        cost,
        latency_ms,
        quality,
    }
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
    };
    assert_eq!(order(Strategy::Hybrid(cheap), &comps)[0], 1);
    let best = Weights {
        cost: 0.1,
        latency: 0.0,
        quality: 1.0,
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
                quality: 1.0
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
