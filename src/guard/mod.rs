//! Guardrails: checks every model request passes before it reaches a
//! provider, and every answer before it reaches the client — global ones
//! (`guardrails:` at the top of routes.yaml) first, then the route's own.
//! Each is one built into the gateway ([`builtin`]: `pii`, `deny-list`,
//! `max-tokens`), a Rhai script with hooks ([`script`]) or a call to a
//! moderation target ([`moderation`]). A guardrail may edit what passes, or stop it: the
//! request is refused in the client's error shape and never reaches a
//! provider; an answer is refused; a stream ends with an error event.
//!
//! A guardrail that fails (a script error, a moderation target down or too
//! slow) does what its `on_error:` says: `closed` (the default) refuses the
//! request with 503, `open` lets it through. Either way it is counted and
//! logged.

pub mod builtin;
pub mod moderation;
pub mod natives;
pub mod pii;
pub mod script;
pub mod text;

use std::sync::Arc;

use pingora::connectors::http::Connector;
use rhai::{Dynamic, Map};
use serde_json::Value;

use crate::adapter::{AdapterError, ChunkOut};
use crate::metrics::metrics;
use moderation::{Decision, Moderation};
use script::GuardScript;

/// What a failing guardrail does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    /// Let the request (or answer) through.
    Open,
    /// Refuse it (503).
    Closed,
}

impl OnError {
    fn label(self) -> &'static str {
        match self {
            OnError::Open => "open",
            OnError::Closed => "closed",
        }
    }
}

/// What a guardrail runs.
#[derive(Debug)]
pub enum Check {
    /// A guardrail built into the gateway (`pii`, `deny-list`, `max-tokens`).
    Builtin(Box<dyn builtin::Builtin>),
    /// A script's hooks, with its `options:` (shared, as scripts see them).
    Script {
        script: Arc<GuardScript>,
        options: Dynamic,
    },
    /// A moderation target, asked about the prompt.
    Moderation(Moderation),
}

/// One configured guardrail.
#[derive(Debug)]
pub struct Guardrail {
    pub name: String,
    pub on_error: OnError,
    pub check: Check,
    /// A hash of everything that decides what it does (name, script text,
    /// options, target): part of the cache key of the answers it passed.
    pub fingerprint: u64,
}

/// Where in a request's life a guardrail stopped it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Request,
    Response,
    Chunk,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Request => "request",
            Stage::Response => "response",
            Stage::Chunk => "chunk",
        }
    }
}

/// Why a guardrail stopped a request or its answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Stop {
    pub guardrail: String,
    pub stage: Stage,
    pub reason: Reason,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    /// Refused by the guardrail, with the status and message for the client.
    Blocked { status: u16, message: String },
    /// The guardrail failed and fails closed.
    Failed(String),
}

/// The request a guardrail looks at, as its scripts' `ctx` shows it.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub endpoint: &'static str,
    pub model: &'a str,
    pub route: Option<&'a str>,
    pub key: Option<&'a str>,
    pub stream: bool,
}

/// Guardrails in the order they run.
#[derive(Debug, Clone, Default)]
pub struct Guardrails(Arc<[Arc<Guardrail>]>);

