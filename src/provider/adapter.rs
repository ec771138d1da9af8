//! A compiled provider adapter script and its hooks.
//!
//! A script `scripts/providers/<name>.rhai` defines some of these functions
//! (OpenAI's chat format is the hub; every hook converts to or from it):
//!
//! | hook | when | returns |
//! |---|---|---|
//! | `request(ctx)` (required) | before an attempt (see below) | `#{ path, headers, method?, reuse? }` |
//! | `transform_request(body, ctx)` | before each attempt | the provider's request body |
//! | `transform_response(body, ctx)` | non-streaming 2xx | an OpenAI response body |
//! | `transform_chunk(event, ctx)` | each upstream SSE event; `this` is per-stream state | `()`, a chunk map, `"[DONE]"`, or an array of those |
//! | `finish_stream(ctx)` | upstream stream ended; `this` as above | like `transform_chunk` |
//! | `capabilities()` | support matrix, routing constraints | `#{ chat: true, stream: true, tools: …, vision: …, json: …, embeddings: …, reasoning: … }` |
//!
//! `request(ctx)` runs once per distinct `ctx` and backend: the gateway keeps
//! its answer and reuses it (see [`super::plans`]) unless the answer says
//! `reuse: false` — for a head that must be built anew each time, such as a
//! signature over the current time.
//!
//! A shipped script, unedited, runs its translation hooks through its native
//! twin ([`super::native`]): the same outputs at a fraction of the cost.
//!
//! A missing optional hook passes data through unchanged. A script rejects a
//! request with `throw #{ status: 400, message: "…" }`; any other error is a
//! script failure reported with the script's path and line.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rhai::{CallFnOptions, Dynamic, Engine, EvalAltResult, Map, Scope, AST};

use super::engine::DeadlineGuard;
use super::native::{Native, NativeError, StreamTranslator};

/// Why a script could not be compiled or a hook failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ScriptError {
    /// The file does not parse or lacks a required hook.
    #[error("{}:{line}:{col}: {message}", path.display())]
    Compile {
        path: PathBuf,
        line: usize,
        col: usize,
        message: String,
    },
    /// The script refused the request with a client-level status.
    #[error("{message}")]
    Rejected { status: u16, message: String },
    /// The script failed while running (error, limit, bad return value).
    #[error("adapter script {}{}: {hook}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Runtime {
        path: PathBuf,
        hook: &'static str,
        line: Option<usize>,
        message: String,
    },
}

/// What hooks see as `ctx`: the request's shape, the target and its
/// credentials. Built in one place so that every caller passes the same
/// fields.
#[derive(Debug, Clone, Copy)]
pub struct HookCtx<'a> {
    /// `chat` or `embeddings`.
    pub endpoint: &'a str,
    /// The model name at the provider.
    pub model: &'a str,
    pub stream: bool,
    /// The client asked for the final usage chunk.
    pub include_usage: bool,
    pub provider: &'a str,
    pub api_key: Option<&'a str>,
    /// `options:` from routes.yaml.
    pub options: &'a Map,
    /// The request's `encoding_format` (embeddings), for response transforms.
    pub encoding_format: Option<&'a str>,
}

impl HookCtx<'_> {
    /// The `ctx` map scripts receive.
    pub fn to_map(&self) -> Map {
        let text = |s: Option<&str>| {
            s.map(|s| Dynamic::from(s.to_string()))
                .unwrap_or(Dynamic::UNIT)
        };
        let mut m = Map::new();
        m.insert("endpoint".into(), Dynamic::from(self.endpoint.to_string()));
        m.insert("model".into(), Dynamic::from(self.model.to_string()));
        m.insert("stream".into(), Dynamic::from(self.stream));
        m.insert("include_usage".into(), Dynamic::from(self.include_usage));
        m.insert("provider".into(), Dynamic::from(self.provider.to_string()));
        m.insert("api_key".into(), text(self.api_key));
        m.insert("options".into(), Dynamic::from_map(self.options.clone()));
        m.insert("encoding_format".into(), text(self.encoding_format));
        m
    }
}

/// What `request(ctx)` decided: where and how to call the provider.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestPlan {
    pub method: http::Method,
    /// Path (and query) relative to the provider's base URL path.
    pub path: String,
    pub headers: Vec<(String, String)>,
    /// The same `ctx` always gets this plan (`reuse: false` says not).
    pub reuse: bool,
}

