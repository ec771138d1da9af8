//! The provider support matrix: every preset of the catalog
//! (`scripts/providers/catalog.yaml`) against what it supports, as a
//! markdown table. Each preset's adapter script is compiled and asked for its
//! `capabilities()`, and the preset's own `capabilities:` overrides (what the
//! provider lacks although its adapter could do it) are applied on top; as
//! in routing, a capability nobody mentions is assumed.
//! `switchyard providers` prints it; docs/providers.md embeds it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use crate::adapter::script::engine::{build_engine, ScriptLimits};
use crate::adapter::script::ScriptAdapter;
use crate::adapter::Wire;
use crate::config::catalog::Catalog;
use crate::provider::{CAPABILITIES, OPT_IN};

/// The column title of a capability.
fn title(capability: &str) -> &str {
    match capability {
        "json" => "JSON mode",
        other => other,
    }
}

/// What one preset supports, by capability key.
pub type Capabilities = BTreeMap<String, bool>;

/// Renders the support matrix of the catalog in `scripts_dir`.
///
/// Fails when the catalog cannot be read or is empty, when a preset's
/// adapter script is missing, does not compile or its `capabilities()`
/// fails, and when a preset overrides a capability that does not exist.
/// Every problem is listed, one per line.
pub fn support_matrix(scripts_dir: &Path) -> Result<String, String> {
    let rows = preset_capabilities(scripts_dir)?;
    let mut out = String::from("| provider | preset | category | adapter |");
    for cap in CAPABILITIES {
        let _ = write!(out, " {} |", title(cap));
    }
    out.push_str("\n|---|---|---|---|");
    out.push_str(&":-:|".repeat(CAPABILITIES.len()));
    out.push('\n');
    for row in rows {
        let _ = write!(
            out,
            "| {} | `{}` | {} | {} |",
            row.name, row.preset, row.category, row.adapter
        );
        for cap in CAPABILITIES {
            let declared = row.capabilities.get(*cap).copied();
            let has = declared.unwrap_or(!OPT_IN.contains(cap));
            let mark = match (*cap, has) {
                ("responses", true) => "native",
                // Every provider serves `/v1/responses` translated from chat.
                ("responses", false) => "via chat",
                (_, true) => "✓",
                (_, false) => "–",
            };
            let _ = write!(out, " {mark} |");
        }
        out.push('\n');
    }
    Ok(out)
}

/// One row of the matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct PresetRow {
    /// The preset's key in the catalog (what `preset:` names).
    pub preset: String,
    /// Display name.
    pub name: String,
    pub category: String,
    pub adapter: String,
    /// The adapter's declared capabilities with the preset's overrides applied.
    pub capabilities: Capabilities,
}

/// Every preset of the catalog in `scripts_dir`, in file order, with its
/// merged capabilities. Fails like [`support_matrix`].
pub fn preset_capabilities(scripts_dir: &Path) -> Result<Vec<PresetRow>, String> {
    let catalog = Catalog::load(scripts_dir).map_err(|issues| {
        issues
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    if catalog.presets.is_empty() {
        return Err(format!(
            "{}: no presets (missing or empty catalog)",
            catalog.path.display()
        ));
    }
    let mut declared: BTreeMap<String, Result<Capabilities, String>> = BTreeMap::new();
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for (key, preset) in &catalog.presets {
        let adapter = declared
            .entry(preset.adapter.clone())
            .or_insert_with(|| adapter_capabilities(scripts_dir, &preset.adapter));
        let mut capabilities = match adapter {
            Ok(caps) => caps.clone(),
            Err(e) => {
                problems.push(format!("preset `{key}`: {e}"));
                continue;
            }
        };
        for (cap, value) in &preset.capabilities {
            if !CAPABILITIES.contains(&cap.as_str()) {
                problems.push(format!(
                    "preset `{key}`: unknown capability `{cap}` (expected one of {})",
                    CAPABILITIES.join(", ")
                ));
            }
            capabilities.insert(cap.clone(), *value);
        }
        rows.push(PresetRow {
            preset: key.clone(),
            name: preset.name.clone(),
            category: preset.category.clone().unwrap_or_default(),
            adapter: preset.adapter.clone(),
            capabilities,
        });
    }
    if problems.is_empty() {
        Ok(rows)
    } else {
        Err(problems.join("\n"))
    }
}

/// What adapter `adapter` declares: a built-in's, or the `capabilities()`
/// of `<scripts_dir>/<adapter>.rhai` (or of the shipped script).
fn adapter_capabilities(scripts_dir: &Path, adapter: &str) -> Result<Capabilities, String> {
    if let Some(wire) = crate::adapter::builtin(adapter) {
        return Ok(wire.capabilities());
    }
    let limits = ScriptLimits::default();
    let engine = Arc::new(build_engine(&limits));
    let path = scripts_dir.join(format!("{adapter}.rhai"));
    let source = match (
        std::fs::read_to_string(&path),
        crate::adapter::shipped_script(adapter),
    ) {
        (Ok(text), _) => text,
        (Err(_), Some(text)) => text.to_string(),
        (Err(e), None) => {
            return Err(format!(
                "adapter `{adapter}`: cannot read {}: {e}",
                path.display()
            ))
        }
    };
    let compiled = ScriptAdapter::compile(adapter, &path, &source, engine, limits.timeout)
        .map_err(|e| format!("adapter `{adapter}`: {e}"))?;
    Ok(compiled.capabilities())
}

#[cfg(test)]
mod tests;
