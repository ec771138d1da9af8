//! `POST /token`: Google's OAuth2 token endpoint, as a service account
//! (the `jwt-bearer` grant) or a user's gcloud login (`refresh_token`)
//! meets it. Checks as Google documents for service accounts; answers and
//! refusals in Google's words. The tokens it issues are kept in
//! [`Tokens`], which the model endpoints ask.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};
use tokio::time::Instant;

use super::GcpAuth;
use crate::dialect::openai_error;
use crate::state::{Endpoint, Shared};

/// The `grant_type` of a service account's signed JWT.
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// The scope Vertex AI wants.
const CLOUD_PLATFORM: &str = "https://www.googleapis.com/auth/cloud-platform";
/// The longest life Google accepts for an assertion.
const MAX_ASSERTION_LIFE: u64 = 3600;
/// How far in the future `iat` may be (clock skew).
const SKEW: u64 = 60;

const BAD_SIGNATURE: &str = "Invalid JWT Signature.";
const BAD_TIME: &str = "Invalid JWT: Token must be a short-lived token (60 minutes) and in a \
    reasonable timeframe. Check your iat and exp values in the JWT claim.";
const NO_ACCOUNT: &str = "Invalid grant: account not found";

/// `POST /token`. Without `MockConfig::gcp` it is an unknown path (404).
pub(crate) async fn token(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let started = match shared.begin(request, Endpoint::Meta).await {
        Ok(started) => started,
        Err(response) => return response,
    };
    let Some(gcp) = started.cfg.gcp.as_ref() else {
        return openai_error(
            StatusCode::NOT_FOUND,
            "Unknown request URL: POST /token. Please check the URL for typos.",
            "invalid_request_error",
            None,
            Some("unknown_url"),
        );
    };
    let form = form_fields(&started.req.body);
    let field = |name: &str| form.get(name).map(String::as_str);
    let grant = field("grant_type").unwrap_or_default();
    if gcp.refuse {
        let description = match grant {
            "refresh_token" => "Token has been expired or revoked.",
            _ => BAD_SIGNATURE,
        };
        return Refusal::grant(description).response();
    }
    let checked = match grant {
        JWT_BEARER => check_assertion(gcp, field("assertion")),
        "refresh_token" => check_refresh(gcp, &field),
        other => Err(Refusal {
            status: StatusCode::BAD_REQUEST,
            error: "unsupported_grant_type",
            description: format!("Invalid grant_type: {other}"),
        }),
    };
    match checked {
        Ok(()) => issue(&shared.gcp_tokens, gcp.token_ttl),
        Err(refusal) => refusal.response(),
    }
}

/// A refused exchange: `{"error", "error_description"}`.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl Refusal {
    /// 400 `invalid_grant`.
    fn grant(description: &str) -> Self {
        Self::bad("invalid_grant", description)
    }

    /// 400 with `error`.
    fn bad(error: &'static str, description: &str) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error,
            description: description.to_owned(),
        }
    }

    /// 401 `invalid_client`.
    fn client(description: &str) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_client",
            description: description.to_owned(),
        }
    }

    fn response(&self) -> Response {
        let body = json!({"error": self.error, "error_description": self.description});
        json_response(self.status, &body)
    }
}

/// Checks a service account's assertion: an RS256 JWT signed with the key
/// whose public half is `gcp.public_key_pem`, from `client_email`, for
/// `token_uri`, asking for `cloud-platform`, living at most an hour.
fn check_assertion(gcp: &GcpAuth, assertion: Option<&str>) -> Result<(), Refusal> {
    let assertion = assertion
        .ok_or_else(|| Refusal::bad("invalid_request", "Missing required parameter: assertion"))?;
    let header =
        jsonwebtoken::decode_header(assertion).map_err(|_| Refusal::grant("Bad Request"))?;
    if header.alg != Algorithm::RS256 || header.typ.as_deref().is_some_and(|t| t != "JWT") {
        return Err(Refusal::grant(BAD_SIGNATURE));
    }
    let key = DecodingKey::from_rsa_pem(gcp.public_key_pem.as_bytes()).map_err(|e| Refusal {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        error: "internal_failure",
        description: format!("mock: GcpAuth::public_key_pem is not an RSA public key: {e}"),
    })?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[&gcp.token_uri]);
    validation.set_issuer(&[&gcp.client_email]);
    validation.set_required_spec_claims(&["exp", "aud", "iss"]);
    validation.leeway = 0;
    let claims = jsonwebtoken::decode::<Value>(assertion, &key, &validation)
        .map_err(|e| claims_refusal(e.kind(), gcp))?
        .claims;
    check_times(&claims)?;
    check_scope(&claims)
}

/// Google's answer to a JWT that `jsonwebtoken` refused.
fn claims_refusal(kind: &ErrorKind, gcp: &GcpAuth) -> Refusal {
    match kind {
        ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm => Refusal::grant(BAD_SIGNATURE),
        ErrorKind::ExpiredSignature => Refusal::grant(BAD_TIME),
        ErrorKind::InvalidAudience => Refusal::grant(&audience_message(gcp)),
        ErrorKind::InvalidIssuer => Refusal::grant(NO_ACCOUNT),
        ErrorKind::MissingRequiredClaim(claim) => match claim.as_str() {
            "aud" => Refusal::grant(&audience_message(gcp)),
            "iss" => Refusal::grant(NO_ACCOUNT),
            _ => Refusal::grant(BAD_TIME),
        },
        _ => Refusal::grant("Bad Request"),
    }
}

