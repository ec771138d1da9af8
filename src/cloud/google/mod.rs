//! Google OAuth2 access tokens for Vertex AI.
//!
//! Credentials, first found wins (Google's "application default
//! credentials" without the metadata server): `gcp.credentials_file` in
//! routes.yaml, else `GOOGLE_APPLICATION_CREDENTIALS`, else gcloud's
//! `~/.config/gcloud/application_default_credentials.json`. The file is
//! a service account key (`"type": "service_account"`: a JWT signed with
//! its private key, RS256, is exchanged at its `token_uri` — RFC 7523, as
//! <https://developers.google.com/identity/protocols/oauth2/service-account#httprest>
//! describes) or gcloud's user credentials (`"type": "authorized_user"`:
//! its refresh token is exchanged). A token from elsewhere (`gcloud auth
//! print-access-token`) goes in the provider's `api_key` instead.
//!
//! A token is cached until shortly before it expires (the last fifth of its
//! life, at most five minutes before): the first request that finds it
//! due refreshes it while the others keep using it; a request that finds
//! none (or an expired one) waits for the one exchange in flight. A
//! refused exchange is remembered for a few seconds, so that a revoked key
//! does not send every request to the token endpoint.

mod exchange;

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwapOption;
use pingora::connectors::http::Connector;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::aws::Env;
use super::AuthError;
use crate::secrets::Secret;

/// The scope Vertex AI needs.
pub const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// Google's token endpoint, when a key file does not name one.
pub const TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// How long a refused exchange is remembered.
const REFUSED_FOR: Duration = Duration::from_secs(5);
/// The life of a service account's JWT (Google's maximum: an hour).
const JWT_LIFE: u64 = 3600;

/// What is exchanged for a token.
pub enum Grant {
    /// A service account key: a signed JWT.
    ServiceAccount {
        email: String,
        key_id: Option<String>,
        key: jsonwebtoken::EncodingKey,
        /// The PEM text, for redaction.
        pem: Secret,
        token_uri: String,
        scope: String,
    },
    /// gcloud's user credentials: a refresh token.
    AuthorizedUser {
        client_id: String,
        client_secret: Secret,
        refresh_token: Secret,
        token_uri: String,
    },
}

impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ServiceAccount {
                email, token_uri, ..
            } => f
                .debug_struct("ServiceAccount")
                .field("email", email)
                .field("token_uri", token_uri)
                .finish_non_exhaustive(),
            Self::AuthorizedUser {
                client_id,
                token_uri,
                ..
            } => f
                .debug_struct("AuthorizedUser")
                .field("client_id", client_id)
                .field("token_uri", token_uri)
                .finish_non_exhaustive(),
        }
    }
}

/// An access token and when to stop using it.
#[derive(Debug)]
pub struct Token {
    value: Secret,
    /// `Bearer <token>`, checked and marked sensitive once, sent as it is
    /// by every request until the token is replaced.
    header: http::HeaderValue,
    /// Refresh from here on (the others keep using it meanwhile).
    refresh_at: Instant,
    /// Unusable from here on.
    expires_at: Instant,
}

impl Token {
    pub fn expose(&self) -> &str {
        self.value.expose()
    }

    /// The `authorization` header's value.
    pub fn header(&self) -> &http::HeaderValue {
        &self.header
    }
}

/// A credential's tokens: the cached one, the exchange in flight.
#[derive(Debug)]
pub struct Tokens {
    grant: Grant,
    cached: ArcSwapOption<Token>,
    /// Held by the one exchange in flight.
    exchanging: tokio::sync::Mutex<()>,
    /// The last refusal, remembered for [`REFUSED_FOR`].
    refused: Mutex<Option<(Instant, AuthError)>>,
    /// Exchanges done (for tests and the admin API).
    exchanges: std::sync::atomic::AtomicU64,
}

/// What a credentials file holds.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyFile {
    pub grant: KeyGrant,
    /// Its `project_id` (service account) or `quota_project_id` (user).
    pub project: Option<String>,
}

/// The parsed key, before its RSA key is loaded.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyGrant {
    ServiceAccount {
        email: String,
        key_id: Option<String>,
        pem: String,
        token_uri: String,
    },
    AuthorizedUser {
        client_id: String,
        client_secret: String,
        refresh_token: String,
        token_uri: String,
    },
}

#[derive(Deserialize)]
struct RawKeyFile {
    #[serde(rename = "type")]
    kind: String,
    project_id: Option<String>,
    quota_project_id: Option<String>,
    client_email: Option<String>,
    private_key_id: Option<String>,
    private_key: Option<String>,
    token_uri: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    refresh_token: Option<String>,
}

