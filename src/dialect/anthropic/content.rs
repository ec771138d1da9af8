//! Anthropic `system` and `messages[]` → OpenAI hub messages.
//!
//! - A string stays a string; an array of blocks becomes an array of parts,
//!   so block boundaries and `cache_control` marks survive (the hub's
//!   `cache_control` extension, which the `anthropic` adapter passes on).
//!   [`strip_extensions`] flattens this for strict OpenAI-compatible servers.
//! - `text` → text part; `image` → `image_url` (base64 → data URL);
//!   `document` base64 PDF → `file` part, plain-text document → text part.
//! - Assistant `tool_use` → `tool_calls`; the assistant's text blocks are
//!   concatenated into `content` (null when there are tool calls and no text).
//! - User `tool_result` → one `role:"tool"` message each, placed before the
//!   rest of that user turn; its text blocks are joined with a blank line,
//!   `is_error` prefixes `Error: `; images and documents inside a result move
//!   to the user message that follows (OpenAI tool messages hold text only).
//! - `thinking` and `redacted_thinking` are dropped (no hub equivalent).

use std::borrow::Cow;

use serde_json::{json, Map, Value};

use super::invalid;
use crate::adapter::anthropic::wire::{
    Base64Source, Content, ContentBlock, DocumentBlock, DocumentSource, ImageBlock, ImageSource,
    Message, Role, SystemBlock, SystemPrompt, TextBlock, ToolResultBlock, ToolUseBlock,
};
use crate::error::GatewayError;

/// What joins the text blocks of a system prompt or tool result when they
/// become one string.
const TEXT_JOIN: &str = "\n\n";

