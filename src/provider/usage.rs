//! What an answer used: the token counts a provider reports, and what
//! they cost at a model's prices.

/// Token counts reported by a provider (OpenAI's names).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt: u64,
    pub completion: u64,
    pub cached: u64,
}

impl Usage {
    /// Reads an OpenAI-format `usage` object: chat's (`prompt_tokens`,
    /// `completion_tokens`), the Responses API's, images' and audio's
    /// (`input_tokens`, `output_tokens`), or a rerank's (`total_tokens`
    /// alone, counted as input).
    pub fn from_json(v: &serde_json::Value) -> Option<Self> {
        let obj = v.as_object()?;
        let n = |k: &str| obj.get(k).and_then(serde_json::Value::as_u64);
        if let Some(prompt) = n("prompt_tokens") {
            return Some(Self {
                prompt,
                completion: n("completion_tokens").unwrap_or(0),
                // `get` chains, not `pointer`: this runs per request and per
                // stream chunk, and `pointer` unescapes its path each time.
                cached: obj
                    .get("prompt_tokens_details")
                    .and_then(|d| d.get("cached_tokens"))
                    .and_then(serde_json::Value::as_u64)
                    .unwrap_or(0),
            });
        }
        if let Some(input) = n("input_tokens") {
            return Some(Self {
                prompt: input,
                completion: n("output_tokens").unwrap_or(0),
                cached: obj
                    .get("input_tokens_details")
                    .and_then(|d| d.get("cached_tokens"))
                    .and_then(serde_json::Value::as_u64)
                    .unwrap_or(0),
            });
        }
        Some(Self {
            prompt: n("total_tokens")?,
            completion: 0,
            cached: 0,
        })
    }
}

impl Usage {
    /// What these tokens cost at `model`'s prices (USD), when the config
    /// has input and output prices — or only an input price for an answer
    /// without output tokens (embeddings, priced by their input alone);
    /// cached input at its own price, else at the input price.
    pub fn cost(&self, model: &super::ModelInfo) -> Option<f64> {
        let input = model.input_per_mtok?;
        let output = match model.output_per_mtok {
            Some(price) => price,
            None if self.completion == 0 => 0.0,
            None => return None,
        };
        let cached_price = model.cached_input_per_mtok.unwrap_or(input);
        let cached = self.cached.min(self.prompt);
        let fresh = self.prompt - cached;
        Some(
            (fresh as f64 * input + cached as f64 * cached_price + self.completion as f64 * output)
                / 1e6,
        )
    }
}
