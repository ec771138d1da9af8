//! A patch: a script any provider — built in or scripted — may name with
//! `patch:` in routes.yaml, whose hooks run after its adapter, so that a
//! field can be added, a model renamed or a parameter stripped without
//! forking the adapter. Every hook is optional; only the ones a patch
//! defines run, and each gets its document as a [`Json`] handle that it
//! edits in place, so its cost follows what it touches, not the size of
//! the body.
//!
//! | hook | runs on | sees |
//! |---|---|---|
//! | `patch_plan(plan, ctx)` | the request head the adapter built | `plan.method`, `plan.path`, `plan.headers` |
//! | `patch_request(body, ctx)` | the provider's request body (after the adapter) | the body |
//! | `patch_response(body, ctx)` | a non-streaming answer, in the hub format (after the adapter) | the `chat.completion` (or embeddings list) |
//! | `patch_chunk(chunk, ctx)` | each stream chunk, in the hub format (after the adapter); `this` is per-stream state | the `chat.completion.chunk` |
//!
//! A hook returns nothing to keep its edits. `patch_request` and
//! `patch_response` may instead return a new body; `patch_chunk` may return
//! a map (the chunk instead) or an array of chunks (several, or none to drop
//! it). A `throw #{ status, message }` refuses the request, as in adapters.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rhai::{Dynamic, Engine, Map};
use serde_json::{json, Value};

use super::json::Json;
use super::{CompileError, Script};
use crate::adapter::{AdapterError, ChunkOut, Ctx, RequestPlan};

/// Which hooks a patch defines.
#[derive(Debug, Default, Clone, Copy)]
struct Hooks {
    plan: bool,
    request: bool,
    response: bool,
    chunk: bool,
}

/// A compiled patch.
#[derive(Debug)]
pub struct Patch {
    name: String,
    script: Arc<Script>,
    hooks: Hooks,
}

impl Patch {
    /// Compiles patch `name` from `source` (`path` as messages show it).
    pub fn compile(
        name: &str,
        path: &Path,
        source: &str,
        engine: Arc<Engine>,
        timeout: Duration,
    ) -> Result<Self, CompileError> {
        let script = Script::compile(path, source, engine, timeout)?;
        let has = |hook: &str| -> Result<bool, CompileError> {
            match script.arity(hook) {
                None => Ok(false),
                Some(2) => Ok(true),
                Some(a) => {
                    Err(script.invalid(format!("hook `{hook}` must take 2 parameters, not {a}")))
                }
            }
        };
        let hooks = Hooks {
            plan: has("patch_plan")?,
            request: has("patch_request")?,
            response: has("patch_response")?,
            chunk: has("patch_chunk")?,
        };
        if !(hooks.plan || hooks.request || hooks.response || hooks.chunk) {
            return Err(script.invalid(
                "a patch defines at least one of patch_plan, patch_request, patch_response, patch_chunk (each taking 2 parameters)",
            ));
        }
        Ok(Self {
            name: name.to_string(),
            script: Arc::new(script),
            hooks,
        })
    }

    /// The patch's name (`patch:` in routes.yaml).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The script's path, as messages show it.
    pub fn path(&self) -> &Path {
        self.script.path()
    }

    /// The hooks it defines, by name (for the admin API).
    pub fn hooks(&self) -> Vec<&'static str> {
        let h = self.hooks;
        [
            (h.plan, "patch_plan"),
            (h.request, "patch_request"),
            (h.response, "patch_response"),
            (h.chunk, "patch_chunk"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect()
    }

    /// Whether it edits request bodies.
    pub fn patches_request(&self) -> bool {
        self.hooks.request
    }

    /// Whether it edits responses.
    pub fn patches_response(&self) -> bool {
        self.hooks.response
    }

    /// Whether it edits stream chunks.
    pub fn patches_chunks(&self) -> bool {
        self.hooks.chunk
    }

    /// Runs `patch_plan` on `plan`, if defined.
    pub fn plan(&self, plan: RequestPlan, ctx: &Ctx) -> Result<RequestPlan, AdapterError> {
        if !self.hooks.plan {
            return Ok(plan);
        }
        let hook = "patch_plan";
        let headers: serde_json::Map<String, Value> = plan
            .headers
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        let doc = Json::new(json!({
            "method": plan.method.as_str(),
            "path": plan.path,
            "headers": headers,
        }));
        // Edits in place; what it returns is ignored.
        let _ = self
            .script
            .call(hook, None, (Dynamic::from(doc.clone()), ctx.script_map()))?;
        let out = doc.into_value();
        let bad = |m: &str| self.script.bad_output(hook, m);
        let path = out["path"]
            .as_str()
            .ok_or_else(|| bad("`plan.path` must be a string"))?
            .to_string();
        let method = out["method"]
            .as_str()
            .and_then(|m| m.to_uppercase().parse().ok())
            .ok_or_else(|| bad("`plan.method` must be an HTTP method"))?;
        let headers = match &out["headers"] {
            Value::Object(h) => h
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => (k.clone(), s.clone()),
                    other => (k.clone(), other.to_string()),
                })
                .collect(),
            _ => return Err(bad("`plan.headers` must be a map")),
        };
        Ok(RequestPlan {
            method,
            path,
            headers,
            reuse: plan.reuse,
        })
    }

    /// Runs `patch_request` on the provider's request body, if defined.
    pub fn request(&self, body: Value, ctx: &Ctx) -> Result<Value, AdapterError> {
        if !self.hooks.request {
            return Ok(body);
        }
        self.script.edit("patch_request", body, ctx.script_map())
    }

    /// Runs `patch_response` on a hub answer, if defined.
    pub fn response(&self, body: Value, ctx: &Ctx) -> Result<Value, AdapterError> {
        if !self.hooks.response {
            return Ok(body);
        }
        self.script.edit("patch_response", body, ctx.script_map())
    }

    /// The per-stream state `patch_chunk` sees as `this`.
    pub fn stream_state(&self) -> Dynamic {
        Dynamic::from_map(Map::new())
    }

    /// Runs `patch_chunk` on a hub chunk; what the client gets goes to `out`.
    pub fn chunk(
        &self,
        this: &mut Dynamic,
        chunk: Value,
        ctx: &Ctx,
        out: &mut Vec<ChunkOut>,
    ) -> Result<(), AdapterError> {
        if !self.hooks.chunk {
            out.push(ChunkOut::Json(chunk));
            return Ok(());
        }
        self.script
            .edit_chunk("patch_chunk", this, chunk, ctx.script_map(), out)
    }
}

#[cfg(test)]
mod tests;
