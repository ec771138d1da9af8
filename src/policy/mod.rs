//! Policies on the request path — who is calling ([`keys`]), how often
//! ([`limits`]), how much they may spend ([`budget`], alerts through
//! [`webhook`]), what is answered
//! from memory ([`cache`], [`coalesce`]) — and the long-lived state they
//! keep: [`Policies`] outlives config reloads; the rules come from each
//! request's config snapshot.

pub mod budget;
pub mod cache;
pub mod coalesce;
pub mod collect;
pub mod keys;
pub mod limits;
pub mod semantic;
pub mod webhook;

use std::sync::{Arc, Mutex};

use crate::config::policy::{LedgerSettings, OnError, StateSettings, WebhookSettings};
use crate::config::Config;
use crate::ledger::{Ledger, LedgerOptions, LedgerTarget, SpendBy};
use crate::state::{FailMode, StateStore};
use budget::{Budgeted, Scope};

/// State shared by every request for the life of the process.
pub struct Policies {
    pub store: StateStore,
    pub ledger: Option<Ledger>,
    /// The L1 response cache.
    pub cache: cache::MemoryCache,
    /// Answers matched by meaning: indexed here, shared through the
    /// state store in fleet mode.
    pub semantic: Arc<semantic::SemanticCache>,
    pub coalescer: Arc<coalesce::Coalescer>,
    /// What the store and ledger were built from: changing these needs a
    /// restart, which a reload says.
    pub state_settings: StateSettings,
    pub ledger_settings: LedgerSettings,
    /// The budget alerts' webhook and the settings it was built from.
    webhook: Mutex<Option<(WebhookSettings, webhook::Webhook)>>,
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
        // Followed only by routes that have one; idle otherwise.
        let semantic = Arc::new(semantic::SemanticCache::new(p.semantic_memory as u64));
        if uses_semantic(cfg) {
            semantic.follow(&store);
        }
        Ok(Self {
            store,
            ledger,
            cache: cache::MemoryCache::new(p.cache_memory),
            semantic,
            coalescer: Arc::new(coalesce::Coalescer::default()),
            state_settings: p.state.clone(),
            ledger_settings: p.ledger.clone(),
            webhook: Mutex::new(None),
        })
    }

    /// Sets the gauges of what the policies hold (per scrape).
    pub fn observe(&self) {
        let stats = self.semantic.stats();
        let m = crate::metrics::metrics();
        m.semantic_entries.set(stats.entries as i64);
        m.semantic_bytes.set(stats.bytes as i64);
    }

    /// Starts following the fleet's semantic entries once a config has a
    /// semantic cache (a reload may add the first).
    pub fn follow_semantic(&self, cfg: &Config) {
        if uses_semantic(cfg) {
            self.semantic.follow(&self.store);
        }
    }

    /// Seeds every budgeted scope's spend from the ledger (start-up).
    pub async fn seed_budgets(&self, cfg: &Config) {
        self.seed(budget_scopes(cfg)).await;
    }

    /// Seeds the scopes whose budget `new` adds to `old`'s (a reload).
    pub async fn seed_new_budgets(&self, old: &Config, new: &Config) {
        let before = budget_scopes(old);
        let added: Vec<Budgeted> = budget_scopes(new)
            .into_iter()
            .filter(|b| {
                !before
                    .iter()
                    .any(|o| o.scope == b.scope && o.name == b.name)
            })
            .collect();
        self.seed(added).await;
    }

    async fn seed(&self, scopes: Vec<Budgeted>) {
        let Some(ledger) = self.ledger.clone() else {
            return;
        };
        if scopes.is_empty() {
            return;
        }
        let (day, month) = budget::period_starts(chrono::Utc::now());
        let sums = tokio::task::spawn_blocking(move || {
            let mut sums = budget::Sums::default();
            for (since, out) in [(day, &mut sums.day), (month, &mut sums.month)] {
                for (scope, by) in [
                    (Scope::Key, SpendBy::Key),
                    (Scope::Route, SpendBy::Route),
                    (Scope::Provider, SpendBy::Provider),
                ] {
                    let spent = ledger.spend_by(by, since)?;
                    out.extend(spent.into_iter().map(|(name, usd)| (scope, name, usd)));
                }
                out.push((Scope::Gateway, String::new(), ledger.spend_total(since)?));
            }
            Ok::<_, crate::ledger::LedgerError>(sums)
        })
        .await;
        match sums {
            Ok(Ok(sums)) => budget::seed(&self.store, &scopes, &sums).await,
            Ok(Err(e)) => tracing::error!(error = %e, "could not read spend from the ledger"),
            Err(e) => tracing::error!(error = %e, "could not read spend from the ledger"),
        }
    }

    /// Waits up to `within` for the budget alerts still queued to be
    /// delivered (shutdown); how many were not.
    pub fn flush_webhook(&self, within: std::time::Duration) -> usize {
        let webhook = self
            .webhook
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|(_, w)| w.clone());
        webhook.map_or(0, |w| w.flush(within))
    }

    /// The webhook budget alerts go to under `cfg`: the one already
    /// running when its settings did not change (its queue and thread
    /// outlive reloads).
    pub fn webhook(&self, cfg: &Config) -> Option<webhook::Webhook> {
        let settings = cfg.policy.webhook.as_ref()?;
        let mut slot = self.webhook.lock().unwrap_or_else(|e| e.into_inner());
        match slot.as_ref() {
            Some((s, w)) if s == settings => Some(w.clone()),
            _ => {
                let w = webhook::Webhook::new(settings.clone());
                *slot = Some((settings.clone(), w.clone()));
                Some(w)
            }
        }
    }
}

/// Every scope of `cfg` with a budget: the gateway, then each route,
/// provider and key.
pub fn budget_scopes(cfg: &Config) -> Vec<Budgeted> {
    let routes = cfg.routes.routes();
    let gateway = Budgeted::of(Scope::Gateway, "", &cfg.policy.budget);
    let routes = routes
        .iter()
        .filter_map(|r| Budgeted::of(Scope::Route, &r.name, &r.policy.budget));
    let providers = cfg
        .providers
        .values()
        .filter_map(|p| Budgeted::of(Scope::Provider, &p.name, &p.budget));
    let keys = cfg
        .policy
        .auth
        .keys
        .iter()
        .filter_map(|k| Budgeted::of(Scope::Key, &k.name, &k.budget));
    gateway
        .into_iter()
        .chain(routes)
        .chain(providers)
        .chain(keys)
        .collect()
}

/// Whether a route of `cfg` has a semantic cache.
fn uses_semantic(cfg: &Config) -> bool {
    cfg.routes.routes().iter().any(|r| {
        r.policy
            .cache
            .as_ref()
            .is_some_and(|c| c.semantic.is_some())
    })
}
