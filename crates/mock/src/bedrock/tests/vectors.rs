//! `sigv4` against AWS's SigV4 test suite (the CRT suite as vendored in
//! smithy-rs, `aws/rust-runtime/aws-sigv4/aws-signing-test-suite/v4`),
//! copied to `bedrock/vectors/`: the canonical request, string to sign and
//! signature of each header-signed request, and `verify` at the suite's
//! time. Only `normalize: true` vectors (the rules of every service but S3)
//! are used; `double-url-encode` checks the second encoding of a path that
//! arrives encoded (`%3A` → `%253A`).

use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use serde_json::Value;

use super::super::sigv4::{
    canonical_request, parse_amz_date, signature, signing_key, string_to_sign, verify, AuthError,
    Authorization,
};
use super::super::AwsAuth;
use crate::state::RecordedRequest;

const VECTORS: &[&str] = &[
    "get-vanilla",
    "get-vanilla-query",
    "get-vanilla-query-order-key-case",
    "get-vanilla-query-order-encoded",
    "get-vanilla-query-unreserved",
    "get-vanilla-utf8-query",
    "get-vanilla-empty-query-key",
    "get-vanilla-with-session-token",
    "get-header-key-duplicate",
    "get-header-value-order",
    "get-header-value-trim",
    "get-unreserved",
    "get-utf8",
    "get-space-normalized",
    "get-slashes-normalized",
    "get-slash-normalized",
    "get-slash-dot-slash-normalized",
    "get-slash-pointless-dot-normalized",
    "get-relative-normalized",
    "get-relative-relative-normalized",
    "post-vanilla",
    "post-vanilla-query",
    "post-vanilla-empty-query-value",
    "post-header-key-case",
    "post-header-key-sort",
    "post-header-value-case",
    "post-x-www-form-urlencoded",
    "post-x-www-form-urlencoded-parameters",
    "post-sts-header-after",
    "post-sts-header-before",
];

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

fn read(vector: &str, file: &str) -> String {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "src/bedrock/vectors",
        vector,
        file,
    ]
    .iter()
    .collect();
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A request as the suite writes it: request line, `Name:value` headers,
/// a blank line, the body.
fn parse_request(text: &str) -> RecordedRequest {
    let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
    let mut lines = head.lines();
    let line = lines.next().unwrap();
    let (method, target) = line.split_once(' ').unwrap();
    let target = target.strip_suffix(" HTTP/1.1").unwrap_or(target);
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q.to_owned())),
        None => (target, None),
    };
    let headers = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (name, value) = l.split_once(':').unwrap();
            (name.to_ascii_lowercase(), value.to_owned())
        })
        .collect();
    RecordedRequest {
        method: method.into(),
        path: path.into(),
        query,
        headers,
        body: Bytes::from(body.to_owned()),
        form: None,
    }
}

#[test]
fn canonical_request_string_to_sign_and_signature_match_the_suite() {
    for vector in VECTORS {
        let req = parse_request(&read(vector, "header-signed-request.txt"));
        let auth = Authorization::parse(req.header("authorization").unwrap()).unwrap();
        let creq = canonical_request(&req, &auth.signed_headers, true);
        assert_eq!(
            creq,
            read(vector, "header-canonical-request.txt").trim_end(),
            "{vector}: creq"
        );
        let amz_date = req.header("x-amz-date").unwrap();
        let sts = string_to_sign(amz_date, &auth.scope(), &creq);
        assert_eq!(
            sts,
            read(vector, "header-string-to-sign.txt").trim_end(),
            "{vector}: sts"
        );
        let key = signing_key(SECRET, &auth.date, &auth.region, &auth.service);
        let sig = signature(&key, &sts);
        assert_eq!(
            sig,
            read(vector, "header-signature.txt").trim(),
            "{vector}: signature"
        );
        assert_eq!(sig, auth.signature, "{vector}: authorization");
    }
}

#[test]
fn verify_accepts_the_suite_requests_at_the_suite_time() {
    let now = UNIX_EPOCH + Duration::from_secs(parse_amz_date("20150830T123600Z").unwrap());
    for vector in VECTORS {
        let req = parse_request(&read(vector, "header-signed-request.txt"));
        let context: Value = serde_json::from_str(&read(vector, "context.json")).unwrap();
        let mut auth = AwsAuth::new("AKIDEXAMPLE", SECRET, "us-east-1");
        auth.service = "service".into();
        auth.session_token = context["credentials"]["token"].as_str().map(str::to_owned);
        let result = verify(&req, &auth, now);
        if *vector == "post-sts-header-after" {
            // The token is sent but not signed: the mock wants it signed.
            assert!(
                matches!(result, Err(AuthError::Signature(ref m)) if m.contains("x-amz-security-token")),
                "{result:?}"
            );
        } else {
            assert_eq!(result, Ok(()), "{vector}");
        }
    }
}

#[test]
fn a_path_that_arrives_encoded_is_encoded_again() {
    let vector = "double-url-encode";
    let req = parse_request(&read(vector, "header-signed-request.txt"));
    let auth = Authorization::parse(req.header("authorization").unwrap()).unwrap();
    let creq = canonical_request(&req, &auth.signed_headers, true);
    assert_eq!(
        creq,
        read(vector, "header-canonical-request.txt").trim_end()
    );
    assert!(creq.contains("arn%253Aaws%253Alambda"));
    let sts = string_to_sign(req.header("x-amz-date").unwrap(), &auth.scope(), &creq);
    assert_eq!(sts, read(vector, "header-string-to-sign.txt").trim_end());
}

#[test]
fn amz_dates_round_trip() {
    for date in [
        "20150830T123600Z",
        "20000229T000000Z",
        "19700101T000000Z",
        "20991231T235959Z",
    ] {
        let secs = parse_amz_date(date).unwrap();
        assert_eq!(super::format_amz_date(secs), date);
    }
    assert_eq!(parse_amz_date("20150830T123600Z"), Some(1_440_938_160));
    assert_eq!(parse_amz_date("2015-08-30T12:36:00Z"), None);
}
