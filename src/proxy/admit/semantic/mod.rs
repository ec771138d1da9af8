//! The semantic cache at admission. A chat request whose last message is
//! the user's text is embedded through the embeddings route the cache
//! names (a request of its own: routed, failed over, priced, charged to
//! the budgets and recorded in the ledger like any other), and answered
//! from the nearest cached prompt when it is similar enough.
//!
//! What must match exactly is everything but that text: the system
//! prompt, the earlier turns, the model and the parameters (hashed into
//! the entry's partition); the namespace separates routes, keys (unless
//! the route shares entries), embeddings models and guardrail chains. A
//! failed embedding call skips the semantic cache for the request, never
//! the request.

use std::sync::Arc;

use pingora::http::RequestHeader;
use serde_json::{json, Value};

use super::{budgets, charge};
use crate::error::GatewayError;
use crate::metrics::metrics;
use crate::policy::cache::{self, Cached};
use crate::policy::semantic::{Entry, Hit};
use crate::policy::Policies;
use crate::proxy::attempts::{self, Answer, Shared};
use crate::proxy::settle::{self, Delivered};
use crate::proxy::{deliver, record, RequestCtx};
use crate::request::{Dialect, Endpoint};
use crate::routing::{Route, SemanticCache as Settings};

/// A request's use of its route's semantic cache.
pub(super) struct SemanticPlan {
    route: String,
    namespace: String,
    /// The hash of the rest of the request: taken at the lookup (an exact
    /// hit needs none).
    partition: u64,
    text: String,
    settings: Settings,
    /// The prompt's vector, once embedded: kept with the answer.
    vector: Option<Vec<f32>>,
}

impl SemanticPlan {
    /// The plan of a request on `route` (its hub `body`), entries scoped
    /// to `scope` (a key's name, or `*`) after guardrails `guards`; `None`
    /// when the route has no semantic cache or the request has nothing to
    /// match by meaning (counted as `skipped`).
    pub fn new(route: &Route, scope: &str, guards: u64, body: &Value) -> Option<Self> {
        let settings = route.policy.cache.as_ref()?.semantic.as_ref()?;
        let Some(text) = last_user_text(body).filter(|t| t.chars().count() >= settings.min_chars)
        else {
            count(&route.name, "skipped");
            return None;
        };
        let namespace = [
            route.name.as_str(),
            scope,
            settings.embeddings.as_str(),
            &format!("{guards:016x}"),
        ]
        .join("\u{0}");
        Some(Self {
            route: route.name.clone(),
            namespace,
            partition: 0,
            text,
            settings: settings.clone(),
            vector: None,
        })
    }

    /// Embeds the prompt and looks it up; on a miss the vector is kept for
    /// [`SemanticPlan::keep`].
    pub async fn lookup(
        &mut self,
        policies: &Policies,
        shared: &Shared<'_>,
        parent: &RequestCtx,
    ) -> Option<Hit> {
        self.partition = {
            let body = shared.body.lock().unwrap_or_else(|e| e.into_inner());
            partition(&body)
        };
        let vector = match embed(policies, shared, parent, &self.settings, &self.text).await {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(route = %self.route, error = %e, "semantic cache: the embedding call failed; not used for this request");
                count(&self.route, "error");
                return None;
            }
        };
        // An HNSW search costs up to a millisecond of CPU at thousands of
        // entries: on a blocking thread, not the proxy's.
        let (threshold, partition) = (self.settings.threshold, self.partition);
        let (cache, namespace) = (policies.semantic.clone(), self.namespace.clone());
        let searched = tokio::task::spawn_blocking(move || {
            let hit = cache.lookup(&namespace, partition, &vector, threshold);
            (hit, vector)
        })
        .await;
        let Ok((hit, vector)) = searched else {
            count(&self.route, "error");
            return None;
        };
        match &hit {
            Some(h) => {
                count(&self.route, "hit");
                metrics()
                    .semantic_similarity
                    .observe(f64::from(h.similarity));
            }
            None => {
                count(&self.route, "miss");
                self.vector = Some(vector);
            }
        }
        hit
    }

    /// Keeps `answer` for prompts near this one, until `expires_at_ms`.
    pub async fn keep(&mut self, policies: &Policies, answer: Arc<Cached>, expires_at_ms: u64) {
        let Some(vector) = self.vector.take() else {
            return;
        };
        let entry = Entry {
            namespace: self.namespace.clone(),
            partition: self.partition,
            vector,
            answer,
            expires_at_ms,
        };
        // Indexing costs a millisecond or two of CPU: on a blocking thread,
        // awaited so that the next request finds the entry.
        let (cache, store) = (policies.semantic.clone(), policies.store.clone());
        let runtime = tokio::runtime::Handle::current();
        let indexed = tokio::task::spawn_blocking(move || {
            runtime.block_on(cache.insert(&store, entry));
        })
        .await;
        if let Err(e) = indexed {
            tracing::warn!(route = %self.route, error = %e, "semantic cache: an answer could not be kept");
        }
    }
}

fn count(route: &str, result: &str) {
    metrics()
        .semantic_lookups
        .with_label_values(&[route, result])
        .inc();
}

