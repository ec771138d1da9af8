use super::*;

#[test]
fn answers_are_complete_http_with_openai_errors() {
    let err = GatewayError::Overloaded("busy".into());
    let text = String::from_utf8(response(&err)).unwrap();
    assert!(
        text.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
        "{text}"
    );
    assert!(text.contains("\r\nretry-after: 1\r\n"), "{text}");
    let (_, body) = text.split_once("\r\n\r\n").unwrap();
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["error"]["type"], "service_unavailable");
    let text = String::from_utf8(response(&GatewayError::head_too_large(8))).unwrap();
    assert!(
        text.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
        "{text}"
    );
}
