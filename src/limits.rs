//! The rates a scope may use — a client key, a route, a provider:
//! requests and tokens per minute. Configured in routes.yaml; enforced by
//! [`crate::policy::limits`] against the shared state.

/// Requests and tokens per minute (none: unlimited).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
}

impl Limits {
    /// Whether neither rate is limited.
    pub fn is_empty(&self) -> bool {
        self.rpm.is_none() && self.tpm.is_none()
    }
}

/// What a scope — the whole gateway, a route, a provider, a client key —
/// may spend per UTC day and month, in USD, and when to be told. Enforced
/// by [`crate::policy::budget`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Budget {
    pub daily: Option<f64>,
    pub monthly: Option<f64>,
    /// Soft thresholds, as fractions of a period's budget (0.5 for 50%),
    /// ascending: each fires once per period.
    pub alerts: Vec<f64>,
    /// A route's alternative to refusing: past a fraction of its budget,
    /// only targets at or under a price ceiling stay eligible.
    pub degrade: Option<Degrade>,
}

impl Budget {
    /// Whether neither period has a budget.
    pub fn is_empty(&self) -> bool {
        self.daily.is_none() && self.monthly.is_none()
    }
}

/// `degrade:` of a route's budget.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Degrade {
    /// The fraction of the day's or month's budget past which it applies.
    pub at: f64,
    /// USD per million input tokens a target may cost at most.
    pub max_input_price: Option<f64>,
    /// USD per million output tokens a target may cost at most.
    pub max_output_price: Option<f64>,
}