/// One item a stream hook produced.
#[derive(Debug, Clone, PartialEq)]
pub enum ChunkOut {
    /// A chunk to send as `data: <json>`.
    Json(serde_json::Value),
    /// A raw data line, such as `[DONE]`.
    Raw(String),
}

#[derive(Debug, Default, Clone, Copy)]
struct Hooks {
    capabilities: bool,
    transform_request: bool,
    transform_response: bool,
    transform_chunk: bool,
    finish_stream: bool,
}

/// A compiled adapter script, shared by every request of a config snapshot.
pub struct Adapter {
    name: String,
    path: PathBuf,
    ast: AST,
    engine: Arc<Engine>,
    timeout: Duration,
    hooks: Hooks,
    /// The script's native twin, when the script is a shipped one.
    native: Option<&'static Native>,
}

/// One stream's translation state: the script's `this`, or its twin's.
pub enum StreamState {
    Script(Dynamic),
    Native(Box<dyn StreamTranslator>),
}

impl std::fmt::Debug for StreamState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Script(d) => f.debug_tuple("Script").field(d).finish(),
            Self::Native(_) => f.write_str("Native"),
        }
    }
}

impl std::fmt::Debug for Adapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Adapter")
            .field("name", &self.name)
            .field("path", &self.path)
            .field("native", &self.native.map(|n| n.name))
            .finish()
    }
}

impl Adapter {
    /// Compiles `source` (read from `path`) and checks its hooks.
    pub fn compile(
        name: &str,
        path: &Path,
        source: &str,
        engine: Arc<Engine>,
        timeout: Duration,
    ) -> Result<Self, ScriptError> {
        let compile_error = |line: usize, col: usize, message: String| ScriptError::Compile {
            path: path.to_path_buf(),
            line,
            col,
            message,
        };
        let mut ast = compile_ast(&engine, path, source)?;
        ast.set_source(path.display().to_string());
        let mut hooks = Hooks::default();
        let mut has_request = false;
        for f in ast.iter_functions() {
            let arity = f.params.len();
            let expected = match f.name {
                "request" => {
                    has_request = true;
                    1
                }
                "transform_request" => {
                    hooks.transform_request = true;
                    2
                }
                "transform_response" => {
                    hooks.transform_response = true;
                    2
                }
                "transform_chunk" => {
                    hooks.transform_chunk = true;
                    2
                }
                "finish_stream" => {
                    hooks.finish_stream = true;
                    1
                }
                "capabilities" => {
                    hooks.capabilities = true;
                    0
                }
                _ => continue,
            };
            if arity != expected {
                return Err(compile_error(
                    0,
                    0,
                    format!(
                        "hook `{}` must take {expected} parameter(s), not {arity}",
                        f.name
                    ),
                ));
            }
        }
        if !has_request {
            return Err(compile_error(
                0,
                0,
                "missing required hook `fn request(ctx)`".to_string(),
            ));
        }
        Ok(Self {
            name: name.to_string(),
            path: path.to_path_buf(),
            ast,
            engine,
            timeout,
            hooks,
            native: super::native::twin_of(source),
        })
    }

    /// The same adapter with its native twin switched off: every hook runs
    /// the script (`server.scripts.native: false`, and the differential
    /// tests).
    pub fn script_only(mut self) -> Self {
        self.native = None;
        self
    }

