//! The 403s of Bedrock requests signed (or not) over HTTP.

use super::*;
use crate::tests::util::start;
use crate::MockConfig;

const MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";
const TOKEN: &str = "session/token+value==";

async fn signed_mock(aws: AwsAuth) -> MockServer {
    start(MockConfig {
        aws: Some(aws),
        api_key: Some("bedrock-api-key".into()),
        ..MockConfig::default()
    })
    .await
}

fn with_token(expired: bool) -> AwsAuth {
    AwsAuth {
        session_token: Some(TOKEN.into()),
        expired,
        ..creds()
    }
}

#[tokio::test]
async fn a_good_signature_passes_and_the_model_is_recorded_decoded() {
    let mock = signed_mock(creds()).await;
    let res = Outgoing::converse(&mock, &converse_body())
        .signed(&creds())
        .send(&mock)
        .await;
    assert_eq!(res.status(), 200);
    let last = mock.last_request().unwrap();
    assert_eq!(
        last.bedrock_model().unwrap(),
        "anthropic.claude-3-5-sonnet-20241022-v2:0"
    );
}

#[tokio::test]
async fn a_session_token_signed_along_passes() {
    let mock = signed_mock(with_token(false)).await;
    let res = Outgoing::converse(&mock, &converse_body())
        .signed(&with_token(false))
        .send(&mock)
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn the_bedrock_api_key_is_accepted_as_a_bearer_token() {
    let mock = signed_mock(creds()).await;
    let ok = Outgoing::converse(&mock, &converse_body())
        .header("authorization", "Bearer bedrock-api-key")
        .send(&mock)
        .await;
    assert_eq!(ok.status(), 200);
    let bad = Outgoing::converse(&mock, &converse_body())
        .header("authorization", "Bearer wrong")
        .send(&mock)
        .await;
    let (status, kind, _) = error_of(bad).await;
    assert_eq!(
        (status, kind.as_str()),
        (403, "UnrecognizedClientException")
    );
}

#[tokio::test]
async fn unsigned_requests_pass_when_nothing_is_configured() {
    let mock = start(MockConfig::default()).await;
    let res = Outgoing::converse(&mock, &converse_body())
        .send(&mock)
        .await;
    assert_eq!(res.status(), 200);
}

/// Sends `out` to a mock with `aws` and returns (status, type, message).
async fn refused(aws: AwsAuth, out: impl FnOnce(&MockServer) -> Outgoing) -> (u16, String, String) {
    let mock = signed_mock(aws).await;
    let res = out(&mock).send(&mock).await;
    error_of(res).await
}

/// A refused request: name, the mock's credentials, the request, the
/// expected error type and (if checked) message.
type Case<'a> = (
    &'a str,
    AwsAuth,
    Box<dyn FnOnce(&MockServer) -> Outgoing + 'a>,
    &'a str,
    Option<&'a str>,
);

#[tokio::test]
async fn each_bad_signature_gets_aws_s_403() {
    let body = converse_body();
    let wrong_secret = AwsAuth {
        secret_access_key: "other".into(),
        ..creds()
    };
    let unknown_key = AwsAuth {
        access_key_id: "AKIDOTHER".into(),
        ..creds()
    };
    let wrong_region = AwsAuth {
        region: "eu-west-1".into(),
        ..creds()
    };
    let cases: Vec<Case> = vec![
        (
            "missing",
            creds(),
            Box::new(|m| Outgoing::converse(m, &body)),
            "MissingAuthenticationTokenException",
            Some("Missing Authentication Token"),
        ),
        (
            "wrong secret",
            creds(),
            Box::new(|m| Outgoing::converse(m, &body).signed(&wrong_secret)),
            "InvalidSignatureException",
            Some(MISMATCH),
        ),
        (
            "unknown key",
            creds(),
            Box::new(|m| Outgoing::converse(m, &body).signed(&unknown_key)),
            "UnrecognizedClientException",
            Some("The security token included in the request is invalid."),
        ),
        (
            "wrong region",
            creds(),
            Box::new(|m| Outgoing::converse(m, &body).signed(&wrong_region)),
            "InvalidSignatureException",
            None,
        ),
        (
            "missing token",
            with_token(false),
            Box::new(|m| Outgoing::converse(m, &body).signed(&creds())),
            "UnrecognizedClientException",
            Some("The security token included in the request is invalid."),
        ),
        (
            "wrong token",
            with_token(false),
            Box::new(|m| {
                let other = AwsAuth {
                    session_token: Some("other".into()),
                    ..creds()
                };
                Outgoing::converse(m, &body).signed(&other)
            }),
            "UnrecognizedClientException",
            None,
        ),
        (
            "expired",
            with_token(true),
            Box::new(|m| Outgoing::converse(m, &body).signed(&with_token(true))),
            "ExpiredTokenException",
            Some("The security token included in the request is expired"),
        ),
        (
            "tampered body",
            creds(),
            Box::new(|m| {
                let mut out = Outgoing::converse(m, &body).signed(&creds());
                out.req.body = bytes::Bytes::from(body.to_string().replace("Hello", "Howdy"));
                out
            }),
            "InvalidSignatureException",
            Some(MISMATCH),
        ),
        (
            "tampered path",
            creds(),
            Box::new(|m| {
                let mut out = Outgoing::converse(m, &body).signed(&creds());
                out.req.path = "/model/amazon.nova-pro-v1%3A0/converse".into();
                out
            }),
            "InvalidSignatureException",
            Some(MISMATCH),
        ),
    ];
    for (name, aws, out, kind, message) in cases {
        let (status, got_kind, got_message) = refused(aws, out).await;
        assert_eq!(status, 403, "{name}");
        assert_eq!(got_kind, kind, "{name}: {got_message}");
        if let Some(message) = message {
            assert_eq!(got_message, message, "{name}");
        }
    }
}

#[tokio::test]
async fn a_skewed_clock_gets_signature_expired() {
    let body = converse_body();
    let (status, kind, message) = refused(creds(), |m| {
        Outgoing::converse(m, &body).signed_at(&creds(), -600)
    })
    .await;
    assert_eq!((status, kind.as_str()), (403, "InvalidSignatureException"));
    assert!(message.starts_with("Signature expired: "), "{message}");
    assert!(message.ends_with(" - 5 min.)"), "{message}");
    let (_, kind, message) = refused(creds(), |m| {
        Outgoing::converse(m, &body).signed_at(&creds(), 600)
    })
    .await;
    assert_eq!(kind, "InvalidSignatureException");
    assert!(
        message.starts_with("Signature not yet current: "),
        "{message}"
    );
    let ok = signed_mock(creds()).await;
    let res = Outgoing::converse(&ok, &body)
        .signed_at(&creds(), -200)
        .send(&ok)
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn a_scope_date_other_than_the_amz_date_is_refused() {
    let body = converse_body();
    let (status, kind, message) = refused(creds(), |m| {
        let mut out = Outgoing::converse(m, &body).signed(&creds());
        for (name, value) in &mut out.req.headers {
            if name == "authorization" {
                let date = &format_amz_date(unix_now())[..8];
                *value = value.replace(&format!("/{date}/"), "/20150830/");
            }
        }
        out
    })
    .await;
    assert_eq!((status, kind.as_str()), (403, "InvalidSignatureException"));
    assert!(
        message.starts_with("Date in Credential scope does not match"),
        "{message}"
    );
}
