//! The two selection algorithms pingora-load-balancing lacks, written on its
//! own interfaces (`BackendSelection` + `BackendIter`) so they run inside a
//! Pingora `LoadBalancer` beside `Weighted` and `KetamaHashing`:
//! [`LeastConnections`] (fewest requests in flight per unit of weight) and
//! [`PriorityOrder`] (configured order, first usable wins).

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use pingora::lb::selection::{BackendIter, BackendSelection};
use pingora::lb::Backend;

/// What a member's Pingora `Backend` carries in `ext` besides its value:
/// its id and its position in the configured member list.
#[derive(Clone, Debug)]
pub(crate) struct MemberTag {
    /// The member's stable id.
    pub id: Arc<str>,
    /// Position in the configured list (0 = first).
    pub order: usize,
}

/// Requests in flight per member id, shared by a balancer, its rebuilds and
/// the [`LeastConnections`] selections built from it.
#[derive(Debug, Default)]
pub struct InflightTable {
    counters: Mutex<HashMap<Arc<str>, Arc<AtomicUsize>>>,
}

impl InflightTable {
    /// The counter of member `id`, created at zero on first use.
    pub fn counter(&self, id: &str) -> Arc<AtomicUsize> {
        let mut counters = self.lock();
        if let Some(c) = counters.get(id) {
            return Arc::clone(c);
        }
        let c = Arc::new(AtomicUsize::new(0));
        counters.insert(Arc::from(id), Arc::clone(&c));
        c
    }

    /// Forgets the counters of members that are neither in `keep` nor
    /// referenced elsewhere (a balancer or an in-flight guard).
    pub(crate) fn prune(&self, keep: impl Fn(&str) -> bool) {
        self.lock()
            .retain(|id, c| keep(id) || Arc::strong_count(c) > 1);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Arc<str>, Arc<AtomicUsize>>> {
        self.counters
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Backends in configured order: members by their [`MemberTag`], any
/// untagged backend after them in address order.
fn configured_order(backends: &BTreeSet<Backend>) -> Arc<[Backend]> {
    let mut list: Vec<Backend> = backends.iter().cloned().collect();
    list.sort_by_key(|b| b.ext.get::<MemberTag>().map_or(usize::MAX, |t| t.order));
    list.into()
}

/// Iterates a fixed order of backends once.
pub struct OrderedIter {
    backends: Arc<[Backend]>,
    order: Vec<usize>,
    next: usize,
}

impl BackendIter for OrderedIter {
    fn next(&mut self) -> Option<&Backend> {
        let index = *self.order.get(self.next)?;
        self.next += 1;
        self.backends.get(index)
    }
}

/// Least-connections selection: backends ordered by requests in flight per
/// unit of weight, fewest first. Ties (e.g. all idle) are broken by a
/// rotating start in configured order, so sequential traffic still spreads.
///
/// The counts come from an [`InflightTable`] (`Config`); the caller counts a
/// request with a guard for as long as it runs.
pub struct LeastConnections {
    backends: Arc<[Backend]>,
    load: Box<[Arc<AtomicUsize>]>,
    rotation: AtomicUsize,
}

impl LeastConnections {
    fn with_counters(backends: &BTreeSet<Backend>, table: &InflightTable) -> Self {
        let backends = configured_order(backends);
        let load = backends
            .iter()
            .map(|b| match b.ext.get::<MemberTag>() {
                Some(tag) => table.counter(&tag.id),
                None => Arc::new(AtomicUsize::new(0)),
            })
            .collect();
        Self {
            backends,
            load,
            rotation: AtomicUsize::new(0),
        }
    }

    /// Backend indices, least loaded first.
    fn order(&self) -> Vec<usize> {
        let n = self.backends.len();
        let start = match n {
            0 => 0,
            _ => self.rotation.fetch_add(1, Ordering::Relaxed) % n,
        };
        // (in flight, weight, distance from the rotating start, index)
        let mut rows: Vec<(u128, u128, usize, usize)> = self
            .backends
            .iter()
            .zip(self.load.iter())
            .enumerate()
            .map(|(i, (b, l))| {
                let load = l.load(Ordering::Relaxed) as u128;
                (load, b.weight.max(1) as u128, (i + n - start) % n, i)
            })
            .collect();
        // load_a / weight_a vs load_b / weight_b without division.
        rows.sort_by(|a, b| (a.0 * b.1).cmp(&(b.0 * a.1)).then(a.2.cmp(&b.2)));
        rows.into_iter().map(|row| row.3).collect()
    }
}

impl BackendSelection for LeastConnections {
    type Iter = OrderedIter;
    type Config = Arc<InflightTable>;

    fn build_with_config(backends: &BTreeSet<Backend>, table: &Self::Config) -> Self {
        Self::with_counters(backends, table)
    }

    /// Without a table nothing is ever counted: all backends tie.
    fn build(backends: &BTreeSet<Backend>) -> Self {
        Self::with_counters(backends, &InflightTable::default())
    }

    fn iter(self: &Arc<Self>, _key: &[u8]) -> OrderedIter {
        OrderedIter {
            backends: Arc::clone(&self.backends),
            order: self.order(),
            next: 0,
        }
    }
}

/// Priority selection: backends in configured order, every time. The first
/// one that is healthy and accepted serves; the rest are its fallbacks.
pub struct PriorityOrder {
    backends: Arc<[Backend]>,
}

impl BackendSelection for PriorityOrder {
    type Iter = OrderedIter;
    type Config = ();

    fn build(backends: &BTreeSet<Backend>) -> Self {
        Self {
            backends: configured_order(backends),
        }
    }

    fn iter(self: &Arc<Self>, _key: &[u8]) -> OrderedIter {
        OrderedIter {
            backends: Arc::clone(&self.backends),
            order: (0..self.backends.len()).collect(),
            next: 0,
        }
    }
}
