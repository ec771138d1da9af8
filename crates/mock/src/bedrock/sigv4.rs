//! AWS Signature Version 4, written from AWS's documentation
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html>)
//! and not from an AWS crate, so that it checks the gateway's signer
//! independently: parse `Authorization`, rebuild the canonical request and
//! the string to sign, derive the signing key, compare in constant time.
//!
//! Paths are encoded once more, as for every service but S3: the path as it
//! arrives (`/model/a%3A0/converse`) is normalized (no `.`/`..` segments,
//! no empty ones) and each segment URI-encoded again (`a%253A0`).

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::amz_date::format_amz_date;
pub(crate) use super::amz_date::parse_amz_date;
use super::AwsAuth;
use crate::state::RecordedRequest;

/// The only algorithm the mock accepts.
pub(crate) const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// How far `x-amz-date` may be from the mock's clock.
const MAX_SKEW: Duration = Duration::from_secs(5 * 60);

/// Why a request's signature was refused; each maps to Bedrock's 403.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AuthError {
    /// No `Authorization` header at all.
    #[error("Missing Authentication Token")]
    Missing,
    /// An `Authorization` header that is not a well-formed SigV4 one, or
    /// a missing or unparsable `x-amz-date`.
    #[error("{0}")]
    Incomplete(String),
    /// An access key id (or session token) the mock does not know.
    #[error("The security token included in the request is invalid.")]
    UnknownKey,
    /// The configured session token is marked expired.
    #[error("The security token included in the request is expired")]
    Expired,
    /// Scope, date, skew or signature do not match.
    #[error("{0}")]
    Signature(String),
}

impl AuthError {
    /// The `x-amzn-ErrorType` AWS sends with this error.
    pub(crate) fn error_type(&self) -> &'static str {
        match self {
            AuthError::Missing => "MissingAuthenticationTokenException",
            AuthError::Incomplete(_) => "IncompleteSignatureException",
            AuthError::UnknownKey => "UnrecognizedClientException",
            AuthError::Expired => "ExpiredTokenException",
            AuthError::Signature(_) => "InvalidSignatureException",
        }
    }
}

const MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

/// A parsed `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…,
/// Signature=…` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Authorization {
    pub access_key_id: String,
    /// `YYYYMMDD` of the credential scope.
    pub date: String,
    pub region: String,
    pub service: String,
    /// Lowercase header names, as listed.
    pub signed_headers: Vec<String>,
    pub signature: String,
}

impl Authorization {
    /// Parses the header value; `Err` says which part is missing.
    pub(crate) fn parse(value: &str) -> Result<Self, AuthError> {
        let rest = value
            .trim()
            .strip_prefix(ALGORITHM)
            .filter(|r| r.starts_with(' '))
            .ok_or_else(|| {
                AuthError::Incomplete(format!(
                    "Authorization header requires the {ALGORITHM} algorithm."
                ))
            })?;
        let (mut credential, mut signed, mut signature) = (None, None, None);
        for part in rest.split(',') {
            match part.trim().split_once('=') {
                Some(("Credential", v)) => credential = Some(v),
                Some(("SignedHeaders", v)) => signed = Some(v),
                Some(("Signature", v)) => signature = Some(v),
                _ => {}
            }
        }
        let missing = |name: &str| {
            AuthError::Incomplete(format!("Authorization header requires '{name}' parameter."))
        };
        let credential = credential.ok_or_else(|| missing("Credential"))?;
        let signed = signed.ok_or_else(|| missing("SignedHeaders"))?;
        let signature = signature.ok_or_else(|| missing("Signature"))?;
        let scope: Vec<&str> = credential.split('/').collect();
        let [akid, date, region, service, "aws4_request"] = scope.as_slice() else {
            return Err(AuthError::Incomplete(format!(
                "Credential should be scoped to a valid region, service and terminal: '{credential}'."
            )));
        };
        Ok(Authorization {
            access_key_id: (*akid).to_owned(),
            date: (*date).to_owned(),
            region: (*region).to_owned(),
            service: (*service).to_owned(),
            signed_headers: signed.split(';').map(str::to_ascii_lowercase).collect(),
            signature: signature.to_owned(),
        })
    }

    /// `<date>/<region>/<service>/aws4_request`.
    pub(crate) fn scope(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.date, self.region, self.service
        )
    }
}

