//! The pricing catalog: list prices, context windows and quality tiers of
//! common models. It fills what routes.yaml and the presets leave out for
//! any model a provider serves (see [`crate::provider::models`]). The
//! shipped one (`scripts/providers/pricing.yaml`) is built into the binary;
//! a `pricing.yaml` in the config's scripts folder adds models and replaces
//! shipped ones of the same name.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use indexmap::IndexMap;

use super::load::{self, ConfigIssue};
use super::raw::RawModel;
use crate::provider::models::PriceList;
use crate::provider::ModelInfo;

/// File name of the pricing catalog inside the scripts directory.
pub const PRICING_FILE: &str = "pricing.yaml";

/// The loaded pricing catalog.
#[derive(Debug, Clone, Default)]
pub struct Pricing {
    pub path: PathBuf,
    pub list: Arc<PriceList>,
    /// The file's text (part of the config version).
    pub text: String,
}

/// The shipped pricing catalog, built in.
pub const BUILT_IN: &str = include_str!("../../scripts/providers/pricing.yaml");

impl Pricing {
    /// The built-in catalog with `<scripts_dir>/pricing.yaml`, if there is
    /// one, over it (model by model). Fails with every malformed entry or
    /// out-of-range value.
    pub fn load(scripts_dir: &Path) -> Result<Self, Vec<ConfigIssue>> {
        let what = "the pricing catalog";
        let builtin = Path::new("(built-in) pricing.yaml");
        let (mut raw, source) =
            load::parse_named::<Option<RawModel>>(builtin, BUILT_IN.to_string(), what)?;
        let mut text = source.text.clone();
        let path = scripts_dir.join(PRICING_FILE);
        let mut source = source;
        if path.is_file() {
            let (own, own_source) = load::load_named::<Option<RawModel>>(&path, what)?;
            raw.extend(own);
            text.push('\0');
            text.push_str(&own_source.text);
            source = own_source;
        }
        let mut issues = Vec::new();
        let mut models = IndexMap::new();
        for (name, m) in raw {
            let m = m.unwrap_or_default();
            let prices = [m.input_per_mtok, m.output_per_mtok, m.cached_input_per_mtok];
            if prices.iter().flatten().any(|p| !p.is_finite() || *p < 0.0) {
                issues.push(source.issue(
                    &name,
                    "prices must be non-negative numbers (USD per million tokens)",
                ));
            }
            if m.quality.is_some_and(|q| !(0.0..=1.0).contains(&q)) {
                let at = format!("{name}.quality");
                issues.push(source.issue(&at, "quality must be between 0 and 1"));
            }
            models.insert(name, info(m));
        }
        if !issues.is_empty() {
            return Err(issues);
        }
        Ok(Self {
            path,
            list: Arc::new(PriceList::new(models)),
            text,
        })
    }
}

/// A raw model entry as [`ModelInfo`].
pub fn info(m: RawModel) -> ModelInfo {
    ModelInfo {
        input_per_mtok: m.input_per_mtok,
        output_per_mtok: m.output_per_mtok,
        cached_input_per_mtok: m.cached_input_per_mtok,
        quality: m.quality,
        context_window: m.context_window,
        max_output_tokens: m.max_output_tokens,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRIPTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/providers");

    #[test]
    fn shipped_catalog_loads_and_its_values_are_plausible() {
        let p = Pricing::load(Path::new(SCRIPTS)).unwrap();
        let mut priced = 0;
        for (name, m) in p.list.iter() {
            if let (Some(i), Some(o)) = (m.input_per_mtok, m.output_per_mtok) {
                priced += 1;
                assert!(o >= i && o <= 200.0, "{name}: output {o}, input {i}");
            }
            if let Some(c) = m.cached_input_per_mtok {
                assert!(c < m.input_per_mtok.unwrap(), "{name}: cached {c}");
            }
            assert!(m.input_per_mtok.is_some(), "{name}: no input price");
            if let Some(w) = m.context_window {
                assert!((4096..=10_000_000).contains(&w), "{name}: window {w}");
            }
        }
        assert!(priced >= 30, "only {priced} priced models");
        for must in [
            "gpt-4o",
            "gpt-4o-mini",
            "gpt-4.1",
            "gpt-5",
            "o3",
            "o4-mini",
            "claude-sonnet-4-5",
            "claude-3-5-haiku",
            "gemini-2.5-pro",
            "gemini-2.5-flash-lite",
            "deepseek-chat",
            "mistral-small-latest",
        ] {
            assert!(p.list.get(must).is_some(), "{must} missing");
        }
        assert!(!p.text.is_empty());
    }

    #[test]
    fn bad_entries_are_reported_with_their_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(PRICING_FILE),
            "ok: { input_per_mtok: 1 }\nneg: { input_per_mtok: -1 }\ntypo: { inptu_per_mtok: 1 }\n",
        )
        .unwrap();
        let issues: Vec<String> = Pricing::load(dir.path())
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert!(
            issues[0].contains("pricing.yaml:3:9: typo.inptu_per_mtok: unknown field"),
            "{issues:?}"
        );
        std::fs::write(
            dir.path().join(PRICING_FILE),
            "neg: { input_per_mtok: -1 }\n",
        )
        .unwrap();
        let issues = Pricing::load(dir.path()).unwrap_err();
        assert!(
            issues[0].to_string().contains("pricing.yaml:1:"),
            "{issues:?}"
        );
    }
}
