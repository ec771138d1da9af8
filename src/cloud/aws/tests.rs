use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;

use super::profile::parse_section;
use super::{region_of_host, Env, Settings, Signer};
use crate::upstream::call::{Outgoing, RequestHead};
use crate::upstream::Upstream;

struct FakeEnv(HashMap<&'static str, String>);

impl Env for FakeEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

fn env(pairs: &[(&'static str, &str)]) -> FakeEnv {
    FakeEnv(pairs.iter().map(|(k, v)| (*k, v.to_string())).collect())
}

fn keys(id: &str, secret: &str) -> Settings {
    Settings {
        access_key_id: Some(id.into()),
        secret_access_key: Some(secret.into()),
        region: Some("us-east-1".into()),
        ..Settings::default()
    }
}

fn outgoing(upstream: &Upstream, body: &str) -> Outgoing {
    let head = RequestHead::new(
        http::Method::POST,
        upstream,
        "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse",
        &[("content-type".into(), "application/json".into())],
    )
    .unwrap();
    Outgoing {
        head: Arc::new(head),
        body: Bytes::from(body.to_string()),
        form: None,
        extra_headers: Vec::new(),
    }
}

fn header<'a>(out: &'a Outgoing, name: &str) -> Option<&'a str> {
    out.head
        .headers
        .iter()
        .find(|(n, _)| n.as_str() == name)
        .and_then(|(_, v)| v.to_str().ok())
}

#[test]
fn regions_are_read_from_aws_hosts() {
    assert_eq!(
        region_of_host("bedrock-runtime.us-west-2.amazonaws.com"),
        Some("us-west-2")
    );
    assert_eq!(
        region_of_host("bedrock-runtime-fips.us-east-1.amazonaws.com"),
        Some("us-east-1")
    );
    assert_eq!(
        region_of_host("bedrock-runtime.cn-north-1.amazonaws.com.cn"),
        Some("cn-north-1")
    );
    assert_eq!(
        region_of_host("vpce-0a1b2c-xyz.bedrock-runtime.eu-west-3.vpce.amazonaws.com"),
        Some("eu-west-3")
    );
    assert_eq!(
        region_of_host("bedrock-runtime.us-gov-west-1.amazonaws.com"),
        Some("us-gov-west-1")
    );
    assert_eq!(region_of_host("127.0.0.1"), None);
    assert_eq!(region_of_host("amazonaws.com"), None);
}

#[test]
fn a_signature_covers_time_region_service_token_and_body() {
    let upstream = Upstream::parse("https://bedrock-runtime.eu-central-1.amazonaws.com").unwrap();
    let mut settings = keys("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
    settings.session_token = Some("session-token-1234".into());
    let signer = Signer::new(&settings, &env(&[])).unwrap();
    let at = UNIX_EPOCH + Duration::from_secs(1_440_938_160); // 2015-08-30T12:36:00Z
    let mut a = outgoing(&upstream, r#"{"messages":[]}"#);
    signer.sign_at(&upstream, &mut a, at).unwrap();
    let auth = header(&a, "authorization").unwrap();
    assert!(
        auth.starts_with(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/eu-central-1/bedrock/aws4_request, SignedHeaders="
        ),
        "{auth}"
    );
    assert!(
        auth.contains("content-type;host;x-amz-date;x-amz-security-token"),
        "{auth}"
    );
    assert_eq!(header(&a, "x-amz-date"), Some("20150830T123600Z"));
    assert_eq!(
        header(&a, "x-amz-security-token"),
        Some("session-token-1234")
    );
    // The credential headers are marked sensitive (never logged by `http`).
    assert!(a
        .head
        .headers
        .iter()
        .filter(|(n, _)| n == "authorization" || n == "x-amz-security-token")
        .all(|(_, v)| v.is_sensitive()));
    // Same request, same time: same signature; another body: another one.
    let mut b = outgoing(&upstream, r#"{"messages":[]}"#);
    signer.sign_at(&upstream, &mut b, at).unwrap();
    assert_eq!(header(&b, "authorization"), Some(auth));
    let mut c = outgoing(&upstream, r#"{"messages":[1]}"#);
    signer.sign_at(&upstream, &mut c, at).unwrap();
    assert_ne!(header(&c, "authorization"), Some(auth));
}

#[test]
fn the_region_falls_back_to_the_configured_one_off_aws_hosts() {
    let upstream = Upstream::parse("http://127.0.0.1:9").unwrap();
    let mut settings = keys("AKID", "secret");
    settings.region = Some("ap-south-1".into());
    let signer = Signer::new(&settings, &env(&[])).unwrap();
    let mut out = outgoing(&upstream, "{}");
    signer.sign(&upstream, &mut out).unwrap();
    assert!(header(&out, "authorization")
        .unwrap()
        .contains("/ap-south-1/bedrock/aws4_request"));
}

#[test]
fn keys_come_from_the_config_then_the_environment() {
    let e = env(&[
        ("AWS_ACCESS_KEY_ID", "ENVKEY"),
        ("AWS_SECRET_ACCESS_KEY", "envsecret"),
        ("AWS_SESSION_TOKEN", "envtoken"),
        ("AWS_REGION", "eu-west-1"),
    ]);
    let from_env = Signer::new(&Settings::default(), &e).unwrap();
    assert_eq!(from_env.credentials().access_key_id, "ENVKEY");
    assert_eq!(from_env.region(), "eu-west-1");
    let secrets: Vec<String> = from_env
        .secrets()
        .into_iter()
        .map(|s| s.into_owned())
        .collect();
    assert!(
        secrets.contains(&"envsecret".to_string()) && secrets.contains(&"envtoken".to_string())
    );
    let configured = Signer::new(&keys("CFGKEY", "cfgsecret"), &e).unwrap();
    assert_eq!(configured.credentials().access_key_id, "CFGKEY");
    assert_eq!(configured.region(), "us-east-1");
    let half = Settings {
        access_key_id: Some("X".into()),
        ..Settings::default()
    };
    let err = Signer::new(&half, &e).unwrap_err();
    assert!(
        err.starts_with("aws: access_key_id and secret_access_key go together"),
        "{err}"
    );
}

#[test]
fn no_credentials_anywhere_says_where_it_looked() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().to_string_lossy().to_string();
    let err = Signer::new(&Settings::default(), &env(&[("HOME", &home)])).unwrap_err();
    assert!(err.contains("no AWS credentials"), "{err}");
    assert!(err.contains(".aws/credentials"), "{err}");
}

#[test]
fn profiles_are_read_from_both_files_and_again_when_they_change() {
    let dir = tempfile::tempdir().unwrap();
    let aws = dir.path().join(".aws");
    std::fs::create_dir_all(&aws).unwrap();
    let creds = aws.join("credentials");
    std::fs::write(
        &creds,
        "# comment\n[default]\naws_access_key_id = DEFAULTKEY\naws_secret_access_key = d\n\n[prod]\naws_access_key_id=PRODKEY\naws_secret_access_key = p1\naws_session_token = t1\n",
    )
    .unwrap();
    std::fs::write(
        aws.join("config"),
        "[profile prod]\nregion = sa-east-1\ns3 =\n  region = xx\n[profile only-config]\naws_access_key_id = CFGONLY\naws_secret_access_key = c\n",
    )
    .unwrap();
    let home = dir.path().to_string_lossy().to_string();
    let e = env(&[("HOME", &home), ("AWS_PROFILE", "prod")]);
    let signer = Signer::new(&Settings::default(), &e).unwrap();
    assert_eq!(signer.credentials().access_key_id, "PRODKEY");
    assert_eq!(signer.region(), "sa-east-1");
    let other = Settings {
        profile: Some("only-config".into()),
        ..Settings::default()
    };
    assert_eq!(
        Signer::new(&other, &e).unwrap().credentials().access_key_id,
        "CFGONLY"
    );
    // Rotated by another tool: read again after a refusal.
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(
        &creds,
        "[prod]\naws_access_key_id = ROTATED\naws_secret_access_key = p2\n",
    )
    .unwrap();
    signer.refused();
    let now = signer.credentials();
    assert_eq!(now.access_key_id, "ROTATED");
    assert!(now.session_token.is_none());
}

#[test]
fn ini_sections_follow_aws_rules() {
    let text = "[default]\naws_access_key_id = A\n[profile dev]\naws_access_key_id = B\n[dev]\naws_access_key_id = C\n";
    assert_eq!(
        parse_section(text, "dev", true).unwrap().as_deref(),
        Some("B")
    );
    assert_eq!(
        parse_section(text, "dev", false).unwrap().as_deref(),
        Some("C")
    );
    assert_eq!(
        parse_section(text, "default", true).unwrap().as_deref(),
        Some("A")
    );
    assert!(parse_section(text, "missing", false).is_none());
}

/// The signature of `path` (and its query) as AWS's own full signer makes it.
fn reference(
    upstream: &Upstream,
    out: &Outgoing,
    region: &str,
    token: Option<&str>,
    at: std::time::SystemTime,
) -> String {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
    use aws_smithy_runtime_api::client::identity::Identity;
    let identity: Identity = aws_credential_types::Credentials::new(
        "AKIDEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        token.map(str::to_string),
        None,
        "test",
    )
    .into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("bedrock")
        .time(at)
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let headers: Vec<(&str, &str)> = out
        .head
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.to_str().unwrap()))
        .collect();
    let uri = format!("https://{}{}", upstream.authority, out.head.target);
    let signable = SignableRequest::new(
        out.head.method.as_str(),
        uri,
        headers.into_iter(),
        SignableBody::Bytes(&out.body),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let authorization = instructions
        .headers()
        .find(|(n, _)| *n == "authorization")
        .map(|(_, v)| v.to_string());
    authorization.unwrap()
}

#[test]
fn signatures_equal_those_of_awss_own_signer() {
    let upstream = Upstream::parse("https://bedrock-runtime.us-west-2.amazonaws.com").unwrap();
    let paths = [
        "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse",
        "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse-stream",
        "/model/arn%3Aaws%3Abedrock%3Aus-west-2%3A123456789012%3Ainference-profile%2Fx/converse",
        "/v1/some path?b=2&a=1&a=0&c=%20x",
        "/",
    ];
    let bodies = [
        "",
        "{}",
        r#"{"messages":[{"role":"user","content":[{"text":"héllo"}]}]}"#,
    ];
    for (i, path) in paths.iter().enumerate() {
        for (j, body) in bodies.iter().enumerate() {
            for token in [None, Some("FwoGZXIvYXdzEBY+/=token")] {
                let mut settings = keys("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
                settings.session_token = token.map(str::to_string);
                let signer = Signer::new(&settings, &env(&[])).unwrap();
                let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000 + (i * 86_400 + j) as u64);
                let head = RequestHead::new(
                    http::Method::POST,
                    &upstream,
                    &path.replace(' ', "%20"),
                    &[("content-type".into(), "application/json".into())],
                )
                .unwrap();
                let mut out = Outgoing {
                    head: Arc::new(head),
                    body: Bytes::from(body.to_string()),
                    form: None,
                    extra_headers: Vec::new(),
                };
                let want = reference(&upstream, &out, "us-west-2", token, at);
                signer.sign_at(&upstream, &mut out, at).unwrap();
                assert_eq!(
                    header(&out, "authorization"),
                    Some(want.as_str()),
                    "{path} {body:?} {token:?}"
                );
            }
        }
    }
}

#[test]
fn the_signing_key_is_derived_again_when_the_day_changes() {
    let upstream = Upstream::parse("https://bedrock-runtime.us-west-2.amazonaws.com").unwrap();
    let signer = Signer::new(
        &keys("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
        &env(&[]),
    )
    .unwrap();
    for day in [0u64, 0, 1, 2, 1] {
        let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000 + day * 86_400);
        let mut out = outgoing(&upstream, "{}");
        let want = reference(&upstream, &out, "us-west-2", None, at);
        signer.sign_at(&upstream, &mut out, at).unwrap();
        assert_eq!(
            header(&out, "authorization"),
            Some(want.as_str()),
            "day {day}"
        );
    }
}
