//! Prompt token estimates for ranking and context-window checks, made once
//! per request before a target is chosen (so the tokenizer is picked by the
//! model name the client sent).
//!
//! - OpenAI models are counted with OpenAI's own BPE tables (`tiktoken-rs`):
//!   `o200k_base` for gpt-4o, gpt-4.1, gpt-4.5, gpt-5, the o-series and
//!   gpt-oss; `cl100k_base` for gpt-4, gpt-3.5 and the embedding models.
//!   A `provider/` prefix is ignored (`openai/gpt-4o` counts as gpt-4o).
//!   Each table is built once per process, on a background thread when a
//!   request first needs it (about 0.3 s and 25–50 MB); requests estimate
//!   with the approximation until it is ready, and never build one.
//! - Every other model gets the documented approximation: a quarter of the
//!   characters. Other vendors publish no tokenizer (Anthropic) or use
//!   their own; English prose averages about 4 characters per token in
//!   all of them, code and other scripts fewer.
//!
//! Chat overhead is added per message: 3 tokens for OpenAI models (OpenAI's
//! published formula, plus 3 priming the reply) and 4 for the approximation.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use serde_json::Value;
use tiktoken_rs::CoreBPE;

/// Text up to this many bytes (in all) is tokenized exactly; longer text
/// is sampled (see [`count_sampled`]). Exact BPE costs about 50 µs per KB
/// here (`cargo bench --bench core -- tokenize`: 1 KB 50 µs, 50 KB 2.5 ms),
/// all of it on a worker thread before the first upstream byte, for an
/// estimate that only ranks targets and checks context windows. Sampling
/// caps the cost at about what 8 KiB costs (≈ 0.4 ms) whatever the size,
/// and stays within a few percent of the exact count, where characters / 4
/// can be off by a third (code, digits, non-Latin scripts).
pub const EXACT_LIMIT: usize = 8 * 1024;
/// Windows tokenized from a long text, evenly spread over it.
const SAMPLE_WINDOWS: usize = 8;
/// Bytes per sampled window (8 × 1 KiB = [`EXACT_LIMIT`] sampled in all).
const SAMPLE_WINDOW: usize = 1024;

/// How a model's text is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tokenizer {
    /// OpenAI's `o200k_base`.
    O200k,
    /// OpenAI's `cl100k_base`.
    Cl100k,
    /// A quarter of the characters.
    Approximate,
}

/// Model-name prefixes counted with `o200k_base` (checked before cl100k's,
/// since `gpt-4o` starts like `gpt-4`).
const O200K: &[&str] = &[
    "gpt-4o",
    "chatgpt-4o",
    "gpt-4.1",
    "gpt-4.5",
    "gpt-5",
    "gpt-oss",
    "codex-",
    "o1",
    "o3",
    "o4",
];
/// Model-name prefixes counted with `cl100k_base`.
const CL100K: &[&str] = &[
    "gpt-4",
    "gpt-3.5",
    "gpt-35",
    "text-embedding-3",
    "text-embedding-ada-002",
];

impl Tokenizer {
    /// The tokenizer for `model`, by name prefix.
    pub fn for_model(model: &str) -> Self {
        let name = model.rsplit('/').next().unwrap_or(model);
        let name = name
            .strip_prefix("ft:")
            .unwrap_or(name)
            .to_ascii_lowercase();
        let family = |prefix: &&str| {
            name.strip_prefix(*prefix).is_some_and(|rest| {
                // `o1` must not match `o1x`; `gpt-4o` may go on (`-mini`, …).
                !prefix.starts_with('o') || rest.is_empty() || rest.starts_with('-')
            })
        };
        if O200K.iter().any(family) {
            Self::O200k
        } else if CL100K.iter().any(family) {
            Self::Cl100k
        } else {
            Self::Approximate
        }
    }

    /// The name `switchyard explain` shows.
    pub fn name(self) -> &'static str {
        match self {
            Self::O200k => "o200k_base",
            Self::Cl100k => "cl100k_base",
            Self::Approximate => "approximate",
        }
    }

    /// The BPE table if it is built. The first call starts building it on
    /// a background thread and the approximation is used until it is
    /// ready: building takes about 0.3 s (and 25–50 MB), which must not
    /// stall the worker threads serving requests.
    fn bpe(self) -> Option<&'static CoreBPE> {
        let (cell, started) = self.cell()?;
        if let Some(table) = cell.get() {
            return table.as_ref();
        }
        if !started.swap(true, Ordering::AcqRel) {
            let build = move || {
                self.build();
            };
            if std::thread::Builder::new()
                .name("tokenizer-build".into())
                .spawn(build)
                .is_err()
            {
                started.store(false, Ordering::Release);
            }
        }
        None
    }

    /// Builds the BPE table now if it is not built yet (blocking), so that
    /// later counts are exact: for `switchyard explain`, tests, benchmarks.
    pub fn build(self) -> bool {
        let Some((cell, started)) = self.cell() else {
            return false;
        };
        started.store(true, Ordering::Release);
        let table = cell.get_or_init(|| match self {
            Self::O200k => tiktoken_rs::o200k_base().ok(),
            Self::Cl100k => tiktoken_rs::cl100k_base().ok(),
            Self::Approximate => None,
        });
        table.is_some()
    }

    /// Where the table lives, and whether its build has started.
    fn cell(self) -> Option<(&'static OnceLock<Option<CoreBPE>>, &'static AtomicBool)> {
        static O200K_BPE: OnceLock<Option<CoreBPE>> = OnceLock::new();
        static CL100K_BPE: OnceLock<Option<CoreBPE>> = OnceLock::new();
        static O200K_STARTED: AtomicBool = AtomicBool::new(false);
        static CL100K_STARTED: AtomicBool = AtomicBool::new(false);
        match self {
            Self::O200k => Some((&O200K_BPE, &O200K_STARTED)),
            Self::Cl100k => Some((&CL100K_BPE, &CL100K_STARTED)),
            Self::Approximate => None,
        }
    }

    /// Tokens of `pieces` of text (each counted on its own, as a provider
    /// sees message contents): exact up to [`EXACT_LIMIT`] bytes in all,
    /// sampled beyond.
    pub fn count(self, pieces: &[&str]) -> u64 {
        let Some(bpe) = self.bpe() else {
            return approximate(pieces);
        };
        let total: usize = pieces.iter().map(|p| p.len()).sum();
        if total <= EXACT_LIMIT {
            count_exact(bpe, pieces)
        } else {
            count_sampled(bpe, pieces, total)
        }
    }

    /// Tokens of `pieces`, every byte tokenized whatever the size (the
    /// benchmark's yardstick for [`Tokenizer::count`]); builds the table
    /// first if needed.
    pub fn count_exact(self, pieces: &[&str]) -> u64 {
        self.build();
        match self.bpe() {
            Some(bpe) => count_exact(bpe, pieces),
            None => approximate(pieces),
        }
    }

    /// Tokens added per chat message (role, separators).
    fn per_message(self) -> u64 {
        match self {
            Self::O200k | Self::Cl100k => 3,
            Self::Approximate => 4,
        }
    }
}

