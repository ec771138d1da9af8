//! Admission: whether a request may be served, and what it holds until it
//! is settled. For the client's key and the route: the response cache (an
//! answer may be there already), the budgets (the gateway's, the route's,
//! the key's; the route's providers' rule targets out through the
//! [`Gate`](budget::Gate)), the key's and the route's rate limits, and
//! coalescing with an identical request in flight. For each provider an
//! attempt goes to: its own rate limits ([`provider`]), and in a fleet
//! its backend's quota as the instances share it ([`quota`]). One
//! interface: [`admit`] before the call, and [`Ticket::settle`] (or
//! [`settle_provider`]) after it.

mod cache;
pub mod quota;
mod semantic;

use std::sync::Arc;

use pingora_proxy::Session;

pub use cache::Capture;

use super::attempts::Shared;
use super::client::client_gone;
use super::RequestCtx;
use crate::config::policy::VirtualKey;
use crate::config::Config;
use crate::error::GatewayError;
use crate::limits::Limits;
use crate::metrics::metrics;
use crate::policy::budget::{self, Budgeted, Scope as BudgetScope};
use crate::policy::cache::Cached;
use crate::policy::coalesce::{self, Leader, Role};
use crate::policy::limits::{self, Scope};
use crate::policy::Policies;
use crate::provider::Provider;
use crate::routing::Route;
use crate::state::StateStore;
use cache::CachePlan;

/// What admission decided.
pub enum Admitted<'p> {
    /// Answered without a call: from the cache, or with the answer of an
    /// identical request that was in flight (`ctx.cache` says which).
    Answered(Arc<Cached>),
    /// Refused: over the budget or a rate limit.
    Refused(GatewayError),
    /// The client left while waiting for an identical request.
    Gone,
    /// To be answered by the providers, then settled (boxed: it is far
    /// larger than the other outcomes).
    Call(Box<Ticket<'p>>),
}

/// What an admitted request holds until it is settled: the tokens its
/// limits reserved, its cache plan and the answer to keep, and, when it
/// calls for identical requests waiting on it, their leadership.
pub struct Ticket<'p> {
    policies: &'p Policies,
    /// Every budget the request touches, charged when it is settled.
    budgets: Vec<Budgeted>,
    /// What the attempts must avoid to stay within budgets.
    pub gate: budget::Gate,
    limits: limits::Admission,
    /// The reserved tokens: settled as used when no usage is reported.
    estimate: u64,
    cache: Option<CachePlan>,
    /// The request's cached answer past its TTL, if the lookup found one.
    stale: Option<Arc<Cached>>,
    leader: Option<Leader>,
    answer: Option<Arc<Cached>>,
}

