use super::*;
use serde_json::json;

#[test]
fn session_header_then_conversation() {
    let mut headers = HeaderMap::new();
    let body = json!({"messages": [{"role": "user", "content": "a"}]});
    let by_conversation = HashKey::Session.extract(&headers, &body);
    let mut longer = body.clone();
    longer["messages"].as_array_mut().unwrap().extend([
        json!({"role": "assistant", "content": "b"}),
        json!({"role": "user", "content": "c"}),
    ]);
    let first_two =
        json!({"messages": [longer["messages"][0].clone(), longer["messages"][1].clone()]});
    assert_eq!(
        HashKey::Session.extract(&headers, &longer),
        HashKey::Session.extract(&headers, &first_two)
    );
    headers.insert("x-claude-code-session-id", "s1".parse().unwrap());
    assert_eq!(HashKey::Session.extract(&headers, &body), b"s1");
    assert_ne!(HashKey::Session.extract(&headers, &body), by_conversation);
}

#[test]
fn parse_and_other_keys() {
    assert_eq!(
        HashKey::parse("header:X-Tenant"),
        Ok(HashKey::Header("x-tenant".into()))
    );
    assert!(HashKey::parse("nope").is_err());
    let body = json!({"user": "u1", "messages": []});
    assert_eq!(HashKey::User.extract(&HeaderMap::new(), &body), b"u1");
    let mut h = HeaderMap::new();
    h.insert("authorization", "Bearer k".parse().unwrap());
    assert_eq!(HashKey::ClientKey.extract(&h, &body).len(), 32);
}
