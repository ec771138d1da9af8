//! Budgets: what the whole gateway, a route, a provider and a client key
//! may spend per UTC day and month, counted from the actual cost of each
//! request in the state store (shared by a fleet through Redis), and
//! seeded at start-up from the durable ledger, so a restart does not reset
//! anyone's spend.
//!
//! Admission ([`check`]) reads every counter a request touches in one
//! store round trip: a spent gateway, route or key budget refuses it (429
//! `insufficient_quota`); a spent provider budget only takes that
//! provider out of the request's targets; a route with `degrade:` past its
//! threshold keeps only its cheap targets instead of refusing. Settling
//! ([`charge`]) adds the cost to the same counters in one round trip and
//! reads the totals back: a soft threshold fires once per period, on the
//! one request whose cost crosses it — on whichever instance of the fleet
//! that is.

use std::time::Duration;

use chrono::{DateTime, Datelike, TimeZone, Utc};
use serde_json::json;

pub use crate::config::policy::Scope;
use crate::error::GatewayError;
use crate::limits::{Budget, Degrade};
use crate::metrics::metrics;
use crate::state::StateStore;

/// One scope of a request that has a budget.
#[derive(Debug, Clone)]
pub struct Budgeted {
    pub scope: Scope,
    pub name: String,
    pub budget: Budget,
}

impl Budgeted {
    /// `scope` named `name`, if `budget` limits anything.
    pub fn of(scope: Scope, name: &str, budget: &Budget) -> Option<Self> {
        (!budget.is_empty()).then(|| Self {
            scope,
            name: name.to_string(),
            budget: budget.clone(),
        })
    }

    /// Its day and month counters at `now`.
    fn counters(&self, now: DateTime<Utc>) -> [(String, Duration); 2] {
        counters(self.scope, &self.name, now)
    }

    /// Its budget for the day (index 0) and the month (1).
    fn limits(&self) -> [(&'static str, Option<f64>); 2] {
        [
            ("daily", self.budget.daily),
            ("monthly", self.budget.monthly),
        ]
    }

    /// How it is named in messages.
    fn describe(&self) -> String {
        match self.scope {
            Scope::Gateway => "The gateway".to_string(),
            Scope::Route => format!("The route `{}`", self.name),
            Scope::Provider => format!("The provider `{}`", self.name),
            Scope::Key => format!("The API key `{}`", self.name),
        }
    }
}

/// The day and month counters of a scope at `now`, each with how long the
/// store keeps it (a little past the period's end). A key's keep the names
/// they had before other scopes had budgets.
pub fn counters(scope: Scope, name: &str, now: DateTime<Utc>) -> [(String, Duration); 2] {
    use std::fmt::Write;
    // Written with integers, not chrono's strftime: this runs twice per
    // budgeted scope on every request, and `format("%Y-%m-%d")` costs
    // thousands of instructions each time.
    let (y, m, d) = (now.year(), now.month(), now.day());
    let counter = |period: char| {
        let mut c = String::with_capacity(name.len() + 32);
        let _ = match scope {
            Scope::Key => write!(c, "spend:{name}"),
            Scope::Gateway => write!(c, "spend@gateway"),
            Scope::Route => write!(c, "spend@route:{name}"),
            Scope::Provider => write!(c, "spend@provider:{name}"),
        };
        let _ = match period {
            'd' => write!(c, ":d:{y:04}-{m:02}-{d:02}"),
            _ => write!(c, ":m:{y:04}-{m:02}"),
        };
        c
    };
    [
        (counter('d'), Duration::from_secs(2 * 86_400)),
        (counter('m'), Duration::from_secs(32 * 86_400)),
    ]
}

/// Start of the UTC day and month of `now`, in unix ms.
pub fn period_starts(now: DateTime<Utc>) -> (i64, i64) {
    let day = Utc
        .with_ymd_and_hms(now.year(), now.month(), now.day(), 0, 0, 0)
        .single()
        .map_or(0, |d| d.timestamp_millis());
    let month = Utc
        .with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .single()
        .map_or(0, |d| d.timestamp_millis());
    (day, month)
}

/// What admission learnt about a request's budgets, when it may go on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Gate {
    /// Providers over their budget: their targets are not tried.
    pub over: Vec<String>,
    /// The route is past its degrade threshold: only targets under this
    /// ceiling are tried.
    pub degrade: Option<Degraded>,
}