/// Admits the request `shared` holds on `route` for `key`.
pub async fn admit<'p>(
    session: &mut Session,
    ctx: &mut RequestCtx,
    policies: &'p Policies,
    route: &Route,
    shared: &Shared<'_>,
    key: Option<Arc<VirtualKey>>,
) -> Admitted<'p> {
    let plan = CachePlan::new(route, shared, ctx.key.as_deref(), session.req_header());
    // An entry past its TTL is kept in case every provider is down.
    let mut stale = None;
    match &plan {
        Some(plan) if plan.read => match cache::lookup(policies, &plan.key).await {
            Some(hit) if hit.fresh() => {
                cache::count("hit");
                ctx.cache = Some("hit");
                return Admitted::Answered(hit);
            }
            old => stale = old,
        },
        Some(_) => {}
        None if route.policy.cache.is_some() => cache::count("bypass"),
        None => {}
    }
    if plan.is_some() {
        cache::count("miss");
        ctx.cache = Some("miss");
    }
    let budgets = budgets(shared.cfg, route, key.as_deref());
    let gate = match budget::check(&policies.store, &budgets).await {
        Ok(gate) => gate,
        Err(e) => return Admitted::Refused(e),
    };
    let scopes = scopes(key.as_deref(), route);
    // Counting the prompt's tokens costs; only limits need it here.
    let estimate = if scopes.is_empty() {
        0
    } else {
        shared.estimate()
    };
    let mut limits = if scopes.is_empty() {
        limits::Admission::default()
    } else {
        match limits::admit(&policies.store, &scopes, estimate).await {
            Ok(a) => a,
            Err(refusal) => {
                ctx.extra_headers = refusal.headers;
                return Admitted::Refused(refusal.error);
            }
        }
    };
    ctx.extra_headers = std::mem::take(&mut limits.headers);
    let mut ticket = Ticket {
        policies,
        budgets,
        gate,
        limits,
        estimate,
        cache: plan,
        stale,
        leader: None,
        answer: None,
    };
    // Identical concurrent requests: one calls, the others wait for it.
    let coalesces = ticket
        .cache
        .as_ref()
        .filter(|p| p.coalesce && !shared.req.stream);
    if let Some(plan) = coalesces {
        match policies.coalescer.join(&plan.key) {
            Role::Leader(l) => ticket.leader = Some(l),
            Role::Follower(slot) => {
                let answer = tokio::select! {
                    biased;
                    a = coalesce::wait(slot) => a,
                    _ = client_gone(session) => {
                        ctx.client_closed();
                        limits::settle(&policies.store, &ticket.limits, None).await;
                        return Admitted::Gone;
                    }
                };
                // No answer (the leader failed): call like the leader did.
                if let Some(answer) = answer {
                    metrics().coalesced_requests.inc();
                    ctx.cache = Some("coalesced");
                    limits::settle(&policies.store, &ticket.limits, Some(0)).await;
                    return Admitted::Answered(answer);
                }
            }
        }
    }
    // By meaning, last: once budgets and limits allow the embedding call
    // it takes, and once for identical requests in flight (their leader's).
    match ticket.semantic(shared, ctx).await {
        Some(answer) => Admitted::Answered(answer),
        None => Admitted::Call(Box::new(ticket)),
    }
}

/// The budgets a request on `route` for `key` touches: the gateway's, the
/// route's, the key's and those of the route's providers.
fn budgets(cfg: &Config, route: &Route, key: Option<&VirtualKey>) -> Vec<Budgeted> {
    let mut out: Vec<Budgeted> = [
        Budgeted::of(BudgetScope::Gateway, "", &cfg.policy.budget),
        Budgeted::of(BudgetScope::Route, &route.name, &route.policy.budget),
        key.and_then(|k| Budgeted::of(BudgetScope::Key, &k.name, &k.budget)),
    ]
    .into_iter()
    .flatten()
    .collect();
    for t in &route.targets {
        let p = &t.provider;
        let known = out
            .iter()
            .any(|b| b.scope == BudgetScope::Provider && b.name == p.name);
        if !known {
            out.extend(Budgeted::of(BudgetScope::Provider, &p.name, &p.budget));
        }
    }
    out
}

/// The key's and the route's limits, when they have any.
fn scopes<'r>(key: Option<&'r VirtualKey>, route: &'r Route) -> Vec<(Scope, &'r str, Limits)> {
    let mut scopes = Vec::with_capacity(2);
    if let Some(k) = key {
        let l = Limits {
            rpm: k.rpm,
            tpm: k.tpm,
        };
        if !l.is_empty() {
            scopes.push((Scope::Key, k.name.as_str(), l));
        }
    }
    if !route.policy.limits.is_empty() {
        scopes.push((Scope::Route, route.name.as_str(), route.policy.limits));
    }
    scopes
}

