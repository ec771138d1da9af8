//! The Responses API's state: a request's turn in a conversation
//! (`previous_response_id` brings the earlier turns' items back), and the
//! responses the gateway keeps (`store`, OpenAI's default) — in the state
//! store, memory on one node or Redis for a fleet, for
//! `server.responses_ttl` — served by `GET /v1/responses/{id}`,
//! `GET /v1/responses/{id}/input_items` and `DELETE /v1/responses/{id}`
//! to the client key that created them, and to no other.
//!
//! A turn is kept before the client sees its last event, so that a
//! follow-up naming it, sent the moment the answer ends, finds it.

use bytes::Bytes;
use pingora_proxy::Session;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::intake;
use super::respond::{write_error, write_json};
use super::RequestCtx;
use crate::config::Config;
use crate::dialect::responses::{self, Meta};
use crate::error::GatewayError;
use crate::policy::{keys, Policies};
use crate::request::{self, ClientRequest, Dialect, Endpoint};
use crate::state::StateStore;

/// One Responses request and what it adds to its conversation.
#[derive(Debug)]
pub struct Turn {
    /// What the Response object echoes (its id, the model asked for, the
    /// request).
    pub meta: Meta,
    /// Kept when the answer is complete.
    pub store: bool,
    /// The client key that made it (its name), when auth is on.
    pub owner: Option<String>,
    /// The items the model saw: the earlier turns', then this request's.
    pub input: Vec<Value>,
    /// The Response object, once the answer is known.
    pub response: Option<Value>,
}

/// A kept turn, as stored.
#[derive(Serialize, Deserialize)]
struct Stored {
    owner: Option<String>,
    response: Value,
    input: Vec<Value>,
}

/// The store's key for response `id`.
fn record_key(id: &str) -> String {
    format!("response:{id}")
}

/// Reads a Responses request and its conversation so far: the hub request
/// for translated providers, the Responses body (with the history inline)
/// for native ones, and the turn.
pub async fn open(
    session: &mut Session,
    cfg: &Config,
    store: &StateStore,
    owner: Option<&str>,
) -> Result<(ClientRequest, Turn), GatewayError> {
    let s = &cfg.settings;
    let bytes = intake::read_body_within(session, s.max_body_size, s.body_timeout).await?;
    let parsed = responses::parse(request::json(&bytes)?)?;
    let mut history = Vec::new();
    if let Some(previous) = &parsed.previous_response_id {
        let stored =
            recall(store, owner, previous)
                .await?
                .ok_or_else(|| GatewayError::BadRequest {
                    message: format!("Previous response with id '{previous}' not found."),
                    param: Some("previous_response_id".into()),
                })?;
        history = stored.input;
        if let Some(output) = stored.response.get("output").and_then(Value::as_array) {
            history.extend(output.iter().cloned());
        }
    }
    let hub = parsed.to_hub(&history)?;
    let mut req = request::parse_value(Endpoint::Chat, hub)?;
    req.body_len = bytes.len();
    // The Responses body for a provider that speaks it, only built when the
    // config has one (it copies the whole conversation).
    let native = cfg.providers.values().any(|p| p.supports("responses"));
    let native = match native {
        true => parsed.to_native(&history),
        false => Value::Null,
    };
    req.native = Some(std::sync::Arc::new(native));
    let mut input = history;
    input.extend(parsed.input.iter().cloned());
    let turn = Turn {
        meta: Meta {
            id: responses::new_id("resp"),
            created_at: unix_now(),
            model: parsed.model.clone(),
            request: parsed.body,
        },
        store: parsed.store,
        owner: owner.map(str::to_string),
        input,
        response: None,
    };
    Ok((req, turn))
}

/// A native provider's Response as the client asked for it: the provider
/// was sent the history inline with `store: false`, so the client's `store`
/// and `previous_response_id` are put back.
pub fn echo(response: &mut Value, turn: &Turn) {
    let Some(obj) = response.as_object_mut() else {
        return;
    };
    obj.insert("store".into(), Value::Bool(turn.store));
    let previous = turn.meta.request.get("previous_response_id");
    obj.insert(
        "previous_response_id".into(),
        previous.cloned().unwrap_or(Value::Null),
    );
}

