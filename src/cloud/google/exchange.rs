//! One request to an OAuth2 token endpoint, through the gateway's own
//! upstream connector ([`call::post`]).

use std::time::Duration;

use bytes::Bytes;
use pingora::connectors::http::Connector;
use serde::Deserialize;

use crate::cloud::AuthError;
use crate::upstream::call;

/// How long a token exchange may take, all in.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The most of a token endpoint's answer that is read.
const MAX_ANSWER: usize = 64 * 1024;

/// A token endpoint's success.
#[derive(Deserialize)]
pub(super) struct Answer {
    pub access_token: String,
    #[serde(default = "an_hour")]
    pub expires_in: u64,
}

fn an_hour() -> u64 {
    3600
}

/// Its refusal (RFC 6749 §5.2).
#[derive(Deserialize)]
struct Refusal {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// Posts `form` to `token_uri`.
pub(super) async fn post(
    connector: &Connector,
    token_uri: &str,
    form: &[(&'static str, String)],
) -> Result<Answer, AuthError> {
    let unavailable = |what: String| AuthError::Unavailable(format!("token endpoint: {what}"));
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form.iter().map(|(k, v)| (*k, v.as_str())))
        .finish();
    let headers = [
        (
            "content-type".to_string(),
            "application/x-www-form-urlencoded".to_string(),
        ),
        ("accept".to_string(), "application/json".to_string()),
    ];
    let exchange = call::post(
        connector,
        token_uri,
        &headers,
        Bytes::from(body),
        TIMEOUT,
        MAX_ANSWER,
    );
    let (status, body) = tokio::time::timeout(TIMEOUT, exchange)
        .await
        .map_err(|_| unavailable(format!("no answer from {token_uri} in {TIMEOUT:?}")))?
        .map_err(|e| unavailable(e.to_string()))?;
    if (200..300).contains(&status) {
        return serde_json::from_slice::<Answer>(&body)
            .map_err(|_| unavailable(format!("HTTP {status} without an access_token")));
    }
    match serde_json::from_slice::<Refusal>(&body) {
        // 400 and 401 with an OAuth error: the credentials were refused.
        Ok(r) if matches!(status, 400 | 401 | 403) => Err(AuthError::Refused(format!(
            "the token endpoint refused the credentials: {}{}",
            r.error,
            r.error_description
                .map(|d| format!(": {d}"))
                .unwrap_or_default()
        ))),
        _ => Err(unavailable(format!("HTTP {status}"))),
    }
}
