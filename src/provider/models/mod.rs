//! What the gateway knows about the models a provider serves: the ones
//! listed for it (routes.yaml, its preset), and for every other model name
//! it is asked for, the shipped pricing catalog (`pricing.yaml`). Listed
//! values win field by field; the catalog only fills gaps.

use std::sync::Arc;

use indexmap::IndexMap;

use super::ModelInfo;

/// Prices and limits of common models (the pricing catalog), by model name.
#[derive(Debug, Clone, Default)]
pub struct PriceList {
    models: IndexMap<String, ModelInfo>,
}

impl PriceList {
    /// A catalog of `models`.
    pub fn new(models: IndexMap<String, ModelInfo>) -> Self {
        Self { models }
    }

    /// The entry for `model`: by exact name, else by the name without a
    /// trailing date (`gpt-4o-2024-08-06` → `gpt-4o`,
    /// `claude-sonnet-4-20250514` → `claude-sonnet-4`).
    pub fn get(&self, model: &str) -> Option<&ModelInfo> {
        self.models
            .get(model)
            .or_else(|| self.models.get(undated(model)?))
    }

    /// Every entry, in file order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &ModelInfo)> {
        self.models.iter()
    }
}

/// `model` without a trailing `-YYYY-MM-DD` or `-YYYYMMDD`, if it has one.
fn undated(model: &str) -> Option<&str> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let is_date = |s: &str| match s.len() {
        8 => digits(s) && s.starts_with('2'),
        10 => {
            let b = s.as_bytes();
            b.get(4) == Some(&b'-')
                && b.get(7) == Some(&b'-')
                && s.split('-').all(digits)
                && s.starts_with('2')
        }
        _ => false,
    };
    [11, 9].into_iter().find_map(|n| {
        let cut = model.len().checked_sub(n)?;
        let (base, rest) = (model.get(..cut)?, model.get(cut..)?);
        let date = rest.strip_prefix('-')?;
        (is_date(date) && !base.is_empty()).then_some(base)
    })
}

/// The models of one provider.
#[derive(Debug, Clone, Default)]
pub struct Models {
    /// Listed in routes.yaml or the preset, completed from the catalog.
    listed: IndexMap<String, ModelInfo>,
    catalog: Arc<PriceList>,
}

impl Models {
    /// The `listed` models, each field that is not set taken from `catalog`.
    pub fn new(listed: IndexMap<String, ModelInfo>, catalog: Arc<PriceList>) -> Self {
        let listed = listed
            .into_iter()
            .map(|(name, own)| {
                let info = match catalog.get(&name) {
                    Some(known) => own.or(known),
                    None => own,
                };
                (name, info)
            })
            .collect();
        Self { listed, catalog }
    }

    /// What is known of `model`: its listed entry, else the catalog's.
    pub fn get(&self, model: &str) -> Option<&ModelInfo> {
        self.listed.get(model).or_else(|| self.catalog.get(model))
    }

    /// Whether `model` is listed for this provider (catalog entries are
    /// not: they are not served by name, nor shown in `/v1/models`).
    pub fn contains_key(&self, model: &str) -> bool {
        self.listed.contains_key(model)
    }

    /// The listed model names, in config order.
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.listed.keys()
    }
}

impl ModelInfo {
    /// Each field of `self`, or `other`'s where `self` has none.
    pub fn or(self, other: &ModelInfo) -> ModelInfo {
        ModelInfo {
            input_per_mtok: self.input_per_mtok.or(other.input_per_mtok),
            output_per_mtok: self.output_per_mtok.or(other.output_per_mtok),
            cached_input_per_mtok: self.cached_input_per_mtok.or(other.cached_input_per_mtok),
            quality: self.quality.or(other.quality),
            context_window: self.context_window.or(other.context_window),
            max_output_tokens: self.max_output_tokens.or(other.max_output_tokens),
        }
    }
}

#[cfg(test)]
mod tests;
