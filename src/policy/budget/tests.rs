use super::*;

fn key(daily: Option<f64>) -> VirtualKey {
    VirtualKey {
        name: "k".into(),
        hash: String::new(),
        enabled: true,
        routes: vec![],
        models: vec![],
        rpm: None,
        tpm: None,
        daily_budget: daily,
        monthly_budget: None,
        metadata: Default::default(),
    }
}

#[test]
fn counters_name_the_utc_day_and_month() {
    let now = Utc.with_ymd_and_hms(2026, 11, 26, 23, 59, 0).unwrap();
    let [(d, _), (m, _)] = counters("team", now);
    assert_eq!(d, "spend:team:d:2026-11-26");
    assert_eq!(m, "spend:team:m:2026-11");
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
async fn spending_the_budget_refuses_the_next_request() {
    let store = StateStore::memory();
    let k = key(Some(0.01));
    check(&store, &k).await.unwrap();
    charge(&store, &k, 0.006).await;
    check(&store, &k).await.unwrap();
    charge(&store, &k, 0.006).await;
    let e = check(&store, &k).await.unwrap_err();
    assert_eq!(e.status(), 429);
    assert_eq!(e.code(), Some("insufficient_quota"));
}

#[tokio::test]
async fn seeding_restores_spend_from_the_ledger() {
    let store = StateStore::memory();
    let k = key(Some(1.0));
    seed(&store, &[&k], &[("k".into(), 1.5)], &[("k".into(), 1.5)]).await;
    assert!(check(&store, &k).await.is_err());
}