/// Checks `req`'s SigV4 signature against `auth` at time `now`.
pub(crate) fn verify(
    req: &RecordedRequest,
    auth: &AwsAuth,
    now: SystemTime,
) -> Result<(), AuthError> {
    let header = req.header("authorization").ok_or(AuthError::Missing)?;
    let parsed = Authorization::parse(header)?;
    if parsed.access_key_id != auth.access_key_id {
        return Err(AuthError::UnknownKey);
    }
    check_token(req, &parsed, auth)?;
    let amz_date = req.header("x-amz-date").ok_or_else(|| {
        AuthError::Incomplete(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
                .into(),
        )
    })?;
    check_scope(&parsed, auth, amz_date)?;
    check_skew(amz_date, now)?;
    if !parsed.signed_headers.iter().any(|h| h == "host") {
        return Err(AuthError::Signature(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".into(),
        ));
    }
    let creq = canonical_request(req, &parsed.signed_headers, true);
    let sts = string_to_sign(amz_date, &parsed.scope(), &creq);
    let key = signing_key(
        &auth.secret_access_key,
        &parsed.date,
        &auth.region,
        &auth.service,
    );
    let expected = signature(&key, &sts);
    if !constant_time_eq(expected.as_bytes(), parsed.signature.as_bytes()) {
        return Err(AuthError::Signature(MISMATCH.into()));
    }
    Ok(())
}

/// The session token, when one is configured: present, signed, equal,
/// and not marked expired.
fn check_token(
    req: &RecordedRequest,
    parsed: &Authorization,
    auth: &AwsAuth,
) -> Result<(), AuthError> {
    let Some(token) = &auth.session_token else {
        return Ok(());
    };
    let sent = req
        .header("x-amz-security-token")
        .ok_or(AuthError::UnknownKey)?;
    if !constant_time_eq(sent.as_bytes(), token.as_bytes()) {
        return Err(AuthError::UnknownKey);
    }
    if auth.expired {
        return Err(AuthError::Expired);
    }
    if !parsed
        .signed_headers
        .iter()
        .any(|h| h == "x-amz-security-token")
    {
        return Err(AuthError::Signature(
            "'x-amz-security-token' must be a 'SignedHeader' in the AWS Authorization.".into(),
        ));
    }
    Ok(())
}

/// Region and service of the scope are the configured ones; its date is
/// the day of `x-amz-date`.
fn check_scope(parsed: &Authorization, auth: &AwsAuth, amz_date: &str) -> Result<(), AuthError> {
    if parsed.region != auth.region {
        return Err(AuthError::Signature(format!(
            "Credential should be scoped to a valid region. '{}' != '{}'.",
            parsed.region, auth.region
        )));
    }
    if parsed.service != auth.service {
        return Err(AuthError::Signature(format!(
            "Credential should be scoped to correct service: '{}'. ",
            auth.service
        )));
    }
    let day = amz_date.get(..8).unwrap_or(amz_date);
    if parsed.date != day {
        return Err(AuthError::Signature(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{day}', from '{amz_date}'.",
            parsed.date
        )));
    }
    Ok(())
}

/// `x-amz-date` is within [`MAX_SKEW`] of `now`.
fn check_skew(amz_date: &str, now: SystemTime) -> Result<(), AuthError> {
    let signed = parse_amz_date(amz_date).ok_or_else(|| {
        AuthError::Incomplete(format!(
            "Invalid X-Amz-Date '{amz_date}'. Expected format: YYYYMMDD'T'HHMMSS'Z'."
        ))
    })?;
    let now_secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let skew = MAX_SKEW.as_secs();
    if signed + skew < now_secs {
        return Err(AuthError::Signature(format!(
            "Signature expired: {amz_date} is now earlier than {} ({} - 5 min.)",
            format_amz_date(now_secs - skew),
            format_amz_date(now_secs)
        )));
    }
    if signed > now_secs + skew {
        return Err(AuthError::Signature(format!(
            "Signature not yet current: {amz_date} is still later than {} ({} + 5 min.)",
            format_amz_date(now_secs + skew),
            format_amz_date(now_secs)
        )));
    }
    Ok(())
}