/// `system` (a string or text blocks) → a leading `system` message, or
/// `None` when absent or empty.
pub(super) fn system_to_hub(system: Option<SystemPrompt>) -> Result<Option<Value>, GatewayError> {
    let content = match system {
        None => return Ok(None),
        Some(SystemPrompt::Text(s)) if s.is_empty() => return Ok(None),
        Some(SystemPrompt::Text(s)) => Value::String(s.into_owned()),
        Some(SystemPrompt::Blocks(blocks)) if blocks.is_empty() => return Ok(None),
        Some(SystemPrompt::Blocks(blocks)) => {
            let parts = blocks
                .into_iter()
                .enumerate()
                .map(|(i, block)| match block {
                    SystemBlock::Text(text) => Ok(text_part(text)),
                    SystemBlock::Unknown(kind) => Err(invalid(
                        &format!("system.{i}.type"),
                        format!("system blocks must be of type 'text', not '{kind}'"),
                    )),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Value::Array(parts)
        }
    };
    Ok(Some(json!({ "role": "system", "content": content })))
}

/// `messages[]` → hub messages (a user turn may become several).
pub(super) fn messages_to_hub(messages: Vec<Message>) -> Result<Vec<Value>, GatewayError> {
    if messages.is_empty() {
        return Err(invalid("messages", "at least one message is required"));
    }
    let mut out = Vec::with_capacity(messages.len());
    for (i, message) in messages.into_iter().enumerate() {
        match message.role {
            Role::User => out.extend(user_turn(i, message.content)?),
            Role::Assistant => out.push(assistant_turn(i, message.content)?),
        }
    }
    Ok(out)
}

/// A user turn → its `tool` messages first, then one `user` message with the
/// remaining blocks (and any image moved out of a tool result).
fn user_turn(i: usize, content: Content) -> Result<Vec<Value>, GatewayError> {
    let blocks = match content {
        Content::Text(text) => return Ok(vec![json!({ "role": "user", "content": text })]),
        Content::Blocks(blocks) if blocks.is_empty() => {
            return Err(invalid(
                &format!("messages.{i}.content"),
                "user messages must have non-empty content",
            ))
        }
        Content::Blocks(blocks) => blocks,
    };
    let mut tools = Vec::new();
    let mut moved = Vec::new();
    let mut parts = Vec::new();
    for (j, block) in blocks.into_iter().enumerate() {
        let path = format!("messages.{i}.content.{j}");
        match block {
            ContentBlock::ToolResult(result) => {
                tools.push(tool_message(result, &path, &mut moved)?);
            }
            ContentBlock::ToolUse(_) => {
                return Err(invalid(
                    &path,
                    "tool_use blocks may only appear in assistant messages",
                ))
            }
            ContentBlock::Thinking(_) | ContentBlock::RedactedThinking(_) => {}
            other => parts.push(media_part(other, &path)?),
        }
    }
    moved.extend(parts);
    if !moved.is_empty() {
        tools.push(json!({ "role": "user", "content": moved }));
    }
    Ok(tools)
}

/// A user or tool-result block that becomes a content part: text, image or
/// document.
fn media_part(block: ContentBlock, path: &str) -> Result<Value, GatewayError> {
    match block {
        ContentBlock::Text(text) => Ok(text_part(text)),
        ContentBlock::Image(image) => image_part(image, path),
        ContentBlock::Document(document) => document_part(document, path),
        other => Err(invalid(
            &format!("{path}.type"),
            format!(
                "content blocks of type '{}' are not supported by this gateway",
                other.kind()
            ),
        )),
    }
}

/// A hub part with the block's `cache_control`, if any.
fn part(mut part: Map<String, Value>, cache_control: Option<Cow<Value>>) -> Value {
    if let Some(cache_control) = cache_control {
        part.insert("cache_control".into(), cache_control.into_owned());
    }
    Value::Object(part)
}

fn text_part(block: TextBlock) -> Value {
    let mut text = Map::new();
    text.insert("type".into(), Value::from("text"));
    text.insert("text".into(), Value::String(block.text.into_owned()));
    part(text, block.cache_control)
}

/// `image` → `image_url`: base64 sources become a data URL.
fn image_part(block: ImageBlock, path: &str) -> Result<Value, GatewayError> {
    let url = match block.source {
        ImageSource::Base64(source) => data_url(source),
        ImageSource::Url(source) => source.url.into_owned(),
        ImageSource::Unknown(kind) => {
            return Err(unsupported_source(
                "image",
                &kind,
                &format!("{path}.source"),
            ))
        }
    };
    let mut image = Map::new();
    image.insert("type".into(), Value::from("image_url"));
    image.insert("image_url".into(), json!({ "url": url }));
    Ok(part(image, block.cache_control))
}

/// `document` → a `file` part (base64 PDF) or a text part (plain text).
fn document_part(block: DocumentBlock, path: &str) -> Result<Value, GatewayError> {
    let source_path = format!("{path}.source");
    let mut document = Map::new();
    match block.source {
        DocumentSource::Base64(source) => {
            if source.media_type != "application/pdf" {
                return Err(invalid(
                    &format!("{source_path}.media_type"),
                    "base64 documents must be 'application/pdf'",
                ));
            }
            let filename = block.title.as_deref().unwrap_or("document.pdf");
            let file = json!({ "file_data": data_url(source), "filename": filename });
            document.insert("type".into(), Value::from("file"));
            document.insert("file".into(), file);
        }
        DocumentSource::Text(source) => {
            document.insert("type".into(), Value::from("text"));
            document.insert("text".into(), Value::String(source.data.into_owned()));
        }
        DocumentSource::Url(_) => return Err(unsupported_source("document", "url", &source_path)),
        DocumentSource::Unknown(kind) => {
            return Err(unsupported_source("document", &kind, &source_path))
        }
    }
    Ok(part(document, block.cache_control))
}

fn unsupported_source(kind: &str, source: &str, path: &str) -> GatewayError {
    invalid(
        &format!("{path}.type"),
        format!("{kind} sources of type '{source}' are not supported by this gateway"),
    )
}

/// `{media_type, data}` → `data:<media_type>;base64,<data>`.
fn data_url(source: Base64Source) -> String {
    format!("data:{};base64,{}", source.media_type, source.data)
}

/// A `tool_result` block → `{role:"tool", tool_call_id, content}`; its
/// images and documents are appended to `moved`.
fn tool_message(
    block: ToolResultBlock,
    path: &str,
    moved: &mut Vec<Value>,
) -> Result<Value, GatewayError> {
    let mut texts = Vec::new();
    let mut cache_control = block.cache_control;
    match block.content {
        None => {}
        Some(Content::Text(s)) => texts.push(s),
        Some(Content::Blocks(inner)) => {
            for (k, item) in inner.into_iter().enumerate() {
                match item {
                    ContentBlock::Text(text) => {
                        texts.push(text.text);
                        cache_control = text.cache_control.or(cache_control);
                    }
                    other => moved.push(media_part(other, &format!("{path}.content.{k}"))?),
                }
            }
        }
    }
    let mut text = texts.join(TEXT_JOIN);
    if block.is_error == Some(true) {
        text = if text.is_empty() {
            "Error".to_string()
        } else {
            format!("Error: {text}")
        };
    }
    let content = match cache_control {
        Some(cc) => json!([{ "type": "text", "text": text, "cache_control": cc }]),
        None => Value::String(text),
    };
    Ok(json!({ "role": "tool", "tool_call_id": block.tool_use_id, "content": content }))
}

/// An assistant turn → one `assistant` message: text blocks concatenated
/// into `content` (Anthropic splits one answer into several text blocks
/// around citations), `tool_use` blocks → `tool_calls`.
fn assistant_turn(i: usize, content: Content) -> Result<Value, GatewayError> {
    let blocks = match content {
        Content::Text(text) => return Ok(json!({ "role": "assistant", "content": text })),
        Content::Blocks(blocks) => blocks,
    };
    let mut text = String::new();
    let mut calls = Vec::new();
    for (j, block) in blocks.into_iter().enumerate() {
        let path = format!("messages.{i}.content.{j}");
        match block {
            ContentBlock::Text(block) => text.push_str(&block.text),
            ContentBlock::ToolUse(block) => calls.push(tool_call(block, &path)?),
            ContentBlock::Thinking(_) | ContentBlock::RedactedThinking(_) => {}
            other => {
                return Err(invalid(
                    &format!("{path}.type"),
                    format!(
                        "assistant blocks of type '{}' are not supported by this gateway",
                        other.kind()
                    ),
                ))
            }
        }
    }
    let mut message = Map::new();
    message.insert("role".into(), json!("assistant"));
    if calls.is_empty() {
        message.insert("content".into(), Value::String(text));
    } else {
        let content = if text.is_empty() {
            Value::Null
        } else {
            Value::String(text)
        };
        message.insert("content".into(), content);
        message.insert("tool_calls".into(), Value::Array(calls));
    }
    Ok(Value::Object(message))
}

/// A `tool_use` block → `{id, type:"function", function:{name, arguments}}`
/// with `arguments` the JSON text of `input` (`{}` when absent).
fn tool_call(block: ToolUseBlock, path: &str) -> Result<Value, GatewayError> {
    let arguments = match &*block.input {
        Value::Null => "{}".to_string(),
        input @ Value::Object(_) => input.to_string(),
        _ => {
            return Err(invalid(
                &format!("{path}.input"),
                "Input should be a valid dictionary",
            ))
        }
    };
    Ok(json!({
        "id": block.id,
        "type": "function",
        "function": { "name": block.name, "arguments": arguments },
    }))
}

/// Makes a hub request from [`super::request_to_hub`] plain OpenAI for
/// strict OpenAI-compatible servers: removes every part's `cache_control`
/// and turns text-only part arrays of `system`, `user` and `tool` messages
/// into strings (texts joined with a blank line). Parts with images or
/// files stay arrays.
pub fn strip_extensions(hub: &mut Value) {
    let Some(messages) = hub.get_mut("messages").and_then(Value::as_array_mut) else {
        return;
    };
    for message in messages {
        let Some(Value::Array(parts)) = message.get_mut("content") else {
            continue;
        };
        for part in parts.iter_mut() {
            if let Value::Object(part) = part {
                part.remove("cache_control");
            }
        }
        let texts: Option<Vec<&str>> = parts
            .iter()
            .map(|p| match p.get("type").and_then(Value::as_str) {
                Some("text") => p.get("text").and_then(Value::as_str),
                _ => None,
            })
            .collect();
        if let Some(texts) = texts {
            let joined = texts.join(TEXT_JOIN);
            if let Some(content) = message.get_mut("content") {
                *content = Value::String(joined);
            }
        }
    }
}
