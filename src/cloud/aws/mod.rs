//! AWS SigV4 request signing (Bedrock; the signature itself in
//! `sigv4.rs`), and where the keys come from.
//!
//! Credentials, first found wins (the AWS SDKs' order, without the
//! network-based sources):
//! 1. `aws.access_key_id` / `aws.secret_access_key` / `aws.session_token`
//!    in routes.yaml (usually `${VAR}` references);
//! 2. the environment: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//!    `AWS_SESSION_TOKEN`;
//! 3. the shared credentials file (`aws.credentials_file`, else
//!    `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`) and then
//!    the config file (`AWS_CONFIG_FILE`, else `~/.aws/config`), profile
//!    `aws.profile`, else `AWS_PROFILE`, else `default`. The files are read
//!    again when they change (checked at most once a second) and when the
//!    provider refuses a signature, so that keys rotated by another tool
//!    (`aws sso login`, a credentials helper writing the file) are picked
//!    up without a reload.
//!
//! The signing region is the backend host's (`bedrock-runtime.<region>.
//! amazonaws.com`), else `aws.region`; the service name is `bedrock`
//! unless `aws.service` says otherwise.

mod profile;
mod sigv4;

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;

use super::AuthError;
use crate::secrets::Secret;
use crate::upstream::call::Outgoing;
use crate::upstream::Upstream;

pub use profile::ProfileFile;

/// One set of AWS keys.
#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub session_token: Option<Secret>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("session_token", &self.session_token.is_some())
            .finish_non_exhaustive()
    }
}

/// Where the keys come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// Given in routes.yaml or the environment: fixed for the life of the
    /// config.
    Fixed(Credentials),
    /// A profile of the shared credentials / config files.
    Profile(ProfileFile),
}

/// Keys with the signing key derived from them for one day, region and
/// service (four HMACs that would otherwise be redone per request).
struct Keys {
    creds: Credentials,
    derived: std::sync::Mutex<Option<sigv4::Derived>>,
}

impl Keys {
    fn new(creds: Credentials) -> Self {
        Self {
            creds,
            derived: std::sync::Mutex::new(None),
        }
    }
}

/// Signs a provider's requests.
pub struct Signer {
    source: Source,
    /// The keys in use (a profile's, as last read).
    current: ArcSwap<Keys>,
    /// The region when the backend's host does not say.
    region: String,
    /// The SigV4 service name (`bedrock`).
    service: String,
    /// Seconds since the epoch when the profile files were last checked.
    checked: AtomicU64,
    /// Read the profile again at the next request.
    stale: AtomicBool,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("source", &self.source)
            .field("region", &self.region)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

/// What routes.yaml says in a provider's `aws:` block (variables expanded).
#[derive(Debug, Default, Clone)]
pub struct Settings {
    pub region: Option<String>,
    pub service: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    pub profile: Option<String>,
    pub credentials_file: Option<PathBuf>,
}

/// The process environment, read once per config load (a parameter so
/// that tests need not set variables).
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
}

/// The real environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

impl Signer {
    /// A signer for `settings`: `Err` says why no credentials were found
    /// (the provider is then disabled, like one whose key variable is
    /// unset).
    pub fn new(settings: &Settings, env: &dyn Env) -> Result<Self, String> {
        let source = source(settings, env)?;
        let current = match &source {
            Source::Fixed(c) => c.clone(),
            Source::Profile(p) => p.read()?,
        };
        let region = settings
            .region
            .clone()
            .or_else(|| env.var("AWS_REGION"))
            .or_else(|| env.var("AWS_DEFAULT_REGION"))
            .or_else(|| match &source {
                Source::Profile(p) => p.region(),
                Source::Fixed(_) => None,
            })
            .unwrap_or_else(|| "us-east-1".to_string());
        Ok(Self {
            source,
            current: ArcSwap::from_pointee(Keys::new(current)),
            region,
            service: settings
                .service
                .clone()
                .unwrap_or_else(|| "bedrock".to_string()),
            checked: AtomicU64::new(now_secs()),
            stale: AtomicBool::new(false),
        })
    }

    /// The region requests are signed for when the host does not name one.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The keys to sign with now.
    pub fn credentials(&self) -> Credentials {
        self.keys().creds.clone()
    }

    /// The keys to sign with now: a profile's are read again when its
    /// files changed (checked at most once a second) or after a refusal.
    fn keys(&self) -> Arc<Keys> {
        if let Source::Profile(profile) = &self.source {
            let now = now_secs();
            let due = self.checked.load(Ordering::Relaxed) < now;
            if self.stale.swap(false, Ordering::Relaxed) || due {
                self.checked.store(now, Ordering::Relaxed);
                if let Some(fresh) = profile.read_if_changed() {
                    self.current.store(Arc::new(Keys::new(fresh)));
                }
            }
        }
        self.current.load_full()
    }

    /// Signs `out` (a request to `upstream` with its final body) at the
    /// current time.
    pub fn sign(&self, upstream: &Upstream, out: &mut Outgoing) -> Result<(), AuthError> {
        self.sign_at(upstream, out, SystemTime::now())
    }

