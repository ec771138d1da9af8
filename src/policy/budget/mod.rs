//! Budgets: each key's spend per UTC day and month, from the actual cost of
//! its requests, in the state store (shared by a fleet through Redis) and
//! seeded at start-up from the durable ledger, so a restart does not reset
//! anyone's spend.

use std::time::Duration;

use chrono::{DateTime, Datelike, TimeZone, Utc};

use crate::config::policy::VirtualKey;
use crate::error::GatewayError;
use crate::metrics::metrics;
use crate::state::StateStore;

/// The day and month counters of `key` at `now`, each with how long the
/// store keeps it (a little past the period's end).
pub fn counters(key: &str, now: DateTime<Utc>) -> [(String, Duration); 2] {
    [
        (
            format!("spend:{key}:d:{}", now.format("%Y-%m-%d")),
            Duration::from_secs(2 * 86_400),
        ),
        (
            format!("spend:{key}:m:{}", now.format("%Y-%m")),
            Duration::from_secs(32 * 86_400),
        ),
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

fn has_budget(key: &VirtualKey) -> bool {
    key.daily_budget.is_some() || key.monthly_budget.is_some()
}

/// Refuses a key that has spent its daily or monthly budget.
pub async fn check(store: &StateStore, key: &VirtualKey) -> Result<(), GatewayError> {
    if !has_budget(key) {
        return Ok(());
    }
    let [(day, _), (month, _)] = counters(&key.name, Utc::now());
    let spent = store
        .spend(&[&day, &month])
        .await
        .map_err(|e| GatewayError::StateUnavailable(format!("budgets unavailable: {e}")))?;
    let periods = [
        ("daily", key.daily_budget, spent.first()),
        ("monthly", key.monthly_budget, spent.get(1)),
    ];
    for (period, budget, spent) in periods {
        let (Some(budget), Some(&spent)) = (budget, spent) else {
            continue;
        };
        if spent >= budget {
            metrics()
                .budget_rejections
                .with_label_values(&[&key.name])
                .inc();
            return Err(GatewayError::QuotaExceeded(format!(
                "The API key `{}` has used its {period} budget (${spent:.4} of ${budget:.2}). It resets at the start of the next {} (UTC).",
                key.name,
                if period == "daily" { "day" } else { "month" }
            )));
        }
    }
    Ok(())
}

/// Adds a request's cost to its key's spend.
pub async fn charge(store: &StateStore, key: &VirtualKey, usd: f64) {
    if !has_budget(key) || usd <= 0.0 {
        return;
    }
    let counters = counters(&key.name, Utc::now());
    let refs: Vec<(&str, Duration)> = counters.iter().map(|(c, t)| (c.as_str(), *t)).collect();
    if let Err(e) = store.add_spend(&refs, usd).await {
        tracing::warn!(key = %key.name, error = %e, "could not record spend");
    }
}

/// Seeds the day and month counters of every key with a budget from the
/// ledger's sums, unless the store already has them (another instance of
/// the fleet did, or this one before a reload).
pub async fn seed(
    store: &StateStore,
    keys: &[&VirtualKey],
    day: &[(String, f64)],
    month: &[(String, f64)],
) {
    let now = Utc::now();
    for key in keys.iter().filter(|k| has_budget(k)) {
        let [(d, dttl), (m, mttl)] = counters(&key.name, now);
        let find = |sums: &[(String, f64)]| {
            sums.iter()
                .find(|(k, _)| *k == key.name)
                .map_or(0.0, |(_, v)| *v)
        };
        for (counter, ttl, usd) in [(d, dttl, find(day)), (m, mttl, find(month))] {
            if let Err(e) = store.seed_spend(&counter, usd, ttl).await {
                tracing::warn!(key = %key.name, error = %e, "could not seed spend");
            }
        }
    }
}

#[cfg(test)]
mod tests;
