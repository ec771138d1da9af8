//! Which traces are recorded: OpenTelemetry's samplers (`always_on`,
//! `always_off`, `traceidratio` and their `parentbased_` forms), decided
//! once per request from its trace id, so that every gateway of a fleet
//! (and every SDK using the same rule) keeps or drops the same traces.

use super::context::Parent;
use super::span::TraceId;

/// A sampler: a rule for traces that start here, and whether a client's
/// decision is followed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampler {
    /// Follow the client's sampled flag when it sent a `traceparent`.
    pub parent_based: bool,
    /// The share of new traces kept, 0 to 1.
    pub ratio: f64,
}

impl Sampler {
    /// OpenTelemetry's default: `parentbased_always_on`.
    pub const DEFAULT: Self = Self {
        parent_based: true,
        ratio: 1.0,
    };

    /// A sampler by its `OTEL_TRACES_SAMPLER` name, with its argument (the
    /// ratio of the `traceidratio` ones; default 1).
    pub fn named(name: &str, arg: Option<f64>) -> Result<Self, String> {
        let ratio = arg.unwrap_or(1.0);
        if !(0.0..=1.0).contains(&ratio) {
            return Err(format!(
                "the sampling ratio must be between 0 and 1, not {ratio}"
            ));
        }
        let (parent_based, ratio) = match name {
            "always_on" => (false, 1.0),
            "always_off" => (false, 0.0),
            "traceidratio" => (false, ratio),
            "parentbased_always_on" => (true, 1.0),
            "parentbased_always_off" => (true, 0.0),
            "parentbased_traceidratio" => (true, ratio),
            other => {
                return Err(format!(
                    "unknown sampler `{other}` (expected always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio)"
                ))
            }
        };
        Ok(Self {
            parent_based,
            ratio,
        })
    }

    /// Whether the trace `trace` (continuing `parent`, if any) is recorded.
    pub fn sampled(&self, trace: TraceId, parent: Option<&Parent>) -> bool {
        if let Some(p) = parent.filter(|_| self.parent_based) {
            return p.sampled;
        }
        if self.ratio >= 1.0 {
            return true;
        }
        // OpenTelemetry's TraceIdRatioBased: the trace id's last 8 bytes
        // against the ratio of 2^63.
        let bound = (self.ratio.max(0.0) * (1u64 << 63) as f64) as u64;
        let mut low = [0u8; 8];
        low.copy_from_slice(&trace.0[8..]);
        (u64::from_be_bytes(low) >> 1) < bound
    }
}

#[cfg(test)]
mod tests;
