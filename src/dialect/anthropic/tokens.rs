//! `POST /v1/messages/count_tokens`, answered by the gateway itself: the
//! providers behind a route have different tokenizers (and OpenAI has no
//! counting endpoint), so the answer is a documented approximation.
//!
//! `input_tokens` = ⌈characters / 4⌉ of every text in the request — the
//! system prompt, messages (text, thinking, tool names and inputs, tool
//! results) and tools (name, description, JSON schema) — plus
//! [`TOKENS_PER_MEDIA`] per image or PDF, and at least 1.

use serde_json::{json, Value};

use super::{from_serde, to_json};
use crate::adapter::anthropic::wire::{
    Content, ContentBlock, CountTokensRequest, DocumentSource, SystemBlock, SystemPrompt,
};
use crate::error::GatewayError;

/// Tokens counted per image or base64 document: Anthropic's cost of an
/// image at its largest size (about 1.15 megapixels / 750 px per token).
pub const TOKENS_PER_MEDIA: u64 = 1600;

/// Estimates the input tokens of a count_tokens request:
/// `{"input_tokens": n}`. Fails with a 400 when the body does not read as
/// one (`model` or `messages` missing, a role other than `user` or
/// `assistant`, a field of the wrong type).
pub fn count_tokens(body: &Value) -> Result<Value, GatewayError> {
    if !body.is_object() {
        return Err(GatewayError::bad_request(
            "The request body must be a JSON object",
        ));
    }
    let req: CountTokensRequest = serde_path_to_error::deserialize(body).map_err(from_serde)?;
    let mut count = Count::default();
    for message in &req.messages {
        count.content(Some(&message.content));
    }
    match &req.system {
        Some(SystemPrompt::Text(text)) => count.text(text),
        Some(SystemPrompt::Blocks(blocks)) => {
            for block in blocks {
                match block {
                    SystemBlock::Text(block) => count.text(&block.text),
                    SystemBlock::Unknown(kind) => count.text(kind),
                }
            }
        }
        None => {}
    }
    for tool in &req.tools {
        count.text(&tool.name);
        count.text(tool.description.as_deref().unwrap_or_default());
        count.json(tool.input_schema.as_deref());
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

    fn text(&mut self, text: &str) {
        self.chars += text.chars().count() as u64;
    }

    fn json(&mut self, value: Option<&Value>) {
        if let Some(value) = value.filter(|v| !v.is_null()) {
            self.text(&value.to_string());
        }
    }

    /// A string or a list of blocks (tool results recurse into theirs).
    fn content(&mut self, content: Option<&Content>) {
        match content {
            Some(Content::Text(text)) => self.text(text),
            Some(Content::Blocks(blocks)) => blocks.iter().for_each(|b| self.block(b)),
            None => {}
        }
    }

    fn block(&mut self, block: &ContentBlock) {
        match block {
            ContentBlock::Text(b) => self.text(&b.text),
            ContentBlock::Thinking(b) => self.text(&b.thinking),
            // Blocks with no text to count: their JSON.
            ContentBlock::RedactedThinking(_) => self.json(Some(&to_json(block))),
            ContentBlock::Unknown(b) => {
                let mut fields = b.fields.clone();
                fields.insert("type".into(), Value::from(b.kind.as_ref()));
                self.json(Some(&Value::Object(fields)));
            }
            ContentBlock::ToolUse(b) => {
                self.text(&b.name);
                self.json(Some(&b.input));
            }
            ContentBlock::ToolResult(b) => self.content(b.content.as_ref()),
            ContentBlock::Document(b) => match &b.source {
                DocumentSource::Text(source) => self.text(&source.data),
                _ => self.media += 1,
            },
            ContentBlock::Image(_) => self.media += 1,
        }
    }
}
