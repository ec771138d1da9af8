//! Which backend of a provider serves an attempt. A provider may list several
//! backends (endpoints, regions, or keys of one account) with weights; once
//! routing has picked the provider, [`Balancer::candidates`] orders its
//! backends for the attempt loop — the strategy's pick first, then the
//! fallbacks — and [`Balancer::in_flight`] counts the call while it runs.
//!
//! Selection runs on pingora-load-balancing: a `LoadBalancer` per balancer,
//! Pingora's `Weighted<RoundRobin>`, `Weighted<Random>` and `KetamaHashing`,
//! and our [`LeastConnections`] and [`PriorityOrder`] on the same
//! interfaces. Pingora keys a backend by socket address, so each member gets
//! a synthetic one derived from its id ([`member_addr`], never connected
//! to) and carries its value in `Backend.ext`. Active health checks
//! ([`super::health`]) feed the Pingora health state that selection reads.

mod selection;
#[cfg(test)]
mod tests;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, HashMap};
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use futures_util::FutureExt;
use pingora::lb::discovery::Static;
use pingora::lb::selection::consistent::KetamaHashing;
use pingora::lb::selection::{self as pingora_selection, BackendIter, BackendSelection};
use pingora::lb::{Backend, Backends, Extensions, LoadBalancer};
use pingora::protocols::l4::socket::SocketAddr as PingoraAddr;
use sha2::{Digest, Sha256};

pub(crate) use selection::MemberTag;
pub use selection::{InflightTable, LeastConnections, OrderedIter, PriorityOrder};

use super::health::HealthState;

/// Weights above this are capped (Pingora's weighted table and ketama ring
/// grow with the weight).
pub const MAX_WEIGHT: usize = 1000;

/// Ketama ring points per unit of weight (pingora-ketama's V1 default).
const KETAMA_POINTS: usize = 160;

/// How many Pingora iterations a weighted or random first pick may take per
/// member before the remaining members are scanned in order.
const SPREAD_TRIES: usize = 8;

/// How a provider's backends share its traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Pingora's `Weighted<RoundRobin>`: first picks in proportion to the
    /// weights, cycling deterministically.
    Weighted,
    /// Pingora's `Weighted<RoundRobin>` with every weight 1.
    RoundRobin,
    /// Pingora's `Weighted<Random>`: random first picks, weighted.
    Random,
    /// Pingora's `KetamaHashing` on the request's key: the same key goes to
    /// the same member, and removing a member moves only its keys.
    ConsistentHash,
    /// [`LeastConnections`]: fewest requests in flight per unit of weight.
    LeastConnections,
    /// [`PriorityOrder`]: the first usable member in configured order.
    Priority,
}

impl Strategy {
    /// Weighted, round-robin and random picks are spread by Pingora; their
    /// fallbacks follow configured order from the pick.
    fn spreads(self) -> bool {
        matches!(self, Self::Weighted | Self::RoundRobin | Self::Random)
    }
}

/// One backend as the balancer sees it: a stable identity, a weight, and the
/// caller's value.
#[derive(Debug)]
pub struct Member<T> {
    /// Stable identity (e.g. `openai/eu` or `openai#key2`): the same id keeps
    /// the same ketama placement, health and in-flight count across rebuilds.
    pub id: String,
    /// Relative share; 0 counts as 1, values above [`MAX_WEIGHT`] are capped.
    pub weight: usize,
    /// What the caller gets back from [`Balancer::candidates`].
    pub value: Arc<T>,
}

/// State that outlives one member list: Pingora health per member, the
/// probe task feeding it, and in-flight counts. Shared with rebuilds.
struct Lineage {
    health: HealthState,
    inflight: Arc<InflightTable>,
}

/// A provider's backends behind one selection strategy. Active health
/// checks are started on it with [`Balancer::start_health_checks`]
/// (`upstream/health.rs`); [`Balancer::rebuild`] carries them over a reload.
pub struct Balancer<T> {
    strategy: Strategy,
    pool: Box<dyn Pool>,
    /// Configured order, duplicates removed.
    members: Vec<(Backend, Arc<T>)>,
    counters: HashMap<Arc<str>, Arc<AtomicUsize>>,
    /// Pingora iterations that visit every member at least once.
    walk_bound: usize,
    lineage: Arc<Lineage>,
}

