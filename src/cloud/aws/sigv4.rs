//! The SigV4 signature of one request (AWS's "create a signed request":
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html>).
//!
//! The cryptography is AWS's own crate (`aws_sigv4::sign::v4`: the signing
//! key and the final HMAC); the canonical request is written here because
//! the crate's `http_request::sign` derives the signing key — four HMACs —
//! anew for every request, which was 40% of its cost, where the key changes
//! once a day. The requests signed here are the gateway's own (a few known
//! headers, a path the adapter encoded), and the tests check every part
//! against the crate's full signer.

use std::sync::Mutex;
use std::time::SystemTime;

use http::{HeaderName, HeaderValue};
use sha2::{Digest, Sha256};

use super::Credentials;
use crate::cloud::AuthError;
use crate::upstream::call::RequestHead;

/// A signing key, and the scope it was derived for.
pub(super) struct Derived {
    /// `20150830/us-east-1/bedrock`.
    scope: String,
    key: Vec<u8>,
}

/// What one signature covers.
pub(super) struct Request<'a> {
    pub creds: &'a Credentials,
    /// The last signing key derived from `creds`.
    pub derived: &'a Mutex<Option<Derived>>,
    pub region: &'a str,
    pub service: &'a str,
    pub time: SystemTime,
    pub head: &'a RequestHead,
    pub body: &'a [u8],
}

/// The headers that sign `r`: `x-amz-date`, `x-amz-security-token` (with
/// temporary keys) and `authorization`. Signed: `host`, `content-type` (when
/// the head has one) and those two.
pub(super) fn sign(r: Request<'_>) -> Result<Vec<(HeaderName, HeaderValue)>, AuthError> {
    let at = chrono::DateTime::<chrono::Utc>::from(r.time);
    let amz_date = at.format("%Y%m%dT%H%M%SZ").to_string();
    let day = &amz_date[..8];
    let token = r.creds.session_token.as_ref().map(|t| t.expose());

    // Canonical headers, sorted by name: content-type, host, x-amz-date,
    // x-amz-security-token.
    let value = |name: &HeaderName| {
        r.head
            .headers
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.to_str().ok())
            .map(normalized)
    };
    let mut headers: Vec<(&str, String)> = Vec::with_capacity(4);
    if let Some(ct) = value(&http::header::CONTENT_TYPE) {
        headers.push(("content-type", ct));
    }
    let host = value(&http::header::HOST)
        .ok_or_else(|| AuthError::Unavailable("SigV4: the request has no host".into()))?;
    headers.push(("host", host));
    headers.push(("x-amz-date", amz_date.clone()));
    if let Some(t) = token {
        headers.push(("x-amz-security-token", normalized(t)));
    }
    let signed: Vec<&str> = headers.iter().map(|(n, _)| *n).collect();
    let signed = signed.join(";");

    let (path, query) = match r.head.target.path_and_query() {
        Some(pq) => (pq.path(), pq.query().unwrap_or("")),
        None => ("/", ""),
    };
    let mut canonical = String::with_capacity(256);
    canonical.push_str(r.head.method.as_str());
    canonical.push('\n');
    canonical_path(path, &mut canonical);
    canonical.push('\n');
    canonical_query(query, &mut canonical);
    canonical.push('\n');
    for (name, value) in &headers {
        canonical.push_str(name);
        canonical.push(':');
        canonical.push_str(value);
        canonical.push('\n');
    }
    canonical.push('\n');
    canonical.push_str(&signed);
    canonical.push('\n');
    canonical.push_str(&hex(&Sha256::digest(r.body)));

    let scope = format!("{day}/{}/{}", r.region, r.service);
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}/aws4_request\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let signature = {
        let mut derived = r.derived.lock().unwrap_or_else(|e| e.into_inner());
        if derived.as_ref().is_none_or(|d| d.scope != scope) {
            let key = aws_sigv4::sign::v4::generate_signing_key(
                r.creds.secret_access_key.expose(),
                r.time,
                r.region,
                r.service,
            );
            *derived = Some(Derived {
                scope: scope.clone(),
                key: key.as_ref().to_vec(),
            });
        }
        let key = derived
            .as_ref()
            .map(|d| d.key.as_slice())
            .unwrap_or_default();
        aws_sigv4::sign::v4::calculate_signature(key, string_to_sign.as_bytes())
    };
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}/aws4_request, SignedHeaders={signed}, Signature={signature}",
        r.creds.access_key_id
    );
    let header = |value: &str, what: &str| {
        HeaderValue::from_str(value)
            .map_err(|_| AuthError::Unavailable(format!("SigV4: the {what} cannot be sent")))
    };
    let mut out = vec![(
        HeaderName::from_static("x-amz-date"),
        header(&amz_date, "date")?,
    )];
    if let Some(t) = token {
        out.push((
            HeaderName::from_static("x-amz-security-token"),
            header(t, "session token")?,
        ));
    }
    out.push((
        http::header::AUTHORIZATION,
        header(&authorization, "signature")?,
    ));
    Ok(out)
}

/// A header value as SigV4 reads it: trimmed, runs of spaces as one.
fn normalized(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for word in value.split_ascii_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// RFC 3986's unreserved characters, which SigV4 leaves as they are.
fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Every byte but the unreserved ones (and `/` when `slash`) as `%XX`.
fn encode(text: &[u8], slash: bool, out: &mut String) {
    for &b in text {
        if unreserved(b) || (slash && b == b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

/// The path as sent, encoded once more (every service but S3 signs the
/// double-encoded path: `%3A` becomes `%253A`).
fn canonical_path(path: &str, out: &mut String) {
    if path.is_empty() {
        out.push('/');
    } else {
        encode(path.as_bytes(), true, out);
    }
}

/// The query's parameters decoded, encoded strictly and sorted.
fn canonical_query(query: &str, out: &mut String) {
    if query.is_empty() {
        return;
    }
    let mut pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| {
            let (mut key, mut value) = (String::new(), String::new());
            encode(k.as_bytes(), false, &mut key);
            encode(v.as_bytes(), false, &mut value);
            (key, value)
        })
        .collect();
    pairs.sort();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
}

/// Lower-case hex.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}
