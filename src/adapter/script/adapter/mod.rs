//! A script adapter: a `.rhai` file in the scripts folder that translates
//! for a provider whose format is not built in. Its hooks (the hub format
//! is OpenAI's chat and embeddings API):
//!
//! | hook | when | returns |
//! |---|---|---|
//! | `request(ctx)` (required) | building a request's head | `#{ path, headers, method?, reuse? }` |
//! | `transform_request(body, ctx)` | before each attempt | the provider's request body |
//! | `transform_response(body, ctx)` | a non-streaming 2xx answer | the hub's response body |
//! | `transform_chunk(event, ctx)` | each upstream stream event (`event.event`, `event.data`, parsed when JSON); `this` is per-stream state | `()`, a chunk map, `"[DONE]"`, or an array of those |
//! | `finish_stream(ctx)` | the upstream stream ended; `this` as above | like `transform_chunk` |
//! | `capabilities()` | at load | `#{ chat, stream, tools, vision, json, embeddings, reasoning }` booleans |
//! | `framing()` | at load | `"sse"` (default) or `"ndjson"`: one JSON object per line, each an event named `""` |
//!
//! A missing optional hook passes data through unchanged. A script refuses a
//! request with `throw #{ status: 400, message: "…" }`; any other error is a
//! failure reported with the script's path and line. `request(ctx)`'s
//! answer is kept per distinct `ctx` and reused unless it says
//! `reuse: false` (see [`crate::provider::plans`]).
//!
//! Bodies reach the hooks as Rhai maps and arrays (a translation reads all
//! of them anyway); `ctx` is built once per attempt and shared by its calls.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rhai::{Dynamic, Engine, Map};
use serde_json::Value;

use super::convert::{to_dynamic, to_dynamic_ref};
use super::{CompileError, Script};
use crate::adapter::{
    AdapterError, Capabilities, ChunkOut, Ctx, Framing, RequestPlan, StreamTranslator, Wire,
};

/// Which optional hooks a script defines.
#[derive(Debug, Default, Clone, Copy)]
struct Hooks {
    transform_request: bool,
    transform_response: bool,
    transform_chunk: bool,
    finish_stream: bool,
}

/// A compiled script adapter.
#[derive(Debug)]
pub struct ScriptAdapter {
    name: String,
    script: Arc<Script>,
    hooks: Hooks,
    capabilities: Capabilities,
    framing: Framing,
}

impl ScriptAdapter {
    /// Compiles the adapter `name` from `source` (`path` as messages show
    /// it), checks its hooks' signatures, and reads its capabilities and
    /// framing.
    pub fn compile(
        name: &str,
        path: &Path,
        source: &str,
        engine: Arc<Engine>,
        timeout: Duration,
    ) -> Result<Self, CompileError> {
        let script = Script::compile(path, source, engine, timeout)?;
        let expect =
            |hook: &str, n: usize| -> Result<bool, CompileError> {
                match script.arity(hook) {
                    None => Ok(false),
                    Some(a) if a == n => Ok(true),
                    Some(a) => Err(script
                        .invalid(format!("hook `{hook}` must take {n} parameter(s), not {a}"))),
                }
            };
        if !expect("request", 1)? {
            return Err(script.invalid("missing required hook `fn request(ctx)`"));
        }
        let hooks = Hooks {
            transform_request: expect("transform_request", 2)?,
            transform_response: expect("transform_response", 2)?,
            transform_chunk: expect("transform_chunk", 2)?,
            finish_stream: expect("finish_stream", 1)?,
        };
        let capabilities = if expect("capabilities", 0)? {
            declared_capabilities(&script)?
        } else {
            Capabilities::new()
        };
        let framing = if expect("framing", 0)? {
            declared_framing(&script)?
        } else {
            Framing::Sse
        };
        Ok(Self {
            name: name.to_string(),
            script: Arc::new(script),
            hooks,
            capabilities,
            framing,
        })
    }

    /// The script's path, as messages show it.
    pub fn path(&self) -> &Path {
        self.script.path()
    }

    fn plan_from(&self, out: Dynamic) -> Result<RequestPlan, AdapterError> {
        let hook = "request";
        let bad = |m: &str| self.script.bad_output(hook, m);
        let map = out
            .try_cast::<Map>()
            .ok_or_else(|| bad("must return a map #{ path, headers }"))?;
        let path = map
            .get("path")
            .and_then(|p| p.clone().into_string().ok())
            .ok_or_else(|| bad("returned map has no string `path`"))?;
        let method = match map.get("method") {
            None => http::Method::POST,
            Some(m) => m
                .to_string()
                .to_uppercase()
                .parse()
                .map_err(|_| bad("invalid `method`"))?,
        };
        let mut headers = Vec::new();
        if let Some(h) = map.get("headers") {
            let h = h
                .read_lock::<Map>()
                .ok_or_else(|| bad("`headers` must be a map"))?;
            for (k, v) in h.iter() {
                headers.push((k.to_string(), v.to_string()));
            }
        }
        let reuse = match map.get("reuse") {
            None => true,
            Some(r) => r.as_bool().map_err(|_| bad("`reuse` must be a boolean"))?,
        };
        Ok(RequestPlan {
            method,
            path,
            headers,
            reuse,
        })
    }
}

