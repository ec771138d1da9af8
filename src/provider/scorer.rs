//! Rhai scoring scripts (`scripts/scoring/<name>.rhai`) for routes with
//! `strategy: script`. A script defines `fn score(candidate, request)`
//! returning a number (lower ranks first) or `()` to set the candidate
//! aside; it can classify requests (e.g. send code questions to a coding
//! model) from the request summary it gets. Compiled once per reload on
//! the adapters' sandboxed engine.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rhai::{CallFnOptions, Dynamic, Engine, Map, Scope, AST};

use super::adapter::{compile_ast, ScriptError};
use super::engine::DeadlineGuard;

/// A compiled scoring script.
pub struct Scorer {
    name: String,
    path: PathBuf,
    ast: AST,
    engine: Arc<Engine>,
    timeout: Duration,
}

impl std::fmt::Debug for Scorer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scorer")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Scorer {
    /// Compiles `source` (from `path`); it must define `score(candidate, request)`.
    pub fn compile(
        name: &str,
        path: &Path,
        source: &str,
        engine: Arc<Engine>,
        timeout: Duration,
    ) -> Result<Self, ScriptError> {
        let err = |line: usize, col: usize, message: String| ScriptError::Compile {
            path: path.to_path_buf(),
            line,
            col,
            message,
        };
        let ast = compile_ast(&engine, path, source)?;
        if !ast
            .iter_functions()
            .any(|f| f.name == "score" && f.params.len() == 2)
        {
            return Err(err(
                0,
                0,
                "missing hook `fn score(candidate, request)`".to_string(),
            ));
        }
        Ok(Self {
            name: name.to_string(),
            path: path.to_path_buf(),
            ast,
            engine,
            timeout,
        })
    }

    /// The script's name (`script:` in routes.yaml).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Scores one candidate: `Some(score)` (lower first) or `None` (set aside).
    pub fn score(&self, candidate: Map, request: &Map) -> Result<Option<f64>, ScriptError> {
        let _deadline = DeadlineGuard::start(self.timeout);
        let options = CallFnOptions::new().eval_ast(false).rewind_scope(false);
        let out: Dynamic = self
            .engine
            .call_fn_with_options(
                options,
                &mut Scope::new(),
                &self.ast,
                "score",
                (
                    Dynamic::from_map(candidate),
                    Dynamic::from_map(request.clone()),
                ),
            )
            .map_err(|e| ScriptError::Runtime {
                path: self.path.clone(),
                hook: "score",
                line: e.position().line(),
                message: e.to_string(),
            })?;
        if out.is_unit() {
            return Ok(None);
        }
        out.as_float()
            .or_else(|_| out.as_int().map(|i| i as f64))
            .map(Some)
            .map_err(|t| ScriptError::Runtime {
                path: self.path.clone(),
                hook: "score",
                line: None,
                message: format!("must return a number or (), not {t}"),
            })
    }
}