fn count_exact(bpe: &CoreBPE, pieces: &[&str]) -> u64 {
    pieces.iter().map(|p| bpe.count_ordinary(p) as u64).sum()
}

/// A quarter of the characters.
fn approximate(pieces: &[&str]) -> u64 {
    let chars: usize = pieces.iter().map(|p| p.chars().count()).sum();
    (chars / 4) as u64
}

/// Long text: [`SAMPLE_WINDOWS`] windows of [`SAMPLE_WINDOW`] bytes, evenly
/// spaced over the text (a window may run on into the next pieces), are
/// tokenized and their tokens per byte applied to the whole. Spreading the
/// windows catches a conversation that mixes prose, code and other
/// scripts; on ordinary text the result is within a few percent of the
/// exact count, at a fixed cost whatever the size.
fn count_sampled(bpe: &CoreBPE, pieces: &[&str], total: usize) -> u64 {
    let stride = total / SAMPLE_WINDOWS;
    let (mut tokens, mut bytes) = (0usize, 0usize);
    for k in 0..SAMPLE_WINDOWS {
        let mut at = k * stride;
        let mut want = SAMPLE_WINDOW;
        for piece in pieces {
            if want == 0 {
                break;
            }
            if at >= piece.len() {
                at -= piece.len();
                continue;
            }
            let start = word_start(piece, at);
            let end = word_start(piece, start.saturating_add(want).min(piece.len()));
            if let Some(window) = piece.get(start..end) {
                tokens += bpe.count_ordinary(window);
                bytes += window.len();
                want = want.saturating_sub(window.len());
            }
            at = 0;
        }
    }
    if bytes == 0 {
        return approximate(pieces);
    }
    (tokens as f64 * total as f64 / bytes as f64).round() as u64
}

/// Where the first word at or after byte `i` starts (within 64 bytes,
/// else the first char boundary), so that windows do not cut words in two.
fn word_start(s: &str, i: usize) -> usize {
    if i == 0 || i >= s.len() {
        return i.min(s.len());
    }
    let bytes = s.as_bytes();
    let limit = (i + 64).min(s.len());
    let space = (i..limit).find(|&j| bytes.get(j).is_some_and(u8::is_ascii_whitespace));
    let mut j = space.unwrap_or(i);
    while j < s.len() && !s.is_char_boundary(j) {
        j += 1;
    }
    j
}

/// The estimated prompt tokens of an OpenAI-format chat or embeddings
/// `body` for `model`: every message text (string contents and `text`
/// parts), the tool definitions as JSON, and the per-message overhead; for
/// embeddings, the `input` texts (token-array inputs count their length).
pub fn estimate_prompt(body: &Value, model: &str) -> u64 {
    let tokenizer = Tokenizer::for_model(model);
    let mut pieces: Vec<&str> = Vec::new();
    let messages = body.get("messages").and_then(Value::as_array);
    for message in messages.into_iter().flatten() {
        collect_text(message.get("content"), &mut pieces);
    }
    let mut pretokenized = 0u64;
    match body.get("input") {
        Some(Value::String(s)) => pieces.push(s),
        Some(Value::Array(items)) => {
            for item in items {
                match item {
                    Value::String(s) => pieces.push(s),
                    Value::Array(ids) => pretokenized += ids.len() as u64,
                    Value::Number(_) => pretokenized += 1,
                    _ => {}
                }
            }
        }
        _ => {}
    }
    let tools = body.get("tools").map(Value::to_string);
    if let Some(t) = &tools {
        pieces.push(t);
    }
    let count = messages.map_or(0, Vec::len) as u64;
    let overhead = match (count, tokenizer) {
        (0, _) => 0,
        // OpenAI primes every reply with 3 more.
        (n, Tokenizer::O200k | Tokenizer::Cl100k) => n * tokenizer.per_message() + 3,
        (n, Tokenizer::Approximate) => n * tokenizer.per_message(),
    };
    tokenizer.count(&pieces) + overhead + pretokenized
}

/// The texts of a message's `content`: a string, or the `text` of its parts.
fn collect_text<'a>(content: Option<&'a Value>, out: &mut Vec<&'a str>) {
    match content {
        Some(Value::String(s)) => out.push(s),
        Some(Value::Array(parts)) => {
            for part in parts {
                collect_text(
                    part.get("text").or(Some(part)).filter(|v| v.is_string()),
                    out,
                );
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests;