    /// The native twin's name, when hooks run natively.
    pub fn native(&self) -> Option<&'static str> {
        self.native.map(|n| n.name)
    }

    /// True when `hook` runs in the native twin rather than in Rhai.
    pub fn runs_natively(&self, hook: &str) -> bool {
        self.native.is_some_and(|n| match hook {
            "transform_request" => n.transform_request.is_some(),
            "transform_response" => n.transform_response.is_some(),
            "transform_chunk" | "finish_stream" => n.stream.is_some(),
            _ => false,
        })
    }

    /// The hooks that run in the native twin (the admin API shows them).
    pub fn native_hooks(&self) -> Vec<&'static str> {
        [
            "transform_request",
            "transform_response",
            "transform_chunk",
            "finish_stream",
        ]
        .into_iter()
        .filter(|h| self.runs_natively(h))
        .collect()
    }

    /// A new stream's state, for [`Self::transform_chunk`].
    pub fn stream_state(&self) -> StreamState {
        match self.native.and_then(|n| n.stream) {
            Some(start) => StreamState::Native(start()),
            None => StreamState::Script(Dynamic::from_map(Map::new())),
        }
    }

    /// The adapter's name (`adapter:` in routes.yaml).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The script's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True when the script translates stream events (else they pass through).
    pub fn translates_stream(&self) -> bool {
        self.hooks.transform_chunk
    }

    /// True when the script translates non-streaming responses.
    pub fn translates_response(&self) -> bool {
        self.hooks.transform_response
    }

    /// True when a hook other than `request(ctx)` reads `ctx`: only then
    /// must a request build it when the head is reused.
    pub fn reads_ctx_after_request(&self) -> bool {
        let h = &self.hooks;
        h.transform_request || h.transform_response || h.transform_chunk || h.finish_stream
    }

    /// What the adapter declares it supports (`capabilities()`), by name;
    /// empty when the script declares nothing.
    pub fn capabilities(&self) -> Result<std::collections::BTreeMap<String, bool>, ScriptError> {
        let mut out = std::collections::BTreeMap::new();
        if !self.hooks.capabilities {
            return Ok(out);
        }
        let caps = self.call("capabilities", None, ())?;
        let map = caps
            .try_cast::<Map>()
            .ok_or_else(|| self.bad_output("capabilities", "must return a map of booleans"))?;
        for (k, v) in map {
            let v = v
                .as_bool()
                .map_err(|_| self.bad_output("capabilities", format!("`{k}` must be a boolean")))?;
            out.insert(k.to_string(), v);
        }
        Ok(out)
    }

    /// Runs `request(ctx)`.
    pub fn request(&self, ctx: &Map) -> Result<RequestPlan, ScriptError> {
        let out = self.call("request", None, (Dynamic::from_map(ctx.clone()),))?;
        self.plan(out)
    }

    /// Runs `transform_request(body, ctx)`; `None` when the script has no such hook.
    pub fn transform_request(
        &self,
        body: &serde_json::Value,
        ctx: &Map,
    ) -> Result<Option<serde_json::Value>, ScriptError> {
        if !self.hooks.transform_request {
            return Ok(None);
        }
        let hook = "transform_request";
        if let Some(native) = self.native.and_then(|n| n.transform_request) {
            return native(body, ctx)
                .map(Some)
                .map_err(|e| self.native_error(hook, e));
        }
        let body = rhai::serde::to_dynamic(body).map_err(|e| self.runtime(hook, &e))?;
        let out = self.call(hook, None, (body, Dynamic::from_map(ctx.clone())))?;
        self.to_json(hook, &out).map(Some)
    }

    /// Runs `transform_response(body, ctx)`; the body unchanged without the hook.
    pub fn transform_response(
        &self,
        body: serde_json::Value,
        ctx: &Map,
    ) -> Result<serde_json::Value, ScriptError> {
        if !self.hooks.transform_response {
            return Ok(body);
        }
        let hook = "transform_response";
        if let Some(native) = self.native.and_then(|n| n.transform_response) {
            return native(body, ctx).map_err(|e| self.native_error(hook, e));
        }
        let body = rhai::serde::to_dynamic(&body).map_err(|e| self.runtime(hook, &e))?;
        let out = self.call(hook, None, (body, Dynamic::from_map(ctx.clone())))?;
        self.to_json(hook, &out)
    }

    /// Runs `transform_chunk(event, ctx)` with `this` bound to `state`.
    pub fn transform_chunk(
        &self,
        state: &mut StreamState,
        event: &str,
        data: &str,
        ctx: &Map,
    ) -> Result<Vec<ChunkOut>, ScriptError> {
        let hook = "transform_chunk";
        let state = match state {
            StreamState::Script(state) => state,
            StreamState::Native(twin) => {
                let mut out = Vec::new();
                return twin
                    .event(event, data, ctx, &mut out)
                    .map(|()| out)
                    .map_err(|e| self.native_error(hook, e));
            }
        };
        let data = match serde_json::from_str::<serde_json::Value>(data) {
            Ok(v) => rhai::serde::to_dynamic(&v).map_err(|e| self.runtime(hook, &e))?,
            Err(_) => Dynamic::from(data.to_string()),
        };
        let mut ev = Map::new();
        ev.insert("event".into(), Dynamic::from(event.to_string()));
        ev.insert("data".into(), data);
        let args = (Dynamic::from_map(ev), Dynamic::from_map(ctx.clone()));
        let out = self.call(hook, Some(state), args)?;
        self.chunks(hook, out)
    }

    /// Runs `finish_stream(ctx)` if defined.
    pub fn finish_stream(
        &self,
        state: &mut StreamState,
        ctx: &Map,
    ) -> Result<Vec<ChunkOut>, ScriptError> {
        let state = match state {
            StreamState::Script(state) => state,
            StreamState::Native(twin) => {
                let mut out = Vec::new();
                return twin
                    .finish(ctx, &mut out)
                    .map(|()| out)
                    .map_err(|e| self.native_error("finish_stream", e));
            }
        };
        if !self.hooks.finish_stream {
            return Ok(Vec::new());
        }
        let out = self.call(
            "finish_stream",
            Some(state),
            (Dynamic::from_map(ctx.clone()),),
        )?;
        self.chunks("finish_stream", out)
    }

    fn call(
        &self,
        hook: &'static str,
        this: Option<&mut Dynamic>,
        args: impl rhai::FuncArgs,
    ) -> Result<Dynamic, ScriptError> {
        let _deadline = DeadlineGuard::start(self.timeout);
        let mut options = CallFnOptions::new().eval_ast(false).rewind_scope(false);
        if let Some(this) = this {
            options = options.bind_this_ptr(this);
        }
        self.engine
            .call_fn_with_options::<Dynamic>(options, &mut Scope::new(), &self.ast, hook, args)
            .map_err(|e| self.classify(hook, *e))
    }

    fn classify(&self, hook: &'static str, err: EvalAltResult) -> ScriptError {
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
                    return ScriptError::Rejected { status, message };
                }
            }
        }
        self.runtime(hook, &inner)
    }

    fn runtime(&self, hook: &'static str, err: &EvalAltResult) -> ScriptError {
        let message = match err {
            // The budget that stopped it (time, memory or stack).
            EvalAltResult::ErrorTerminated(why, _) if why.is_string() => why.to_string(),
            EvalAltResult::ErrorTerminated(..) => "script time budget exceeded".to_string(),
            other => strip_position(&other.to_string()),
        };
        ScriptError::Runtime {
            path: self.path.clone(),
            hook,
            line: err.position().line(),
            message,
        }
    }

    /// A twin's error, reported as the script's would be (without a line).
    fn native_error(&self, hook: &'static str, err: NativeError) -> ScriptError {
        match err {
            NativeError::Rejected { status, message } => ScriptError::Rejected { status, message },
            NativeError::Failed(message) => self.bad_output(hook, message),
        }
    }

    fn bad_output(&self, hook: &'static str, message: impl Into<String>) -> ScriptError {
        ScriptError::Runtime {
            path: self.path.clone(),
            hook,
            line: None,
            message: message.into(),
        }
    }

    fn to_json(&self, hook: &'static str, v: &Dynamic) -> Result<serde_json::Value, ScriptError> {
        rhai::serde::from_dynamic(v).map_err(|e| self.runtime(hook, &e))
    }

    fn plan(&self, out: Dynamic) -> Result<RequestPlan, ScriptError> {
        let hook = "request";
        let map = out
            .try_cast::<Map>()
            .ok_or_else(|| self.bad_output(hook, "must return a map #{ path, headers }"))?;
        let path = map
            .get("path")
            .and_then(|p| p.clone().into_string().ok())
            .ok_or_else(|| self.bad_output(hook, "returned map has no string `path`"))?;
        let method = match map.get("method") {
            None => http::Method::POST,
            Some(m) => m
                .to_string()
                .to_uppercase()
                .parse()
                .map_err(|_| self.bad_output(hook, "invalid `method`"))?,
        };
        let mut headers = Vec::new();
        if let Some(h) = map.get("headers") {
            let h = h
                .read_lock::<Map>()
                .ok_or_else(|| self.bad_output(hook, "`headers` must be a map"))?;
            for (k, v) in h.iter() {
                headers.push((k.to_string(), v.to_string()));
            }
        }
        let reuse = match map.get("reuse") {
            None => true,
            Some(r) => r
                .as_bool()
                .map_err(|_| self.bad_output(hook, "`reuse` must be a boolean"))?,
        };
        Ok(RequestPlan {
            method,
            path,
            headers,
            reuse,
        })
    }

    fn chunks(&self, hook: &'static str, out: Dynamic) -> Result<Vec<ChunkOut>, ScriptError> {
        if out.is_unit() {
            return Ok(Vec::new());
        }
        if out.is_array() {
            let items = out.into_array().unwrap_or_default();
            let mut v = Vec::with_capacity(items.len());
            for item in items {
                if let Some(c) = self.chunk(hook, item)? {
                    v.push(c);
                }
            }
            return Ok(v);
        }
        Ok(self.chunk(hook, out)?.into_iter().collect())
    }

    fn chunk(&self, hook: &'static str, item: Dynamic) -> Result<Option<ChunkOut>, ScriptError> {
        if item.is_unit() {
            Ok(None)
        } else if item.is_string() {
            Ok(Some(ChunkOut::Raw(item.to_string())))
        } else if item.is_map() {
            Ok(Some(ChunkOut::Json(self.to_json(hook, &item)?)))
        } else {
            Err(self.bad_output(
                hook,
                format!(
                    "must return (), a map, a string or an array, not {}",
                    item.type_name()
                ),
            ))
        }
    }
}

