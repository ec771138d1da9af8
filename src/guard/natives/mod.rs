//! What guardrail scripts call that would be slow or hard in Rhai, added to
//! the one engine (so adapters, patches and scoring scripts have them too):
//!
//! | function | does |
//! |---|---|
//! | `pii_redact(text, kinds)` | `text` with personal data replaced by `[EMAIL]`, `[PHONE]`, `[CARD]`, `[IBAN]`, `[SECRET]` |
//! | `pii_find(text, kinds)` | the findings: an array of `#{kind, text}` |
//! | `pii_stream(kinds)` | a redactor for a streamed text: `r.push(piece)` gives what can be sent now, `r.finish()` the rest |
//! | `regex_match(text, pattern)` | whether the pattern matches (Rust `regex` syntax) |
//! | `regex_find(text, pattern)` | the first match, or `()` |
//! | `regex_replace(text, pattern, with)` | every match replaced (`$1` names a group) |
//! | `regex_escape(text)` | `text` matched literally |
//! | `prompt_text(request)` | every text of a request: its messages' text (string or parts), `input`, `prompt` |
//! | `answer_text(response)` | every text of an answer: its choices' message content and refusal |
//!
//! `kinds` is `"all"` (or `()`), one kind's name, or an array of names
//! (`email`, `phone`, `card`, `iban`, `secret`). Regexes are compiled once
//! per pattern and kept (up to [`REGEX_CACHE`] patterns), so a script may
//! build its pattern on every call.

use std::sync::{Arc, LazyLock};

use regex::Regex;
use rhai::{Array, Dynamic, Engine, EvalAltResult, Map};

use super::pii::{self, Kind, Kinds, StreamRedactor};
use super::text::{answer_text, prompt_text};
use crate::adapter::script::json::Json;

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

/// Patterns kept compiled.
pub const REGEX_CACHE: u64 = 1024;

/// Compiled patterns by their text.
static REGEXES: LazyLock<moka::sync::Cache<String, Arc<Regex>>> =
    LazyLock::new(|| moka::sync::Cache::new(REGEX_CACHE));

/// A streamed text's redactor, as scripts hold it.
#[derive(Debug, Clone)]
pub struct PiiStream(StreamRedactor);

/// Adds the functions (see the module's doc) to `engine`.
pub fn register(engine: &mut Engine) {
    engine
        .register_fn(
            "pii_redact",
            |text: &str, kinds: Dynamic| -> Result<String> {
                Ok(pii::redact(text, kinds_of(&kinds)?).into_owned())
            },
        )
        .register_fn("pii_find", |text: &str, kinds: Dynamic| -> Result<Array> {
            let found = pii::find(text, kinds_of(&kinds)?);
            Ok(found
                .into_iter()
                .map(|f| {
                    let mut m = Map::new();
                    m.insert("kind".into(), Dynamic::from(f.kind.name()));
                    let text = text.get(f.start..f.end).unwrap_or_default();
                    m.insert("text".into(), Dynamic::from(text.to_string()));
                    Dynamic::from_map(m)
                })
                .collect())
        })
        .register_type_with_name::<PiiStream>("PiiStream")
        .register_fn("pii_stream", |kinds: Dynamic| -> Result<PiiStream> {
            Ok(PiiStream(StreamRedactor::new(kinds_of(&kinds)?)))
        })
        .register_fn("push", |r: &mut PiiStream, piece: &str| r.0.push(piece))
        .register_fn("finish", |r: &mut PiiStream| r.0.finish())
        .register_fn("regex_match", |text: &str, pattern: &str| -> Result<bool> {
            Ok(regex(pattern)?.is_match(text))
        })
        .register_fn(
            "regex_find",
            |text: &str, pattern: &str| -> Result<Dynamic> {
                Ok(regex(pattern)?
                    .find(text)
                    .map_or(Dynamic::UNIT, |m| Dynamic::from(m.as_str().to_string())))
            },
        )
        .register_fn(
            "regex_replace",
            |text: &str, pattern: &str, with: &str| -> Result<String> {
                Ok(regex(pattern)?.replace_all(text, with).into_owned())
            },
        )
        .register_fn("regex_escape", |text: &str| regex::escape(text))
        .register_fn("prompt_text", |request: Json| {
            request.inspect_mut(prompt_text)
        })
        .register_fn("answer_text", |response: Json| {
            response.inspect_mut(answer_text)
        });
}

/// The kinds a script names.
fn kinds_of(v: &Dynamic) -> Result<Kinds> {
    if v.is_unit() {
        return Ok(Kinds::ALL);
    }
    let one = |name: &str| -> Result<Kinds> {
        if name == "all" {
            return Ok(Kinds::ALL);
        }
        Kind::parse(name).map(|k| Kinds::NONE.with(k)).ok_or_else(|| {
            format!("unknown kind of personal data `{name}` (expected all, email, phone, card, iban, secret)").into()
        })
    };
    if let Some(s) = v.read_lock::<rhai::ImmutableString>() {
        return one(s.as_str());
    }
    if let Some(items) = v.read_lock::<Array>() {
        let mut kinds = Kinds::NONE;
        for item in items.iter() {
            let name = item
                .read_lock::<rhai::ImmutableString>()
                .ok_or("kinds must be names")?;
            let k = one(name.as_str())?;
            for kind in Kind::ALL {
                if k.contains(kind) {
                    kinds = kinds.with(kind);
                }
            }
        }
        return Ok(kinds);
    }
    Err("kinds must be \"all\", a name or an array of names".into())
}

/// `pattern` compiled (once).
pub fn regex(pattern: &str) -> Result<Arc<Regex>> {
    if let Some(re) = REGEXES.get(pattern) {
        return Ok(re);
    }
    let re = regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| format!("invalid regex `{pattern}`: {e}"))?;
    let re = Arc::new(re);
    REGEXES.insert(pattern.to_string(), re.clone());
    Ok(re)
}

#[cfg(test)]
mod tests;