impl KeyFile {
    /// Reads and checks a credentials file.
    pub fn read(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Checks a credentials file's text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let raw: RawKeyFile = serde_json::from_str(text)
            .map_err(|e| format!("not a Google credentials file: {e}"))?;
        let need = |v: Option<String>, field: &str| {
            v.filter(|s| !s.is_empty())
                .ok_or_else(|| format!("`{field}` is missing"))
        };
        let token_uri = raw
            .token_uri
            .clone()
            .unwrap_or_else(|| TOKEN_URI.to_string());
        let grant = match raw.kind.as_str() {
            "service_account" => KeyGrant::ServiceAccount {
                email: need(raw.client_email, "client_email")?,
                key_id: raw.private_key_id,
                pem: need(raw.private_key, "private_key")?,
                token_uri,
            },
            "authorized_user" => KeyGrant::AuthorizedUser {
                client_id: need(raw.client_id, "client_id")?,
                client_secret: need(raw.client_secret, "client_secret")?,
                refresh_token: need(raw.refresh_token, "refresh_token")?,
                token_uri,
            },
            other => {
                return Err(format!(
                    "credentials of type `{other}` are not supported (service_account or authorized_user)"
                ))
            }
        };
        Ok(Self {
            grant,
            project: raw.project_id.or(raw.quota_project_id),
        })
    }

    /// Where the credentials file is: `configured`, else the environment's
    /// `GOOGLE_APPLICATION_CREDENTIALS`, else gcloud's default file.
    pub fn locate(configured: Option<&Path>, env: &dyn Env) -> Result<PathBuf, String> {
        if let Some(p) = configured {
            return Ok(p.to_path_buf());
        }
        if let Some(p) = env.var("GOOGLE_APPLICATION_CREDENTIALS") {
            return Ok(PathBuf::from(p));
        }
        let adc = env
            .var("CLOUDSDK_CONFIG")
            .map(PathBuf::from)
            .or_else(|| {
                env.var("HOME")
                    .map(|h| Path::new(&h).join(".config/gcloud"))
            })
            .map(|d| d.join("application_default_credentials.json"));
        match adc {
            Some(p) if p.exists() => Ok(p),
            _ => Err(
                "no Google credentials: set gcp.credentials_file, GOOGLE_APPLICATION_CREDENTIALS, or the provider's api_key (an access token)"
                    .into(),
            ),
        }
    }

    /// The grant, its RSA key loaded.
    pub fn into_grant(self) -> Result<Grant, String> {
        Ok(match self.grant {
            KeyGrant::ServiceAccount {
                email,
                key_id,
                pem,
                token_uri,
            } => Grant::ServiceAccount {
                key: jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes())
                    .map_err(|e| format!("private_key is not an RSA key in PEM form: {e}"))?,
                pem: Secret::new(pem),
                email,
                key_id,
                token_uri,
                scope: SCOPE.to_string(),
            },
            KeyGrant::AuthorizedUser {
                client_id,
                client_secret,
                refresh_token,
                token_uri,
            } => Grant::AuthorizedUser {
                client_id,
                client_secret: Secret::new(client_secret),
                refresh_token: Secret::new(refresh_token),
                token_uri,
            },
        })
    }
}