impl<T: Send + Sync + 'static> Balancer<T> {
    /// A balancer over `members` (in configured order) with fresh health
    /// state: every member starts healthy. Members whose id repeats an
    /// earlier one are ignored.
    pub fn new(strategy: Strategy, members: Vec<Member<T>>) -> Self {
        let lineage = Arc::new(Lineage {
            health: HealthState::new(),
            inflight: Arc::new(InflightTable::default()),
        });
        Self::build(strategy, members, lineage)
    }

    /// A balancer for a reloaded config that keeps this one's Pingora health
    /// state, in-flight counts and running health checks for the members
    /// whose id stays. `strategy` may differ.
    pub fn rebuild(&self, strategy: Strategy, members: Vec<Member<T>>) -> Self {
        let ids: BTreeSet<&str> = members.iter().map(|m| m.id.as_str()).collect();
        self.lineage.inflight.prune(|id| ids.contains(id));
        Self::build(strategy, members, Arc::clone(&self.lineage))
    }

    fn build(strategy: Strategy, members: Vec<Member<T>>, lineage: Arc<Lineage>) -> Self {
        let members = tagged(strategy, members);
        let set: BTreeSet<Backend> = members.iter().map(|(b, _)| b.clone()).collect();
        let counters = members
            .iter()
            .filter_map(|(b, _)| b.ext.get::<MemberTag>())
            .map(|tag| (Arc::clone(&tag.id), lineage.inflight.counter(&tag.id)))
            .collect();
        let total_weight: usize = members.iter().map(|(b, _)| b.weight).sum();
        let walk_bound = match strategy {
            Strategy::ConsistentHash => total_weight * KETAMA_POINTS + members.len(),
            _ => members.len(),
        };
        Self {
            strategy,
            pool: pool(strategy, set, &lineage),
            members,
            counters,
            walk_bound,
            lineage,
        }
    }

    /// Members in the order to try for `key` (the hash key; ignored by
    /// strategies that don't hash): the strategy's pick first, then the
    /// fallbacks, skipping those `accept` refuses and those Pingora's health
    /// state marks unhealthy. Each member appears at most once; `accept`
    /// should be cheap and pure (it may be asked twice about a member).
    pub fn candidates(&self, key: &[u8], accept: impl Fn(&T) -> bool) -> Vec<Arc<T>> {
        let usable =
            |b: &Backend, healthy: bool| healthy && value::<T>(b).is_some_and(|v| accept(&v));
        if self.strategy.spreads() {
            self.spread_order(key, &usable)
        } else {
            self.walk_order(key, &usable)
        }
    }

    /// Ketama, least-connections, priority: Pingora's iteration order is
    /// the fallback order, so walk it once and keep the usable members.
    fn walk_order(&self, key: &[u8], usable: &dyn Fn(&Backend, bool) -> bool) -> Vec<Arc<T>> {
        let out = RefCell::new(Vec::with_capacity(self.members.len()));
        let seen = Cell::new(0);
        self.pool.walk(key, self.walk_bound, &|b, healthy| {
            seen.set(seen.get() + 1);
            if usable(b, healthy) {
                out.borrow_mut().extend(value::<T>(b));
            }
            seen.get() >= self.members.len()
        });
        out.into_inner()
    }

    /// Weighted, round robin, random: Pingora makes the (weighted) pick; its
    /// own fallbacks are unweighted and, for round robin, advance the shared
    /// counter, so the rest follow configured order from the pick instead.
    fn spread_order(&self, key: &[u8], usable: &dyn Fn(&Backend, bool) -> bool) -> Vec<Arc<T>> {
        let tries = SPREAD_TRIES * self.members.len() + 1;
        let first = self
            .pool
            .walk(key, tries, usable)
            .and_then(|b| order_of(&b));
        let n = self.members.len();
        let start = first.unwrap_or(0);
        (0..n)
            .map(|k| (start + k) % n)
            .filter_map(|i| self.members.get(i).map(|m| (i, m)))
            .filter(|(i, (b, _))| Some(*i) == first || usable(b, self.pool.ready(b)))
            .map(|(_, (_, v))| Arc::clone(v))
            .collect()
    }

    /// Counts a request in flight on member `id` until the guard drops
    /// (least-connections reads the count; a stream counts until it ends).
    /// An unknown id gives a guard that counts nothing.
    pub fn in_flight(&self, id: &str) -> InFlightGuard {
        let counter = self.counters.get(id).map(Arc::clone);
        if let Some(c) = &counter {
            c.fetch_add(1, Ordering::Relaxed);
        }
        InFlightGuard { counter }
    }

    /// Requests in flight on member `id` (0 if unknown).
    pub fn in_flight_count(&self, id: &str) -> usize {
        self.counters
            .get(id)
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// Whether Pingora's health state lets member `id` serve; `None` if the
    /// id is not a member.
    pub fn is_healthy(&self, id: &str) -> Option<bool> {
        self.members
            .iter()
            .find(|(b, _)| b.ext.get::<MemberTag>().is_some_and(|t| &*t.id == id))
            .map(|(b, _)| self.pool.ready(b))
    }

    /// The strategy this balancer selects with.
    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// Number of members (duplicates removed).
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether there are no members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Pingora health state and probe task, shared with rebuilds.
    pub(super) fn health(&self) -> &HealthState {
        &self.lineage.health
    }
}

