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

use serde_json::{json, Map, Value};

use super::invalid;
use crate::error::GatewayError;

/// What joins the text blocks of a system prompt or tool result when they
/// become one string.
const TEXT_JOIN: &str = "\n\n";

/// `system` (a string or text blocks) → a leading `system` message, or
/// `None` when absent or empty.
pub(super) fn system_to_hub(system: Option<Value>) -> Result<Option<Value>, GatewayError> {
    let content = match system {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) if s.is_empty() => return Ok(None),
        Some(Value::String(s)) => Value::String(s),
        Some(Value::Array(blocks)) if blocks.is_empty() => return Ok(None),
        Some(Value::Array(blocks)) => {
            let parts = blocks
                .into_iter()
                .enumerate()
                .map(|(i, block)| system_part(i, block))
                .collect::<Result<Vec<_>, _>>()?;
            Value::Array(parts)
        }
        Some(_) => {
            return Err(invalid(
                "system",
                "Input should be a valid string or a list of text blocks",
            ))
        }
    };
    Ok(Some(json!({ "role": "system", "content": content })))
}

fn system_part(i: usize, block: Value) -> Result<Value, GatewayError> {
    let path = format!("system.{i}");
    match block_type(&block, &path)? {
        "text" => text_part(&block, &path),
        other => Err(invalid(
            &format!("{path}.type"),
            format!("system blocks must be of type 'text', not '{other}'"),
        )),
    }
}

/// `messages[]` → hub messages (a user turn may become several).
pub(super) fn messages_to_hub(messages: Vec<Value>) -> Result<Vec<Value>, GatewayError> {
    if messages.is_empty() {
        return Err(invalid("messages", "at least one message is required"));
    }
    let mut out = Vec::with_capacity(messages.len());
    for (i, message) in messages.into_iter().enumerate() {
        let Value::Object(mut message) = message else {
            return Err(invalid(
                &format!("messages.{i}"),
                "Input should be a valid dictionary",
            ));
        };
        let is_user = match message.get("role").and_then(Value::as_str) {
            Some("user") => true,
            Some("assistant") => false,
            _ => {
                return Err(invalid(
                    &format!("messages.{i}.role"),
                    "Input should be 'user' or 'assistant'",
                ))
            }
        };
        let content = match message.remove("content") {
            None | Some(Value::Null) => {
                return Err(invalid(&format!("messages.{i}.content"), "Field required"))
            }
            Some(content) => content,
        };
        if is_user {
            out.extend(user_turn(i, content)?);
        } else {
            out.push(assistant_turn(i, content)?);
        }
    }
    Ok(out)
}

/// The blocks of a message's `content`, or its string.
enum Content {
    Text(String),
    Blocks(Vec<Value>),
}

fn content_of(i: usize, content: Value) -> Result<Content, GatewayError> {
    match content {
        Value::String(s) => Ok(Content::Text(s)),
        Value::Array(blocks) => Ok(Content::Blocks(blocks)),
        _ => Err(invalid(
            &format!("messages.{i}.content"),
            "Input should be a valid string or a list of content blocks",
        )),
    }
}

/// A user turn → its `tool` messages first, then one `user` message with the
/// remaining blocks (and any image moved out of a tool result).
fn user_turn(i: usize, content: Value) -> Result<Vec<Value>, GatewayError> {
    let blocks = match content_of(i, content)? {
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
    for (j, block) in blocks.iter().enumerate() {
        let path = format!("messages.{i}.content.{j}");
        match block_type(block, &path)? {
            "tool_result" => tools.push(tool_message(block, &path, &mut moved)?),
            "tool_use" => {
                return Err(invalid(
                    &path,
                    "tool_use blocks may only appear in assistant messages",
                ))
            }
            "thinking" | "redacted_thinking" => {}
            other => parts.push(media_part(block, other, &path)?),
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
fn media_part(block: &Value, kind: &str, path: &str) -> Result<Value, GatewayError> {
    match kind {
        "text" => text_part(block, path),
        "image" => image_part(block, path),
        "document" => document_part(block, path),
        other => Err(invalid(
            &format!("{path}.type"),
            format!("content blocks of type '{other}' are not supported by this gateway"),
        )),
    }
}

/// The block's `type` string.
fn block_type<'a>(block: &'a Value, path: &str) -> Result<&'a str, GatewayError> {
    block
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(&format!("{path}.type"), "Field required"))
}

fn str_field<'a>(value: &'a Value, field: &str, path: &str) -> Result<&'a str, GatewayError> {
    value
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(&format!("{path}.{field}"), "Field required"))
}

/// Copies the block's `cache_control` (if any) onto a hub part.
fn with_cache_control(mut part: Value, block: &Value) -> Value {
    if let (Some(cc), Value::Object(map)) = (block.get("cache_control"), &mut part) {
        if !cc.is_null() {
            map.insert("cache_control".into(), cc.clone());
        }
    }
    part
}

fn text_part(block: &Value, path: &str) -> Result<Value, GatewayError> {
    let text = str_field(block, "text", path)?;
    Ok(with_cache_control(
        json!({ "type": "text", "text": text }),
        block,
    ))
}

