//! The moderation guardrail: the prompt's text sent to a moderation
//! target before the request goes anywhere, and the request refused when
//! the target flags it. Two kinds of target, both on a provider of the
//! config that speaks the OpenAI format:
//!
//! - `moderations`: `POST /moderations` (OpenAI's, or a compatible one);
//!   flagged when a result is `flagged` — or, with `categories:`, when one
//!   of those categories is;
//! - `verdict`: a small chat model asked for a one-word verdict
//!   (`instructions:` says how); flagged when it answers `UNSAFE`.
//!
//! The call has its own time budget (`timeout:`). What a failure or a
//! timeout does is the guardrail's `on_error:` — the caller's business:
//! here it is an `Err`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use pingora::connectors::http::Connector;
use serde_json::{json, Value};

use crate::provider::Provider;
use crate::upstream::call;

/// What the target is asked.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// An OpenAI-compatible `/moderations` endpoint.
    Moderations,
    /// A chat model asked for `SAFE` or `UNSAFE`, told how by these
    /// instructions (its system message).
    Verdict { instructions: String },
}

/// The default instructions of a verdict model.
pub const VERDICT_INSTRUCTIONS: &str = "You are a content moderator. Read the user's message and answer with exactly one word: UNSAFE if it asks for or contains violence, self-harm, sexual content involving minors, hate, harassment, or instructions for weapons or crimes; SAFE otherwise.";

/// A moderation target and how long it may take.
#[derive(Debug)]
pub struct Moderation {
    pub provider: Arc<Provider>,
    pub model: String,
    pub mode: Mode,
    pub timeout: Duration,
    /// Only these categories block (empty: any flag does).
    pub categories: Vec<String>,
}

/// The target's decision.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Pass,
    /// Flagged, with what for (a category, or the verdict).
    Flagged(String),
}

/// Largest moderation answer read.
const MAX_ANSWER: usize = 1 << 20;

impl Moderation {
    /// Asks the target about `text`: each of the provider's healthy
    /// backends in turn, until one answers or the time budget is spent.
    pub async fn check(&self, connector: &Connector, text: &str) -> Result<Decision, String> {
        if text.trim().is_empty() {
            return Ok(Decision::Pass);
        }
        let deadline = Instant::now() + self.timeout;
        let body = Bytes::from(self.body(text).to_string());
        let path = match self.mode {
            Mode::Moderations => "/moderations",
            Mode::Verdict { .. } => "/chat/completions",
        };
        let mut last = format!("provider `{}` has no usable backend", self.provider.name);
        for backend in self.provider.backends.candidates(b"", |_| true) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let mut headers = self.auth_headers(backend.api_key.as_ref());
            headers.push(("content-type".into(), "application/json".into()));
            for (k, v) in &self.provider.headers {
                headers.push((k.clone(), v.clone()));
            }
            let target = format!("{}{path}", backend.upstream.base_path);
            let posted = call::post_to(
                connector,
                &backend.upstream,
                &target,
                &headers,
                body.clone(),
                left,
                MAX_ANSWER,
            );
            match tokio::time::timeout(left, posted).await {
                Err(_) => {
                    last = format!("no answer within {:?}", self.timeout);
                    break;
                }
                Ok(Err(e)) => last = e.to_string(),
                Ok(Ok((200, answer))) => return self.decide(&answer),
                Ok(Ok((status, _))) => last = format!("HTTP {status}"),
            }
        }
        Err(last)
    }

    /// The headers the provider's adapter sends with `key` (its auth).
    fn auth_headers(&self, key: Option<&crate::secrets::Secret>) -> Vec<(String, String)> {
        let ctx = crate::adapter::Ctx {
            endpoint: "chat",
            model: self.model.clone(),
            provider: self.provider.name.clone(),
            api_key: key.map(|k| k.expose().to_string()),
            options: self.provider.options.clone(),
            ..crate::adapter::Ctx::default()
        };
        self.provider
            .adapter
            .plan(&ctx)
            .map(|plan| {
                plan.headers
                    .into_iter()
                    .filter(|(k, _)| !k.eq_ignore_ascii_case("content-type"))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The request body the target is sent.
    fn body(&self, text: &str) -> Value {
        match &self.mode {
            Mode::Moderations => json!({"model": self.model, "input": text}),
            Mode::Verdict { instructions } => json!({
                "model": self.model,
                "messages": [
                    {"role": "system", "content": instructions},
                    {"role": "user", "content": text}
                ],
                "temperature": 0,
                "max_tokens": 5
            }),
        }
    }

    /// The decision an answer carries.
    fn decide(&self, answer: &[u8]) -> Result<Decision, String> {
        let v: Value = serde_json::from_slice(answer)
            .map_err(|e| format!("the moderation answer is not JSON: {e}"))?;
        match self.mode {
            Mode::Moderations => decide_moderations(&v, &self.categories),
            Mode::Verdict { .. } => decide_verdict(&v),
        }
    }
}

/// A `/moderations` answer: flagged when any result is (or, with
/// `categories`, when one of them is true in any result).
pub fn decide_moderations(v: &Value, categories: &[String]) -> Result<Decision, String> {
    let results = v
        .get("results")
        .and_then(Value::as_array)
        .ok_or("the moderation answer has no `results`")?;
    for r in results {
        let flagged_categories: Vec<&str> = r
            .get("categories")
            .and_then(Value::as_object)
            .map(|c| {
                c.iter()
                    .filter(|(_, on)| on.as_bool() == Some(true))
                    .map(|(name, _)| name.as_str())
                    .collect()
            })
            .unwrap_or_default();
        if categories.is_empty() {
            if r.get("flagged").and_then(Value::as_bool) == Some(true) {
                let why = flagged_categories.first().copied().unwrap_or("flagged");
                return Ok(Decision::Flagged(why.to_string()));
            }
        } else if let Some(hit) = flagged_categories
            .iter()
            .find(|c| categories.iter().any(|want| want == *c))
        {
            return Ok(Decision::Flagged((*hit).to_string()));
        }
    }
    Ok(Decision::Pass)
}

/// A verdict model's answer: flagged when its text starts with `UNSAFE`
/// (any case, after spaces and punctuation).
pub fn decide_verdict(v: &Value) -> Result<Decision, String> {
    let text = v
        .pointer("/choices/0/message/content")
        .and_then(Value::as_str)
        .ok_or("the verdict model's answer has no text")?;
    let word: String = text
        .trim_start_matches(|c: char| !c.is_alphanumeric())
        .chars()
        .take_while(|c| c.is_alphanumeric())
        .collect();
    if word.eq_ignore_ascii_case("unsafe") {
        Ok(Decision::Flagged("unsafe".into()))
    } else if word.eq_ignore_ascii_case("safe") {
        Ok(Decision::Pass)
    } else {
        Err(format!(
            "the verdict model answered neither SAFE nor UNSAFE: {:?}",
            text.chars().take(40).collect::<String>()
        ))
    }
}

#[cfg(test)]
mod tests;
