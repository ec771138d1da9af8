//! Policies on the request path — who is calling ([`keys`]), how often
//! ([`limits`]), how much they may spend ([`budget`]), what is answered
//! from memory ([`cache`], [`coalesce`]) — and the long-lived state they
//! keep: [`Policies`] outlives config reloads; the rules come from each
//! request's config snapshot.

pub mod budget;
pub mod cache;
pub mod coalesce;
pub mod collect;
pub mod keys;
pub mod limits;

use std::sync::Arc;

use crate::config::policy::{LedgerSettings, OnError, StateSettings};
use crate::config::Config;
use crate::ledger::{Ledger, LedgerOptions, LedgerTarget};
use crate::state::{FailMode, StateStore};

/// State shared by every request for the life of the process.
pub struct Policies {
    pub store: StateStore,
    pub ledger: Option<Ledger>,
    /// The L1 response cache.
    pub cache: cache::MemoryCache,
    pub coalescer: Arc<coalesce::Coalescer>,
    /// What the store and ledger were built from: changing these needs a
    /// restart, which a reload says.
    pub state_settings: StateSettings,
    pub ledger_settings: LedgerSettings,
}

impl Policies {
    /// Opens the state store and the ledger `cfg` names.
    pub fn build(cfg: &Config) -> Result<Self, String> {
        let p = &cfg.policy;
        let store = match &p.state.redis {
            None => StateStore::memory(),
            Some(url) => {
                let fail = match p.state.on_error {
                    OnError::Open => FailMode::Open,
                    OnError::Closed => FailMode::Closed,
                };
                StateStore::redis(url, fail, &p.state.prefix).map_err(|e| format!("state: {e}"))?
            }
        };
        let ledger = match &p.ledger.url {
            None => None,
            Some(url) => {
                let target =
                    LedgerTarget::parse(url, &cfg.data_dir).map_err(|e| format!("ledger: {e}"))?;
                let opts = LedgerOptions {
                    flush_interval: p.ledger.flush_interval,
                    ..LedgerOptions::default()
                };
                let hint = match &target {
                    LedgerTarget::Sqlite(_) => format!(
                        " (the data directory is {}: give a writable one with --data-dir or SWITCHYARD_DATA_DIR)",
                        cfg.data_dir.display()
                    ),
                    LedgerTarget::Postgres(_) => String::new(),
                };
                Some(Ledger::open(&target, opts).map_err(|e| format!("ledger: {e}{hint}"))?)
            }
        };
        Ok(Self {
            store,
            ledger,
            cache: cache::MemoryCache::new(p.cache_memory),
            coalescer: Arc::new(coalesce::Coalescer::default()),
            state_settings: p.state.clone(),
            ledger_settings: p.ledger.clone(),
        })
    }

    /// Seeds every budgeted key's spend from the ledger (start-up).
    pub async fn seed_budgets(&self, cfg: &Config) {
        let Some(ledger) = self.ledger.clone() else {
            return;
        };
        let keys: Vec<_> = cfg.policy.auth.keys.iter().map(|k| k.as_ref()).collect();
        if !keys
            .iter()
            .any(|k| k.daily_budget.is_some() || k.monthly_budget.is_some())
        {
            return;
        }
        let (day, month) = budget::period_starts(chrono::Utc::now());
        let sums = tokio::task::spawn_blocking(move || {
            let d = ledger.spend_by_key(day)?;
            let m = ledger.spend_by_key(month)?;
            Ok::<_, crate::ledger::LedgerError>((d, m))
        })
        .await;
        match sums {
            Ok(Ok((d, m))) => {
                let d: Vec<(String, f64)> = d.into_iter().collect();
                let m: Vec<(String, f64)> = m.into_iter().collect();
                budget::seed(&self.store, &keys, &d, &m).await;
            }
            Ok(Err(e)) => tracing::error!(error = %e, "could not read spend from the ledger"),
            Err(e) => tracing::error!(error = %e, "could not read spend from the ledger"),
        }
    }
}
