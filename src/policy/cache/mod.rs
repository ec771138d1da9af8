//! The response cache: exact match on the normalised request. L1 is in
//! memory, bounded in bytes (moka); L2 is the shared state store (Redis in
//! fleet mode) with the route's TTL. Entries hold the OpenAI-format answer,
//! rendered per client: as JSON, as Anthropic JSON, or replayed as an SSE
//! stream. An entry is fresh for the route's TTL and, when the route
//! serves stale answers, kept for `serve_stale` longer: stale, it answers
//! only when every provider is down.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::provider::Usage;
use crate::request::Endpoint;
use crate::routing::{CacheWhen, RouteCache};

/// A cached answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cached {
    pub provider: String,
    /// The model label of the answer (as in metrics).
    pub model: String,
    /// The OpenAI-format response body.
    pub body: String,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Unix ms until which the entry is fresh (0: always, as entries
    /// written before stale answers existed).
    #[serde(default)]
    pub fresh_until_ms: u64,
}

impl Cached {
    /// Still within its TTL.
    pub fn fresh(&self) -> bool {
        self.fresh_until_ms == 0 || now_ms() <= self.fresh_until_ms
    }

    /// Past its TTL by at most `window`: may answer when every provider
    /// is down.
    pub fn stale_within(&self, window: Duration) -> bool {
        let end = self
            .fresh_until_ms
            .saturating_add(window.as_millis() as u64);
        !window.is_zero() && now_ms() <= end
    }

    /// The usage the original answer reported.
    pub fn usage(&self) -> Usage {
        Usage {
            prompt: self.prompt_tokens,
            completion: self.completion_tokens,
            cached: 0,
        }
    }

    /// Encoded for the L2 store.
    pub fn encode(&self) -> Bytes {
        Bytes::from(serde_json::to_vec(self).unwrap_or_default())
    }

    pub fn decode(bytes: &[u8]) -> Option<Self> {
        serde_json::from_slice(bytes).ok()
    }
}

/// Unix time in ms: entries' freshness is wall-clock time, which every
/// instance of a fleet shares.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// What this request does with the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// Read, and write on a miss.
    ReadWrite,
    /// `Cache-Control: no-cache`: do not read, but store the fresh answer.
    WriteOnly,
}

/// Whether and how `req` uses its route's cache; `None` bypasses it.
/// `body` is the request's hub (OpenAI) body.
pub fn decide(
    policy: &RouteCache,
    endpoint: Endpoint,
    body: &Value,
    headers: &HeaderMap,
) -> Option<Use> {
    let cache_control = header(headers, "cache-control").to_ascii_lowercase();
    if cache_control.contains("no-store") {
        return None;
    }
    let opt = header(headers, "x-switchyard-cache").to_ascii_lowercase();
    if opt == "skip" {
        return None;
    }
    let eligible = match policy.when {
        CacheWhen::Always => true,
        CacheWhen::Deterministic => {
            opt == "use"
                || endpoint == Endpoint::Embeddings
                || body.get("temperature").and_then(Value::as_f64) == Some(0.0)
        }
    };
    if !eligible {
        return None;
    }
    if cache_control.contains("no-cache") {
        Some(Use::WriteOnly)
    } else {
        Some(Use::ReadWrite)
    }
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> &'h str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim()
}

/// Fields that do not change the answer: left out of the key, so that a
/// streaming and a non-streaming request share an entry.
const NOT_IN_KEY: &[&str] = &["stream", "stream_options", "user", "metadata", "store"];

