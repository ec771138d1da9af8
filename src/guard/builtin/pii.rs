//! `pii`: personal data in prompts replaced by placeholders before any
//! provider sees them (`[EMAIL]`, `[PHONE]`, `[CARD]`, `[IBAN]`,
//! `[SECRET]`; the detectors are [`crate::guard::pii`]); with `answers`,
//! in answers and streams too; with `block`, the request is refused
//! instead of redacted.
//!
//! options: `kinds` (`all`, a name, or a list of names), `answers`, `block`.

use std::borrow::Cow;

use serde_json::Value;

use super::{answer_texts, flag, options, prompt_texts, Builtin, BuiltinStream, Refusal};
use crate::guard::pii::{self, Kind, Kinds, StreamRedactor};
use crate::guard::script::Hooks;

#[derive(Debug)]
pub struct Pii {
    kinds: Kinds,
    answers: bool,
    block: bool,
}

impl Pii {
    pub fn new(opts: &Value) -> Result<Self, String> {
        let map = options(opts, &["kinds", "answers", "block"])?;
        Ok(Self {
            kinds: kinds(map.get("kinds"))?,
            answers: flag(map, "answers")?,
            block: flag(map, "block")?,
        })
    }
}

/// `kinds:`: `all` (the default), one name, or a list of names.
fn kinds(v: Option<&Value>) -> Result<Kinds, String> {
    let one = |name: &str| -> Result<Kinds, String> {
        if name == "all" {
            return Ok(Kinds::ALL);
        }
        Kind::parse(name).map(|k| Kinds::NONE.with(k)).ok_or_else(|| {
            format!("options.kinds: unknown kind of personal data `{name}` (expected all, email, phone, card, iban, secret)")
        })
    };
    match v {
        None | Some(Value::Null) => Ok(Kinds::ALL),
        Some(Value::String(s)) => one(s),
        Some(Value::Array(items)) => {
            let mut kinds = Kinds::NONE;
            for item in items {
                let name = item.as_str().ok_or("options.kinds: a list of names")?;
                let k = one(name)?;
                for kind in Kind::ALL.into_iter().filter(|kind| k.contains(*kind)) {
                    kinds = kinds.with(kind);
                }
            }
            Ok(kinds)
        }
        Some(_) => Err("options.kinds must be `all`, a name or a list of names".into()),
    }
}

/// Replaces `s` with its redaction, when there is anything to redact;
/// whether there was.
fn redact_in_place(s: &mut String, kinds: Kinds) -> bool {
    match pii::redact(s, kinds) {
        Cow::Owned(redacted) => {
            *s = redacted;
            true
        }
        Cow::Borrowed(_) => false,
    }
}

impl Builtin for Pii {
    fn name(&self) -> &'static str {
        "pii"
    }

    fn hooks(&self) -> Hooks {
        Hooks {
            request: true,
            response: self.answers,
            chunk: self.answers,
        }
    }

    fn request(&self, body: &mut Value, _endpoint: &str) -> Result<(), Refusal> {
        let kinds = self.kinds;
        if self.block {
            let mut found = None;
            prompt_texts(body, &mut |s| {
                if found.is_none() {
                    found = pii::find(s, kinds).first().map(|f| f.kind.name());
                }
            });
            return match found {
                Some(kind) => Err(Refusal {
                    status: 400,
                    message: format!(
                        "The request contains personal data ({kind}); it was not sent."
                    ),
                }),
                None => Ok(()),
            };
        }
        prompt_texts(body, &mut |s| {
            redact_in_place(s, kinds);
        });
        Ok(())
    }

    fn response(&self, body: &mut Value) -> Result<bool, Refusal> {
        let kinds = self.kinds;
        let mut changed = false;
        answer_texts(body, &mut |s| changed |= redact_in_place(s, kinds));
        Ok(changed)
    }

    fn stream(&self) -> Box<dyn BuiltinStream> {
        Box::new(PiiStream {
            kinds: self.kinds,
            choices: Vec::new(),
        })
    }
}

/// A stream's redactors, one per choice index.
struct PiiStream {
    kinds: Kinds,
    choices: Vec<(u64, StreamRedactor)>,
}

impl BuiltinStream for PiiStream {
    /// Each choice's text goes through its redactor, which holds back only
    /// the tail that could still be the start of a finding; the chunk that
    /// finishes the choice carries what was held.
    fn chunk(&mut self, chunk: &mut Value) -> Result<(), Refusal> {
        let Some(choices) = chunk.get_mut("choices").and_then(Value::as_array_mut) else {
            return Ok(());
        };
        for choice in choices {
            let index = choice.get("index").and_then(Value::as_u64).unwrap_or(0);
            let finished = choice.get("finish_reason").is_some_and(|f| !f.is_null());
            let at = match self.choices.iter().position(|(i, _)| *i == index) {
                Some(at) => at,
                None => {
                    self.choices.push((index, StreamRedactor::new(self.kinds)));
                    self.choices.len() - 1
                }
            };
            let Some((_, r)) = self.choices.get_mut(at) else {
                continue;
            };
            let Some(delta) = choice.get_mut("delta").and_then(Value::as_object_mut) else {
                continue;
            };
            let mut text = match delta.get("content") {
                Some(Value::String(s)) => r.push(s),
                _ => String::new(),
            };
            if finished {
                text.push_str(&r.finish());
            }
            if delta.get("content").is_some_and(Value::is_string) || !text.is_empty() {
                delta.insert("content".into(), Value::String(text));
            }
        }
        Ok(())
    }
}
