//! Hub `messages` → Messages `system` blocks and `messages` turns.
//!
//! System and developer messages are hoisted wherever they are; runs of
//! the same role (tool results count as `user`) merge into one turn, whose
//! `tool_result` blocks come first (the API wants them right after the
//! assistant turn that called the tools). Empty texts are skipped (the API
//! refuses empty text blocks), and so is a message left with no block.
//! Strings are borrowed from the hub request; only parsed tool arguments
//! and data-URL media types are new.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::request::{rejected, shown};
use super::wire::{
    Base64Source, Content, ContentBlock, DocumentBlock, DocumentSource, ImageBlock, ImageSource,
    Message, Role, SystemBlock, TextBlock, ToolResultBlock, ToolUseBlock, UrlSource,
};
use crate::adapter::hub::{object_part, part_kind, part_text, tool_input};
use crate::adapter::AdapterError;

/// `system` and `messages` of the Messages request.
pub(super) struct Converted<'a> {
    pub system: Vec<SystemBlock<'a>>,
    pub messages: Vec<Message<'a>>,
}

/// Converts the hub's `messages`; refuses anything but an array of
/// messages with at least one user or assistant message with content.
pub(super) fn convert(messages: Option<&Value>) -> Result<Converted<'_>, AdapterError> {
    let Some(Value::Array(messages)) = messages else {
        return Err(rejected("messages must be an array"));
    };
    let mut system = Vec::new();
    let mut turns = Vec::new();
    let mut current: Option<(Role, Vec<ContentBlock>)> = None;
    for msg in messages {
        let Value::Object(msg) = msg else {
            return Err(rejected("every message must be an object"));
        };
        let (role, content) = match msg.get("role").and_then(Value::as_str) {
            Some(role @ ("system" | "developer")) => {
                let blocks = text_blocks(msg.get("content"), role)?;
                system.extend(blocks.into_iter().map(SystemBlock::Text));
                continue;
            }
            Some("user") => (Role::User, user_blocks(msg.get("content"))?),
            Some("assistant") => (Role::Assistant, assistant_blocks(msg)?),
            Some("tool") => (Role::User, vec![tool_result_block(msg)?]),
            _ => {
                let role = msg.get("role").map(shown).unwrap_or_default();
                return Err(rejected(format!("unsupported message role '{role}'")));
            }
        };
        if content.is_empty() {
            continue; // e.g. an assistant message with content "" and no tool calls
        }
        match &mut current {
            Some((open, blocks)) if *open == role => blocks.extend(content),
            _ => {
                if let Some(done) = current.replace((role, content)) {
                    turns.push(finish_turn(done));
                }
            }
        }
    }
    let Some(last) = current else {
        return Err(rejected(
            "the request has no user or assistant message with content",
        ));
    };
    turns.push(finish_turn(last));
    Ok(Converted {
        system,
        messages: turns,
    })
}

/// A complete turn; a user turn's tool_result blocks go first, the order
/// otherwise kept.
fn finish_turn((role, mut blocks): (Role, Vec<ContentBlock>)) -> Message {
    let is_result = |b: &ContentBlock| matches!(b, ContentBlock::ToolResult(_));
    if role == Role::User && blocks.iter().any(is_result) {
        let (mut results, others): (Vec<_>, Vec<_>) = blocks.into_iter().partition(is_result);
        results.extend(others);
        blocks = results;
    }
    Message {
        role,
        content: Content::Blocks(blocks),
    }
}

/// A part's `cache_control` (an OpenRouter-style extension), passed on.
fn cache_control(part: &Map<String, Value>) -> Option<Cow<'_, Value>> {
    part.get("cache_control")
        .filter(|c| !c.is_null())
        .map(Cow::Borrowed)
}

fn text_block<'a>(text: &'a str, cache: Option<Cow<'a, Value>>) -> TextBlock<'a> {
    TextBlock {
        text: Cow::Borrowed(text),
        cache_control: cache,
    }
}

/// Text blocks as content blocks.
fn as_content(blocks: Vec<TextBlock>) -> Vec<ContentBlock> {
    blocks.into_iter().map(ContentBlock::Text).collect()
}

