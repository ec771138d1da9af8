use super::*;

#[test]
fn durations_look_like_openais() {
    assert_eq!(openai_duration(Duration::from_millis(20)), "20ms");
    assert_eq!(openai_duration(Duration::from_millis(1500)), "1.5s");
    assert_eq!(openai_duration(Duration::from_secs(1)), "1s");
    assert_eq!(openai_duration(Duration::from_secs(360)), "6m0s");
}

#[tokio::test]
async fn rpm_admits_up_to_the_limit_then_refuses_with_retry_after() {
    let store = StateStore::memory();
    let limits = Limits {
        rpm: Some(3),
        tpm: None,
    };
    for _ in 0..3 {
        let adm = admit(&store, &[(Scope::Key, "k", limits)], 10)
            .await
            .unwrap();
        assert_eq!(adm.headers[0], ("x-ratelimit-limit-requests", "3".into()));
    }
    let refusal = admit(&store, &[(Scope::Key, "k", limits)], 10)
        .await
        .unwrap_err();
    assert_eq!(
        refusal.headers[1],
        ("x-ratelimit-remaining-requests", "0".into())
    );
    let e = refusal.error;
    assert_eq!(e.status(), 429);
    assert!(e.retry_after().is_some());
    assert!(e.to_string().contains("RPM"), "{e}");
}

#[tokio::test]
async fn a_refusal_gives_back_what_earlier_scopes_took() {
    let store = StateStore::memory();
    let key = Limits {
        rpm: Some(2),
        tpm: None,
    };
    let route = Limits {
        rpm: Some(1),
        tpm: None,
    };
    admit(
        &store,
        &[(Scope::Key, "k", key), (Scope::Route, "r", route)],
        1,
    )
    .await
    .unwrap();
    // The route refuses; the key's request must be given back.
    admit(
        &store,
        &[(Scope::Key, "k", key), (Scope::Route, "r", route)],
        1,
    )
    .await
    .unwrap_err();
    let only_key = admit(&store, &[(Scope::Key, "k", key)], 1).await.unwrap();
    assert_eq!(only_key.headers[1].1, "0");
}

#[tokio::test]
async fn tpm_reserves_the_estimate_and_settles_on_usage() {
    let store = StateStore::memory();
    let limits = Limits {
        rpm: None,
        tpm: Some(1000),
    };
    let scopes = [(Scope::Key, "k", limits)];
    let adm = admit(&store, &scopes, 900).await.unwrap();
    // 900 reserved: another 900 does not fit.
    assert!(admit(&store, &scopes, 900).await.is_err());
    // The request really used 100: 800 come back.
    settle(&store, &adm, Some(100)).await;
    assert!(admit(&store, &scopes, 800).await.is_ok());
    let too_big = admit(&store, &scopes, 5000).await.unwrap_err().error;
    assert!(
        too_big.to_string().contains("Request too large"),
        "{too_big}"
    );
}