impl Ticket<'_> {
    /// The semantic cache's answer, when the route has one and a prompt
    /// near enough was answered before. A hit gives back the tokens the
    /// limits reserved (the request still counts) and answers the
    /// identical requests waiting on this one.
    async fn semantic(&mut self, shared: &Shared<'_>, ctx: &mut RequestCtx) -> Option<Arc<Cached>> {
        let semantic = self.cache.as_mut()?.semantic.as_mut()?;
        let hit = semantic.lookup(self.policies, shared, ctx).await?;
        cache::count("semantic");
        ctx.cache = Some("semantic");
        let similarity = format!("{:.4}", hit.similarity);
        ctx.extra_headers
            .push(("x-switchyard-cache-similarity", similarity));
        limits::settle(&self.policies.store, &self.limits, Some(0)).await;
        if let Some(leader) = self.leader.take() {
            leader.publish(hit.answer.clone());
        }
        Some(hit.answer)
    }

    /// The request's stale answer, when every provider is down: a cached
    /// answer past its TTL but within the route's `serve_stale` window.
    /// Not for a client that asked not to be answered from the cache
    /// (`no-cache`: it was not looked up).
    pub fn stale(&mut self) -> Option<Arc<Cached>> {
        let window = self.cache.as_ref()?.serve_stale;
        self.stale.take().filter(|e| e.stale_within(window))
    }

    /// Where a complete answer goes, when the request uses the cache: the
    /// cache, and the requests waiting on this one.
    pub fn capture(&mut self) -> Option<Capture<'_>> {
        let plan = self.cache.as_mut()?;
        Some(Capture {
            slot: &mut self.answer,
            policies: self.policies,
            plan,
        })
    }

    /// After the answer (or the failure): the waiting requests get the
    /// answer kept, the limits are settled against the usage reported (or
    /// the estimate, for a success without usage), the budgets are charged
    /// (the provider's of the one that answered) and any threshold crossed
    /// is announced.
    pub async fn settle(self, ctx: &RequestCtx, cfg: &Config) {
        if let (Some(answer), Some(leader)) = (self.answer, self.leader) {
            leader.publish(answer);
        }
        let used = match ctx.usage {
            Some(u) => Some(u.prompt + u.completion),
            None if ctx.status == 200 => Some(self.estimate),
            None => None,
        };
        let store = &self.policies.store;
        limits::settle(store, &self.limits, used).await;
        let Some(cost) = ctx.cost else {
            return;
        };
        charge(
            self.policies,
            cfg,
            &self.budgets,
            ctx.provider.as_deref(),
            cost,
        )
        .await;
    }
}

/// Charges `cost` to `budgets` (of the providers' budgets, only that of
/// `provider`, which answered) and announces any threshold crossed.
async fn charge(
    policies: &Policies,
    cfg: &Config,
    budgets: &[Budgeted],
    provider: Option<&str>,
    cost: f64,
) {
    let charged: Vec<&Budgeted> = budgets
        .iter()
        .filter(|b| b.scope != BudgetScope::Provider || Some(b.name.as_str()) == provider)
        .collect();
    let alerts = budget::charge(&policies.store, &charged, cost).await;
    if !alerts.is_empty() {
        let webhook = policies.webhook(cfg);
        for a in &alerts {
            budget::announce(a, webhook.as_ref());
        }
    }
}

/// Takes a request and `estimate()` tokens from `provider`'s own limits,
/// when it has any and they are counted (`store`).
pub async fn provider(
    store: Option<&StateStore>,
    provider: &Provider,
    estimate: impl FnOnce() -> u64,
) -> Result<Option<limits::Admission>, GatewayError> {
    let Some(store) = store.filter(|_| !provider.limits.is_empty()) else {
        return Ok(None);
    };
    let scopes = [(Scope::Provider, provider.name.as_str(), provider.limits)];
    limits::admit(store, &scopes, estimate())
        .await
        .map(Some)
        .map_err(|r| r.error)
}

/// Settles a provider's reservation: against the tokens `used` when the
/// attempt answered, given back (`None`) when it did not.
pub async fn settle_provider(
    store: Option<&StateStore>,
    admission: Option<&limits::Admission>,
    used: Option<u64>,
) {
    if let (Some(store), Some(adm)) = (store, admission) {
        limits::settle(store, adm, used).await;
    }
}