/// Text content (a string or text parts) of a `role` message → text
/// blocks.
fn text_blocks<'a>(
    content: Option<&'a Value>,
    role: &str,
) -> Result<Vec<TextBlock<'a>>, AdapterError> {
    let parts = match content {
        Some(Value::String(s)) if s.is_empty() => return Ok(Vec::new()),
        Some(Value::String(s)) => return Ok(vec![text_block(s, None)]),
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(parts)) => parts,
        Some(_) => {
            return Err(rejected(format!(
                "{role} message content must be a string or a list of text parts"
            )))
        }
    };
    let mut out = Vec::with_capacity(parts.len());
    for part in parts {
        let part = object_part(part, role)?;
        let kind = part_kind(part);
        if kind != "text" {
            return Err(rejected(format!(
                "{role} message content may only hold text parts, not '{kind}'"
            )));
        }
        let text = part_text(part, "text")?;
        if !text.is_empty() {
            out.push(text_block(text, cache_control(part)));
        }
    }
    Ok(out)
}

/// A user message's content (a string or parts) → content blocks.
fn user_blocks(content: Option<&Value>) -> Result<Vec<ContentBlock<'_>>, AdapterError> {
    let Some(Value::Array(parts)) = content else {
        return text_blocks(content, "user").map(as_content);
    };
    let mut blocks = Vec::with_capacity(parts.len());
    for part in parts {
        let part = object_part(part, "user")?;
        let cache = cache_control(part);
        let block = match &*part_kind(part) {
            "text" => {
                let text = part_text(part, "text")?;
                if text.is_empty() {
                    continue;
                }
                ContentBlock::Text(text_block(text, cache))
            }
            "image_url" => image_block(part.get("image_url"), cache)?,
            "file" => document_block(part.get("file"), cache)?,
            "input_audio" => return Err(rejected("Anthropic does not accept audio input")),
            kind => return Err(rejected(format!("unsupported user content part '{kind}'"))),
        };
        blocks.push(block);
    }
    Ok(blocks)
}

/// `image_url` (`{url, detail?}` or a bare URL) → an image block.
fn image_block<'a>(
    image: Option<&'a Value>,
    cache: Option<Cow<'a, Value>>,
) -> Result<ContentBlock<'a>, AdapterError> {
    let url = match image {
        Some(Value::Object(image)) => image.get("url"),
        other => other,
    };
    let Some(Value::String(url)) = url else {
        return Err(rejected("image_url needs a url"));
    };
    let source = if url.starts_with("data:") {
        let (media_type, data) = parse_data_url(url)?;
        // Anthropic accepts these four only; image/jpg is a common misspelling.
        let media_type = match media_type.as_str() {
            "image/jpg" | "image/jpeg" => Cow::Borrowed("image/jpeg"),
            "image/png" | "image/gif" | "image/webp" => Cow::Owned(media_type),
            _ => {
                return Err(rejected(format!(
                "unsupported image type '{media_type}': Anthropic accepts jpeg, png, gif and webp"
            )))
            }
        };
        ImageSource::Base64(Base64Source {
            media_type,
            data: Cow::Borrowed(data),
        })
    } else if has_prefix(url, "https://") || has_prefix(url, "http://") {
        ImageSource::Url(UrlSource {
            url: Cow::Borrowed(url),
        })
    } else {
        return Err(rejected(
            "image_url must be an http(s) URL or a base64 data URL",
        ));
    };
    Ok(ContentBlock::Image(ImageBlock {
        source,
        cache_control: cache,
    }))
}

/// `text` starts with `prefix`, ASCII case ignored.
fn has_prefix(text: &str, prefix: &str) -> bool {
    text.as_bytes()
        .get(..prefix.len())
        .is_some_and(|start| start.eq_ignore_ascii_case(prefix.as_bytes()))
}

/// `file` part → a PDF document block (the only file type mapped).
fn document_block<'a>(
    file: Option<&'a Value>,
    cache: Option<Cow<'a, Value>>,
) -> Result<ContentBlock<'a>, AdapterError> {
    let data = match file.and_then(|f| f.get("file_data")) {
        Some(Value::String(data)) if data.starts_with("data:") => data,
        _ => {
            return Err(rejected(
                "file parts need file_data as a base64 data URL (file ids are not supported)",
            ))
        }
    };
    let (media_type, data) = parse_data_url(data)?;
    if media_type != "application/pdf" {
        return Err(rejected(format!(
            "unsupported file type '{media_type}': only PDF files are passed to Anthropic"
        )));
    }
    Ok(ContentBlock::Document(DocumentBlock {
        source: DocumentSource::Base64(Base64Source {
            media_type: Cow::Borrowed("application/pdf"),
            data: Cow::Borrowed(data),
        }),
        title: None,
        cache_control: cache,
    }))
}

