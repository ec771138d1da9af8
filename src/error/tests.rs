use super::*;

#[test]
fn upstream_4xx_keeps_status_and_5xx_becomes_502() {
    let e = GatewayError::Upstream {
        status: 422,
        message: "bad".into(),
        code: None,
        retry_after: None,
    };
    assert_eq!(e.status(), 422);
    let e = GatewayError::Upstream {
        status: 503,
        message: "down".into(),
        code: None,
        retry_after: None,
    };
    assert_eq!(e.status(), 502);
    assert!(e.is_retryable());
}

#[test]
fn body_has_openai_shape() {
    let body = GatewayError::UnknownModel("nope".into()).body();
    assert_eq!(body["error"]["code"], "model_not_found");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(body["error"]["param"], "model");
}

#[test]
fn redact_hides_secrets() {
    assert_eq!(redact("key sk-abc123 bad", &["sk-abc123"]), "key *** bad");
    assert_eq!(redact("short", &["ab"]), "short");
}
