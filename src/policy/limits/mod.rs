//! Rate limits: requests and tokens per minute, per key, per route and per
//! provider, as token buckets in the state store (shared by a fleet through
//! Redis). TPM reserves the request's estimate up front and is settled
//! against the usage the provider reports.

use std::time::Duration;

use crate::error::GatewayError;
use crate::limits::Limits;
use crate::metrics::metrics;
use crate::state::{Decision, StateStore};

/// Every limit is per minute.
pub const WINDOW: Duration = Duration::from_secs(60);

/// What a limit applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Key,
    Route,
    Provider,
}

impl Scope {
    pub fn label(self) -> &'static str {
        match self {
            Self::Key => "key",
            Self::Route => "route",
            Self::Provider => "provider",
        }
    }
}

/// Tokens reserved in one bucket, to settle after the answer.
#[derive(Debug, Clone)]
struct Reserved {
    bucket: String,
    limit: u64,
    amount: u64,
}

/// What a request took from the buckets, and the `x-ratelimit-*` headers
/// to answer with.
#[derive(Debug, Default)]
pub struct Admission {
    reserved: Vec<Reserved>,
    taken_requests: Vec<(String, u64)>,
    pub headers: Vec<(&'static str, String)>,
}

/// A refused admission: why, and the `x-ratelimit-*` headers to send.
#[derive(Debug)]
pub struct Refusal {
    pub error: GatewayError,
    pub headers: Vec<(&'static str, String)>,
}

/// Takes one request and `estimate` tokens from each scope's buckets, or
/// explains which limit was hit (everything taken so far is given back).
pub async fn admit(
    store: &StateStore,
    scopes: &[(Scope, &str, Limits)],
    estimate: u64,
) -> Result<Admission, Refusal> {
    let mut adm = Admission::default();
    let result = take_all(store, scopes, estimate, &mut adm).await;
    if let Err(error) = result {
        release(store, &adm).await;
        return Err(Refusal {
            error,
            headers: std::mem::take(&mut adm.headers),
        });
    }
    Ok(adm)
}

async fn take_all(
    store: &StateStore,
    scopes: &[(Scope, &str, Limits)],
    estimate: u64,
    adm: &mut Admission,
) -> Result<(), GatewayError> {
    for &(scope, name, limits) in scopes {
        let headers = adm.headers.is_empty();
        if let Some(rpm) = limits.rpm {
            let bucket = format!("rpm:{}:{name}", scope.label());
            let d = take(store, &bucket, rpm, 1).await?;
            if headers {
                push_headers(&mut adm.headers, "requests", &d);
            }
            if !d.allowed {
                return Err(rejected(scope, name, &d, "requests", rpm));
            }
            adm.taken_requests.push((bucket, rpm));
        }
        if let Some(tpm) = limits.tpm {
            if estimate > tpm {
                metrics()
                    .ratelimit_rejections
                    .with_label_values(&[scope.label()])
                    .inc();
                return Err(GatewayError::RateLimited {
                    message: format!(
                        "Request too large for {} `{name}` on tokens per min (TPM): Limit {tpm}, Requested {estimate}. Reduce the prompt or max_tokens.",
                        scope.label()
                    ),
                    retry_after: WINDOW.as_secs().to_string(),
                });
            }
            let bucket = format!("tpm:{}:{name}", scope.label());
            let d = take(store, &bucket, tpm, estimate).await?;
            if headers {
                push_headers(&mut adm.headers, "tokens", &d);
            }
            if !d.allowed {
                return Err(rejected(scope, name, &d, "tokens", tpm));
            }
            adm.reserved.push(Reserved {
                bucket,
                limit: tpm,
                amount: estimate,
            });
        }
    }
    Ok(())
}

async fn take(
    store: &StateStore,
    bucket: &str,
    limit: u64,
    amount: u64,
) -> Result<Decision, GatewayError> {
    store
        .take(bucket, limit, WINDOW, amount)
        .await
        .map_err(|e| GatewayError::StateUnavailable(format!("rate limits unavailable: {e}")))
}

fn rejected(scope: Scope, name: &str, d: &Decision, unit: &str, limit: u64) -> GatewayError {
    metrics()
        .ratelimit_rejections
        .with_label_values(&[scope.label()])
        .inc();
    let wait = d.retry_after.unwrap_or(WINDOW);
    let short = if unit == "requests" { "RPM" } else { "TPM" };
    GatewayError::RateLimited {
        message: format!(
            "Rate limit reached for {} `{name}` on {unit} per min ({short}): Limit {limit}, Remaining {}. Please try again in {}.",
            scope.label(),
            d.remaining,
            openai_duration(wait)
        ),
        retry_after: wait.as_secs_f64().ceil().max(1.0).to_string(),
    }
}

/// `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`, as OpenAI sends.
fn push_headers(out: &mut Vec<(&'static str, String)>, unit: &str, d: &Decision) {
    let names: [&'static str; 3] = if unit == "requests" {
        [
            "x-ratelimit-limit-requests",
            "x-ratelimit-remaining-requests",
            "x-ratelimit-reset-requests",
        ]
    } else {
        [
            "x-ratelimit-limit-tokens",
            "x-ratelimit-remaining-tokens",
            "x-ratelimit-reset-tokens",
        ]
    };
    out.push((names[0], d.limit.to_string()));
    out.push((names[1], d.remaining.to_string()));
    out.push((names[2], openai_duration(d.reset)));
}

/// Settles the token reservations against what the request used: `None`
/// when nothing was consumed (the request failed), so the estimate goes
/// back.
pub async fn settle(store: &StateStore, adm: &Admission, used: Option<u64>) {
    for r in &adm.reserved {
        let delta = used.unwrap_or(0) as i64 - r.amount as i64;
        if delta != 0 {
            if let Err(e) = store.adjust(&r.bucket, r.limit, WINDOW, delta).await {
                tracing::warn!(bucket = %r.bucket, error = %e, "could not settle a token reservation");
            }
        }
    }
}

/// Gives back everything an admission took (a later check refused).
async fn release(store: &StateStore, adm: &Admission) {
    for (bucket, limit) in &adm.taken_requests {
        let _ = store.adjust(bucket, *limit, WINDOW, -1).await;
    }
    settle(store, adm, None).await;
}

/// Durations as OpenAI writes them in `x-ratelimit-reset-*`: `20ms`, `1.5s`,
/// `6m0s`.
pub fn openai_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        let text = format!("{secs:.3}");
        let text = text.trim_end_matches('0').trim_end_matches('.');
        return format!("{text}s");
    }
    let whole = d.as_secs();
    format!("{}m{}s", whole / 60, whole % 60)
}

#[cfg(test)]
mod tests;