/// A route past its degrade threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Degraded {
    pub route: String,
    pub period: &'static str,
    pub ceiling: Degrade,
}

/// What each of `scopes` spent in the day and the month of `now`, in one
/// store round trip: the day's of scope `i` at `2i`, its month's at `2i + 1`.
async fn spent(
    store: &StateStore,
    scopes: &[Budgeted],
    now: DateTime<Utc>,
) -> Result<Vec<f64>, crate::state::StateError> {
    let names: Vec<String> = scopes
        .iter()
        .flat_map(|s| s.counters(now).map(|(c, _)| c))
        .collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    store.spend(&refs).await
}

/// Checks every budget of `scopes`: the refusal of the first one spent
/// (gateway, route and key scopes), else what the attempts must avoid.
pub async fn check(store: &StateStore, scopes: &[Budgeted]) -> Result<Gate, GatewayError> {
    if scopes.is_empty() {
        return Ok(Gate::default());
    }
    let spent = spent(store, scopes, Utc::now())
        .await
        .map_err(|e| GatewayError::StateUnavailable(format!("budgets unavailable: {e}")))?;
    let mut gate = Gate::default();
    for (i, s) in scopes.iter().enumerate() {
        for (j, (period, limit)) in s.limits().into_iter().enumerate() {
            let (Some(limit), Some(&used)) = (limit, spent.get(2 * i + j)) else {
                continue;
            };
            if let (Scope::Route, Some(d)) = (s.scope, s.budget.degrade) {
                if used >= d.at * limit && gate.degrade.is_none() {
                    gate.degrade = Some(Degraded {
                        route: s.name.clone(),
                        period,
                        ceiling: d,
                    });
                }
                continue;
            }
            if used < limit {
                continue;
            }
            if s.scope == Scope::Provider {
                if !gate.over.contains(&s.name) {
                    gate.over.push(s.name.clone());
                }
                continue;
            }
            return Err(refuse(s, period, used, limit));
        }
    }
    Ok(gate)
}

/// The refusal of a spent budget, counted.
fn refuse(s: &Budgeted, period: &str, used: f64, limit: f64) -> GatewayError {
    let m = metrics();
    m.budget_refusals
        .with_label_values(&[s.scope.label(), &s.name])
        .inc();
    if s.scope == Scope::Key {
        m.budget_rejections.with_label_values(&[&s.name]).inc();
    }
    GatewayError::QuotaExceeded(format!(
        "{} has used its {period} budget (${used:.4} of ${limit:.2}). It resets at the start of the next {} (UTC).",
        s.describe(),
        if period == "daily" { "day" } else { "month" }
    ))
}

/// A soft threshold crossed.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub scope: Scope,
    pub name: String,
    pub period: &'static str,
    /// The threshold, as a fraction of the budget.
    pub threshold: f64,
    /// Spent in the period, this request included.
    pub spent: f64,
    pub budget: f64,
}

impl Alert {
    /// `80%`, `12.5%`, `0.001%`: to six decimals, trailing zeros left out.
    pub fn percent(&self) -> String {
        let p = format!("{:.6}", self.threshold * 100.0);
        format!("{}%", p.trim_end_matches('0').trim_end_matches('.'))
    }

    /// The webhook's JSON event.
    pub fn event(&self, now: DateTime<Utc>) -> serde_json::Value {
        json!({
            "type": "budget.threshold_crossed",
            "scope": self.scope.label(),
            "name": self.name,
            "period": self.period,
            "period_start": match self.period {
                "daily" => now.format("%Y-%m-%d").to_string(),
                _ => now.format("%Y-%m").to_string(),
            },
            "threshold": self.threshold,
            "threshold_percent": self.percent(),
            "spent_usd": self.spent,
            "budget_usd": self.budget,
            "at": now.to_rfc3339(),
        })
    }
}

