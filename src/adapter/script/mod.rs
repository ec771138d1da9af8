//! Rhai scripts: adapters for providers the gateway does not build in
//! ([`ScriptAdapter`]), patches that tweak any provider's traffic
//! ([`Patch`]), and the one sandboxed engine they and the scoring scripts
//! run on ([`engine`]).
//!
//! [`Script`] is what both kinds share: the compiled file, its path as
//! messages show it (relative to the config's folder), the engine, the
//! time budget per call, and how a call's failure becomes an
//! [`AdapterError`] — a `throw #{ status, message }` with a 4xx status
//! refuses the client's request, anything else is a failure naming the
//! script, the hook and the line.

pub mod adapter;
pub mod convert;
pub mod engine;
pub mod json;
pub mod memory;
pub mod patch;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rhai::{CallFnOptions, Dynamic, Engine, EvalAltResult, Map, Scope, AST};

pub use adapter::ScriptAdapter;
pub use patch::Patch;

use super::{AdapterError, ChunkOut, Ctx};
use engine::DeadlineGuard;

/// Why a script could not be compiled (`file:line:col: message`, the path
/// relative to the config's folder).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}:{line}:{col}: {message}", path.display())]
pub struct CompileError {
    pub path: PathBuf,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

/// A compiled script file and how to call its functions.
pub struct Script {
    /// As messages show it: relative to the config's folder.
    path: PathBuf,
    ast: AST,
    engine: Arc<Engine>,
    timeout: Duration,
}

impl std::fmt::Debug for Script {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Script").field("path", &self.path).finish()
    }
}

impl Script {
    /// Compiles `source`; `path` is how messages name it.
    pub fn compile(
        path: &Path,
        source: &str,
        engine: Arc<Engine>,
        timeout: Duration,
    ) -> Result<Self, CompileError> {
        let mut ast = engine.compile(source).map_err(|e| {
            let pos = e.position();
            CompileError {
                path: path.to_path_buf(),
                line: pos.line().unwrap_or(0),
                col: pos.position().unwrap_or(0),
                message: strip_position(&e.to_string()),
            }
        })?;
        ast.set_source(path.display().to_string());
        Ok(Self {
            path: path.to_path_buf(),
            ast,
            engine,
            timeout,
        })
    }

    /// The script's path, as messages show it.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The arity of function `name`, if the script defines it.
    pub fn arity(&self, name: &str) -> Option<usize> {
        self.ast
            .iter_functions()
            .find(|f| f.name == name)
            .map(|f| f.params.len())
    }

    /// A compile error about the script as a whole (a hook's signature).
    pub fn invalid(&self, message: impl Into<String>) -> CompileError {
        CompileError {
            path: self.path.clone(),
            line: 0,
            col: 0,
            message: message.into(),
        }
    }

    /// Calls `hook` with `args` (and `this` bound to `this`), within the
    /// script budgets.
    pub fn call(
        &self,
        hook: &'static str,
        this: Option<&mut Dynamic>,
        args: impl rhai::FuncArgs,
    ) -> Result<Dynamic, AdapterError> {
        let _budget = DeadlineGuard::start(self.timeout);
        let mut options = CallFnOptions::new().eval_ast(false).rewind_scope(false);
        if let Some(this) = this {
            options = options.bind_this_ptr(this);
        }
        self.engine
            .call_fn_with_options::<Dynamic>(options, &mut Scope::new(), &self.ast, hook, args)
            .map_err(|e| self.classify(hook, *e))
    }

    /// A `throw #{ status: 4xx, message }` is a refusal; anything else a
    /// failure with the line it happened on.
    fn classify(&self, hook: &'static str, err: EvalAltResult) -> AdapterError {
        let inner = innermost(err);
        if let EvalAltResult::ErrorRuntime(value, _) = &inner {
            if let Some(map) = value.read_lock::<Map>() {
                let status = map
                    .get("status")
                    .and_then(|s| s.as_int().ok())
                    .and_then(|s| u16::try_from(s).ok())
                    .filter(|s| (400..500).contains(s));
                if let Some(status) = status {
                    let message = map
                        .get("message")
                        .map(|m| m.to_string())
                        .unwrap_or_else(|| "rejected by the provider adapter".to_string());
                    return AdapterError::Rejected { status, message };
                }
            }
        }
        let message = match &inner {
            // The budget that stopped it (time, memory or stack).
            EvalAltResult::ErrorTerminated(why, _) if why.is_string() => why.to_string(),
            EvalAltResult::ErrorTerminated(..) => "script time budget exceeded".to_string(),
            other => strip_position(&other.to_string()),
        };
        AdapterError::Failed {
            adapter: format!("script {}", self.path.display()),
            hook,
            line: inner.position().line(),
            message,
        }
    }

