//! How an attempt that did not answer ended, typed: what the attempts
//! header shows for it, its metric label, and whether it spent one of the
//! route's attempts (a request went out) — and the failures of a request
//! together: logged, counted, and boiled down to the most telling error.

use std::borrow::Cow;
use std::time::Instant;

use crate::error::GatewayError;
use crate::metrics::metrics;
use crate::proxy::RequestCtx;
use crate::routing::Route;
use crate::upstream::breaker::RefusalReason;

/// Why a target did not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Not tried: the provider is disabled (its key is unset, say).
    Disabled,
    /// Not tried: the client's key may not use the target's model.
    NotAllowed,
    /// Not tried: the provider lacks a capability the request needs.
    Unsupported,
    /// Not tried: the request does not fit the model's context window.
    Context,
    /// Not sent: the backend's circuit breaker refused it.
    Breaker(RefusalReason),
    /// Not sent: over the provider's rate limits in this gateway.
    RateLimited,
    /// Not sent: the backend's own quota, as its last answers said, cannot
    /// cover the request until its window resets.
    Quota,
    /// Not tried: over the provider's budget, or above the price ceiling
    /// of a route past its degrade threshold.
    OverBudget,
    /// Not sent: the adapter refused the request (a 4xx for the client).
    AdapterRefused,
    /// Not sent: the adapter failed building the request.
    AdapterFailed,
    /// Not sent: the provider's cloud credentials could not be had (the
    /// token endpoint refused them, or did not answer).
    Credentials,
    /// Sent: the provider answered with this error status.
    Status(u16),
    /// Sent: no answer (or no complete one) in time.
    Timeout,
    /// Sent: the connection failed, or the answer was unusable.
    Error,
    /// Sent: the answer was refused by its adapter (a 4xx for the client).
    Rejected,
}

impl Outcome {
    /// What `x-switchyard-attempts` shows: a status, or a word.
    pub fn label(self) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            Self::Disabled => "disabled",
            Self::NotAllowed => "not_allowed",
            Self::Unsupported => "unsupported",
            Self::Context => "context",
            Self::Breaker(r) => r.as_str(),
            Self::RateLimited => "rate_limited",
            Self::Quota => "quota",
            Self::OverBudget => "over_budget",
            Self::AdapterRefused | Self::AdapterFailed => "script",
            Self::Credentials => "credentials",
            Self::Status(s) => return Cow::Owned(s.to_string()),
            Self::Timeout => "timeout",
            Self::Error => "error",
            Self::Rejected => "rejected",
        })
    }

    /// The `outcome` label of `gateway_upstream_attempts_total`.
    pub fn metric_label(self) -> &'static str {
        match self {
            Self::Status(_) => "status",
            Self::Timeout => "timeout",
            Self::Error | Self::AdapterFailed | Self::Credentials => "error",
            Self::Disabled
            | Self::NotAllowed
            | Self::Unsupported
            | Self::Context
            | Self::Breaker(_)
            | Self::RateLimited
            | Self::Quota
            | Self::OverBudget
            | Self::AdapterRefused
            | Self::Rejected => "rejected",
        }
    }

    /// Whether a request went out: only those count against the route's
    /// `max_attempts`.
    pub fn spent(self) -> bool {
        match self {
            Self::Status(_) | Self::Timeout | Self::Error | Self::Rejected => true,
            Self::Disabled
            | Self::NotAllowed
            | Self::Unsupported
            | Self::Context
            | Self::Breaker(_)
            | Self::RateLimited
            | Self::Quota
            | Self::OverBudget
            | Self::AdapterRefused
            | Self::AdapterFailed
            | Self::Credentials => false,
        }
    }

    /// The outcome of an error met after the request went out (the status
    /// of an error answer is known where it is read).
    pub fn of_sent(e: &GatewayError) -> Self {
        match e {
            GatewayError::UpstreamTimeout(_) => Self::Timeout,
            GatewayError::Upstream { status, .. } | GatewayError::ProviderAuth { status, .. } => {
                Self::Status(*status)
            }
            GatewayError::Rejected { .. } => Self::Rejected,
            _ => Self::Error,
        }
    }

    /// The outcome of the adapter's error while building the request.
    pub fn of_adapter(e: &GatewayError) -> Self {
        match e {
            GatewayError::Rejected { .. } => Self::AdapterRefused,
            _ => Self::AdapterFailed,
        }
    }
}

/// A target (or one backend of it) that did not answer.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The provider, or `provider/backend` when it has several.
    pub provider: String,
    /// When a cooling-down backend admits requests again (refusals only).
    pub until: Option<Instant>,
    pub outcome: Outcome,
    pub error: GatewayError,
}

impl Failure {
    /// A failure of `provider` with no retry time.
    pub fn new(provider: &str, outcome: Outcome, error: GatewayError) -> Self {
        Self {
            provider: provider.to_string(),
            until: None,
            outcome,
            error,
        }
    }
}

/// Each failed attempt: in the attempts header, counted, logged.
pub fn record(ctx: &mut RequestCtx, failures: &[Failure]) {
    for f in failures {
        ctx.attempts
            .push(format!("{}:{}", f.provider, f.outcome.label()));
        metrics()
            .upstream_attempts
            .with_label_values(&[&f.provider, f.outcome.metric_label()])
            .inc();
        if !f.outcome.spent() {
            metrics()
                .backend_skips
                .with_label_values(&[f.provider.as_str(), &f.outcome.label()])
                .inc();
        }
        tracing::warn!(
            request_id = %ctx.request_id,
            provider = %f.provider,
            attempt = ctx.attempts.len(),
            error = %f.error,
            "attempt failed"
        );
    }
}

/// The most telling failure, with every attempt listed in its message.
pub fn final_error(route: &Route, failures: Vec<Failure>) -> GatewayError {
    let tried: Vec<String> = failures
        .iter()
        .map(|f| format!("{} → {}", f.provider, f.outcome.label()))
        .collect();
    let note = format!("attempts: {}", tried.join(", "));
    if let Some(e) = quotas_spent(route, &failures, &note) {
        return e;
    }
    let best = failures
        .into_iter()
        .map(|f| f.error)
        .max_by_key(GatewayError::rank);
    match best {
        Some(e) if tried.len() > 1 => e.with_note(&note),
        Some(e) => e,
        None => GatewayError::NoUsableProvider(format!(
            "route `{}` could not try any target in time",
            route.name
        )),
    }
}

/// When every target was skipped because its provider's own quota cannot
/// cover the request, the rate limit it is: a 429, as the providers would
/// answer, with the soonest reset as `Retry-After` (rounded up), so that a
/// client backs off just long enough — not a 503.
fn quotas_spent(route: &Route, failures: &[Failure], note: &str) -> Option<GatewayError> {
    if failures.iter().any(|f| f.outcome != Outcome::Quota) {
        return None;
    }
    let soonest = failures.iter().filter_map(|f| f.until).min()?;
    let wait = soonest.saturating_duration_since(Instant::now());
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    Some(GatewayError::RateLimited {
        message: format!(
            "every provider of route `{}` has spent its quota until its window resets ({note})",
            route.name
        ),
        retry_after: secs.max(1).to_string(),
    })
}

#[cfg(test)]
mod tests;
