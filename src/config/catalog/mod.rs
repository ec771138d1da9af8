//! The provider catalog: named presets (base URL, adapter, auth style,
//! default models and prices), so that
//! `groq: { preset: groq, api_key: "${GROQ_API_KEY}" }` is a whole provider
//! entry. The shipped catalog (`scripts/providers/catalog.yaml`) is built
//! into the binary, so presets work from a routes.yaml in any folder; a
//! `catalog.yaml` in the config's scripts folder adds presets and replaces
//! shipped ones of the same name.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde_yaml::{Mapping, Value};

use super::load::{self, ConfigIssue};
use super::raw::{RawPreset, RawProvider};

/// File name of the catalog inside the scripts directory.
pub const CATALOG_FILE: &str = "catalog.yaml";

/// Every preset, by name, in file order.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub path: PathBuf,
    pub presets: IndexMap<String, RawPreset>,
    /// The file's text (part of the config version).
    pub text: String,
}

/// The shipped catalog, built in.
pub const BUILT_IN: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/scripts/providers/catalog.yaml"
));

impl Catalog {
    /// The built-in catalog with `<scripts_dir>/catalog.yaml`, if there is
    /// one, over it (preset by preset).
    pub fn load(scripts_dir: &Path) -> Result<Self, Vec<ConfigIssue>> {
        let builtin = Path::new("(built-in) catalog.yaml");
        let (mut presets, source) =
            load::parse_named(builtin, BUILT_IN.to_string(), "the provider catalog")?;
        let mut text = source.text;
        let path = scripts_dir.join(CATALOG_FILE);
        if path.is_file() {
            let (own, source) = load::load_catalog(&path)?;
            presets.extend(own);
            text.push('\0');
            text.push_str(&source.text);
        }
        Ok(Self {
            path,
            presets,
            text,
        })
    }

    /// Fills what `p` leaves out from its preset. `Err` names the problem.
    pub fn apply(&self, mut p: RawProvider) -> Result<RawProvider, String> {
        let Some(name) = p.preset.clone() else {
            return Ok(p);
        };
        let Some(preset) = self.presets.get(&name) else {
            let known: Vec<&str> = self.presets.keys().map(String::as_str).collect();
            return Err(format!(
                "unknown preset `{name}` (the catalog has: {})",
                known.join(", ")
            ));
        };
        p.adapter.get_or_insert_with(|| preset.adapter.clone());
        p.base_url.get_or_insert_with(|| preset.base_url.clone());
        for (k, v) in &preset.headers {
            p.headers.entry(k.clone()).or_insert_with(|| v.clone());
        }
        for (k, v) in &preset.capabilities {
            p.capabilities.entry(k.clone()).or_insert(*v);
        }
        let mut models = preset.models.clone();
        models.extend(std::mem::take(&mut p.models));
        p.models = models;
        p.options = Some(merge_options(preset, p.options.take()));
        Ok(p)
    }
}

/// The preset's options (with its `auth` style), overridden key by key by
/// the provider's own.
fn merge_options(preset: &RawPreset, own: Option<Value>) -> Value {
    let mut merged = match &preset.options {
        Some(Value::Mapping(m)) => m.clone(),
        _ => Mapping::new(),
    };
    if let Some(auth) = &preset.auth {
        merged.insert(Value::from("auth"), Value::from(auth.clone()));
    }
    match own {
        Some(Value::Mapping(m)) => merged.extend(m),
        Some(other) if !other.is_null() => return other,
        _ => {}
    }
    Value::Mapping(merged)
}

#[cfg(test)]
mod tests;
