//! Hot reload: on a change to routes.yaml or an adapter script (notify), or
//! on SIGHUP, load → validate → compile → swap atomically. An invalid edit
//! is logged with file:line, counted, and the running config keeps serving.
//! Requests hold the snapshot they started with until they finish.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use async_trait::async_trait;
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use tokio::sync::mpsc;

use super::{Config, ConfigIssue};
use crate::metrics::{metrics, set_config_version};

/// Quiet time after the last file event before reloading (editors write in bursts).
const DEBOUNCE: Duration = Duration::from_millis(100);

/// Loads new configs into the shared slot.
pub struct Reloader {
    path: PathBuf,
    state: Arc<ArcSwap<Config>>,
}

impl Reloader {
    /// A reloader for the config at `path`, serving through `state`.
    pub fn new(path: PathBuf, state: Arc<ArcSwap<Config>>) -> Self {
        Self { path, state }
    }

    /// Loads and swaps in the config; on failure the current one stays.
    pub fn reload(&self) -> Result<Arc<Config>, Vec<ConfigIssue>> {
        let m = metrics();
        match Config::load(&self.path) {
            Ok(cfg) => {
                let current = self.state.load();
                if cfg.listen != current.listen {
                    tracing::warn!(old = %current.listen, new = %cfg.listen, "listen address changes need a restart; still listening on the old one");
                }
                if cfg.settings.threads != current.settings.threads {
                    tracing::warn!("server.threads changes need a restart");
                }
                let p = (&cfg.policy, &current.policy);
                if p.0.state != p.1.state || p.0.ledger != p.1.ledger || p.0.admin != p.1.admin {
                    tracing::warn!("`state:`, `ledger:` and `admin:` changes need a restart; the rest of the config is applied");
                }
                if p.0.cache_memory != p.1.cache_memory {
                    tracing::warn!("`cache.memory` changes need a restart");
                }
                for w in &cfg.warnings {
                    tracing::warn!("{w}");
                }
                let cfg = Arc::new(cfg);
                if cfg.version != current.version {
                    tracing::info!(version = %cfg.version, previous = %current.version, "config reloaded");
                }
                set_config_version(&cfg.version);
                self.state.store(cfg.clone());
                m.config_reloads.with_label_values(&["success"]).inc();
                Ok(cfg)
            }
            Err(issues) => {
                m.config_reloads.with_label_values(&["failure"]).inc();
                for issue in &issues {
                    tracing::error!(
                        "config rejected, keeping version {}: {issue}",
                        self.state.load().version
                    );
                }
                Err(issues)
            }
        }
    }
}

/// The background service that watches files and SIGHUP.
pub struct WatchService {
    reloader: Arc<Reloader>,
}

impl WatchService {
    /// Watches the config behind `reloader`.
    pub fn new(reloader: Arc<Reloader>) -> Self {
        Self { reloader }
    }
}

/// The file events that matter: a write, create, rename or removal of the
/// config file or of a script; never our own reads (`Access`).
fn relevant(event: &notify::Event, config: &Path, scripts: &Path, scoring: &Path) -> bool {
    if matches!(event.kind, EventKind::Access(_) | EventKind::Other) {
        return false;
    }
    let config_name = config.file_name();
    event.paths.iter().any(|p| {
        p.file_name() == config_name && p.parent() == config.parent()
            || (p.starts_with(scripts) || p.starts_with(scoring))
                && p.extension().is_some_and(|e| e == "rhai" || e == "yaml")
    })
}

fn watch(watcher: &mut RecommendedWatcher, dir: &Path) {
    if let Err(e) = watcher.watch(dir, RecursiveMode::NonRecursive) {
        tracing::warn!(dir = %dir.display(), error = %e, "cannot watch directory; use SIGHUP to reload");
    }
}

/// Starts (or reconfigures) the active health checks of every provider
/// that has them, and stops those of providers that no longer do.
pub async fn apply_health_checks(cfg: &Config) {
    for p in cfg.providers.values() {
        match &p.health {
            Some(h) if p.is_enabled() => {
                if let Err(e) = p.backends.start_health_checks(h.clone()) {
                    tracing::error!(provider = %p.name, error = %e, "health checks not started");
                }
            }
            _ => p.backends.stop_health_checks().await,
        }
    }
}

#[async_trait]
impl BackgroundService for WatchService {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        apply_health_checks(&self.reloader.state.load_full()).await;
        let (tx, mut rx) = mpsc::unbounded_channel::<notify::Event>();
        let mut watcher =
            match notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
                if let Ok(ev) = res {
                    let _ = tx.send(ev);
                }
            }) {
                Ok(w) => w,
                Err(e) => {
                    tracing::error!(error = %e, "file watching unavailable; use SIGHUP to reload");
                    return;
                }
            };
        let config_path = absolute(&self.reloader.path);
        let config_dir = config_path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let mut scripts_dir = absolute(&self.reloader.state.load().scripts_dir);
        watch(&mut watcher, &config_dir);
        if scripts_dir != config_dir {
            watch(&mut watcher, &scripts_dir);
        }
        let scoring_dir = scripts_dir
            .parent()
            .map(|p| p.join("scoring"))
            .unwrap_or_default();
        if scoring_dir.is_dir() && scoring_dir != config_dir {
            watch(&mut watcher, &scoring_dir);
        }
        let mut hup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(error = %e, "SIGHUP handler unavailable");
                None
            }
        };
        loop {
            let reason = tokio::select! {
                _ = shutdown.changed() => return,
                Some(()) = async { match hup.as_mut() { Some(h) => h.recv().await, None => std::future::pending().await } } => "SIGHUP",
                Some(ev) = rx.recv() => {
                    if !relevant(&ev, &config_path, &scripts_dir, &scoring_dir) {
                        continue;
                    }
                    // Debounce: wait until the burst of events is over.
                    while let Ok(Some(_)) = tokio::time::timeout(DEBOUNCE, rx.recv()).await {}
                    "file change"
                }
            };
            tracing::info!(reason, "reloading config");
            let reloader = self.reloader.clone();
            let result = tokio::task::spawn_blocking(move || reloader.reload()).await;
            if let Ok(Ok(cfg)) = result {
                apply_health_checks(&cfg).await;
                let new_dir = absolute(&cfg.scripts_dir);
                if new_dir != scripts_dir {
                    let _ = watcher.unwatch(&scripts_dir);
                    watch(&mut watcher, &new_dir);
                    scripts_dir = new_dir;
                }
            }
        }
    }
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}
