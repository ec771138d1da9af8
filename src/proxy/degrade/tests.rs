use super::*;

#[test]
fn only_failures_another_provider_could_fix_are_degraded() {
    let upstream = |status| GatewayError::Upstream {
        status,
        message: "x".into(),
        code: None,
        retry_after: None,
    };
    assert!(providers_down(&upstream(503)));
    assert!(providers_down(&upstream(429)));
    assert!(providers_down(&GatewayError::NoUsableProvider("x".into())));
    assert!(providers_down(&GatewayError::UpstreamTimeout("x".into())));
    assert!(!providers_down(&upstream(400)));
    assert!(!providers_down(&GatewayError::bad_request("x")));
    assert!(!providers_down(&GatewayError::Unsupported("x".into())));
}

#[test]
fn the_fallback_is_a_stopped_free_chat_completion() {
    let f = Fallback {
        message: "busy, try later".into(),
    };
    let a = fallback_answer(&f, "gpt-4o", "req-1");
    let body: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "busy, try later");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(body["model"], "gpt-4o");
    assert_eq!(body["usage"]["total_tokens"], 0);
    assert_eq!(a.usage().prompt + a.usage().completion, 0);
}
