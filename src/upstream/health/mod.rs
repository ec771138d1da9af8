//! Active health checks for a provider's backends, on Pingora's machinery:
//! a [`ProbeCheck`] (Pingora's `HealthCheck` trait) probes each member's
//! real upstream — `GET <base_path>/models` with the member's headers, or a
//! TCP connect — and Pingora's `HealthRegistry` turns consecutive results
//! into the healthy/unhealthy state that [`Balancer::candidates`] reads, so
//! a dead backend is skipped before any request is sent to it.
//!
//! A probe loop runs per balancer lineage (a balancer and its
//! [`Balancer::rebuild`]s): [`Balancer::start_health_checks`] starts or
//! replaces it, [`Balancer::stop_health_checks`] ends it, and dropping the
//! last balancer of the lineage aborts it, so a reload never leaks a task.
//! Probes never call a paid endpoint: the default path is the model list.

mod probe;
#[cfg(test)]
mod tests;

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use async_trait::async_trait;
use pingora::lb::health_check::HealthCheck;
use pingora::lb::{Backend, HealthRegistry};
use tokio::runtime::Handle;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

pub use probe::ProbeCheck;

use super::balance::{Balancer, MemberTag};
use super::Upstream;

/// The default HTTP probe path, relative to the base path: the model list,
/// which every OpenAI-compatible API serves for free.
pub const DEFAULT_PROBE_PATH: &str = "/models";

/// Shortest interval between probe passes (a zero interval would spin).
const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// What a member must expose to be probed.
pub trait Probe: Send + Sync + 'static {
    /// Where the member's requests go; probes go to the same place.
    fn upstream(&self) -> &Upstream;

    /// Headers an HTTP probe sends, e.g. the member's auth header.
    fn probe_headers(&self) -> Vec<(String, String)> {
        Vec::new()
    }
}

/// How a member is probed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeKind {
    /// `GET <base_path><path>`; healthy when the status is `expected_status`.
    /// The path must be free to call (never a completion).
    Http { path: String, expected_status: u16 },
    /// A TCP connection to the upstream's address; nothing is sent.
    Tcp,
}

impl Default for ProbeKind {
    /// `GET <base_path>/models`, expecting 200.
    fn default() -> Self {
        Self::Http {
            path: DEFAULT_PROBE_PATH.to_string(),
            expected_status: 200,
        }
    }
}

/// Active health checking of one provider's members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthConfig {
    /// What a probe does.
    pub kind: ProbeKind,
    /// Time between the starts of two probe passes (at least 10 ms).
    pub interval: Duration,
    /// Longest a single probe may take, connection included.
    pub timeout: Duration,
    /// Consecutive successes that make an unhealthy member healthy (0 = 1).
    pub healthy_threshold: usize,
    /// Consecutive failures that make a healthy member unhealthy (0 = 1).
    pub unhealthy_threshold: usize,
}

impl Default for HealthConfig {
    /// `/models` every 30 s, 5 s timeout, 2 successes up, 3 failures down.
    fn default() -> Self {
        Self {
            kind: ProbeKind::default(),
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(5),
            healthy_threshold: 2,
            unhealthy_threshold: 3,
        }
    }
}

/// Why health checks could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HealthError {
    /// The probe loop is spawned on the current tokio runtime; there is none.
    #[error("health checks must be started inside a tokio runtime")]
    NoRuntime,
}

impl<T: Probe> Balancer<T> {
    /// Probes every member now and then every `cfg.interval`, on the current
    /// tokio runtime, replacing any probe loop already running for this
    /// balancer's lineage (it and its rebuilds). A member turns unhealthy
    /// after `unhealthy_threshold` consecutive failed probes and healthy
    /// again after `healthy_threshold` successes.
    ///
    /// Fails outside a tokio runtime.
    pub fn start_health_checks(&self, cfg: HealthConfig) -> Result<(), HealthError> {
        let runtime = Handle::try_current().map_err(|_| HealthError::NoRuntime)?;
        let interval = cfg.interval.max(MIN_INTERVAL);
        self.health()
            .start(Box::new(ProbeCheck::<T>::new(cfg)), interval, &runtime);
        Ok(())
    }
}

