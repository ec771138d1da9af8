//! What a provider's traffic goes through: its adapter (built in or a
//! script), then its patch if it names one. This is the one interface the
//! request path calls; it never knows which kind of adapter it holds.

use std::path::PathBuf;
use std::sync::Arc;

use rhai::Dynamic;
use serde_json::{json, Value};

use super::script::Patch;
use super::{
    AdapterError, Capabilities, ChunkOut, Ctx, Framing, RequestPlan, StreamTranslator, Wire,
};

/// Where an adapter comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Part of the binary.
    BuiltIn,
    /// A script, by its path relative to the config's folder.
    Script(PathBuf),
}

/// A provider's adapter and patch.
#[derive(Clone)]
pub struct Adapter {
    wire: Arc<dyn Wire>,
    origin: Origin,
    patch: Option<Arc<Patch>>,
}

impl std::fmt::Debug for Adapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Adapter")
            .field("name", &self.wire.name())
            .field("origin", &self.origin)
            .field("patch", &self.patch.as_ref().map(|p| p.name()))
            .finish()
    }
}

impl Adapter {
    /// `wire` (from `origin`), then `patch`.
    pub fn new(wire: Arc<dyn Wire>, origin: Origin, patch: Option<Arc<Patch>>) -> Self {
        Self {
            wire,
            origin,
            patch,
        }
    }

    /// The adapter's name (`adapter:` in routes.yaml).
    pub fn name(&self) -> &str {
        self.wire.name()
    }

    /// Built in, or a script.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The patch, if any.
    pub fn patch(&self) -> Option<&Patch> {
        self.patch.as_deref()
    }

    /// What it is, for the admin API.
    pub fn describe(&self) -> Value {
        let (kind, script) = match &self.origin {
            Origin::BuiltIn => ("built-in", None),
            Origin::Script(p) => ("script", Some(p.display().to_string())),
        };
        json!({
            "name": self.name(),
            "kind": kind,
            "script": script,
            "framing": match self.framing() {
                Framing::Sse => "sse",
                Framing::Ndjson => "ndjson",
                Framing::EventStream => "eventstream",
            },
            "patch": self.patch.as_ref().map(|p| json!({
                "name": p.name(),
                "script": p.path().display().to_string(),
                "hooks": p.hooks(),
            })),
        })
    }

    /// What the adapter declares it supports.
    pub fn capabilities(&self) -> Capabilities {
        self.wire.capabilities()
    }

    /// Checks a provider's `options` (see [`Wire::check_options`]).
    pub fn check_options(&self, options: &serde_json::Map<String, Value>) -> Result<(), String> {
        self.wire.check_options(options)
    }

    /// How the provider frames its streams.
    pub fn framing(&self) -> Framing {
        self.wire.framing()
    }

    /// The request head for `ctx`.
    pub fn plan(&self, ctx: &Ctx) -> Result<RequestPlan, AdapterError> {
        let plan = self.wire.plan(ctx)?;
        match &self.patch {
            Some(p) => p.plan(plan, ctx),
            None => Ok(plan),
        }
    }

    /// The provider's request body for a hub request; `None`: the hub body
    /// goes as it is.
    pub fn request(&self, hub: &Value, ctx: &Ctx) -> Result<Option<Value>, AdapterError> {
        let body = self.wire.request(hub, ctx)?;
        match &self.patch {
            Some(p) if p.patches_request() => {
                let body = body.unwrap_or_else(|| hub.clone());
                p.request(body, ctx).map(Some)
            }
            _ => Ok(body),
        }
    }

    /// Whether a non-streaming answer is changed on its way (else the
    /// provider's bytes go to the client as they came).
    pub fn translates_response(&self) -> bool {
        self.wire.translates_response() || self.patch.as_ref().is_some_and(|p| p.patches_response())
    }

    /// A non-streaming 2xx answer, in the hub format.
    pub fn response(&self, body: Value, ctx: &Ctx) -> Result<Value, AdapterError> {
        let body = self.wire.response(body, ctx)?;
        match &self.patch {
            Some(p) => p.response(body, ctx),
            None => Ok(body),
        }
    }

    /// A new stream's state.
    pub fn stream(&self, ctx: &Arc<Ctx>) -> StreamState {
        let patch = self.patch.clone().filter(|p| p.patches_chunks()).map(|p| {
            let this = p.stream_state();
            (p, this)
        });
        StreamState {
            translator: self.wire.stream(ctx),
            patch,
            ctx: ctx.clone(),
            scratch: Vec::new(),
        }
    }
}

/// One stream's translation: the adapter's translator (none: OpenAI-format
/// events pass as they are) and the patch's `patch_chunk` with its `this`.
pub struct StreamState {
    translator: Option<Box<dyn StreamTranslator>>,
    patch: Option<(Arc<Patch>, Dynamic)>,
    ctx: Arc<Ctx>,
    scratch: Vec<ChunkOut>,
}

impl StreamState {
    /// Whether events must go through [`StreamState::event`]; when false
    /// they are OpenAI chunks the relay forwards as they are.
    pub fn translates(&self) -> bool {
        self.translator.is_some() || self.patch.is_some()
    }

    /// Whether the adapter translates the events (else they are OpenAI
    /// chunks, maybe patched).
    pub fn has_translator(&self) -> bool {
        self.translator.is_some()
    }

    /// One upstream event; the client's chunks go to `out`.
    pub fn event(
        &mut self,
        event: &str,
        data: &str,
        out: &mut Vec<ChunkOut>,
    ) -> Result<(), AdapterError> {
        let Some((patch, this)) = self.patch.as_mut() else {
            return match self.translator.as_mut() {
                Some(t) => t.event(event, data, out),
                None => passthrough(data, out),
            };
        };
        self.scratch.clear();
        match self.translator.as_mut() {
            Some(t) => t.event(event, data, &mut self.scratch)?,
            None => passthrough(data, &mut self.scratch)?,
        }
        for item in self.scratch.drain(..) {
            match item {
                ChunkOut::Json(v) if !is_error(&v) => patch.chunk(this, v, &self.ctx, out)?,
                other => out.push(other),
            }
        }
        Ok(())
    }

    /// The upstream stream ended.
    pub fn finish(&mut self, out: &mut Vec<ChunkOut>) -> Result<(), AdapterError> {
        let Some(t) = self.translator.as_mut() else {
            return Ok(());
        };
        let Some((patch, this)) = self.patch.as_mut() else {
            return t.finish(out);
        };
        self.scratch.clear();
        t.finish(&mut self.scratch)?;
        for item in self.scratch.drain(..) {
            match item {
                ChunkOut::Json(v) if !is_error(&v) => patch.chunk(this, v, &self.ctx, out)?,
                other => out.push(other),
            }
        }
        Ok(())
    }
}

/// An in-band error chunk: patches do not see those.
fn is_error(v: &Value) -> bool {
    v.get("error").is_some_and(|e| !e.is_null())
}

/// An OpenAI-format event as a chunk (for a patch to see).
fn passthrough(data: &str, out: &mut Vec<ChunkOut>) -> Result<(), AdapterError> {
    let data = data.trim();
    if data.is_empty() {
        return Ok(());
    }
    if data == "[DONE]" {
        out.push(ChunkOut::Raw("[DONE]".into()));
        return Ok(());
    }
    let v: Value = serde_json::from_str(data).map_err(|_| {
        AdapterError::failed(
            "openai",
            "transform_chunk",
            "the provider sent a stream event that is not JSON",
        )
    })?;
    out.push(ChunkOut::Json(v));
    Ok(())
}
