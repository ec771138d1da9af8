#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

fn scope(scope: Scope, name: &str, daily: Option<f64>) -> Budgeted {
    Budgeted {
        scope,
        name: name.into(),
        budget: Budget {
            daily,
            monthly: None,
            alerts: vec![0.5, 0.8],
            degrade: None,
        },
    }
}

#[test]
fn counters_name_the_scope_and_the_utc_day_and_month() {
    let now = Utc.with_ymd_and_hms(2026, 11, 26, 23, 59, 0).unwrap();
    let [(d, _), (m, _)] = counters(Scope::Key, "team", now);
    // A key's counters keep their names from before other scopes.
    assert_eq!(d, "spend:team:d:2026-11-26");
    assert_eq!(m, "spend:team:m:2026-11");
    let names = [
        (Scope::Gateway, "spend@gateway:d:2026-11-26"),
        (Scope::Route, "spend@route:team:d:2026-11-26"),
        (Scope::Provider, "spend@provider:team:d:2026-11-26"),
    ];
    for (s, want) in names {
        assert_eq!(counters(s, "team", now)[0].0, want);
    }
    let (day, month) = period_starts(now);
    assert_eq!(
        day,
        Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0)
            .unwrap()
            .timestamp_millis()
    );
    assert_eq!(
        month,
        Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
            .unwrap()
            .timestamp_millis()
    );
}

#[tokio::test]
async fn spending_a_budget_refuses_the_next_request_naming_the_scope() {
    for (s, name, said) in [
        (Scope::Key, "k", "The API key `k`"),
        (Scope::Gateway, "", "The gateway"),
        (Scope::Route, "chat", "The route `chat`"),
    ] {
        let store = StateStore::memory();
        let b = scope(s, name, Some(0.01));
        check(&store, std::slice::from_ref(&b)).await.unwrap();
        charge(&store, &[&b], 0.006).await;
        check(&store, std::slice::from_ref(&b)).await.unwrap();
        charge(&store, &[&b], 0.006).await;
        let e = check(&store, &[b]).await.unwrap_err();
        assert_eq!(e.status(), 429);
        assert_eq!(e.code(), Some("insufficient_quota"));
        assert!(e.to_string().starts_with(said), "{e}");
        assert!(e.to_string().contains("daily budget"), "{e}");
    }
}

#[tokio::test]
async fn a_spent_provider_is_avoided_not_refused() {
    let store = StateStore::memory();
    let p = scope(Scope::Provider, "openai", Some(1.0));
    let other = scope(Scope::Provider, "anthropic", Some(1.0));
    charge(&store, &[&p], 1.0).await;
    let gate = check(&store, &[p, other]).await.unwrap();
    assert_eq!(gate.over, vec!["openai".to_string()]);
    assert_eq!(gate.degrade, None);
}

#[tokio::test]
async fn a_degrading_route_past_its_threshold_keeps_serving_with_a_ceiling() {
    let store = StateStore::memory();
    let mut r = scope(Scope::Route, "chat", Some(10.0));
    let ceiling = Degrade {
        at: 0.8,
        max_input_price: None,
        max_output_price: Some(1.0),
    };
    r.budget.degrade = Some(ceiling);
    charge(&store, &[&r], 7.9).await;
    assert_eq!(
        check(&store, std::slice::from_ref(&r)).await.unwrap(),
        Gate::default()
    );
    charge(&store, &[&r], 0.2).await;
    let gate = check(&store, std::slice::from_ref(&r)).await.unwrap();
    let d = gate.degrade.unwrap();
    assert_eq!(
        (d.route.as_str(), d.period, d.ceiling),
        ("chat", "daily", ceiling)
    );
    // Past the whole budget too: still degraded, never refused.
    charge(&store, &[&r], 5.0).await;
    assert!(check(&store, &[r]).await.unwrap().degrade.is_some());
}

#[tokio::test]
async fn each_threshold_fires_once_on_the_request_that_crosses_it() {
    let store = StateStore::memory();
    let b = scope(Scope::Gateway, "", Some(10.0));
    assert!(charge(&store, &[&b], 4.0).await.is_empty());
    let crossed = charge(&store, &[&b], 4.5).await;
    let thresholds: Vec<f64> = crossed.iter().map(|a| a.threshold).collect();
    assert_eq!(thresholds, vec![0.5, 0.8]);
    assert_eq!(crossed[1].percent(), "80%");
    assert_eq!(crossed[1].period, "daily");
    assert!((crossed[1].spent - 8.5).abs() < 1e-9);
    assert!(charge(&store, &[&b], 1.0).await.is_empty());
    assert!(charge(&store, &[&b], 10.0).await.is_empty());
}

#[test]
fn an_alert_event_says_what_crossed_what() {
    let a = Alert {
        scope: Scope::Route,
        name: "chat".into(),
        period: "monthly",
        threshold: 0.5,
        spent: 51.0,
        budget: 100.0,
    };
    let now = Utc.with_ymd_and_hms(2026, 12, 7, 8, 0, 0).unwrap();
    let e = a.event(now);
    assert_eq!(e["type"], "budget.threshold_crossed");
    assert_eq!(e["scope"], "route");
    assert_eq!(e["name"], "chat");
    assert_eq!(e["period_start"], "2026-12");
    assert_eq!(e["threshold_percent"], "50%");
    for (threshold, shown) in [
        (0.125, "12.5%"),
        (0.00001, "0.001%"),
        (1.0, "100%"),
        (0.8, "80%"),
    ] {
        assert_eq!(
            Alert {
                threshold,
                ..a.clone()
            }
            .percent(),
            shown
        );
    }
    assert_eq!(e["spent_usd"], 51.0);
    assert_eq!(e["budget_usd"], 100.0);
}

#[tokio::test]
async fn seeding_restores_each_scopes_spend_from_the_ledger() {
    let store = StateStore::memory();
    let k = scope(Scope::Key, "k", Some(1.0));
    let r = scope(Scope::Route, "k", Some(1.0));
    let sums = Sums {
        day: vec![(Scope::Key, "k".into(), 1.5)],
        month: vec![(Scope::Key, "k".into(), 1.5)],
    };
    seed(&store, &[k.clone(), r.clone()], &sums).await;
    assert!(check(&store, &[k]).await.is_err());
    // The route of the same name is its own scope.
    assert!(check(&store, &[r]).await.is_ok());
}