/// Compiles a script, a syntax error becoming a [`ScriptError::Compile`]
/// with the script's path, line and column.
pub(crate) fn compile_ast(engine: &Engine, path: &Path, source: &str) -> Result<AST, ScriptError> {
    engine.compile(source).map_err(|e| {
        let pos = e.position();
        ScriptError::Compile {
            path: path.to_path_buf(),
            line: pos.line().unwrap_or(0),
            col: pos.position().unwrap_or(0),
            message: strip_position(&e.to_string()),
        }
    })
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
mod tests {
    use super::*;
    use crate::provider::engine::{build_engine, ScriptLimits};

    fn adapter(src: &str) -> Result<Adapter, ScriptError> {
        let engine = Arc::new(build_engine(&ScriptLimits::default()));
        Adapter::compile(
            "t",
            Path::new("t.rhai"),
            src,
            engine,
            Duration::from_secs(1),
        )
    }

    #[test]
    fn request_hook_builds_a_plan() {
        let a = adapter(
            r#"fn request(ctx) { #{ path: "/v1/x", headers: #{ "x-api-key": ctx.api_key } } }"#,
        )
        .unwrap();
        let mut ctx = Map::new();
        ctx.insert("api_key".into(), Dynamic::from("k1"));
        let plan = a.request(&ctx).unwrap();
        assert_eq!(plan.path, "/v1/x");
        assert_eq!(
            plan.headers,
            vec![("x-api-key".to_string(), "k1".to_string())]
        );
        assert_eq!(plan.method, http::Method::POST);
    }

    #[test]
    fn missing_request_hook_is_a_compile_error() {
        let err = adapter("fn transform_response(b, c) { b }").unwrap_err();
        assert!(err.to_string().contains("missing required hook"), "{err}");
    }

    #[test]
    fn syntax_error_has_a_line() {
        let err = adapter("fn request(ctx) {\n  let x = ;\n}").unwrap_err();
        assert!(err.to_string().starts_with("t.rhai:2:"), "{err}");
    }

    #[test]
    fn thrown_status_map_rejects() {
        let a = adapter(r#"fn request(ctx) { throw #{ status: 400, message: "no" }; }"#).unwrap();
        match a.request(&Map::new()) {
            Err(ScriptError::Rejected { status, message }) => {
                assert_eq!((status, message.as_str()), (400, "no"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn runtime_error_names_script_and_line() {
        let a = adapter("fn request(ctx) {\n  ctx.nope.deeper\n}").unwrap();
        let err = a.request(&Map::new()).unwrap_err().to_string();
        assert!(
            err.starts_with("adapter script t.rhai:2: request:"),
            "{err}"
        );
    }

    #[test]
    fn chunk_hook_keeps_state_across_events() {
        let a = adapter(
            r#"fn request(ctx) { #{ path: "/" } }
               fn transform_chunk(ev, ctx) {
                   if this.n == () { this.n = 0; }
                   this.n += 1;
                   [#{ n: this.n, e: ev.event, d: ev.data.v }, "[DONE]"]
               }"#,
        )
        .unwrap();
        let mut state = a.stream_state();
        a.transform_chunk(&mut state, "x", r#"{"v":1}"#, &Map::new())
            .unwrap();
        let out = a
            .transform_chunk(&mut state, "y", r#"{"v":2}"#, &Map::new())
            .unwrap();
        assert_eq!(
            out,
            vec![
                ChunkOut::Json(serde_json::json!({"n": 2, "e": "y", "d": 2})),
                ChunkOut::Raw("[DONE]".into())
            ]
        );
    }
}