    /// [`Signer::sign`] at `time`.
    pub fn sign_at(
        &self,
        upstream: &Upstream,
        out: &mut Outgoing,
        time: SystemTime,
    ) -> Result<(), AuthError> {
        if out.form.is_some() {
            return Err(AuthError::Unavailable(
                "SigV4-signed providers take JSON bodies only, not uploads".into(),
            ));
        }
        let keys = self.keys();
        let region = region_of_host(&upstream.host).unwrap_or(&self.region);
        let extra = sigv4::sign(sigv4::Request {
            creds: &keys.creds,
            derived: &keys.derived,
            region,
            service: &self.service,
            time,
            head: &out.head,
            body: &out.body,
        })?;
        out.head = Arc::new(out.head.with_headers(extra));
        Ok(())
    }

    /// The provider refused a signature: read the profile files again at
    /// the next request (the keys may have been rotated).
    pub fn refused(&self) {
        self.stale.store(true, Ordering::Relaxed);
    }

    /// The secret key and session token, those in use and those configured.
    pub fn secrets(&self) -> Vec<Cow<'_, str>> {
        let current = self.current.load();
        let current = &current.creds;
        let mut out = vec![Cow::Owned(current.secret_access_key.expose().to_string())];
        if let Some(t) = &current.session_token {
            out.push(Cow::Owned(t.expose().to_string()));
        }
        if let Source::Fixed(c) = &self.source {
            out.push(Cow::Borrowed(c.secret_access_key.expose()));
            out.extend(c.session_token.as_ref().map(|t| Cow::Borrowed(t.expose())));
        }
        out
    }
}

/// Where the keys come from, for `settings`.
fn source(settings: &Settings, env: &dyn Env) -> Result<Source, String> {
    match (&settings.access_key_id, &settings.secret_access_key) {
        (Some(id), Some(secret)) => {
            return Ok(Source::Fixed(Credentials {
                access_key_id: id.clone(),
                secret_access_key: Secret::new(secret.clone()),
                session_token: settings.session_token.clone().map(Secret::new),
            }))
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err(
                "aws: access_key_id and secret_access_key go together (give both, or neither to use the environment or a profile)"
                    .into(),
            )
        }
        (None, None) => {}
    }
    let explicit_profile = settings.profile.is_some() || settings.credentials_file.is_some();
    if !explicit_profile {
        if let (Some(id), Some(secret)) = (
            env.var("AWS_ACCESS_KEY_ID"),
            env.var("AWS_SECRET_ACCESS_KEY"),
        ) {
            return Ok(Source::Fixed(Credentials {
                access_key_id: id,
                secret_access_key: Secret::new(secret),
                session_token: env.var("AWS_SESSION_TOKEN").map(Secret::new),
            }));
        }
    }
    let home = env.var("HOME").map(PathBuf::from);
    let credentials = settings
        .credentials_file
        .clone()
        .or_else(|| env.var("AWS_SHARED_CREDENTIALS_FILE").map(PathBuf::from))
        .or_else(|| home.as_ref().map(|h| h.join(".aws/credentials")));
    let config = env
        .var("AWS_CONFIG_FILE")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".aws/config")));
    let profile = settings
        .profile
        .clone()
        .or_else(|| env.var("AWS_PROFILE"))
        .unwrap_or_else(|| "default".to_string());
    let file = ProfileFile::new(credentials, config, profile);
    file.read().map_err(|e| {
        format!(
            "no AWS credentials: not in routes.yaml (aws.access_key_id), not in the environment (AWS_ACCESS_KEY_ID), and {e}"
        )
    })?;
    Ok(Source::Profile(file))
}

/// The region in an AWS endpoint host: `bedrock-runtime.us-west-2.
/// amazonaws.com`, `bedrock-runtime-fips.us-east-1.amazonaws.com`,
/// `….amazonaws.com.cn`; PrivateLink hosts (`vpce-….bedrock-runtime.us-east-1.vpce.amazonaws.com`)
/// too: the last label shaped like a region (`us-east-1`, `us-gov-west-1`).
pub fn region_of_host(host: &str) -> Option<&str> {
    let rest = host
        .strip_suffix(".amazonaws.com")
        .or_else(|| host.strip_suffix(".amazonaws.com.cn"))?;
    rest.rsplit('.').find(|label| is_region(label))
}

/// `xx-name-N` or `xx-gov-name-N`: letters, letters, digits.
fn is_region(label: &str) -> bool {
    let parts: Vec<&str> = label.split('-').collect();
    let letters = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase());
    match parts.as_slice() {
        [area, rest @ .., number] if (1..=2).contains(&rest.len()) => {
            area.len() == 2
                && rest.iter().all(|p| letters(p))
                && letters(area)
                && !number.is_empty()
                && number.bytes().all(|b| b.is_ascii_digit())
        }
        _ => false,
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}

#[cfg(test)]
mod tests;
