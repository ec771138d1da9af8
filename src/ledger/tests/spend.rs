//! Spend sums: per key, route or provider, and in total, since a time.
//! Each `fn` runs on both backends. Costs are binary fractions, so sums
//! compare exactly.

use std::collections::HashMap;

use super::{rec, slow, TestDb};
use crate::ledger::{Ledger, SpendBy, UsageRecord};

/// 2024-01-01T00:00:00Z: the `since_ms` of most checks.
const T0: i64 = 1_704_067_200_000;

/// One record before `T0` (costly, so counting it would show), then five
/// at or after it, among them one without a key and provider and one
/// without a route.
fn seed(ledger: &Ledger) {
    let r = |at: i64, key: &str, route: &str, provider: &str, cost: f64| UsageRecord {
        at_ms: at,
        key: key.into(),
        route: route.into(),
        provider: provider.into(),
        cost_usd: cost,
        ..rec(format!("r{at}"))
    };
    ledger.record(r(T0 - 1, "alice", "smart", "openai", 100.0));
    ledger.record(r(T0, "alice", "smart", "openai", 1.0));
    ledger.record(r(T0 + 10, "alice", "cheap", "anthropic", 2.0));
    ledger.record(r(T0 + 20, "bob", "cheap", "openai", 0.5));
    ledger.record(r(T0 + 30, "", "smart", "", 0.25));
    ledger.record(r(T0 + 40, "carol", "", "anthropic", 4.0));
    ledger.flush().unwrap();
}

fn sums(pairs: &[(&str, f64)]) -> HashMap<String, f64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

fn spend_by_sums_each_column_since(db: TestDb) {
    let ledger = db.open(slow());
    seed(&ledger);
    let cases = [
        (
            SpendBy::Key,
            T0,
            sums(&[("alice", 3.0), ("bob", 0.5), ("carol", 4.0)]),
        ),
        (SpendBy::Route, T0, sums(&[("smart", 1.25), ("cheap", 2.5)])),
        (
            SpendBy::Provider,
            T0,
            sums(&[("openai", 1.5), ("anthropic", 6.0)]),
        ),
        (SpendBy::Key, T0 + 11, sums(&[("bob", 0.5), ("carol", 4.0)])),
        (
            SpendBy::Route,
            T0 + 11,
            sums(&[("cheap", 0.5), ("smart", 0.25)]),
        ),
        (
            SpendBy::Provider,
            T0 + 11,
            sums(&[("openai", 0.5), ("anthropic", 4.0)]),
        ),
        (SpendBy::Key, T0 + 1000, sums(&[])),
        (SpendBy::Route, T0 + 1000, sums(&[])),
        (SpendBy::Provider, T0 + 1000, sums(&[])),
    ];
    for (by, since, want) in cases {
        assert_eq!(
            ledger.spend_by(by, since).unwrap(),
            want,
            "{by:?} since {since}"
        );
    }
}

fn spend_by_key_is_spend_by_key_column(db: TestDb) {
    let ledger = db.open(slow());
    seed(&ledger);
    for since in [T0 - 1, T0, T0 + 21, T0 + 1000] {
        assert_eq!(
            ledger.spend_by_key(since).unwrap(),
            ledger.spend_by(SpendBy::Key, since).unwrap()
        );
    }
    assert_eq!(
        ledger.spend_by_key(T0 - 1).unwrap(),
        sums(&[("alice", 103.0), ("bob", 0.5), ("carol", 4.0)])
    );
}

fn spend_total_sums_every_record_since(db: TestDb) {
    let ledger = db.open(slow());
    assert_eq!(ledger.spend_total(0).unwrap(), 0.0, "an empty ledger");
    seed(&ledger);
    // Records without a key, route or provider count in the total.
    assert_eq!(ledger.spend_total(T0).unwrap(), 7.75);
    assert_eq!(ledger.spend_total(T0 - 1).unwrap(), 107.75);
    assert_eq!(ledger.spend_total(T0 + 11).unwrap(), 4.75);
    assert_eq!(ledger.spend_total(T0 + 1000).unwrap(), 0.0);
}

both!(
    spend_by_sums_each_column_since,
    spend_by_key_is_spend_by_key_column,
    spend_total_sums_every_record_since,
);
