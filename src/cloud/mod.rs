//! Cloud credentials: what a request to AWS Bedrock or Google Vertex AI
//! needs beyond an API key, added to each attempt once its body is built
//! (see `proxy::attempts::attempt`).
//!
//! - [`aws`]: SigV4 signatures over the method, path, headers, body and
//!   the current time, with static keys, a session token, or the standard
//!   environment / shared-credentials-file chain.
//! - [`google`]: an OAuth2 access token, exchanged for a service account's
//!   signed JWT (or an `authorized_user` refresh token) at the token
//!   endpoint, cached and refreshed before it expires.
//!
//! A provider whose entry has an `aws:` or `gcp:` block (or whose adapter
//! is `bedrock` / `vertex` and has no `api_key`) gets an [`Auth`]; the
//! others never pay for this step.

pub mod aws;
pub mod google;

use std::borrow::Cow;
use std::sync::Arc;

use pingora::connectors::http::Connector;

use crate::upstream::call::Outgoing;
use crate::upstream::Upstream;

/// How a provider's requests are authorized.
#[derive(Debug)]
pub enum Auth {
    /// AWS SigV4 (Bedrock).
    Aws(aws::Signer),
    /// A Google OAuth2 access token (Vertex AI), shared by every config
    /// that holds the same credentials so that a reload keeps the token.
    Google(Arc<google::Tokens>),
}

/// Why a request could not be authorized.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AuthError {
    /// The credentials were refused (a token endpoint said no, or the
    /// credentials file no longer holds usable keys): like a provider's
    /// 401, the next target is tried.
    #[error("{0}")]
    Refused(String),
    /// The credentials could not be obtained now (the token endpoint did
    /// not answer, or answered nonsense).
    #[error("{0}")]
    Unavailable(String),
}

impl Auth {
    /// Adds the credentials to `out`, a request to `upstream` whose body is
    /// final: a signature, or a bearer token (which may need a token
    /// exchange first, through `connector`).
    pub async fn authorize(
        &self,
        connector: &Connector,
        upstream: &Upstream,
        out: &mut Outgoing,
    ) -> Result<(), AuthError> {
        match self {
            Self::Aws(signer) => signer.sign(upstream, out),
            Self::Google(tokens) => {
                let token = tokens.token(connector).await?;
                out.head = Arc::new(
                    out.head
                        .with_headers(vec![(http::header::AUTHORIZATION, token.header().clone())]),
                );
                Ok(())
            }
        }
    }

    /// The provider refused a request it was sent with `status` (401 or
    /// 403): credentials that may have changed are read again, a token
    /// the provider calls invalid is dropped.
    pub fn refused(&self, status: u16) {
        match self {
            Self::Aws(signer) => signer.refused(),
            Self::Google(tokens) => {
                // 403 is PERMISSION_DENIED: the token is good, the account
                // may not use the model; a new token would not help.
                if status == 401 {
                    tokens.forget();
                }
            }
        }
    }

    /// What must never leave the gateway: keys, private keys, tokens.
    pub fn secrets(&self) -> Vec<Cow<'_, str>> {
        match self {
            Self::Aws(signer) => signer.secrets(),
            Self::Google(tokens) => tokens.secrets(),
        }
    }
}

/// `base_url` with its `{region}` placeholder filled: presets write
/// `https://bedrock-runtime.{region}.amazonaws.com` and
/// `https://{region}-aiplatform.googleapis.com/v1`, and Vertex's `global`
/// region has no prefix (`https://aiplatform.googleapis.com/v1`).
pub fn fill_region(base_url: &str, region: &str) -> String {
    if region == "global" {
        base_url
            .replace("{region}-aiplatform.", "aiplatform.")
            .replace("{region}", region)
    } else {
        base_url.replace("{region}", region)
    }
}

#[cfg(test)]
mod tests;