/// Keeps the turn's response, if it has one and asked to be stored. A
/// store that cannot keep it is logged: the answer itself is not lost.
pub async fn keep(store: &StateStore, cfg: &Config, turn: &Turn) {
    let Some(response) = turn.response.as_ref().filter(|_| turn.store) else {
        return;
    };
    let id = response
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or(&turn.meta.id);
    let stored = Stored {
        owner: turn.owner.clone(),
        response: response.clone(),
        input: turn.input.clone(),
    };
    let bytes = match serde_json::to_vec(&stored) {
        Ok(b) => Bytes::from(b),
        Err(e) => return tracing::warn!(error = %e, "a response could not be stored"),
    };
    let ttl = cfg.settings.responses_ttl;
    if let Err(e) = store.record_put(&record_key(id), bytes, ttl).await {
        tracing::warn!(response = id, error = %e, "a response could not be stored");
    }
}

/// The stored turn `id`, if `owner` made it.
async fn recall(
    store: &StateStore,
    owner: Option<&str>,
    id: &str,
) -> Result<Option<Stored>, GatewayError> {
    let bytes = store
        .record_get(&record_key(id))
        .await
        .map_err(|e| GatewayError::StateUnavailable(format!("stored responses: {e}")))?;
    let Some(bytes) = bytes else { return Ok(None) };
    let stored: Stored = serde_json::from_slice(&bytes)
        .map_err(|e| GatewayError::Internal(format!("stored response `{id}`: {e}")))?;
    // Another key's response does not exist, as far as this key knows.
    Ok((stored.owner.as_deref() == owner).then_some(stored))
}

/// What the stored-response endpoints do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Get,
    InputItems,
    Delete,
}

/// `GET /v1/responses/{id}`, `GET …/{id}/input_items`, `DELETE …/{id}`.
pub async fn stored(
    session: &mut Session,
    ctx: &mut RequestCtx,
    cfg: &Config,
    policies: &Policies,
    id: &str,
    action: Action,
) -> pingora::Result<()> {
    ctx.endpoint = "responses";
    let answer = stored_answer(session, ctx, cfg, policies, id, action).await;
    match answer {
        Ok(v) => write_json(session, ctx, 200, &v).await,
        Err(e) => write_error(session, ctx, &e).await,
    }
}

async fn stored_answer(
    session: &Session,
    ctx: &mut RequestCtx,
    cfg: &Config,
    policies: &Policies,
    id: &str,
    action: Action,
) -> Result<Value, GatewayError> {
    let head = session.req_header();
    let key = keys::authenticate(&cfg.policy.auth, &head.headers, Dialect::OpenAi)?;
    ctx.key = key.as_ref().map(|k| k.name.clone());
    let owner = key.as_ref().map(|k| k.name.as_str());
    let store = &policies.store;
    let not_found = || GatewayError::NotFound(format!("Response with id '{id}' not found."));
    let stored = recall(store, owner, id).await?.ok_or_else(not_found)?;
    Ok(match action {
        Action::Get => stored.response,
        Action::Delete => {
            store
                .record_delete(&record_key(id))
                .await
                .map_err(|e| GatewayError::StateUnavailable(format!("stored responses: {e}")))?;
            json!({"id": id, "object": "response", "deleted": true})
        }
        Action::InputItems => {
            let query = head.uri.query().unwrap_or("");
            input_items(stored.input, query)?
        }
    })
}

/// A page of input items, as OpenAI lists them: `order` (`desc` by
/// default), `after` (an item id), `limit` (1–100, default 20).
fn input_items(mut items: Vec<Value>, query: &str) -> Result<Value, GatewayError> {
    let mut order = "desc";
    let mut after = None;
    let mut limit = 20usize;
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        match &*k {
            "order" if v == "asc" || v == "desc" => order = if v == "asc" { "asc" } else { "desc" },
            "order" => return Err(invalid_query("order", "must be `asc` or `desc`")),
            "after" => after = Some(v.into_owned()),
            "limit" => {
                limit = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=100).contains(n))
                    .ok_or_else(|| invalid_query("limit", "must be between 1 and 100"))?
            }
            _ => {}
        }
    }
    if order == "desc" {
        items.reverse();
    }
    let id_of = |v: &Value| v.get("id").and_then(Value::as_str).map(str::to_string);
    let start = match &after {
        Some(a) => items
            .iter()
            .position(|i| id_of(i).as_deref() == Some(a.as_str()))
            .map_or(items.len(), |p| p + 1),
        None => 0,
    };
    let page: Vec<Value> = items.iter().skip(start).take(limit).cloned().collect();
    let has_more = start + page.len() < items.len();
    Ok(json!({
        "object": "list",
        "data": page,
        "first_id": page.first().and_then(id_of),
        "last_id": page.last().and_then(id_of),
        "has_more": has_more,
    }))
}

fn invalid_query(param: &str, message: &str) -> GatewayError {
    GatewayError::BadRequest {
        message: format!("`{param}` {message}"),
        param: Some(param.to_string()),
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests;