/// `data:image/png;base64,AAAA` → (`image/png`, `AAAA`); `url` starts with
/// `data:`. The media type is lowercased.
fn parse_data_url(url: &str) -> Result<(String, &str), AdapterError> {
    let (header, data) = url
        .strip_prefix("data:")
        .and_then(|rest| rest.split_once(','))
        .ok_or_else(|| rejected("malformed data URL"))?;
    let header = header.to_lowercase();
    let Some(media_type) = header.strip_suffix(";base64") else {
        return Err(rejected("data URLs must be base64-encoded"));
    };
    let media_type = media_type.split(';').next().unwrap_or_default();
    Ok((media_type.to_string(), data))
}

/// An assistant message → its text block(s) first, then one tool_use per
/// call.
fn assistant_blocks(msg: &Map<String, Value>) -> Result<Vec<ContentBlock<'_>>, AdapterError> {
    let mut blocks = Vec::new();
    match msg.get("content") {
        content @ Some(Value::String(_)) => blocks = as_content(text_blocks(content, "assistant")?),
        Some(Value::Array(parts)) => {
            for part in parts {
                let part = object_part(part, "assistant")?;
                // A refusal part is the assistant's text too.
                let text = match &*part_kind(part) {
                    "text" => part_text(part, "text")?,
                    "refusal" => part_text(part, "refusal")?,
                    kind => {
                        return Err(rejected(format!(
                            "unsupported assistant content part '{kind}'"
                        )))
                    }
                };
                if !text.is_empty() {
                    blocks.push(ContentBlock::Text(text_block(text, None)));
                }
            }
        }
        _ => {}
    }
    match msg.get("tool_calls") {
        None | Some(Value::Null) => {}
        Some(Value::Array(calls)) => {
            for call in calls {
                blocks.push(tool_use_block(call)?);
            }
        }
        Some(_) => return Err(rejected("tool_calls must be an array")),
    }
    Ok(blocks)
}

/// A hub tool call → a tool_use block.
fn tool_use_block(call: &Value) -> Result<ContentBlock<'_>, AdapterError> {
    let kind = call.get("type").unwrap_or(&Value::Null);
    if !kind.is_null() && kind != "function" {
        return Err(rejected(format!(
            "tool calls of type '{}' are not supported by Anthropic",
            shown(kind)
        )));
    }
    let function = call.get("function");
    let id = call.get("id").and_then(Value::as_str);
    let name = function.and_then(|f| f.get("name")).and_then(Value::as_str);
    let (Some(id), Some(name)) = (id, name) else {
        return Err(rejected(
            "every assistant tool call needs an id and a function name",
        ));
    };
    let input = tool_input(function.and_then(|f| f.get("arguments")), name)?;
    Ok(ContentBlock::ToolUse(ToolUseBlock {
        id: Cow::Borrowed(id),
        name: Cow::Borrowed(name),
        input,
        cache_control: None,
    }))
}

/// A `tool` message → a tool_result block. Content that is neither text
/// nor text parts is passed as its JSON text.
fn tool_result_block(msg: &Map<String, Value>) -> Result<ContentBlock<'_>, AdapterError> {
    let Some(Value::String(id)) = msg.get("tool_call_id") else {
        return Err(rejected("tool messages need a tool_call_id"));
    };
    let content = match msg.get("content") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(Content::Text(Cow::Borrowed(s))),
        content @ Some(Value::Array(_)) => {
            let blocks = text_blocks(content, "tool")?;
            (!blocks.is_empty()).then(|| Content::Blocks(as_content(blocks)))
        }
        Some(other) => Some(Content::Text(Cow::Owned(other.to_string()))),
    };
    Ok(ContentBlock::ToolResult(ToolResultBlock {
        tool_use_id: Cow::Borrowed(id),
        content,
        is_error: None,
        cache_control: None,
    }))
}
