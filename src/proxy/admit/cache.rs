//! The response cache at admission: whether and how a request uses its
//! route's cache, the lookup (memory first, then the shared store), and
//! where a complete answer is kept for the next identical request.

use std::sync::Arc;
use std::time::Duration;

use pingora::http::RequestHeader;

use crate::metrics::metrics;
use crate::policy::cache::{self, Cached};
use crate::policy::Policies;
use crate::proxy::attempts::Shared;
use crate::proxy::RequestCtx;
use crate::routing::Route;

use super::semantic::SemanticPlan;

/// How a request uses its route's cache.
pub(super) struct CachePlan {
    pub key: String,
    /// Read before calling (not when the client said `no-cache`).
    pub read: bool,
    pub coalesce: bool,
    ttl: Duration,
    /// How long past the TTL an entry may still answer when every
    /// provider is down (zero: never).
    pub serve_stale: Duration,
    /// Matching by meaning, when the route does and the request can.
    pub semantic: Option<SemanticPlan>,
}

impl CachePlan {
    /// The plan for the request `shared` holds, or `None` when it bypasses
    /// the cache. Entries are per key (`key_name`) unless the route shares them.
    pub fn new(
        route: &Route,
        shared: &Shared<'_>,
        key_name: Option<&str>,
        head: &RequestHeader,
    ) -> Option<Self> {
        let policy = route.policy.cache.as_ref()?;
        if !cacheable(&shared.req) {
            return None;
        }
        let body = shared.body.lock().unwrap_or_else(|e| e.into_inner());
        let use_ = cache::decide(policy, shared.req.endpoint, &body, &head.headers)?;
        let scope = if policy.shared {
            "*"
        } else {
            key_name.unwrap_or("")
        };
        // Answers are kept after the guardrails: the key names which.
        let guards = shared.guards.fingerprint();
        let route_part = match guards {
            0 => std::borrow::Cow::Borrowed(route.name.as_str()),
            g => std::borrow::Cow::Owned(format!("{}\u{0}guardrails:{g:016x}", route.name)),
        };
        let semantic = match use_ {
            cache::Use::ReadWrite => SemanticPlan::new(route, scope, guards, &body),
            cache::Use::WriteOnly => None,
        };
        Some(Self {
            semantic,
            key: cache::key(&route_part, scope, shared.req.endpoint, &body),
            read: use_ == cache::Use::ReadWrite,
            coalesce: policy.coalesce,
            ttl: policy.ttl,
            serve_stale: policy.serve_stale,
        })
    }
}

/// Answers the cache may hold: JSON ones a request's body determines. Not
/// uploads (their files are not in the key), audio, passed-through
/// requests, nor Responses API requests (each answer is a stored response
/// with its own id).
fn cacheable(req: &crate::request::ClientRequest) -> bool {
    use crate::request::Endpoint;
    let json = matches!(
        req.endpoint,
        Endpoint::Chat | Endpoint::Embeddings | Endpoint::Moderations | Endpoint::Rerank
    );
    json && req.native.is_none()
}

/// Counts a request's use of the cache: `hit`, `semantic`, `miss` or `bypass`.
pub(super) fn count(result: &str) {
    metrics().cache_requests.with_label_values(&[result]).inc();
}

/// The answer kept for `key`, fresh or stale ([`Cached::fresh`]): memory
/// first, then the shared store.
pub(super) async fn lookup(policies: &Policies, key: &str) -> Option<Arc<Cached>> {
    if let Some(hit) = policies.cache.get(key) {
        return Some(hit);
    }
    let bytes = policies.store.cache_get(key).await.ok()??;
    let hit = Arc::new(Cached::decode(&bytes)?);
    // The shared store's TTL still applies there; locally keep it briefly
    // (freshness travels with the entry).
    policies
        .cache
        .put(key.to_string(), hit.clone(), Duration::from_secs(60));
    Some(hit)
}

/// Where a complete answer goes: the cache, and the slot coalesced
/// waiters are served from.
pub struct Capture<'a> {
    pub(super) slot: &'a mut Option<Arc<Cached>>,
    pub(super) policies: &'a Policies,
    pub(super) plan: &'a mut CachePlan,
}

impl Capture<'_> {
    /// Keeps `body`, the answer `provider` gave (in OpenAI format), with
    /// the usage and model `ctx` recorded. Stored before the client sees
    /// it, so that a retry on any instance of the fleet finds it.
    pub async fn keep(self, provider: &str, ctx: &RequestCtx, body: String) {
        let plan = self.plan;
        let answer = Arc::new(Cached {
            provider: provider.to_string(),
            model: ctx.model.clone().unwrap_or_default(),
            body,
            prompt_tokens: ctx.usage.map_or(0, |u| u.prompt),
            completion_tokens: ctx.usage.map_or(0, |u| u.completion),
            fresh_until_ms: crate::policy::cache::now_ms() + plan.ttl.as_millis() as u64,
        });
        // Kept past its TTL for as long as it may answer stale.
        let keep = plan.ttl + plan.serve_stale;
        self.policies
            .cache
            .put(plan.key.clone(), answer.clone(), keep);
        let stored = self
            .policies
            .store
            .cache_put(&plan.key, answer.encode(), keep)
            .await;
        if let Err(e) = stored {
            tracing::debug!(error = %e, "could not store an answer in the shared cache");
        }
        if let Some(semantic) = plan.semantic.as_mut() {
            let until = answer.fresh_until_ms;
            semantic.keep(self.policies, answer.clone(), until).await;
        }
        *self.slot = Some(answer);
    }
}
