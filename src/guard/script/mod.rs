//! A guardrail script: `scripts/guardrails/<name>.rhai`, whose hooks see
//! every request before it is routed
//! and every answer before the client does. Every hook is optional, but a
//! guardrail defines at least one:
//!
//! | hook | runs on | may |
//! |---|---|---|
//! | `on_request(request, ctx)` | the request, in the OpenAI format, before routing (global guardrails) or before the route's targets are tried (a route's) | edit it in place; `throw #{ status, message }` to refuse it |
//! | `on_response(response, ctx)` | a whole answer (`chat.completion`…), before it is cached or sent | edit it; refuse it |
//! | `on_chunk(chunk, ctx)` | each `chat.completion.chunk` of a stream, as it passes; `this` is the stream's own state | edit it, return a map or an array of chunks (none to hold it back), or refuse: the stream ends with an error event |
//! | `check(options)` | the guardrail's `options:`, once, when the config loads | throw to reject the config (file:line) |
//!
//! `ctx` holds `guardrail`, `stage`, `endpoint`, `model`, `route` (`()`
//! before routing), `key` (the key's name, `()` with auth off), `stream`
//! and `options`. Scripts run on the sandboxed engine of adapters, within
//! the same budgets.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rhai::{Dynamic, Engine, Map};
use serde_json::Value;

use crate::adapter::script::{CompileError, Script};
use crate::adapter::{AdapterError, ChunkOut};

/// Which hooks a guardrail script defines.
#[derive(Debug, Default, Clone, Copy)]
pub struct Hooks {
    pub request: bool,
    pub response: bool,
    pub chunk: bool,
}

/// A compiled guardrail script.
#[derive(Debug)]
pub struct GuardScript {
    script: Script,
    pub hooks: Hooks,
}

impl GuardScript {
    /// Compiles `source` (`path` as messages show it) and checks `options`
    /// with its `check` hook, if it has one.
    pub fn compile(
        path: &Path,
        source: &str,
        engine: Arc<Engine>,
        timeout: Duration,
        options: &Dynamic,
    ) -> Result<Self, CompileError> {
        let script = Script::compile(path, source, engine, timeout)?;
        let has = |hook: &str, arity: usize| -> Result<bool, CompileError> {
            match script.arity(hook) {
                None => Ok(false),
                Some(a) if a == arity => Ok(true),
                Some(a) => Err(script.invalid(format!(
                    "hook `{hook}` must take {arity} parameter{}, not {a}",
                    if arity == 1 { "" } else { "s" }
                ))),
            }
        };
        let hooks = Hooks {
            request: has("on_request", 2)?,
            response: has("on_response", 2)?,
            chunk: has("on_chunk", 2)?,
        };
        if !(hooks.request || hooks.response || hooks.chunk) {
            return Err(script.invalid(
                "a guardrail defines at least one of on_request, on_response, on_chunk (each taking 2 parameters)",
            ));
        }
        if has("check", 1)? {
            let _checked = script
                .call("check", None, (options.clone(),))
                .map_err(|e| checked(&script, e))?;
        }
        Ok(Self { script, hooks })
    }

    /// The script's path, as messages show it.
    pub fn path(&self) -> &Path {
        self.script.path()
    }

    /// Runs `on_request`: the request as edited (or replaced).
    pub fn request(&self, body: Value, ctx: Dynamic) -> Result<Value, AdapterError> {
        self.script.edit("on_request", body, ctx)
    }

    /// Runs `on_response`: the answer as edited (or replaced).
    pub fn response(&self, body: Value, ctx: Dynamic) -> Result<Value, AdapterError> {
        self.script.edit("on_response", body, ctx)
    }

    /// Runs `on_chunk` with the stream's state `this`; what goes on to
    /// the client is pushed to `out`.
    pub fn chunk(
        &self,
        this: &mut Dynamic,
        chunk: Value,
        ctx: Dynamic,
        out: &mut Vec<ChunkOut>,
    ) -> Result<(), AdapterError> {
        self.script.edit_chunk("on_chunk", this, chunk, ctx, out)
    }

    /// A stream's fresh state.
    pub fn stream_state() -> Dynamic {
        Dynamic::from_map(Map::new())
    }
}

/// `check`'s refusal of the options, as a config error at its line.
fn checked(script: &Script, e: AdapterError) -> CompileError {
    match e {
        AdapterError::Failed { line, message, .. } => {
            let message = message.strip_prefix("Runtime error: ").unwrap_or(&message);
            CompileError {
                line: line.unwrap_or(0),
                ..script.invalid(format!("options refused by `check`: {message}"))
            }
        }
        other => script.invalid(format!("options refused by `check`: {other}")),
    }
}

#[cfg(test)]
mod tests;
