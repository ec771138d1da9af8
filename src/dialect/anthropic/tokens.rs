//! `POST /v1/messages/count_tokens`, answered by the gateway itself: the
//! providers behind a route have different tokenizers (and OpenAI has no
//! counting endpoint), so the answer is a documented approximation.
//!
//! `input_tokens` = ⌈characters / 4⌉ of every text in the request — the
//! system prompt, messages (text, thinking, tool names and inputs, tool
//! results) and tools (name, description, JSON schema) — plus
//! [`TOKENS_PER_MEDIA`] per image or PDF, and at least 1.

use serde_json::{json, Value};

use super::invalid;
use crate::error::GatewayError;

/// Tokens counted per image or base64 document: Anthropic's cost of an
/// image at its largest size (about 1.15 megapixels / 750 px per token).
pub const TOKENS_PER_MEDIA: u64 = 1600;

/// Estimates the input tokens of a count_tokens request:
/// `{"input_tokens": n}`. Fails with a 400 when `model` or `messages` is
/// missing, or a role is not `user`/`assistant`.
pub fn count_tokens(body: &Value) -> Result<Value, GatewayError> {
    if !body.is_object() {
        return Err(GatewayError::bad_request(
            "The request body must be a JSON object",
        ));
    }
    if !body.get("model").is_some_and(Value::is_string) {
        return Err(invalid("model", "Field required"));
    }
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("messages", "Field required"))?;
    let mut count = Count::default();
    for (i, message) in messages.iter().enumerate() {
        match message.get("role").and_then(Value::as_str) {
            Some("user" | "assistant") => {}
            _ => {
                return Err(invalid(
                    &format!("messages.{i}.role"),
                    "Input should be 'user' or 'assistant'",
                ))
            }
        }
        count.content(message.get("content"));
    }
    count.content(body.get("system"));
    for tool in body
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        count.text(tool.get("name"));
        count.text(tool.get("description"));
        count.json(tool.get("input_schema"));
    }
    Ok(json!({ "input_tokens": count.tokens() }))
}

/// Characters of text and media items seen so far.
#[derive(Debug, Default)]
struct Count {
    chars: u64,
    media: u64,
}

impl Count {
    fn tokens(&self) -> u64 {
        (self.chars.div_ceil(4) + self.media * TOKENS_PER_MEDIA).max(1)
    }

    fn text(&mut self, text: Option<&Value>) {
        if let Some(text) = text.and_then(Value::as_str) {
            self.chars += text.chars().count() as u64;
        }
    }

    fn json(&mut self, value: Option<&Value>) {
        if let Some(value) = value.filter(|v| !v.is_null()) {
            self.chars += value.to_string().chars().count() as u64;
        }
    }

    /// A string or a list of blocks (tool results recurse into theirs).
    fn content(&mut self, content: Option<&Value>) {
        match content {
            Some(text @ Value::String(_)) => self.text(Some(text)),
            Some(Value::Array(blocks)) => blocks.iter().for_each(|b| self.block(b)),
            _ => {}
        }
    }

    fn block(&mut self, block: &Value) {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => self.text(block.get("text")),
            Some("thinking") => self.text(block.get("thinking")),
            Some("tool_use") => {
                self.text(block.get("name"));
                self.json(block.get("input"));
            }
            Some("tool_result") => self.content(block.get("content")),
            Some("document") if block.pointer("/source/type") == Some(&json!("text")) => {
                self.text(block.pointer("/source/data"));
            }
            Some("image" | "document") => self.media += 1,
            _ => self.json(Some(block)),
        }
    }
}