/// The text of the request's last message when it is the user's and all
/// text (a prompt with an image is not matched by meaning).
fn last_user_text(body: &Value) -> Option<String> {
    let last = body.get("messages")?.as_array()?.last()?;
    if last.get("role")?.as_str()? != "user" {
        return None;
    }
    match last.get("content")? {
        Value::String(s) => Some(s.clone()),
        Value::Array(parts) => {
            let mut text = String::new();
            for part in parts {
                if part.get("type").and_then(Value::as_str) != Some("text") {
                    return None;
                }
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(part.get("text")?.as_str()?);
            }
            Some(text)
        }
        _ => None,
    }
}

/// Everything in the request but its last message's text, hashed: what a
/// semantic hit must match exactly.
fn partition(body: &Value) -> u64 {
    let mut rest = body.clone();
    if let Some(last) = rest
        .get_mut("messages")
        .and_then(Value::as_array_mut)
        .and_then(|m| m.last_mut())
        .and_then(Value::as_object_mut)
    {
        last.remove("content");
    }
    let key = cache::key("semantic", "", Endpoint::Chat, &rest);
    u64::from_str_radix(&key[..16], 16).unwrap_or(0)
}

/// The embedding of `text` from `model`, asked through the route serving
/// it as a request of its own on behalf of `parent`'s key: its attempts,
/// cost, budgets and ledger record are those of any embeddings request.
async fn embed(
    policies: &Policies,
    shared: &Shared<'_>,
    parent: &RequestCtx,
    settings: &Settings,
    text: &str,
) -> Result<Vec<f32>, GatewayError> {
    let model = settings.embeddings.as_str();
    let cfg = shared.cfg;
    let route = cfg
        .routes
        .resolve(model)
        .ok_or_else(|| GatewayError::UnknownModel(model.to_string()))?;
    let mut ctx = RequestCtx::new();
    ctx.begin(Endpoint::Embeddings, Dialect::OpenAi);
    ctx.request_id = format!("{}-embedding", parent.request_id);
    ctx.config_version = parent.config_version.clone();
    ctx.key = parent.key.clone();
    ctx.route = Some(route.name.clone());
    ctx.strategy = Some(route.policy.strategy.name());
    let mut body = json!({"model": model, "input": text});
    if let Some(d) = settings.dimensions {
        body["dimensions"] = json!(d);
    }
    let call = embed_on(&mut ctx, policies, shared, &route, body);
    let result = match tokio::time::timeout(settings.timeout, call).await {
        Ok(result) => result,
        Err(_) => Err(GatewayError::UpstreamTimeout(format!(
            "the embedding call took longer than {:?} (cache.semantic.timeout)",
            settings.timeout
        ))),
    };
    if let Err(e) = &result {
        ctx.status = e.status();
        // `ctx.error` holds static codes.
        ctx.error = Some(match e {
            GatewayError::UpstreamTimeout(_) => "embedding_timeout",
            _ => "embedding_failed",
        });
    }
    if let Some(cost) = ctx.cost {
        let touched = budgets(cfg, &route, shared.key.as_deref());
        charge(policies, cfg, &touched, ctx.provider.as_deref(), cost).await;
    }
    record::finished(&mut ctx, policies);
    result
}

async fn embed_on(
    ctx: &mut RequestCtx,
    policies: &Policies,
    shared: &Shared<'_>,
    route: &Route,
    body: Value,
) -> Result<Vec<f32>, GatewayError> {
    let req = crate::request::parse_value(Endpoint::Embeddings, body)?;
    let head = RequestHeader::build("POST", b"/v1/embeddings", None)
        .map_err(|e| GatewayError::Internal(format!("embedding request head: {e}")))?;
    let sub = Shared::new(shared.cfg, shared.connector, req, route, ctx.started, &head)
        .for_key(shared.key.clone(), &policies.store);
    let mut failures = Vec::new();
    let started = attempts::run(&sub, route, &mut failures).await;
    attempts::record(ctx, &failures);
    let Some(started) = started else {
        return Err(attempts::final_error(route, failures));
    };
    deliver::chosen(ctx, &started.winner);
    let Answer::Complete { body, usage } = started.answer else {
        return Err(GatewayError::Internal(
            "the embeddings route answered with a stream".into(),
        ));
    };
    ctx.usage = usage;
    ctx.status = 200;
    settle::attempt(ctx, &sub, started.winner, Delivered::Whole).await;
    started.incoming.release(shared.connector).await;
    vector_of(&body)
}

/// The first embedding of an OpenAI embeddings answer.
fn vector_of(body: &[u8]) -> Result<Vec<f32>, GatewayError> {
    let bad = |what: &str| GatewayError::BadGateway(format!("embeddings answer: {what}"));
    let v: Value = serde_json::from_slice(body).map_err(|_| bad("not JSON"))?;
    let floats = v
        .pointer("/data/0/embedding")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no data[0].embedding array"))?;
    floats
        .iter()
        .map(|f| {
            f.as_f64()
                .map(|f| f as f32)
                .ok_or_else(|| bad("not numbers"))
        })
        .collect()
}

#[cfg(test)]
mod tests;