fn declared_capabilities(script: &Script) -> Result<Capabilities, CompileError> {
    let invalid = |m: String| script.invalid(format!("capabilities(): {m}"));
    let caps = script
        .call("capabilities", None, ())
        .map_err(|e| invalid(e.to_string()))?;
    let map = caps
        .try_cast::<Map>()
        .ok_or_else(|| invalid("must return a map of booleans".into()))?;
    let mut out = Capabilities::new();
    for (k, v) in map {
        let v = v
            .as_bool()
            .map_err(|_| invalid(format!("`{k}` must be a boolean")))?;
        out.insert(k.to_string(), v);
    }
    Ok(out)
}

fn declared_framing(script: &Script) -> Result<Framing, CompileError> {
    let said = script
        .call("framing", None, ())
        .map_err(|e| script.invalid(format!("framing(): {e}")))?;
    match said.to_string().as_str() {
        "sse" => Ok(Framing::Sse),
        "ndjson" => Ok(Framing::Ndjson),
        other => Err(script.invalid(format!(
            "framing() must return \"sse\" or \"ndjson\", not `{other}`"
        ))),
    }
}

impl Wire for ScriptAdapter {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities.clone()
    }

    fn plan(&self, ctx: &Ctx) -> Result<RequestPlan, AdapterError> {
        let out = self.script.call("request", None, (ctx.script_map(),))?;
        self.plan_from(out)
    }

    fn request(&self, body: &Value, ctx: &Ctx) -> Result<Option<Value>, AdapterError> {
        if !self.hooks.transform_request {
            return Ok(None);
        }
        let hook = "transform_request";
        let out = self
            .script
            .call(hook, None, (to_dynamic_ref(body), ctx.script_map()))?;
        self.script.to_json(hook, &out).map(Some)
    }

    fn translates_response(&self) -> bool {
        self.hooks.transform_response
    }

    fn response(&self, body: Value, ctx: &Ctx) -> Result<Value, AdapterError> {
        if !self.hooks.transform_response {
            return Ok(body);
        }
        let hook = "transform_response";
        let out = self
            .script
            .call(hook, None, (to_dynamic(body), ctx.script_map()))?;
        self.script.to_json(hook, &out)
    }

    fn stream(&self, ctx: &Arc<Ctx>) -> Option<Box<dyn StreamTranslator>> {
        self.hooks.transform_chunk.then(|| {
            Box::new(ScriptStream {
                script: self.script.clone(),
                finish_hook: self.hooks.finish_stream,
                this: Dynamic::from_map(Map::new()),
                ctx: ctx.script_map(),
            }) as Box<dyn StreamTranslator>
        })
    }

    fn framing(&self) -> Framing {
        self.framing
    }
}

/// One stream through a script: its `this` and its `ctx`.
struct ScriptStream {
    script: Arc<Script>,
    finish_hook: bool,
    this: Dynamic,
    ctx: Dynamic,
}

impl StreamTranslator for ScriptStream {
    fn event(
        &mut self,
        event: &str,
        data: &str,
        out: &mut Vec<ChunkOut>,
    ) -> Result<(), AdapterError> {
        let hook = "transform_chunk";
        let data = match serde_json::from_str::<Value>(data) {
            Ok(v) => to_dynamic(v),
            Err(_) => Dynamic::from(data.to_string()),
        };
        let mut ev = Map::new();
        ev.insert("event".into(), Dynamic::from(event.to_string()));
        ev.insert("data".into(), data);
        let args = (Dynamic::from_map(ev), self.ctx.clone());
        let result = self.script.call(hook, Some(&mut self.this), args)?;
        self.script.chunks(hook, result, out)
    }

    fn finish(&mut self, out: &mut Vec<ChunkOut>) -> Result<(), AdapterError> {
        if !self.finish_hook {
            return Ok(());
        }
        let hook = "finish_stream";
        let result = self
            .script
            .call(hook, Some(&mut self.this), (self.ctx.clone(),))?;
        self.script.chunks(hook, result, out)
    }
}

#[cfg(test)]
mod tests;