    /// Runs `hook(body, ctx)` on a document the hook edits in place: its
    /// edits, or the document it returns instead.
    pub fn edit(
        &self,
        hook: &'static str,
        body: serde_json::Value,
        ctx: Dynamic,
    ) -> Result<serde_json::Value, AdapterError> {
        let doc = json::Json::new(body);
        let out = self.call(hook, None, (Dynamic::from(doc.clone()), ctx))?;
        let itself = out
            .read_lock::<json::Json>()
            .is_some_and(|j| j.is_root_of(&doc));
        if out.is_unit() || itself {
            drop(out);
            return Ok(doc.into_value());
        }
        let replaced = self.to_json(hook, &out)?;
        drop(doc);
        Ok(replaced)
    }

    /// Runs the stream hook `hook(chunk, ctx)` with `this` as per-stream
    /// state: the chunk edited in place, or what it returns instead (see
    /// [`Script::chunks`]), goes to `out`.
    pub fn edit_chunk(
        &self,
        hook: &'static str,
        this: &mut Dynamic,
        chunk: serde_json::Value,
        ctx: Dynamic,
        out: &mut Vec<ChunkOut>,
    ) -> Result<(), AdapterError> {
        let doc = json::Json::new(chunk);
        let result = self.call(hook, Some(this), (Dynamic::from(doc.clone()), ctx))?;
        let itself = result
            .read_lock::<json::Json>()
            .is_some_and(|j| j.is_root_of(&doc));
        if result.is_unit() || itself {
            drop(result);
            out.push(ChunkOut::Json(doc.into_value()));
            return Ok(());
        }
        self.chunks(hook, result, out)
    }

    /// A failure of `hook` that is not a Rhai error (a bad return value).
    pub fn bad_output(&self, hook: &'static str, message: impl Into<String>) -> AdapterError {
        AdapterError::Failed {
            adapter: format!("script {}", self.path.display()),
            hook,
            line: None,
            message: message.into(),
        }
    }

    /// A hook's answer as JSON.
    pub fn to_json(
        &self,
        hook: &'static str,
        v: &Dynamic,
    ) -> Result<serde_json::Value, AdapterError> {
        convert::from_dynamic(v).map_err(|e| self.bad_output(hook, e.to_string()))
    }

    /// A stream hook's answer: `()`, a chunk map, a string (`"[DONE]"`), or
    /// an array of those.
    pub fn chunks(
        &self,
        hook: &'static str,
        out: Dynamic,
        into: &mut Vec<ChunkOut>,
    ) -> Result<(), AdapterError> {
        if out.is_unit() {
            return Ok(());
        }
        if out.is_array() {
            for item in out.into_array().unwrap_or_default() {
                self.chunk(hook, item, into)?;
            }
            return Ok(());
        }
        self.chunk(hook, out, into)
    }

    fn chunk(
        &self,
        hook: &'static str,
        item: Dynamic,
        into: &mut Vec<ChunkOut>,
    ) -> Result<(), AdapterError> {
        if item.is_unit() {
        } else if item.is_string() {
            into.push(ChunkOut::Raw(item.to_string()));
        } else if item.is_map() || item.is::<json::Json>() {
            into.push(ChunkOut::Json(self.to_json(hook, &item)?));
        } else {
            return Err(self.bad_output(
                hook,
                format!(
                    "must return (), a map, a string or an array, not {}",
                    item.type_name()
                ),
            ));
        }
        Ok(())
    }
}

/// `ctx` as scripts see it: a Rhai map, built once per attempt and shared
/// by every hook call of it (each call clones a pointer, not the map).
pub fn ctx_map(ctx: &Ctx) -> Dynamic {
    let text = |s: Option<&str>| s.map_or(Dynamic::UNIT, |s| Dynamic::from(s.to_string()));
    let mut m = Map::new();
    m.insert("endpoint".into(), Dynamic::from(ctx.endpoint));
    m.insert("model".into(), Dynamic::from(ctx.model.clone()));
    m.insert("stream".into(), Dynamic::from(ctx.stream));
    m.insert("include_usage".into(), Dynamic::from(ctx.include_usage));
    m.insert("provider".into(), Dynamic::from(ctx.provider.clone()));
    m.insert("api_key".into(), text(ctx.api_key.as_deref()));
    let options = convert::to_dynamic(serde_json::Value::Object((*ctx.options).clone()));
    m.insert("options".into(), options);
    m.insert(
        "encoding_format".into(),
        text(ctx.encoding_format.as_deref()),
    );
    Dynamic::from_map(m).into_shared()
}

/// Unwraps "error in function call" layers to the error that happened.
fn innermost(err: EvalAltResult) -> EvalAltResult {
    match err {
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _)
        | EvalAltResult::ErrorInModule(_, inner, _) => innermost(*inner),
        other => other,
    }
}

/// Rhai appends " (line L, position P)"; the line is reported separately.
fn strip_position(message: &str) -> String {
    match message.rfind(" (line ") {
        Some(i) if message.ends_with(')') => message[..i].to_string(),
        _ => message.to_string(),
    }
}

#[cfg(test)]
mod tests;
