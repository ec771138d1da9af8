//! Rhai scoring scripts (`scripts/scoring/<name>.rhai`) for routes with
//! `strategy: script`. A script defines `fn score(candidate, request)`
//! returning a number (lower ranks first) or `()` to set the candidate
//! aside; it can classify requests (e.g. send code questions to a coding
//! model) from the request summary it gets. Compiled once per reload on
//! the adapters' sandboxed engine.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rhai::{Dynamic, Engine, Map};

use crate::adapter::script::{CompileError, Script};
use crate::adapter::AdapterError;

/// A compiled scoring script.
pub struct Scorer {
    name: String,
    script: Script,
}

impl std::fmt::Debug for Scorer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scorer")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Scorer {
    /// Compiles `source` (`path` as messages show it); it must define
    /// `score(candidate, request)`.
    pub fn compile(
        name: &str,
        path: &Path,
        source: &str,
        engine: Arc<Engine>,
        timeout: Duration,
    ) -> Result<Self, CompileError> {
        let script = Script::compile(path, source, engine, timeout)?;
        if script.arity("score") != Some(2) {
            return Err(script.invalid("missing hook `fn score(candidate, request)`"));
        }
        Ok(Self {
            name: name.to_string(),
            script,
        })
    }

    /// The script's name (`script:` in routes.yaml).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Scores one candidate: `Some(score)` (lower first) or `None` (set aside).
    pub fn score(&self, candidate: Map, request: &Map) -> Result<Option<f64>, AdapterError> {
        let args = (
            Dynamic::from_map(candidate),
            Dynamic::from_map(request.clone()),
        );
        let out = self.script.call("score", None, args)?;
        if out.is_unit() {
            return Ok(None);
        }
        out.as_float()
            .or_else(|_| out.as_int().map(|i| i as f64))
            .map(Some)
            .map_err(|t| {
                self.script
                    .bad_output("score", format!("must return a number or (), not {t}"))
            })
    }
}
