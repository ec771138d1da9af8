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
