//! `deny-list`: a request whose prompt contains one of `words` (whole
//! words, any case) or matches one of `patterns` (Rust regex syntax) is
//! refused with `status` and `message`; with `answers`, answers too — a
//! whole one is refused, a stream ends with an error event. A stream is
//! matched over what it said last ([`WINDOW`] bytes and the new chunk),
//! so a word split across chunks is still found.
//!
//! options: `words`, `patterns` (at least one of the two), `message`,
//! `status` (a 4xx, default 400), `answers`.

use regex::{Regex, RegexSet};
use serde_json::Value;

use super::{answer_texts, flag, options, prompt_texts, Builtin, BuiltinStream, Refusal};
use crate::guard::script::Hooks;

/// Bytes of a stream's text kept to match across chunks: a pattern whose
/// match spans more than this across chunks is not seen in a stream.
pub const WINDOW: usize = 512;

const DEFAULT_MESSAGE: &str = "This request is not allowed by the gateway's policy.";

#[derive(Debug, Clone)]
pub struct DenyList {
    words: Option<Regex>,
    patterns: RegexSet,
    refusal: Refusal,
    answers: bool,
}

impl DenyList {
    pub fn new(opts: &Value) -> Result<Self, String> {
        let map = options(opts, &["words", "patterns", "message", "status", "answers"])?;
        let list = |name: &str| -> Result<Vec<String>, String> {
            match map.get(name) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|i| {
                        i.as_str()
                            .map(str::to_string)
                            .ok_or_else(|| format!("options.{name} must be a list of strings"))
                    })
                    .collect(),
                Some(_) => Err(format!("options.{name} must be a list of strings")),
            }
        };
        let (words, patterns) = (list("words")?, list("patterns")?);
        if words.is_empty() && patterns.is_empty() {
            return Err("give `options.words`, `options.patterns` or both".into());
        }
        let words = match words.is_empty() {
            true => None,
            false => {
                let alternatives: Vec<String> = words.iter().map(|w| regex::escape(w)).collect();
                let re = format!(r"(?i)\b(?:{})\b", alternatives.join("|"));
                Some(Regex::new(&re).map_err(|e| format!("options.words: {e}"))?)
            }
        };
        let patterns = regex::RegexSetBuilder::new(&patterns)
            .size_limit(1 << 22)
            .build()
            .map_err(|e| format!("options.patterns: invalid regex: {e}"))?;
        let status = match map.get("status") {
            None | Some(Value::Null) => 400,
            Some(v) => v
                .as_u64()
                .filter(|s| (400..500).contains(s))
                .ok_or("options.status must be a 4xx status")? as u16,
        };
        let message = match map.get("message") {
            None | Some(Value::Null) => DEFAULT_MESSAGE.to_string(),
            Some(Value::String(m)) => m.clone(),
            Some(_) => return Err("options.message must be a string".into()),
        };
        Ok(Self {
            words,
            patterns,
            refusal: Refusal { status, message },
            answers: flag(map, "answers")?,
        })
    }

    fn denies(&self, text: &str) -> bool {
        self.words.as_ref().is_some_and(|w| w.is_match(text)) || self.patterns.is_match(text)
    }

    /// Refused when any of the texts `each` visits is.
    fn check(&self, each: impl FnOnce(&mut dyn FnMut(&mut String))) -> Result<(), Refusal> {
        let mut denied = false;
        each(&mut |s: &mut String| denied = denied || self.denies(s));
        match denied {
            true => Err(self.refusal.clone()),
            false => Ok(()),
        }
    }
}

impl Builtin for DenyList {
    fn name(&self) -> &'static str {
        "deny-list"
    }

    fn hooks(&self) -> Hooks {
        Hooks {
            request: true,
            response: self.answers,
            chunk: self.answers,
        }
    }

    fn request(&self, body: &mut Value, _endpoint: &str) -> Result<(), Refusal> {
        self.check(|f| prompt_texts(body, f))
    }

    fn response(&self, body: &mut Value) -> Result<bool, Refusal> {
        self.check(|f| answer_texts(body, f)).map(|()| false)
    }

    fn stream(&self) -> Box<dyn BuiltinStream> {
        Box::new(DenyStream {
            list: self.clone(),
            said: String::new(),
        })
    }
}

/// A stream's last words, matched with each new chunk.
struct DenyStream {
    list: DenyList,
    said: String,
}

impl BuiltinStream for DenyStream {
    fn chunk(&mut self, chunk: &mut Value) -> Result<(), Refusal> {
        let Some(choices) = chunk.get("choices").and_then(Value::as_array) else {
            return Ok(());
        };
        for choice in choices {
            let Some(text) = choice.pointer("/delta/content").and_then(Value::as_str) else {
                continue;
            };
            self.said.push_str(text);
            if self.list.denies(&self.said) {
                return Err(self.list.refusal.clone());
            }
            if self.said.len() > WINDOW {
                let mut cut = self.said.len() - WINDOW;
                while !self.said.is_char_boundary(cut) {
                    cut += 1;
                }
                self.said.drain(..cut);
            }
        }
        Ok(())
    }
}