fn audience_message(gcp: &GcpAuth) -> String {
    format!(
        "Invalid JWT: Failed audience check. The right audience is {}",
        gcp.token_uri
    )
}

/// `iat` at most a minute ahead, `exp` in the future, at most an hour
/// after `iat`.
fn check_times(claims: &Value) -> Result<(), Refusal> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let iat = claims.get("iat").and_then(Value::as_u64);
    let exp = claims.get("exp").and_then(Value::as_u64);
    match (iat, exp) {
        (Some(iat), Some(exp))
            if iat <= now + SKEW && exp > now && exp > iat && exp - iat <= MAX_ASSERTION_LIFE =>
        {
            Ok(())
        }
        _ => Err(Refusal::grant(BAD_TIME)),
    }
}

/// The space-separated `scope` must name `cloud-platform`.
fn check_scope(claims: &Value) -> Result<(), Refusal> {
    let scope = claims
        .get("scope")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if scope.trim().is_empty() {
        return Err(Refusal::bad(
            "invalid_scope",
            "Empty or missing scope not allowed.",
        ));
    }
    if !scope.split_whitespace().any(|s| s == CLOUD_PLATFORM) {
        return Err(Refusal::bad(
            "invalid_scope",
            "Invalid OAuth scope or ID token audience provided.",
        ));
    }
    Ok(())
}

/// Checks an authorized user's `client_id`, `client_secret` and
/// `refresh_token` against `gcp.refresh_token`.
fn check_refresh<'a>(
    gcp: &GcpAuth,
    field: &impl Fn(&str) -> Option<&'a str>,
) -> Result<(), Refusal> {
    let client_id = field("client_id").ok_or_else(|| {
        Refusal::bad(
            "invalid_request",
            "Could not determine client ID from request.",
        )
    })?;
    let Some((id, secret, refresh)) = &gcp.refresh_token else {
        return Err(Refusal::client("The OAuth client was not found."));
    };
    if client_id != id {
        return Err(Refusal::client("The OAuth client was not found."));
    }
    if field("client_secret") != Some(secret.as_str()) {
        return Err(Refusal::client("Unauthorized"));
    }
    match field("refresh_token") {
        None => Err(Refusal::bad(
            "invalid_request",
            "Missing required parameter: refresh_token",
        )),
        Some(sent) if sent == refresh => Ok(()),
        Some(_) => Err(Refusal::grant("Bad Request")),
    }
}

/// Issues a token living `ttl`: `200 {"access_token", "expires_in",
/// "token_type"}`.
fn issue(tokens: &Tokens, ttl: Duration) -> Response {
    let token = tokens.issue(ttl);
    let body = json!({"access_token": token, "expires_in": ttl.as_secs(), "token_type": "Bearer"});
    json_response(StatusCode::OK, &body)
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let headers = [(CONTENT_TYPE, HeaderValue::from_static("application/json"))];
    (status, headers, body.to_string()).into_response()
}

/// The fields of an `application/x-www-form-urlencoded` body (the first
/// value of each name).
fn form_fields(body: &[u8]) -> HashMap<String, String> {
    let mut fields = HashMap::new();
    for pair in body.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match pair.iter().position(|&b| b == b'=') {
            Some(at) => {
                let (name, value) = pair.split_at(at);
                (name, value.get(1..).unwrap_or_default())
            }
            None => (pair, &[][..]),
        };
        fields
            .entry(percent_decode(name))
            .or_insert_with(|| percent_decode(value));
    }
    fields
}

/// `+` → space, `%XX` → the byte; a malformed escape stays as it is.
fn percent_decode(text: &[u8]) -> String {
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some((&byte, tail)) = rest.split_first() {
        rest = tail;
        match byte {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = rest.get(..2).and_then(|h| std::str::from_utf8(h).ok());
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(decoded) => {
                        out.push(decoded);
                        rest = rest.get(2..).unwrap_or_default();
                    }
                    None => out.push(b'%'),
                }
            }
            _ => out.push(byte),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The access tokens `/token` issued, with their expiry.
#[derive(Debug, Default)]
pub(crate) struct Tokens(Mutex<Ledger>);

#[derive(Debug, Default)]
struct Ledger {
    /// Live tokens (not revoked) → when they expire.
    expiry: HashMap<String, Instant>,
    /// Tokens issued since the server started.
    issued: usize,
}

impl Tokens {
    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new token, `ya29.mock-<n>-<random>`, valid for `ttl`.
    fn issue(&self, ttl: Duration) -> String {
        let mut ledger = self.ledger();
        ledger.issued += 1;
        let n = ledger.issued;
        let random = std::collections::hash_map::RandomState::new().hash_one(n);
        let token = format!("ya29.mock-{n}-{random:016x}");
        ledger.expiry.insert(token.clone(), Instant::now() + ttl);
        token
    }

    /// Whether `token` was issued here, has not expired and was not revoked.
    pub(crate) fn accepts(&self, token: &str) -> bool {
        let now = Instant::now();
        self.ledger().expiry.get(token).is_some_and(|&at| now < at)
    }

    /// How many tokens were issued.
    pub(crate) fn exchanges(&self) -> usize {
        self.ledger().issued
    }

    /// Refuses every token issued so far.
    pub(crate) fn revoke_all(&self) {
        self.ledger().expiry.clear();
    }
}