/// The cache key of a request on `route`, scoped to `scope` (the key name,
/// or `*` when the route shares entries across keys). The body is the hub
/// (OpenAI) form, so Anthropic- and OpenAI-format clients share entries;
/// serde_json's maps are sorted, so key order in the request does not
/// matter.
pub fn key(route: &str, scope: &str, endpoint: Endpoint, body: &Value) -> String {
    let mut h = Sha256::new();
    for part in [route, scope, endpoint.name()] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    match body {
        Value::Object(map) => {
            let kept: serde_json::Map<String, Value> = map
                .iter()
                .filter(|(k, _)| !NOT_IN_KEY.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            h.update(Value::Object(kept).to_string().as_bytes());
        }
        other => h.update(other.to_string().as_bytes()),
    }
    // One buffer, not a String per byte: this runs on every cached request.
    use std::fmt::Write;
    let mut out = String::with_capacity(64);
    for b in h.finalize() {
        let _ = write!(out, "{b:02x}");
    }
    out
}

struct Stored {
    entry: Arc<Cached>,
    expires: Instant,
}

/// Per-entry expiry: each route has its own TTL.
struct ByEntry;

impl moka::Expiry<String, Arc<Stored>> for ByEntry {
    fn expire_after_create(
        &self,
        _key: &String,
        value: &Arc<Stored>,
        created_at: Instant,
    ) -> Option<Duration> {
        Some(value.expires.saturating_duration_since(created_at))
    }
}

/// The in-memory (L1) cache, bounded in bytes.
pub struct MemoryCache {
    entries: moka::sync::Cache<String, Arc<Stored>>,
}

impl MemoryCache {
    /// A cache holding up to about `max_bytes` of answers.
    pub fn new(max_bytes: usize) -> Self {
        let entries = moka::sync::Cache::builder()
            .max_capacity(max_bytes as u64)
            .weigher(|k: &String, v: &Arc<Stored>| {
                let size = k.len() + v.entry.body.len() + v.entry.model.len() + 64;
                u32::try_from(size).unwrap_or(u32::MAX)
            })
            .expire_after(ByEntry)
            .build();
        Self { entries }
    }

    /// The entry kept for `key`, fresh or stale ([`Cached::fresh`] says).
    pub fn get(&self, key: &str) -> Option<Arc<Cached>> {
        let stored = self.entries.get(key)?;
        (stored.expires > Instant::now()).then(|| stored.entry.clone())
    }

    /// Keeps `entry` for `keep`: its TTL and any stale window after it.
    pub fn put(&self, key: String, entry: Arc<Cached>, keep: Duration) {
        let stored = Arc::new(Stored {
            entry,
            expires: Instant::now() + keep,
        });
        self.entries.insert(key, stored);
    }
}

/// A cached chat answer as the chunks of a stream: the role and the whole
/// content (and tool calls) at once, then the finish reason, then usage
/// when the client asked for it. Embeddings have no stream form.
pub fn replay_chunks(body: &Value, include_usage: bool) -> Vec<Value> {
    let id = body.get("id").cloned().unwrap_or(json!("chatcmpl-cached"));
    let created = body.get("created").cloned().unwrap_or(json!(0));
    let model = body.get("model").cloned().unwrap_or(json!(""));
    let chunk = |choices: Value| {
        json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": choices,
        })
    };
    let mut out = Vec::new();
    let choices = body
        .get("choices")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (i, choice) in choices.iter().enumerate() {
        let index = choice.get("index").cloned().unwrap_or(json!(i));
        let message = choice.get("message").cloned().unwrap_or(json!({}));
        let mut delta = serde_json::Map::new();
        delta.insert("role".into(), json!("assistant"));
        for field in ["content", "reasoning_content", "refusal"] {
            if let Some(v) = message.get(field).filter(|v| !v.is_null()) {
                delta.insert(field.into(), v.clone());
            }
        }
        if let Some(calls) = message.get("tool_calls").and_then(Value::as_array) {
            let calls: Vec<Value> = calls
                .iter()
                .enumerate()
                .map(|(j, c)| {
                    let mut c = c.clone();
                    if let Some(obj) = c.as_object_mut() {
                        obj.insert("index".into(), json!(j));
                    }
                    c
                })
                .collect();
            delta.insert("tool_calls".into(), Value::Array(calls));
        }
        out.push(chunk(json!([{
            "index": index, "delta": delta, "finish_reason": null
        }])));
        let finish = choice
            .get("finish_reason")
            .cloned()
            .unwrap_or(json!("stop"));
        out.push(chunk(json!([{
            "index": index, "delta": {}, "finish_reason": finish
        }])));
    }
    if include_usage {
        let mut last = chunk(json!([]));
        if let (Some(obj), Some(usage)) = (last.as_object_mut(), body.get("usage")) {
            obj.insert("usage".into(), usage.clone());
        }
        out.push(last);
    }
    out
}

#[cfg(test)]
mod tests;
