//! `max-tokens`: a cap on a chat or completions request's output. Above
//! `max`, `max_tokens` / `max_completion_tokens` are lowered to it (`mode:
//! clamp`, the default) or the request is refused (`mode: deny`); a
//! request that sets neither gets `max_tokens: max`.
//!
//! options: `max` (required), `mode`.

use serde_json::Value;

use super::{options, Builtin, Refusal};
use crate::guard::script::Hooks;

#[derive(Debug)]
pub struct MaxTokens {
    max: u64,
    deny: bool,
}

impl MaxTokens {
    pub fn new(opts: &Value) -> Result<Self, String> {
        let map = options(opts, &["max", "mode"])?;
        let max = map
            .get("max")
            .and_then(Value::as_u64)
            .filter(|m| *m >= 1)
            .ok_or("options.max must be a positive number of tokens")?;
        let deny = match map.get("mode").and_then(Value::as_str) {
            None if map.get("mode").is_none_or(Value::is_null) => false,
            Some("clamp") => false,
            Some("deny") => true,
            _ => return Err("options.mode must be clamp or deny".into()),
        };
        Ok(Self { max, deny })
    }
}

impl Builtin for MaxTokens {
    fn name(&self) -> &'static str {
        "max-tokens"
    }

    fn hooks(&self) -> Hooks {
        Hooks {
            request: true,
            response: false,
            chunk: false,
        }
    }

    fn request(&self, body: &mut Value, endpoint: &str) -> Result<(), Refusal> {
        if !matches!(endpoint, "chat" | "completions") {
            return Ok(());
        }
        let Some(obj) = body.as_object_mut() else {
            return Ok(());
        };
        let mut set = false;
        for field in ["max_tokens", "max_completion_tokens"] {
            let Some(asked) = obj.get(field).and_then(Value::as_u64) else {
                continue;
            };
            set = true;
            if asked <= self.max {
                continue;
            }
            if self.deny {
                return Err(Refusal {
                    status: 400,
                    message: format!(
                        "{field} is {asked}; this gateway allows at most {}.",
                        self.max
                    ),
                });
            }
            obj.insert(field.into(), Value::from(self.max));
        }
        if !set {
            obj.insert("max_tokens".into(), Value::from(self.max));
        }
        Ok(())
    }
}
