//! The guardrails built into the gateway — `pii`, `deny-list` and
//! `max-tokens` — written in Rust against the request and answer in place.
//! They are the ones every deployment runs on every request, so they cost
//! what a script cannot: a Rhai hook pays for each property it reads and
//! each string it copies (17 µs for the PII redaction of a 1 KB prompt as a
//! script, against a few here; `docs/performance.md`). Any other guardrail
//! is a script ([`super::script`]).

mod deny;
mod max_tokens;
mod pii;

use serde_json::Value;

use super::script::Hooks;
pub(super) use super::text::{answer_texts, prompt_texts};

/// A built-in guardrail's refusal: the status and message for the client.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub status: u16,
    pub message: String,
}

/// What a built-in guardrail does at each stage; only the stages
/// [`Builtin::hooks`] names are called.
pub trait Builtin: Send + Sync + std::fmt::Debug {
    /// `pii`, `deny-list` or `max-tokens`.
    fn name(&self) -> &'static str;
    fn hooks(&self) -> Hooks;
    /// Edits or refuses a request (OpenAI format); `endpoint` as `ctx` says.
    fn request(&self, body: &mut Value, endpoint: &str) -> Result<(), Refusal>;
    /// Edits or refuses a whole answer; whether it edited it.
    fn response(&self, _body: &mut Value) -> Result<bool, Refusal> {
        Ok(false)
    }
    /// A stream's own state, for its chunks.
    fn stream(&self) -> Box<dyn BuiltinStream> {
        Box::new(Untouched)
    }
}

/// A built-in guardrail's view of one stream.
pub trait BuiltinStream: Send {
    /// Edits or refuses one `chat.completion.chunk`.
    fn chunk(&mut self, chunk: &mut Value) -> Result<(), Refusal>;
}

/// A stream a guardrail does not look at.
struct Untouched;

impl BuiltinStream for Untouched {
    fn chunk(&mut self, _chunk: &mut Value) -> Result<(), Refusal> {
        Ok(())
    }
}

/// The built-in guardrails' names.
pub const NAMES: [&str; 3] = ["pii", "deny-list", "max-tokens"];

/// The built-in guardrail `name` with `options`; why the options are
/// wrong (naming the field), or `None` for an unknown name.
pub fn build(name: &str, options: &Value) -> Option<Result<Box<dyn Builtin>, String>> {
    let built = match name {
        "pii" => pii::Pii::new(options).map(|g| Box::new(g) as Box<dyn Builtin>),
        "deny-list" => deny::DenyList::new(options).map(|g| Box::new(g) as Box<dyn Builtin>),
        "max-tokens" => {
            max_tokens::MaxTokens::new(options).map(|g| Box::new(g) as Box<dyn Builtin>)
        }
        _ => return None,
    };
    Some(built)
}

/// Options as a map; unknown ones refused, so a typo is not a silent no-op.
fn options<'a>(
    options: &'a Value,
    known: &[&str],
) -> Result<&'a serde_json::Map<String, Value>, String> {
    let empty = || -> &'static serde_json::Map<String, Value> {
        static EMPTY: std::sync::OnceLock<serde_json::Map<String, Value>> =
            std::sync::OnceLock::new();
        EMPTY.get_or_init(serde_json::Map::new)
    };
    let map = match options {
        Value::Null => empty(),
        Value::Object(m) => m,
        _ => return Err("options must be a mapping".into()),
    };
    if let Some(k) = map.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(format!(
            "unknown option `{k}` (expected {})",
            known.join(", ")
        ));
    }
    Ok(map)
}

/// `options.<name>` as a boolean (default false).
fn flag(map: &serde_json::Map<String, Value>, name: &str) -> Result<bool, String> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(format!("options.{name} must be true or false")),
    }
}

#[cfg(test)]
mod tests;