/// A form to post: its fields in order.
type Form = Vec<(&'static str, String)>;

/// A service account's JWT claims.
#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

impl Tokens {
    /// The tokens of `grant`, shared with every config loaded since that
    /// holds the same credentials (a reload keeps the cached token).
    pub fn shared(grant: Grant) -> Arc<Self> {
        static ALL: OnceLock<Mutex<HashMap<[u8; 32], Weak<Tokens>>>> = OnceLock::new();
        let id = grant_id(&grant);
        let mut all = ALL
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        all.retain(|_, w| w.strong_count() > 0);
        if let Some(t) = all.get(&id).and_then(Weak::upgrade) {
            return t;
        }
        let t = Arc::new(Self::new(grant));
        all.insert(id, Arc::downgrade(&t));
        t
    }

    /// Tokens of `grant`, not shared.
    pub fn new(grant: Grant) -> Self {
        Self {
            grant,
            cached: ArcSwapOption::empty(),
            exchanging: tokio::sync::Mutex::new(()),
            refused: Mutex::new(None),
            exchanges: Default::default(),
        }
    }

    /// A token to send now: the cached one, or a new one.
    pub async fn token(&self, connector: &Connector) -> Result<Arc<Token>, AuthError> {
        let now = Instant::now();
        if let Some(t) = self.cached.load_full() {
            if now < t.refresh_at {
                return Ok(t);
            }
            if now < t.expires_at {
                // Due for refresh but still good: one request refreshes,
                // the others go on with it.
                let Ok(_guard) = self.exchanging.try_lock() else {
                    return Ok(t);
                };
                return match self.exchange(connector).await {
                    Ok(fresh) => Ok(fresh),
                    Err(e) => {
                        tracing::warn!(error = %e, "token refresh failed; the current token is used until it expires");
                        Ok(t)
                    }
                };
            }
        }
        let _guard = self.exchanging.lock().await;
        // Another request may have refreshed it meanwhile.
        if let Some(t) = self.cached.load_full() {
            if Instant::now() < t.refresh_at {
                return Ok(t);
            }
        }
        if let Some((at, e)) = self
            .refused
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            if at.elapsed() < REFUSED_FOR {
                return Err(e);
            }
        }
        self.exchange(connector).await
    }

    /// One exchange at the token endpoint; the caller holds `exchanging`.
    async fn exchange(&self, connector: &Connector) -> Result<Arc<Token>, AuthError> {
        self.exchanges
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (token_uri, form) = self.form()?;
        let began = Instant::now();
        let result = exchange::post(connector, token_uri, &form).await;
        match result {
            Ok(answer) => {
                let life = Duration::from_secs(answer.expires_in.max(1));
                let margin = (life / 5).min(Duration::from_secs(300));
                let mut header =
                    http::HeaderValue::from_str(&format!("Bearer {}", answer.access_token))
                        .map_err(|_| {
                            AuthError::Unavailable(
                        "the token endpoint returned a token that cannot be sent in a header"
                            .into(),
                    )
                        })?;
                header.set_sensitive(true);
                let token = Arc::new(Token {
                    header,
                    value: Secret::new(answer.access_token),
                    refresh_at: began + life - margin,
                    expires_at: began + life,
                });
                self.cached.store(Some(token.clone()));
                *self.refused.lock().unwrap_or_else(|e| e.into_inner()) = None;
                Ok(token)
            }
            Err(e) => {
                if matches!(e, AuthError::Refused(_)) {
                    *self.refused.lock().unwrap_or_else(|e| e.into_inner()) =
                        Some((Instant::now(), e.clone()));
                }
                Err(e)
            }
        }
    }

    /// The token endpoint and the form to post there.
    fn form(&self) -> Result<(&str, Form), AuthError> {
        match &self.grant {
            Grant::ServiceAccount {
                email,
                key_id,
                key,
                token_uri,
                scope,
                ..
            } => {
                let iat = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or(Duration::ZERO)
                    .as_secs();
                let claims = Claims {
                    iss: email,
                    scope,
                    aud: token_uri,
                    iat,
                    exp: iat + JWT_LIFE,
                };
                let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
                header.kid = key_id.clone();
                let jwt = jsonwebtoken::encode(&header, &claims, key).map_err(|e| {
                    AuthError::Unavailable(format!("signing the service account's JWT: {e}"))
                })?;
                Ok((
                    token_uri,
                    vec![
                        (
                            "grant_type",
                            "urn:ietf:params:oauth:grant-type:jwt-bearer".to_string(),
                        ),
                        ("assertion", jwt),
                    ],
                ))
            }
            Grant::AuthorizedUser {
                client_id,
                client_secret,
                refresh_token,
                token_uri,
            } => Ok((
                token_uri,
                vec![
                    ("grant_type", "refresh_token".to_string()),
                    ("client_id", client_id.clone()),
                    ("client_secret", client_secret.expose().to_string()),
                    ("refresh_token", refresh_token.expose().to_string()),
                ],
            )),
        }
    }

    /// The provider called the token invalid: the next request gets a new
    /// one.
    pub fn forget(&self) {
        self.cached.store(None);
    }

    /// Exchanges done so far.
    pub fn exchanges(&self) -> u64 {
        self.exchanges.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The private key, the refresh token and client secret, the token in
    /// use.
    pub fn secrets(&self) -> Vec<Cow<'_, str>> {
        let mut out = Vec::new();
        match &self.grant {
            Grant::ServiceAccount { pem, .. } => {
                // The PEM's base64 lines, one by one: an echo of part of it
                // is still redacted.
                out.extend(
                    pem.expose()
                        .lines()
                        .filter(|l| !l.starts_with("-----") && l.len() >= 16)
                        .map(Cow::Borrowed),
                );
            }
            Grant::AuthorizedUser {
                client_secret,
                refresh_token,
                ..
            } => {
                out.push(Cow::Borrowed(client_secret.expose()));
                out.push(Cow::Borrowed(refresh_token.expose()));
            }
        }
        if let Some(t) = self.cached.load_full() {
            out.push(Cow::Owned(t.expose().to_string()));
        }
        out
    }
}

/// What identifies a credential (never its secret in clear).
fn grant_id(grant: &Grant) -> [u8; 32] {
    let mut h = Sha256::new();
    match grant {
        Grant::ServiceAccount {
            email,
            key_id,
            pem,
            token_uri,
            scope,
            ..
        } => {
            for part in [
                "sa",
                email,
                key_id.as_deref().unwrap_or(""),
                pem.expose(),
                token_uri,
                scope,
            ] {
                h.update(part.as_bytes());
                h.update([0]);
            }
        }
        Grant::AuthorizedUser {
            client_id,
            client_secret,
            refresh_token,
            token_uri,
        } => {
            for part in [
                "user",
                client_id,
                client_secret.expose(),
                refresh_token.expose(),
                token_uri,
            ] {
                h.update(part.as_bytes());
                h.update([0]);
            }
        }
    }
    h.finalize().into()
}

#[cfg(test)]
mod tests;