/// Adds `usd` to every counter of `scopes` and returns the thresholds this
/// crossed.
pub async fn charge(store: &StateStore, scopes: &[&Budgeted], usd: f64) -> Vec<Alert> {
    if scopes.is_empty() || usd <= 0.0 {
        return Vec::new();
    }
    let now = Utc::now();
    let counters: Vec<(String, Duration)> = scopes.iter().flat_map(|s| s.counters(now)).collect();
    let refs: Vec<(&str, Duration)> = counters.iter().map(|(c, t)| (c.as_str(), *t)).collect();
    let totals = match store.add_spend(&refs, usd).await {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "could not record spend");
            return Vec::new();
        }
    };
    let mut alerts = Vec::new();
    for (i, s) in scopes.iter().enumerate() {
        for (j, (period, limit)) in s.limits().into_iter().enumerate() {
            let (Some(limit), Some(&total)) = (limit, totals.get(2 * i + j)) else {
                continue;
            };
            let before = total - usd;
            for &t in &s.budget.alerts {
                let at = t * limit;
                if before < at && total >= at {
                    alerts.push(Alert {
                        scope: s.scope,
                        name: s.name.clone(),
                        period,
                        threshold: t,
                        spent: total,
                        budget: limit,
                    });
                }
            }
        }
    }
    alerts
}

/// Tells of `alert`: a log line, a metric, and the webhook's event.
pub fn announce(alert: &Alert, webhook: Option<&super::webhook::Webhook>) {
    metrics()
        .budget_alerts
        .with_label_values(&[
            alert.scope.label(),
            &alert.name,
            alert.period,
            &alert.percent(),
        ])
        .inc();
    tracing::warn!(
        scope = alert.scope.label(),
        name = %alert.name,
        period = alert.period,
        threshold = %alert.percent(),
        spent_usd = alert.spent,
        budget_usd = alert.budget,
        "budget threshold crossed"
    );
    if let Some(w) = webhook {
        w.send(alert.event(Utc::now()));
    }
}

/// Every scope of `scopes` with its spend so far this UTC day and month,
/// as the admin API shows it.
pub async fn status(store: &StateStore, scopes: &[Budgeted]) -> Result<serde_json::Value, String> {
    let now = Utc::now();
    let spent = spent(store, scopes, now).await.map_err(|e| e.to_string())?;
    let rows: Vec<serde_json::Value> = scopes
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let period = |j: usize, limit: Option<f64>| {
                let used = spent.get(2 * i + j).copied().unwrap_or(0.0);
                json!({
                    "budget_usd": limit,
                    "spent_usd": used,
                    "spent_fraction": limit.filter(|l| *l > 0.0).map(|l| used / l),
                })
            };
            json!({
                "scope": s.scope.label(),
                "name": s.name,
                "daily": period(0, s.budget.daily),
                "monthly": period(1, s.budget.monthly),
                "alerts": s.budget.alerts,
                "degrade_at": s.budget.degrade.map(|d| d.at),
            })
        })
        .collect();
    Ok(json!({
        "day": now.format("%Y-%m-%d").to_string(),
        "month": now.format("%Y-%m").to_string(),
        "budgets": rows,
    }))
}

/// Spend so far in the day and the month, by scope name, from the ledger.
#[derive(Debug, Default)]
pub struct Sums {
    pub day: Vec<(Scope, String, f64)>,
    pub month: Vec<(Scope, String, f64)>,
}

/// Seeds the day and month counters of every budgeted scope from the
/// ledger's sums, unless the store already has them (another instance of
/// the fleet did, or this one before a reload).
pub async fn seed(store: &StateStore, scopes: &[Budgeted], sums: &Sums) {
    let now = Utc::now();
    for s in scopes {
        let [(d, dttl), (m, mttl)] = s.counters(now);
        let find = |sums: &[(Scope, String, f64)]| {
            sums.iter()
                .find(|(scope, name, _)| *scope == s.scope && *name == s.name)
                .map_or(0.0, |(_, _, v)| *v)
        };
        for (counter, ttl, usd) in [(d, dttl, find(&sums.day)), (m, mttl, find(&sums.month))] {
            if let Err(e) = store.seed_spend(&counter, usd, ttl).await {
                tracing::warn!(scope = s.scope.label(), name = %s.name, error = %e, "could not seed spend");
            }
        }
    }
}

#[cfg(test)]
mod tests;
