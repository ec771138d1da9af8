use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use pingora::lb::health_check::HealthCheck;
use pingora::{Error, ErrorType};

use super::*;

const ALL: [Strategy; 6] = [
    Strategy::Weighted,
    Strategy::RoundRobin,
    Strategy::Random,
    Strategy::ConsistentHash,
    Strategy::LeastConnections,
    Strategy::Priority,
];

fn members(spec: &[(&str, usize)]) -> Vec<Member<String>> {
    spec.iter()
        .map(|(id, weight)| Member {
            id: id.to_string(),
            weight: *weight,
            value: Arc::new(id.to_string()),
        })
        .collect()
}

fn abc() -> Vec<Member<String>> {
    members(&[("a", 1), ("b", 1), ("c", 1)])
}

fn ids(list: &[Arc<String>]) -> Vec<&str> {
    list.iter().map(|v| v.as_str()).collect()
}

fn pick(b: &Balancer<String>, key: &[u8]) -> String {
    b.candidates(key, |_| true)[0].to_string()
}

fn shares(b: &Balancer<String>, picks: usize) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for i in 0..picks {
        *counts
            .entry(pick(b, format!("k{i}").as_bytes()))
            .or_default() += 1;
    }
    counts
}

/// Fails the probe of the listed member ids; flips health at once.
struct FailIds(Vec<&'static str>);

#[async_trait]
impl HealthCheck for FailIds {
    async fn check(&self, target: &Backend) -> pingora::Result<()> {
        let id = target.ext.get::<MemberTag>().map(|t| t.id.to_string());
        if id.is_some_and(|id| self.0.contains(&id.as_str())) {
            return Error::e_explain(ErrorType::Custom("down"), "test probe");
        }
        Ok(())
    }

    fn health_threshold(&self, _success: bool) -> usize {
        1
    }
}

#[test]
fn weighted_shares_follow_weights() {
    let b = Balancer::new(Strategy::Weighted, members(&[("a", 1), ("b", 3), ("c", 6)]));
    let counts = shares(&b, 10_000);
    for (id, weight) in [("a", 1.0), ("b", 3.0), ("c", 6.0)] {
        let share = counts[id] as f64 / 10_000.0;
        assert!((share - weight / 10.0).abs() <= 0.02, "{id}: {share}");
    }
}

#[test]
fn round_robin_cycles_and_ignores_weights() {
    let b = Balancer::new(
        Strategy::RoundRobin,
        members(&[("a", 1), ("b", 5), ("c", 9)]),
    );
    let picks: Vec<String> = (0..300).map(|_| pick(&b, b"")).collect();
    let first: HashSet<&String> = picks[..3].iter().collect();
    assert_eq!(first.len(), 3, "{picks:?}");
    for i in 3..picks.len() {
        assert_eq!(picks[i], picks[i - 3], "pick {i} breaks the cycle");
    }
}

#[test]
fn random_covers_every_member_and_follows_weights() {
    let b = Balancer::new(
        Strategy::Random,
        members(&[("a", 1), ("b", 1), ("c", 1), ("d", 1)]),
    );
    let counts = shares(&b, 2000);
    for id in ["a", "b", "c", "d"] {
        assert!(counts.get(id).copied().unwrap_or(0) >= 300, "{counts:?}");
    }
    let b = Balancer::new(Strategy::Random, members(&[("a", 1), ("b", 3)]));
    let share = shares(&b, 10_000)["b"] as f64 / 10_000.0;
    assert!((share - 0.75).abs() <= 0.03, "{share}");
}

#[test]
fn consistent_hash_keeps_a_key_on_one_member_across_rebuilds() {
    let spec = [("a", 1), ("b", 1), ("c", 1), ("d", 1), ("e", 1)];
    let b = Balancer::new(Strategy::ConsistentHash, members(&spec));
    let mut reversed = spec;
    reversed.reverse();
    let again = b.rebuild(Strategy::ConsistentHash, members(&reversed));
    let fresh = Balancer::new(Strategy::ConsistentHash, members(&reversed));
    let mut used = HashSet::new();
    for i in 0..500 {
        let key = format!("user-{i}");
        let first = pick(&b, key.as_bytes());
        assert_eq!(pick(&b, key.as_bytes()), first);
        assert_eq!(pick(&again, key.as_bytes()), first);
        assert_eq!(pick(&fresh, key.as_bytes()), first);
        used.insert(first);
    }
    assert_eq!(used.len(), 5, "every member owns some keys");
}

#[test]
fn consistent_hash_removal_moves_only_the_removed_members_keys() {
    let n = 5;
    let all = [("m0", 1), ("m1", 1), ("m2", 1), ("m3", 1), ("m4", 1)];
    let before = Balancer::new(Strategy::ConsistentHash, members(&all));
    let without: Vec<_> = all.iter().copied().filter(|(id, _)| *id != "m2").collect();
    let after = Balancer::new(Strategy::ConsistentHash, members(&without));
    let (mut moved, mut on_removed) = (0, 0);
    for i in 0..10_000 {
        let key = format!("key-{i}");
        let (was, is) = (pick(&before, key.as_bytes()), pick(&after, key.as_bytes()));
        if was == "m2" {
            on_removed += 1;
        } else {
            assert_eq!(was, is, "{key} moved although its member stayed");
        }
        moved += usize::from(was != is);
    }
    assert_eq!(moved, on_removed);
    assert!(
        moved > 0 && moved as f64 <= 1.5 * 10_000.0 / n as f64,
        "{moved}"
    );
}

#[test]
fn least_connections_picks_the_idle_member() {
    let b = Balancer::new(Strategy::LeastConnections, abc());
    let _a: Vec<_> = (0..5).map(|_| b.in_flight("a")).collect();
    let _c: Vec<_> = (0..2).map(|_| b.in_flight("c")).collect();
    for _ in 0..10 {
        assert_eq!(ids(&b.candidates(b"", |_| true)), ["b", "c", "a"]);
    }
}

#[test]
fn least_connections_counts_load_per_unit_of_weight() {
    let b = Balancer::new(Strategy::LeastConnections, members(&[("a", 4), ("b", 1)]));
    let _a: Vec<_> = (0..3).map(|_| b.in_flight("a")).collect();
    let _b = b.in_flight("b");
    // 3/4 < 1/1
    assert_eq!(pick(&b, b""), "a");
}

#[test]
fn least_connections_sheds_a_slow_member() {
    let b = Balancer::new(
        Strategy::LeastConnections,
        members(&[("slow", 1), ("fast1", 1), ("fast2", 1)]),
    );
    let mut running: Vec<(usize, InFlightGuard)> = Vec::new();
    let mut counts: HashMap<String, usize> = HashMap::new();
    for tick in 0..3000 {
        running.retain(|(ends, _)| *ends > tick);
        for _ in 0..3 {
            let id = pick(&b, b"");
            let took = if id == "slow" { 10 } else { 1 };
            running.push((tick + took, b.in_flight(&id)));
            *counts.entry(id).or_default() += 1;
        }
    }
    let (slow, f1, f2) = (counts["slow"], counts["fast1"], counts["fast2"]);
    // Round robin would give each a third; the slow member holds requests
    // ten times longer, so it gets far fewer.
    assert!(slow * 3 < f1 && slow * 3 < f2, "{counts:?}");
}

#[test]
fn least_connections_spreads_sequential_requests() {
    let b = Balancer::new(Strategy::LeastConnections, abc());
    let counts = shares(&b, 300);
    assert_eq!(counts.values().copied().collect::<Vec<_>>(), [100; 3]);
}

#[test]
fn priority_tries_members_in_configured_order() {
    let b = Balancer::new(Strategy::Priority, abc());
    assert_eq!(ids(&b.candidates(b"", |_| true)), ["a", "b", "c"]);
    assert_eq!(ids(&b.candidates(b"", |v| v != "a")), ["b", "c"]);
    let b = Balancer::new(Strategy::Priority, members(&[("c", 1), ("b", 1), ("a", 1)]));
    assert_eq!(ids(&b.candidates(b"", |_| true)), ["c", "b", "a"]);
}

#[test]
fn candidates_list_every_member_once() {
    for strategy in ALL {
        let b = Balancer::new(strategy, members(&[("a", 1), ("b", 3), ("c", 6), ("d", 2)]));
        for i in 0..50 {
            let list = b.candidates(format!("k{i}").as_bytes(), |_| true);
            let unique: HashSet<&str> = ids(&list).into_iter().collect();
            assert_eq!((list.len(), unique.len()), (4, 4), "{strategy:?}: {list:?}");
        }
    }
}

#[test]
fn refused_members_are_skipped_by_every_strategy() {
    for strategy in ALL {
        let b = Balancer::new(strategy, abc());
        for i in 0..100 {
            let list = b.candidates(format!("k{i}").as_bytes(), |v| v != "b");
            let mut got = ids(&list);
            got.sort_unstable();
            assert_eq!(got, ["a", "c"], "{strategy:?}");
        }
        assert!(b.candidates(b"", |_| false).is_empty(), "{strategy:?}");
    }
}

#[tokio::test]
async fn unhealthy_members_are_skipped_by_every_strategy() {
    for strategy in ALL {
        let b = Balancer::new(strategy, abc());
        b.health().install(Some(Box::new(FailIds(vec!["b"]))));
        b.run_health_pass().await;
        assert_eq!(b.is_healthy("b"), Some(false), "{strategy:?}");
        assert_eq!(b.is_healthy("a"), Some(true), "{strategy:?}");
        for i in 0..100 {
            let list = b.candidates(format!("k{i}").as_bytes(), |_| true);
            assert!(!ids(&list).contains(&"b"), "{strategy:?}: {list:?}");
            assert_eq!(list.len(), 2, "{strategy:?}");
        }
    }
}

#[tokio::test]
async fn rebuild_keeps_health_of_members_that_stay() {
    let b = Balancer::new(Strategy::Weighted, abc());
    b.health().install(Some(Box::new(FailIds(vec!["b"]))));
    b.run_health_pass().await;
    let next = b.rebuild(Strategy::Priority, members(&[("b", 7), ("d", 1), ("a", 1)]));
    drop(b);
    assert_eq!(
        next.is_healthy("b"),
        Some(false),
        "weight change keeps health"
    );
    assert_eq!(ids(&next.candidates(b"", |_| true)), ["d", "a"]);
    // The probe now passes: back at the head of the list.
    next.health().install(None);
    next.run_health_pass().await;
    assert_eq!(ids(&next.candidates(b"", |_| true)), ["b", "d", "a"]);
}

#[test]
fn a_fresh_balancer_starts_all_healthy() {
    let b = Balancer::new(Strategy::Weighted, abc());
    assert_eq!(b.is_healthy("a"), Some(true));
    assert_eq!(b.is_healthy("zz"), None);
}

#[test]
fn in_flight_guard_counts_until_dropped() {
    let b = Balancer::new(Strategy::LeastConnections, abc());
    let g1 = b.in_flight("a");
    let g2 = b.in_flight("a");
    assert_eq!(b.in_flight_count("a"), 2);
    drop(g1);
    assert_eq!(b.in_flight_count("a"), 1);
    let next = b.rebuild(Strategy::Weighted, abc());
    assert_eq!(next.in_flight_count("a"), 1, "rebuilds share the counts");
    drop(g2);
    assert_eq!(next.in_flight_count("a"), 0);
    let _unknown = b.in_flight("nope");
    assert_eq!(b.in_flight_count("nope"), 0);
}

#[test]
fn member_addresses_are_stable_distinct_ula() {
    assert_eq!(member_addr("openai#1"), member_addr("openai#1"));
    let mut seen = HashSet::new();
    for i in 0..1000 {
        let addr = member_addr(&format!("m{i}"));
        match addr {
            SocketAddr::V6(v6) => assert_eq!(v6.ip().octets()[0], 0xfd),
            SocketAddr::V4(_) => panic!("not IPv6: {addr}"),
        }
        assert_ne!(addr.port(), 0);
        assert!(seen.insert(addr), "collision at m{i}");
    }
}

#[test]
fn zero_weight_counts_as_one_and_huge_weight_is_capped() {
    let b = Balancer::new(Strategy::Weighted, members(&[("a", 0), ("b", 1)]));
    let counts = shares(&b, 1000);
    assert_eq!((counts["a"], counts["b"]), (500, 500));
    let b = Balancer::new(Strategy::ConsistentHash, members(&[("a", usize::MAX)]));
    assert_eq!(pick(&b, b"k"), "a");
}

#[test]
fn empty_balancer_has_no_candidates() {
    for strategy in ALL {
        let b: Balancer<String> = Balancer::new(strategy, Vec::new());
        assert!(b.is_empty());
        assert!(b.candidates(b"k", |_| true).is_empty(), "{strategy:?}");
    }
}

#[test]
fn a_repeated_id_keeps_the_first_member() {
    let list = vec![
        Member {
            id: "a".into(),
            weight: 1,
            value: Arc::new("first".to_string()),
        },
        Member {
            id: "a".into(),
            weight: 1,
            value: Arc::new("second".to_string()),
        },
    ];
    let b = Balancer::new(Strategy::Priority, list);
    assert_eq!(b.len(), 1);
    assert_eq!(ids(&b.candidates(b"", |_| true)), ["first"]);
}
