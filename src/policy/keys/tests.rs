use super::*;

fn auth_with(key: &str, enabled: bool) -> Auth {
    let k = Arc::new(VirtualKey {
        name: "team-a".into(),
        hash: crate::auth::hash_key(key),
        enabled,
        routes: vec![],
        models: vec![],
        rpm: None,
        tpm: None,
        budget: Default::default(),
        metadata: Default::default(),
    });
    let mut auth = Auth {
        enabled: true,
        ..Auth::default()
    };
    auth.by_hash.insert(k.hash.clone(), k.clone());
    auth.keys.push(k);
    auth
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(*k, v.parse().unwrap());
    }
    h
}

#[test]
fn bearer_key_is_accepted_and_wrong_or_missing_is_401() {
    let auth = auth_with("sk-sy-right-key-0123456789", true);
    let ok = headers(&[("authorization", "Bearer sk-sy-right-key-0123456789")]);
    let key = authenticate(&auth, &ok, Dialect::OpenAi).unwrap().unwrap();
    assert_eq!(key.name, "team-a");
    let wrong = headers(&[("authorization", "Bearer sk-sy-wrong-key-0123456789")]);
    let e = authenticate(&auth, &wrong, Dialect::OpenAi).unwrap_err();
    assert_eq!(e.status(), 401);
    assert!(!e.to_string().contains("wrong-key-0123"), "{e}");
    let e = authenticate(&auth, &HeaderMap::new(), Dialect::OpenAi).unwrap_err();
    assert_eq!(e.status(), 401);
}

#[test]
fn x_api_key_counts_on_the_anthropic_endpoint_only() {
    let auth = auth_with("sk-sy-right-key-0123456789", true);
    let h = headers(&[("x-api-key", "sk-sy-right-key-0123456789")]);
    assert!(authenticate(&auth, &h, Dialect::Anthropic).is_ok());
    assert_eq!(
        authenticate(&auth, &h, Dialect::OpenAi)
            .unwrap_err()
            .status(),
        401
    );
}

#[test]
fn disabled_key_is_403_and_auth_off_lets_anyone_in() {
    let auth = auth_with("sk-sy-right-key-0123456789", false);
    let ok = headers(&[("authorization", "Bearer sk-sy-right-key-0123456789")]);
    assert_eq!(
        authenticate(&auth, &ok, Dialect::OpenAi)
            .unwrap_err()
            .status(),
        403
    );
    assert!(
        authenticate(&Auth::default(), &HeaderMap::new(), Dialect::OpenAi)
            .unwrap()
            .is_none()
    );
}