impl<T: Send + Sync + 'static> Balancer<T> {
    /// Runs one probe pass over every member now (all in parallel), with
    /// the check installed by [`Balancer::start_health_checks`]; without
    /// one, every member passes.
    pub async fn run_health_pass(&self) {
        self.health().registry.run_health_check(true).await;
    }

    /// Stops the lineage's probe loop (waiting for it to end) and marks
    /// every member healthy again, the state a balancer starts in.
    pub async fn stop_health_checks(&self) {
        self.health().stop().await;
    }
}

pub(crate) type DynCheck = Box<dyn HealthCheck + Send + Sync>;

/// Pingora health state of a balancer lineage and the probe loop feeding it.
pub(crate) struct HealthState {
    registry: Arc<HealthRegistry>,
    /// The check the registry delegates to; empty = every probe passes.
    slot: Arc<ArcSwapOption<DynCheck>>,
    task: Mutex<Option<ProbeTask>>,
}

impl HealthState {
    /// A registry keyed by member address alone (a weight change keeps the
    /// health), whose check is the swappable slot.
    pub(crate) fn new() -> Self {
        let registry = Arc::new(HealthRegistry::with_equivalence(addr_key));
        let slot = Arc::new(ArcSwapOption::empty());
        // A fresh registry has no check yet, so this cannot fail.
        registry.set_health_check(Box::new(SlotCheck(Arc::clone(&slot))));
        Self {
            registry,
            slot,
            task: Mutex::new(None),
        }
    }

    /// The registry every `LoadBalancer` of the lineage reports into.
    pub(crate) fn registry(&self) -> Arc<HealthRegistry> {
        Arc::clone(&self.registry)
    }

    /// Makes `check` the check of the next probe passes.
    pub(crate) fn install(&self, check: Option<DynCheck>) {
        self.slot.store(check.map(Arc::new));
    }

    fn start(&self, check: DynCheck, interval: Duration, runtime: &Handle) {
        self.install(Some(check));
        let registry = Arc::clone(&self.registry);
        let handle = runtime.spawn(probe_loop(registry, interval));
        // Dropping the previous task aborts it.
        *self.lock_task() = Some(ProbeTask(Some(handle)));
    }

    async fn stop(&self) {
        let task = self.lock_task().take();
        if let Some(task) = task {
            task.stop().await;
        }
        self.install(None);
        // With the slot empty every probe passes with threshold 1.
        self.registry.run_health_check(false).await;
    }

    fn lock_task(&self) -> MutexGuard<'_, Option<ProbeTask>> {
        self.task
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn addr_key(backend: &Backend) -> u64 {
    let mut hasher = DefaultHasher::new();
    backend.addr.hash(&mut hasher);
    hasher.finish()
}

async fn probe_loop(registry: Arc<HealthRegistry>, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        registry.run_health_check(true).await;
    }
}

/// The probe loop; aborted when dropped.
struct ProbeTask(Option<JoinHandle<()>>);

impl ProbeTask {
    /// Aborts the loop and waits until it has ended (so no probe result
    /// lands afterwards).
    async fn stop(mut self) {
        if let Some(handle) = self.0.take() {
            handle.abort();
            let _ = handle.await;
        }
    }
}

impl Drop for ProbeTask {
    fn drop(&mut self) {
        if let Some(handle) = &self.0 {
            handle.abort();
        }
    }
}

/// The registry's fixed check: delegates to whatever the slot holds.
struct SlotCheck(Arc<ArcSwapOption<DynCheck>>);

#[async_trait]
impl HealthCheck for SlotCheck {
    async fn check(&self, target: &Backend) -> pingora::Result<()> {
        match self.0.load_full() {
            Some(check) => check.check(target).await,
            None => Ok(()),
        }
    }

    async fn health_status_change(&self, target: &Backend, healthy: bool) {
        if let Some(check) = self.0.load_full() {
            check.health_status_change(target, healthy).await;
        }
    }

    fn backend_summary(&self, target: &Backend) -> String {
        member_id(target)
    }

    fn health_threshold(&self, success: bool) -> usize {
        self.0
            .load()
            .as_ref()
            .map_or(1, |check| check.health_threshold(success))
    }
}

/// The member id a backend carries, for logs.
fn member_id(target: &Backend) -> String {
    target
        .ext
        .get::<MemberTag>()
        .map_or_else(|| format!("{:?}", target.addr), |t| t.id.to_string())
}
