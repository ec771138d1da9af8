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
pub const BUILT_IN: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/scripts/providers/pricing.yaml"
));

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
mod tests;