/// The canonical request: method, URI, query, headers, signed headers and
/// the body's hash, one per line. `normalize` removes `.`/`..` and empty
/// path segments (every service but S3).
pub(crate) fn canonical_request(
    req: &RecordedRequest,
    signed: &[String],
    normalize: bool,
) -> String {
    let mut names: Vec<&str> = signed.iter().map(String::as_str).collect();
    names.sort_unstable();
    names.dedup();
    let mut headers = String::new();
    for name in &names {
        let values: Vec<String> = req
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| trim_value(v))
            .collect();
        let _ = writeln!(headers, "{name}:{}", values.join(","));
    }
    format!(
        "{}\n{}\n{}\n{headers}\n{}\n{}",
        req.method,
        canonical_uri(&req.path, normalize),
        canonical_query(req.query.as_deref().unwrap_or("")),
        names.join(";"),
        hex(&Sha256::digest(&req.body)),
    )
}

/// Each segment of `path` URI-encoded (the path as received, so `%3A`
/// becomes `%253A`).
pub(crate) fn canonical_uri(path: &str, normalize: bool) -> String {
    if !normalize {
        let segments: Vec<String> = path.split('/').map(uri_encode).collect();
        return segments.join("/");
    }
    let mut kept: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                kept.pop();
            }
            s => kept.push(s),
        }
    }
    let trailing = path.ends_with('/') || path.ends_with("/.") || path.ends_with("/..");
    let mut out: String = kept.iter().map(|s| format!("/{}", uri_encode(s))).collect();
    if out.is_empty() || trailing {
        out.push('/');
    }
    out
}

/// Parameters decoded, encoded again and sorted by name, then value.
pub(crate) fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                uri_encode(&percent_decode(k)),
                uri_encode(&percent_decode(v)),
            )
        })
        .collect();
    pairs.sort();
    let pairs: Vec<String> = pairs.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.join("&")
}

/// Trimmed, with inner runs of spaces collapsed to one.
fn trim_value(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `AWS4-HMAC-SHA256\n<amz-date>\n<scope>\n<hex sha256 of creq>`.
pub(crate) fn string_to_sign(amz_date: &str, scope: &str, creq: &str) -> String {
    let hash = hex(&Sha256::digest(creq.as_bytes()));
    format!("{ALGORITHM}\n{amz_date}\n{scope}\n{hash}")
}

/// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
pub(crate) fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

/// Hex HMAC-SHA256 of the string to sign.
pub(crate) fn signature(key: &[u8], string_to_sign: &str) -> String {
    hex(&hmac(key, string_to_sign.as_bytes()))
}

/// Signs `req` as an AWS SDK would at `amz_date` (`YYYYMMDDTHHMMSSZ`):
/// adds `x-amz-date` (and `x-amz-security-token`), signs every header
/// present, and returns the `Authorization` value (also added). For tests.
#[cfg(test)]
pub(crate) fn sign(req: &mut RecordedRequest, auth: &AwsAuth, amz_date: &str) -> String {
    req.headers.push(("x-amz-date".into(), amz_date.into()));
    if let Some(token) = &auth.session_token {
        req.headers
            .push(("x-amz-security-token".into(), token.clone()));
    }
    req.headers
        .retain(|(n, _)| !n.eq_ignore_ascii_case("authorization"));
    let mut signed: Vec<String> = req
        .headers
        .iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .collect();
    signed.sort();
    signed.dedup();
    let date = amz_date.get(..8).unwrap_or(amz_date);
    let scope = format!("{date}/{}/{}/aws4_request", auth.region, auth.service);
    let creq = canonical_request(req, &signed, true);
    let sts = string_to_sign(amz_date, &scope, &creq);
    let key = signing_key(&auth.secret_access_key, date, &auth.region, &auth.service);
    let value = format!(
        "{ALGORITHM} Credential={}/{scope}, SignedHeaders={}, Signature={}",
        auth.access_key_id,
        signed.join(";"),
        signature(&key, &sts)
    );
    req.headers.push(("authorization".into(), value.clone()));
    value
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return Vec::new();
    };
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Equal lengths and bytes, in time independent of where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Encodes every byte but `A-Z a-z 0-9 - _ . ~` as `%XX` (uppercase).
fn uri_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Decodes `%XX` escapes (invalid ones are kept as they are).
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = bytes
            .get(i + 1..i + 3)
            .filter(|_| bytes[i] == b'%')
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match escaped {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