impl Guardrails {
    pub fn new(list: Vec<Arc<Guardrail>>) -> Self {
        Self(list.into())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// These guardrails, then `then`'s (no copy when either is empty).
    pub fn chain(&self, then: &Guardrails) -> Guardrails {
        match (self.is_empty(), then.is_empty()) {
            (_, true) => self.clone(),
            (true, false) => then.clone(),
            (false, false) => Self(self.0.iter().chain(then.0.iter()).cloned().collect()),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Guardrail>> {
        self.0.iter()
    }

    /// Which guardrails these are, in order (0 for none): an answer kept
    /// in the cache after passing them is not served to a request that
    /// would pass others (a reload that changed a guardrail, or a script).
    pub fn fingerprint(&self) -> u64 {
        self.0.iter().fold(0, |acc: u64, g| {
            (acc.rotate_left(17) ^ g.fingerprint.wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1
        })
    }

    /// Whether any looks at requests.
    pub fn on_request(&self) -> bool {
        self.0.iter().any(|g| g.hooks().request)
    }

    /// Whether any looks at whole answers.
    pub fn on_response(&self) -> bool {
        self.0.iter().any(|g| g.hooks().response)
    }

    /// Whether any looks at stream chunks.
    pub fn on_chunk(&self) -> bool {
        self.0.iter().any(|g| g.hooks().chunk)
    }

    /// Runs every request hook and moderation on `body`, in order; each
    /// sees the request as the one before left it.
    pub async fn request(
        &self,
        body: &mut Value,
        scope: &Scope<'_>,
        connector: &Connector,
    ) -> Result<(), Stop> {
        for g in self.0.iter() {
            match &g.check {
                Check::Script { script, options } if script.hooks.request => {
                    let ctx = ctx_map(g, Stage::Request, scope, options);
                    let taken = std::mem::take(body);
                    // On a failure the request is gone with the script's
                    // document: a copy is kept only for failing open.
                    let kept = (g.on_error == OnError::Open).then(|| taken.clone());
                    match script.request(taken, ctx) {
                        Ok(edited) => *body = edited,
                        Err(e) => {
                            g.failed(Stage::Request, e)?;
                            *body = kept.unwrap_or_default();
                        }
                    }
                }
                Check::Builtin(b) if b.hooks().request => {
                    if let Err(r) = b.request(body, scope.endpoint) {
                        return Err(g.blocked(Stage::Request, r.status, r.message));
                    }
                }
                Check::Script { .. } | Check::Builtin(_) => {}
                Check::Moderation(m) => {
                    let text = text::prompt_text(body);
                    match m.check(connector, &text).await {
                        Ok(Decision::Pass) => {}
                        Ok(Decision::Flagged(why)) => {
                            let message = format!(
                                "The request was flagged by moderation ({why}) and was not sent."
                            );
                            return Err(g.blocked(Stage::Request, 400, message));
                        }
                        Err(e) => g.failed_with(Stage::Request, e)?,
                    }
                }
            }
        }
        Ok(())
    }

    /// Runs every response hook on a whole answer: the answer, and
    /// whether any hook may have edited it (a script is taken to have).
    pub fn response(&self, mut body: Value, scope: &Scope<'_>) -> Result<(Value, bool), Stop> {
        let mut edited = false;
        for g in self.0.iter() {
            match &g.check {
                Check::Builtin(b) if b.hooks().response => {
                    edited |= b
                        .response(&mut body)
                        .map_err(|r| g.blocked(Stage::Response, r.status, r.message))?
                }
                Check::Script { script, options } if script.hooks.response => {
                    edited = true;
                    let ctx = ctx_map(g, Stage::Response, scope, options);
                    let kept = (g.on_error == OnError::Open).then(|| body.clone());
                    body = match script.response(body, ctx) {
                        Ok(edited) => edited,
                        Err(e) => {
                            g.failed(Stage::Response, e)?;
                            kept.unwrap_or_default()
                        }
                    };
                }
                _ => {}
            }
        }
        Ok((body, edited))
    }

    /// The chunk hooks of one stream, each with its own state.
    pub fn stream(&self, scope: &Scope<'_>) -> Option<StreamGuards> {
        let hooks: Vec<_> = self
            .0
            .iter()
            .filter_map(|g| match &g.check {
                Check::Script { script, options } if script.hooks.chunk => Some(ChunkHook {
                    guardrail: g.clone(),
                    run: ChunkRun::Script {
                        script: script.clone(),
                        state: GuardScript::stream_state(),
                        ctx: ctx_map(g, Stage::Chunk, scope, options),
                    },
                }),
                Check::Builtin(b) if b.hooks().chunk => Some(ChunkHook {
                    guardrail: g.clone(),
                    run: ChunkRun::Builtin(b.stream()),
                }),
                _ => None,
            })
            .collect();
        (!hooks.is_empty()).then_some(StreamGuards { hooks })
    }
}

/// One guardrail's chunk hook on one stream.
struct ChunkHook {
    guardrail: Arc<Guardrail>,
    run: ChunkRun,
}

/// A chunk hook and its stream's state.
enum ChunkRun {
    Builtin(Box<dyn builtin::BuiltinStream>),
    Script {
        script: Arc<GuardScript>,
        state: Dynamic,
        ctx: Dynamic,
    },
}

/// A stream's chunk hooks: each chunk passes through all of them in order.
pub struct StreamGuards {
    hooks: Vec<ChunkHook>,
}

impl std::fmt::Debug for StreamGuards {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamGuards")
            .field("hooks", &self.hooks.len())
            .finish()
    }
}

impl StreamGuards {
    /// Passes `chunk` through every hook; what the client gets goes to `out`.
    pub fn chunk(&mut self, chunk: Value, out: &mut Vec<ChunkOut>) -> Result<(), Stop> {
        let mut items = vec![ChunkOut::Json(chunk)];
        for h in &mut self.hooks {
            let mut next = Vec::with_capacity(items.len());
            for item in items {
                let ChunkOut::Json(mut v) = item else {
                    next.push(item);
                    continue;
                };
                match &mut h.run {
                    ChunkRun::Builtin(state) => {
                        if let Err(r) = state.chunk(&mut v) {
                            return Err(h.guardrail.blocked(Stage::Chunk, r.status, r.message));
                        }
                        next.push(ChunkOut::Json(v));
                    }
                    ChunkRun::Script { script, state, ctx } => {
                        let kept = (h.guardrail.on_error == OnError::Open).then(|| v.clone());
                        if let Err(e) = script.chunk(state, v, ctx.clone(), &mut next) {
                            h.guardrail.failed(Stage::Chunk, e)?;
                            next.extend(kept.map(ChunkOut::Json));
                        }
                    }
                }
            }
            items = next;
        }
        out.extend(items);
        Ok(())
    }
}

impl Guardrail {
    /// The stages it looks at.
    pub fn hooks(&self) -> script::Hooks {
        match &self.check {
            Check::Builtin(b) => b.hooks(),
            Check::Script { script, .. } => script.hooks,
            Check::Moderation(_) => script::Hooks {
                request: true,
                response: false,
                chunk: false,
            },
        }
    }

    /// A refusal at `stage`, counted.
    fn blocked(&self, stage: Stage, status: u16, message: String) -> Stop {
        metrics()
            .guardrail_blocks
            .with_label_values(&[&self.name, stage.name()])
            .inc();
        Stop {
            guardrail: self.name.clone(),
            stage,
            reason: Reason::Blocked { status, message },
        }
    }

    /// A hook's error: a refusal it threw, or a failure (see
    /// [`Guardrail::failed_with`]).
    fn failed(&self, stage: Stage, e: AdapterError) -> Result<(), Stop> {
        match e {
            AdapterError::Rejected { status, message } => Err(self.blocked(stage, status, message)),
            other => self.failed_with(stage, other.to_string()),
        }
    }

    /// A failure: counted and logged, then let through (`open`) or a
    /// refusal (`closed`).
    fn failed_with(&self, stage: Stage, error: String) -> Result<(), Stop> {
        metrics()
            .guardrail_errors
            .with_label_values(&[&self.name, self.on_error.label()])
            .inc();
        tracing::warn!(
            guardrail = %self.name,
            stage = stage.name(),
            on_error = self.on_error.label(),
            error = %error,
            "guardrail failed"
        );
        match self.on_error {
            OnError::Open => Ok(()),
            OnError::Closed => Err(Stop {
                guardrail: self.name.clone(),
                stage,
                reason: Reason::Failed(format!("guardrail `{}` failed: {error}", self.name)),
            }),
        }
    }
}

/// `ctx` as a guardrail's hooks see it.
fn ctx_map(g: &Guardrail, stage: Stage, scope: &Scope<'_>, options: &Dynamic) -> Dynamic {
    let text = |s: Option<&str>| s.map_or(Dynamic::UNIT, |s| Dynamic::from(s.to_string()));
    let mut m = Map::new();
    m.insert("guardrail".into(), Dynamic::from(g.name.clone()));
    m.insert("stage".into(), Dynamic::from(stage.name()));
    m.insert("endpoint".into(), Dynamic::from(scope.endpoint));
    m.insert("model".into(), Dynamic::from(scope.model.to_string()));
    m.insert("route".into(), text(scope.route));
    m.insert("key".into(), text(scope.key));
    m.insert("stream".into(), Dynamic::from(scope.stream));
    m.insert("options".into(), options.clone());
    Dynamic::from_map(m)
}

#[cfg(test)]
mod tests;
