//! Resolving `adapter:` and `patch:` names: a built-in adapter by its name
//! (`openai`, `azure-openai`, `anthropic`, `gemini`), else a script
//! `<name>.rhai` in the scripts folder (`scripts/providers/` beside the
//! config by default); a patch is `<name>.rhai` in `scripts/patches/`.
//! Each script is compiled once per load, whichever providers name it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rhai::Engine;

use crate::adapter::chain::Origin;
use crate::adapter::script::engine::ScriptLimits;
use crate::adapter::script::{CompileError, Patch, ScriptAdapter};
use crate::adapter::{self, Wire};

/// Why a name did not resolve.
#[derive(Debug)]
pub enum AdapterProblem {
    /// No built-in and no script of that name; the message lists what exists.
    Missing(String),
    /// The script exists but does not compile.
    Compile(CompileError),
}

/// A resolved adapter, and its script's text (none for a built-in).
struct Resolved {
    wire: Arc<dyn Wire>,
    origin: Origin,
    text: Option<String>,
}

/// Adapters and patches compiled so far.
pub struct Adapters {
    /// The config's folder: script paths are shown relative to it.
    pub base: PathBuf,
    /// Where adapter scripts are.
    pub dir: PathBuf,
    pub engine: Arc<Engine>,
    pub limits: ScriptLimits,
    /// Every adapter resolved, by name, with its script's text (none for a
    /// built-in) for the config version.
    compiled: BTreeMap<String, Resolved>,
    patches: BTreeMap<String, (Arc<Patch>, String)>,
}

impl Adapters {
    /// Resolves names against `dir` (adapters) and its sibling `patches/`.
    pub fn new(base: PathBuf, dir: PathBuf, engine: Arc<Engine>, limits: ScriptLimits) -> Self {
        Self {
            base,
            dir,
            engine,
            limits,
            compiled: BTreeMap::new(),
            patches: BTreeMap::new(),
        }
    }

    /// Where patch scripts are: `patches/` beside the adapter scripts'
    /// folder (`scripts/patches/` by default).
    pub fn patch_dir(&self) -> PathBuf {
        self.dir
            .parent()
            .map_or_else(|| PathBuf::from("patches"), |p| p.join("patches"))
    }

    /// The adapter `name`.
    pub fn adapter(&mut self, name: &str) -> Result<(Arc<dyn Wire>, Origin), AdapterProblem> {
        if let Some(r) = self.compiled.get(name) {
            return Ok((r.wire.clone(), r.origin.clone()));
        }
        let resolved = self.resolve(name)?;
        let found = (resolved.wire.clone(), resolved.origin.clone());
        self.compiled.insert(name.to_string(), resolved);
        Ok(found)
    }

    /// A built-in adapter, else the script in the scripts folder, else a
    /// script shipped with the gateway (built into the binary).
    fn resolve(&self, name: &str) -> Result<Resolved, AdapterProblem> {
        if let Some(wire) = adapter::builtin(name) {
            return Ok(Resolved {
                wire,
                origin: Origin::BuiltIn,
                text: None,
            });
        }
        let path = self.dir.join(format!("{name}.rhai"));
        let shown = shown(&path, &self.base);
        let label = match std::fs::read_to_string(&path) {
            Ok(text) => Some((text, shown.clone())),
            Err(_) => adapter::shipped_script(name).map(|text| {
                (
                    text.to_string(),
                    PathBuf::from(format!("(shipped) {name}.rhai")),
                )
            }),
        };
        let Some((text, label)) = label else {
            return Err(AdapterProblem::Missing(format!(
                "no adapter `{name}`: not built in ({}), and no script {} (scripts there: {})",
                adapter::BUILT_IN.join(", "),
                shown.display(),
                names_in(&self.dir).join(", ")
            )));
        };
        let compiled = ScriptAdapter::compile(
            name,
            &label,
            &text,
            self.engine.clone(),
            self.limits.timeout,
        )
        .map_err(AdapterProblem::Compile)?;
        Ok(Resolved {
            wire: Arc::new(compiled),
            origin: Origin::Script(label),
            text: Some(text),
        })
    }

    /// The patch `name`.
    pub fn patch(&mut self, name: &str) -> Result<Arc<Patch>, AdapterProblem> {
        if let Some((p, _)) = self.patches.get(name) {
            return Ok(p.clone());
        }
        let dir = self.patch_dir();
        let path = dir.join(format!("{name}.rhai"));
        let text = std::fs::read_to_string(&path).map_err(|_| {
            AdapterProblem::Missing(format!(
                "no patch script {} (patches there: {})",
                shown(&path, &self.base).display(),
                names_in(&dir).join(", ")
            ))
        })?;
        let shown = shown(&path, &self.base);
        let patch = Patch::compile(
            name,
            &shown,
            &text,
            self.engine.clone(),
            self.limits.timeout,
        )
        .map_err(AdapterProblem::Compile)?;
        let patch = Arc::new(patch);
        self.patches.insert(name.to_string(), (patch.clone(), text));
        Ok(patch)
    }

    /// Name and text of every script used (part of the config version).
    pub fn texts(&self) -> impl Iterator<Item = (&str, &str)> {
        let adapters = self
            .compiled
            .iter()
            .filter_map(|(n, r)| r.text.as_deref().map(|t| (n.as_str(), t)));
        let patches = self
            .patches
            .iter()
            .map(|(n, (_, t))| (n.as_str(), t.as_str()));
        adapters.chain(patches)
    }
}

/// The `.rhai` scripts in `dir`, by name.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            if p.extension()? != "rhai" {
                return None;
            }
            Some(p.file_stem()?.to_string_lossy().into_owned())
        })
        .collect();
    names.sort();
    if names.is_empty() {
        names.push("none".into());
    }
    names
}

/// A script's path as messages show it: relative to the config's folder,
/// so that no error — a client's 502 included — names the host's layout.
/// A script outside that folder is shown by its name.
pub fn shown(path: &Path, base: &Path) -> PathBuf {
    match path.strip_prefix(base) {
        Ok(relative) => relative.to_path_buf(),
        Err(_) => path.file_name().map(PathBuf::from).unwrap_or_default(),
    }
}
