use super::*;

fn clean(r: &Redactor, line: &str) -> String {
    String::from_utf8(r.redact(line.as_bytes())).unwrap()
}

#[test]
fn known_secrets_are_masked_wherever_they_appear() {
    let r = Redactor::new(["sk-provider-secret-1", "admin-key-0123456789", "abc"]);
    let line = "connect with sk-provider-secret-1 then admin-key-0123456789; abc stays";
    assert_eq!(clean(&r, line), "connect with *** then ***; abc stays");
}

#[test]
fn a_secret_containing_another_is_masked_whole() {
    let r = Redactor::new(["secret-part", "my-secret-part-and-more"]);
    assert_eq!(clean(&r, "x my-secret-part-and-more y"), "x *** y");
}

#[test]
fn credential_headers_are_masked_in_every_shape_pingora_prints() {
    let r = Redactor::default();
    // An http::HeaderMap's Debug.
    let map = r#"headers: {"host": "gw", "authorization": "Bearer sk-sy-AbCdEf0123456789", "x-api-key": "k-1234567"}"#;
    let out = clean(&r, map);
    assert!(
        !out.contains("AbCdEf") && !out.contains("k-1234567"),
        "{out}"
    );
    assert!(out.contains(r#""authorization": "***""#), "{out}");
    assert!(out.contains(r#""host": "gw""#), "{out}");
    // Wire bytes' Debug: CRLF escaped.
    let wire = r#"Writing request header: b"POST /v1/messages HTTP/1.1\r\nx-api-key: sk-ant-secret\r\nX-Goog-Api-Key: AIzaSecret\r\nCookie: session=abc\r\n\r\n""#;
    let out = clean(&r, wire);
    for leaked in ["sk-ant-secret", "AIzaSecret", "session=abc"] {
        assert!(!out.contains(leaked), "{leaked} in {out}");
    }
    assert!(out.contains(r"x-api-key: ***\r\n"), "{out}");
}

#[test]
fn client_keys_and_key_parameters_are_masked_by_shape() {
    let r = Redactor::default();
    let out = clean(
        &r,
        "key sk-sy-6vQ0m0aaaaBBBB in /v1beta/models/x:generateContent?alt=sse&key=AIzaXYZ done",
    );
    assert_eq!(
        out,
        "key sk-sy-*** in /v1beta/models/x:generateContent?alt=sse&key=*** done"
    );
    // The access log's `key` field is a key's name, not a key.
    assert_eq!(
        clean(&r, "key=team-a route=smart"),
        "key=team-a route=smart"
    );
}

#[test]
fn lines_without_secrets_are_unchanged() {
    let r = Redactor::new(["sk-provider-secret-1"]);
    let line = "request_id=req_1 route=smart provider=openai status=200 latency_ms=12";
    assert_eq!(clean(&r, line), line);
}
