//! Hot reload: on a change to routes.yaml or an adapter script (notify), or
//! on SIGHUP, load → validate → compile → swap atomically. An invalid edit
//! is logged with file:line, counted, and the running config keeps serving.
//! Requests hold the snapshot they started with until they finish. Symlinks
//! on the way to the files count as the files: a Kubernetes ConfigMap
//! update, which only renames its `..data` symlink, reloads too.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
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

/// What runs after a new config is swapped in: `(old, new)`.
pub type OnSwap = Box<dyn Fn(Arc<Config>, Arc<Config>) + Send + Sync>;

/// Loads new configs into the shared slot.
pub struct Reloader {
    path: PathBuf,
    state: Arc<ArcSwap<Config>>,
    on_swap: Option<OnSwap>,
}

impl Reloader {
    /// A reloader for the config at `path`, serving through `state`.
    pub fn new(path: PathBuf, state: Arc<ArcSwap<Config>>) -> Self {
        Self {
            path,
            state,
            on_swap: None,
        }
    }

    /// Runs `f` after each successful reload (it must not block: the
    /// caller may be a request's thread, through the admin API).
    pub fn on_swap(mut self, f: OnSwap) -> Self {
        self.on_swap = Some(f);
        self
    }

    /// Loads and swaps in the config; on failure the current one stays.
    pub fn reload(&self) -> Result<Arc<Config>, Vec<ConfigIssue>> {
        let m = metrics();
        // The data directory is fixed for the process's life.
        let data_dir = self.state.load().data_dir.clone();
        match Config::load_in(&self.path, Some(&data_dir)) {
            Ok(cfg) => {
                let current = self.state.load();
                if cfg.listen != current.listen {
                    tracing::warn!(old = %current.listen, new = %cfg.listen, "listen address changes need a restart; still listening on the old one");
                }
                if cfg.settings.threads != current.settings.threads {
                    tracing::warn!("server.threads changes need a restart");
                }
                if cfg.settings.upgrade_sock != current.settings.upgrade_sock {
                    tracing::warn!("server.upgrade_sock changes need a restart");
                }
                let p = (&cfg.policy, &current.policy);
                if p.0.state != p.1.state || p.0.ledger != p.1.ledger || p.0.admin != p.1.admin {
                    tracing::warn!("`state:`, `ledger:` and `admin:` changes need a restart; the rest of the config is applied");
                }
                if p.0.cache_memory != p.1.cache_memory
                    || p.0.semantic_memory != p.1.semantic_memory
                {
                    tracing::warn!(
                        "`cache.memory` and `cache.semantic_memory` changes need a restart"
                    );
                }
                for w in &cfg.warnings {
                    tracing::warn!("{w}");
                }
                let cfg = Arc::new(cfg);
                if cfg.version != current.version {
                    tracing::info!(version = %cfg.version, previous = %current.version, "config reloaded");
                }
                set_config_version(&cfg.version);
                // Requests still in flight may log the old secrets.
                let mut secrets = cfg.log_secrets();
                secrets.extend(current.log_secrets());
                crate::logging::set_secrets(secrets.iter().map(String::as_str));
                let old = self.state.swap(cfg.clone());
                m.config_reloads.with_label_values(&["success"]).inc();
                if let Some(f) = &self.on_swap {
                    f(old, cfg.clone());
                }
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

/// What the watcher follows for one config: the files whose events mean
/// "reload" and the directories to watch for them. Rebuilt after every
/// reload, since the symlinks on the way may now point elsewhere.
struct Targets {
    config: PathBuf,
    scripts: PathBuf,
    /// The scoring scripts', the patches' and the guardrails' folders,
    /// beside `scripts`.
    siblings: [PathBuf; 3],
    /// Symlinks met on the way from the config's directory to the config
    /// file and the script directories: in a Kubernetes ConfigMap volume,
    /// `routes.yaml`, `scripts` and `..data`, whose atomic replacement by
    /// rename is the only event an update makes there.
    links: Vec<PathBuf>,
}

impl Targets {
    fn new(config: &Path, scripts: &Path) -> Self {
        let config = absolute(config);
        let scripts = absolute(scripts);
        let sibling = |name: &str| scripts.parent().map(|p| p.join(name)).unwrap_or_default();
        let siblings = [
            sibling("scoring"),
            sibling("patches"),
            sibling("guardrails"),
        ];
        let mut links = Vec::new();
        if let Some(dir) = config.parent() {
            for path in [&config, &scripts].into_iter().chain(siblings.iter()) {
                if let Ok(rel) = path.strip_prefix(dir) {
                    links.extend(symlinks(dir, rel));
                }
            }
        }
        links.sort();
        links.dedup();
        Self {
            config,
            scripts,
            siblings,
            links,
        }
    }

    /// The file events that matter: a write, create, rename or removal of
    /// the config file, a script or a symlink on the way to them; never our
    /// own reads (`Access`).
    fn relevant(&self, event: &notify::Event) -> bool {
        if matches!(event.kind, EventKind::Access(_) | EventKind::Other) {
            return false;
        }
        let config_name = self.config.file_name();
        event.paths.iter().any(|p| {
            p.file_name() == config_name && p.parent() == self.config.parent()
                || self.links.contains(p)
                || (p.starts_with(&self.scripts) || self.siblings.iter().any(|s| p.starts_with(s)))
                    && p.extension().is_some_and(|e| e == "rhai" || e == "yaml")
        })
    }

    /// The directories to watch (non-recursively): the config's, the
    /// scripts', the scoring scripts', patches' and guardrails' if they
    /// exist, and each
    /// one holding a symlink on the way.
    fn dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = self
            .config
            .parent()
            .into_iter()
            .map(Path::to_path_buf)
            .collect();
        if self.scripts.is_dir() {
            dirs.push(self.scripts.clone());
        }
        dirs.extend(self.siblings.iter().filter(|s| s.is_dir()).cloned());
        dirs.extend(
            self.links
                .iter()
                .filter_map(|l| l.parent().map(Path::to_path_buf)),
        );
        dirs.sort();
        dirs.dedup();
        dirs
    }
}

/// Longest chain of symlinks followed; a loop ends there.
const MAX_LINKS: usize = 40;

/// The symlinks met while resolving `rel` from the directory `base`, as
/// paths (e.g. `base/routes.yaml` and `base/..data`). Components below a
/// symlink are resolved against its target, as the kernel does.
fn symlinks(base: &Path, rel: &Path) -> Vec<PathBuf> {
    let parts = |p: &Path| -> Vec<PathBuf> {
        p.components()
            .rev()
            .map(|c| PathBuf::from(c.as_os_str()))
            .collect()
    };
    let mut links = Vec::new();
    let mut at = base.to_path_buf();
    let mut todo = parts(rel);
    while let Some(part) = todo.pop() {
        match part.components().next() {
            Some(Component::Normal(name)) => {
                let next = at.join(name);
                match std::fs::read_link(&next) {
                    Ok(target) if links.len() < MAX_LINKS => {
                        links.push(next);
                        todo.extend(parts(&target));
                    }
                    _ => at = next,
                }
            }
            Some(Component::ParentDir) => {
                at.pop();
            }
            Some(Component::RootDir | Component::Prefix(_)) => at = part,
            Some(Component::CurDir) | None => {}
        }
    }
    links
}

/// The watched directories, each with what it resolved to when watched.
#[derive(Default)]
struct Watches(BTreeMap<PathBuf, Option<PathBuf>>);

impl Watches {
    /// Watches exactly `dirs`. A directory that resolves elsewhere than
    /// when it was watched (a swapped symlink on its path) is watched anew:
    /// inotify watches the inode, and the old one may be gone. A directory
    /// that cannot be watched is tried again at the next sync. True if a
    /// directory was newly watched: a change made there before this call
    /// sent no event.
    fn sync(&mut self, watcher: &mut RecommendedWatcher, dirs: &[PathBuf]) -> bool {
        let mut added = false;
        self.0.retain(|dir, resolved| {
            let keep = dirs.contains(dir) && *resolved == std::fs::canonicalize(dir).ok();
            if !keep {
                // Fails when notify already dropped a deleted directory.
                let _ = watcher.unwatch(dir);
            }
            keep
        });
        for dir in dirs {
            if self.0.contains_key(dir) {
                continue;
            }
            match watcher.watch(dir, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    self.0.insert(dir.clone(), std::fs::canonicalize(dir).ok());
                    added = true;
                }
                Err(e) => {
                    tracing::warn!(dir = %dir.display(), error = %e, "cannot watch directory; use SIGHUP to reload");
                }
            }
        }
        added
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
        let targets = |r: &Reloader| Targets::new(&r.path, &r.state.load().scripts_dir);
        let mut current = targets(&self.reloader);
        let mut watches = Watches::default();
        watches.sync(&mut watcher, &current.dirs());
        // Set when a reload moved a watch: reload once more at once, for
        // what changed before the new watch was in place.
        let mut again = None;
        let mut hup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(error = %e, "SIGHUP handler unavailable");
                None
            }
        };
        loop {
            let reason = match again.take() {
                Some(reason) => reason,
                None => tokio::select! {
                _ = shutdown.changed() => return,
                Some(()) = async { match hup.as_mut() { Some(h) => h.recv().await, None => std::future::pending().await } } => "SIGHUP",
                Some(ev) = rx.recv() => {
                    if !current.relevant(&ev) {
                        continue;
                    }
                    // Debounce: wait until the burst of events is over.
                    while let Ok(Some(_)) = tokio::time::timeout(DEBOUNCE, rx.recv()).await {}
                    "file change"
                }
                },
            };
            tracing::info!(reason, "reloading config");
            let reloader = self.reloader.clone();
            let result = tokio::task::spawn_blocking(move || reloader.reload()).await;
            if let Ok(Ok(cfg)) = result {
                apply_health_checks(&cfg).await;
            }
            // Whatever the result: a swapped symlink changed what to watch.
            current = targets(&self.reloader);
            if watches.sync(&mut watcher, &current.dirs()) {
                again = Some("watched directory moved");
            }
        }
    }
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

#[cfg(test)]
mod tests;