/// Counts one request in flight on a member until dropped.
#[derive(Debug)]
#[must_use = "the request counts only while the guard lives"]
pub struct InFlightGuard {
    counter: Option<Arc<AtomicUsize>>,
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if let Some(c) = &self.counter {
            c.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// The synthetic address Pingora knows member `id` by: an IPv6 address in
/// the ULA range `fd00::/8` and a port, both from SHA-256 of the id, so the
/// same id gets the same address in every build and process. Never
/// connected to.
pub fn member_addr(id: &str) -> SocketAddr {
    let digest = Sha256::digest(id.as_bytes());
    let mut octets = [0u8; 16];
    octets[0] = 0xfd;
    octets[1..].copy_from_slice(&digest[..15]);
    let port = u16::from_be_bytes([digest[15], digest[16]]).max(1);
    SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(octets), port, 0, 0))
}

/// Pingora backends for `members`: synthetic address, effective weight, and
/// the tag and value in `ext`. Later duplicates of an id are dropped.
fn tagged<T: Send + Sync + 'static>(
    strategy: Strategy,
    members: Vec<Member<T>>,
) -> Vec<(Backend, Arc<T>)> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(members.len());
    for m in members {
        let addr = member_addr(&m.id);
        if !seen.insert(addr) {
            tracing::warn!(member = %m.id, "duplicate backend id ignored");
            continue;
        }
        let weight = match strategy {
            Strategy::RoundRobin => 1,
            _ => m.weight.clamp(1, MAX_WEIGHT),
        };
        let mut ext = Extensions::new();
        ext.insert(MemberTag {
            id: Arc::from(m.id),
            order: out.len(),
        });
        ext.insert(Arc::clone(&m.value));
        let backend = Backend {
            addr: PingoraAddr::Inet(addr),
            weight,
            ext,
        };
        out.push((backend, m.value));
    }
    out
}

fn value<T: Send + Sync + 'static>(b: &Backend) -> Option<Arc<T>> {
    b.ext.get::<Arc<T>>().cloned()
}

fn order_of(b: &Backend) -> Option<usize> {
    b.ext.get::<MemberTag>().map(|t| t.order)
}

/// A Pingora `LoadBalancer` of any selection, as the balancer uses it.
trait Pool: Send + Sync {
    /// `LoadBalancer::select_with`: visits backends in selection order
    /// (with their health) until `visit` returns true.
    fn walk(
        &self,
        key: &[u8],
        max: usize,
        visit: &dyn Fn(&Backend, bool) -> bool,
    ) -> Option<Backend>;
    /// Whether Pingora's health state (and enablement) lets `b` serve.
    fn ready(&self, b: &Backend) -> bool;
}

impl<S> Pool for LoadBalancer<S>
where
    S: BackendSelection + Send + Sync + 'static,
    S::Iter: BackendIter,
    S::Config: Send + Sync,
{
    fn walk(
        &self,
        key: &[u8],
        max: usize,
        visit: &dyn Fn(&Backend, bool) -> bool,
    ) -> Option<Backend> {
        self.select_with(key, max, visit)
    }

    fn ready(&self, b: &Backend) -> bool {
        self.backends().ready(b)
    }
}

fn pool(strategy: Strategy, set: BTreeSet<Backend>, lineage: &Lineage) -> Box<dyn Pool> {
    match strategy {
        Strategy::Weighted | Strategy::RoundRobin => {
            load_balancer::<pingora_selection::RoundRobin>(set, lineage, None)
        }
        Strategy::Random => load_balancer::<pingora_selection::Random>(set, lineage, None),
        Strategy::ConsistentHash => load_balancer::<KetamaHashing>(set, lineage, None),
        Strategy::LeastConnections => {
            let table = Some(Arc::clone(&lineage.inflight));
            load_balancer::<LeastConnections>(set, lineage, table)
        }
        Strategy::Priority => load_balancer::<PriorityOrder>(set, lineage, None),
    }
}

/// A Pingora `LoadBalancer` over `set` whose health lives in the lineage's
/// registry, with its selector built (static discovery answers at once).
fn load_balancer<S>(
    set: BTreeSet<Backend>,
    lineage: &Lineage,
    config: Option<S::Config>,
) -> Box<dyn Pool>
where
    S: BackendSelection + Send + Sync + 'static,
    S::Iter: BackendIter,
    S::Config: Send + Sync,
{
    let view = Backends::new_with_health_registry(Static::new(set), lineage.health.registry());
    let lb = LoadBalancer::<S>::from_backends_with_config(view, config);
    match lb.update().now_or_never() {
        Some(Ok(())) => {}
        Some(Err(e)) => tracing::error!(error = %e, "backend set not published"),
        None => tracing::error!("backend discovery did not complete at once"),
    }
    Box::new(lb)
}