/// `image` → `image_url`: base64 sources become a data URL.
fn image_part(block: &Value, path: &str) -> Result<Value, GatewayError> {
    let source = block.get("source").unwrap_or(&Value::Null);
    let source_path = format!("{path}.source");
    let url = match source.get("type").and_then(Value::as_str) {
        Some("base64") => data_url(source, &source_path)?,
        Some("url") => str_field(source, "url", &source_path)?.to_string(),
        other => return Err(unsupported_source("image", other, &source_path)),
    };
    let part = json!({ "type": "image_url", "image_url": { "url": url } });
    Ok(with_cache_control(part, block))
}

/// `document` → a `file` part (base64 PDF) or a text part (plain text).
fn document_part(block: &Value, path: &str) -> Result<Value, GatewayError> {
    let source = block.get("source").unwrap_or(&Value::Null);
    let source_path = format!("{path}.source");
    let part = match source.get("type").and_then(Value::as_str) {
        Some("base64") => {
            let media_type = str_field(source, "media_type", &source_path)?;
            if media_type != "application/pdf" {
                return Err(invalid(
                    &format!("{source_path}.media_type"),
                    "base64 documents must be 'application/pdf'",
                ));
            }
            let filename = block
                .get("title")
                .and_then(Value::as_str)
                .unwrap_or("document.pdf");
            let file =
                json!({ "file_data": data_url(source, &source_path)?, "filename": filename });
            json!({ "type": "file", "file": file })
        }
        Some("text") => json!({ "type": "text", "text": str_field(source, "data", &source_path)? }),
        other => return Err(unsupported_source("document", other, &source_path)),
    };
    Ok(with_cache_control(part, block))
}

fn unsupported_source(kind: &str, source: Option<&str>, path: &str) -> GatewayError {
    let source = source.unwrap_or("missing");
    invalid(
        &format!("{path}.type"),
        format!("{kind} sources of type '{source}' are not supported by this gateway"),
    )
}

/// `{media_type, data}` → `data:<media_type>;base64,<data>`.
fn data_url(source: &Value, path: &str) -> Result<String, GatewayError> {
    let media_type = str_field(source, "media_type", path)?;
    let data = str_field(source, "data", path)?;
    Ok(format!("data:{media_type};base64,{data}"))
}

/// A `tool_result` block → `{role:"tool", tool_call_id, content}`; its
/// images and documents are appended to `moved`.
fn tool_message(block: &Value, path: &str, moved: &mut Vec<Value>) -> Result<Value, GatewayError> {
    let id = str_field(block, "tool_use_id", path)?;
    let mut texts = Vec::new();
    let mut cache_control = block.get("cache_control").filter(|c| !c.is_null());
    match block.get("content") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => texts.push(s.as_str()),
        Some(Value::Array(inner)) => {
            for (k, item) in inner.iter().enumerate() {
                let item_path = format!("{path}.content.{k}");
                match block_type(item, &item_path)? {
                    "text" => {
                        texts.push(str_field(item, "text", &item_path)?);
                        cache_control = item
                            .get("cache_control")
                            .filter(|c| !c.is_null())
                            .or(cache_control);
                    }
                    other => moved.push(media_part(item, other, &item_path)?),
                }
            }
        }
        Some(_) => {
            return Err(invalid(
                &format!("{path}.content"),
                "Input should be a valid string or a list of content blocks",
            ))
        }
    }
    let mut text = texts.join(TEXT_JOIN);
    if block.get("is_error").and_then(Value::as_bool) == Some(true) {
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
    Ok(json!({ "role": "tool", "tool_call_id": id, "content": content }))
}

/// An assistant turn → one `assistant` message: text blocks concatenated
/// into `content` (Anthropic splits one answer into several text blocks
/// around citations), `tool_use` blocks → `tool_calls`.
fn assistant_turn(i: usize, content: Value) -> Result<Value, GatewayError> {
    let blocks = match content_of(i, content)? {
        Content::Text(text) => return Ok(json!({ "role": "assistant", "content": text })),
        Content::Blocks(blocks) => blocks,
    };
    let mut text = String::new();
    let mut calls = Vec::new();
    for (j, block) in blocks.iter().enumerate() {
        let path = format!("messages.{i}.content.{j}");
        match block_type(block, &path)? {
            "text" => text.push_str(str_field(block, "text", &path)?),
            "tool_use" => calls.push(tool_call(block, &path)?),
            "thinking" | "redacted_thinking" => {}
            other => {
                return Err(invalid(
                    &format!("{path}.type"),
                    format!("assistant blocks of type '{other}' are not supported by this gateway"),
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
fn tool_call(block: &Value, path: &str) -> Result<Value, GatewayError> {
    let id = str_field(block, "id", path)?;
    let name = str_field(block, "name", path)?;
    let arguments = match block.get("input") {
        None | Some(Value::Null) => "{}".to_string(),
        Some(input @ Value::Object(_)) => input.to_string(),
        Some(_) => {
            return Err(invalid(
                &format!("{path}.input"),
                "Input should be a valid dictionary",
            ))
        }
    };
    Ok(json!({
        "id": id,
        "type": "function",
        "function": { "name": name, "arguments": arguments },
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
