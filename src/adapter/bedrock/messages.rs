//! Hub `messages` → Converse `system` blocks and `messages` turns.
//!
//! System and developer messages are hoisted wherever they are; runs of
//! the same role (tool results count as `user`) merge into one turn, since
//! Converse wants the roles to alternate; a user turn's `toolResult` blocks
//! come first (right after the assistant turn that called the tools).
//! Empty texts are skipped (Converse refuses blank text blocks), and so is
//! a message left with no block. A conversation that starts with an
//! assistant turn is passed as it is (Converse answers for it), as the
//! Anthropic adapter does.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::request::{rejected, shown};
use super::wire::{
    ImageBlock, ImageSource, Message, RequestBlock, Role, SystemBlock, ToolResultBlock,
    ToolResultContent, ToolUseBlock,
};
use crate::adapter::hub::{object_part, part_kind, part_text, tool_input};
use crate::adapter::AdapterError;

/// `system` and `messages` of the Converse request.
pub(super) struct Converted<'a> {
    pub system: Vec<SystemBlock<'a>>,
    pub messages: Vec<Message<'a>>,
    /// Some turn holds a toolUse or toolResult block (then Converse wants
    /// a `toolConfig`).
    pub has_tool_blocks: bool,
}

/// Converts the hub's `messages`; refuses anything but an array of
/// messages with at least one user or assistant message with content.
pub(super) fn convert(messages: Option<&Value>) -> Result<Converted<'_>, AdapterError> {
    let Some(Value::Array(messages)) = messages else {
        return Err(rejected("messages must be an array"));
    };
    let mut system = Vec::new();
    let mut turns: Vec<Message> = Vec::new();
    for msg in messages {
        let Value::Object(msg) = msg else {
            return Err(rejected("every message must be an object"));
        };
        let (role, content) = match msg.get("role").and_then(Value::as_str) {
            Some(role @ ("system" | "developer")) => {
                let texts = texts(msg.get("content"), role)?;
                system.extend(texts.into_iter().map(SystemBlock::Text));
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
        match turns.last_mut() {
            Some(open) if open.role == role => open.content.extend(content),
            _ => turns.push(Message { role, content }),
        }
    }
    if turns.is_empty() {
        return Err(rejected(
            "the request has no user or assistant message with content",
        ));
    }
    let is_tool =
        |b: &RequestBlock| matches!(b, RequestBlock::ToolUse(_) | RequestBlock::ToolResult(_));
    let has_tool_blocks = turns.iter().any(|t| t.content.iter().any(is_tool));
    for turn in &mut turns {
        results_first(turn);
    }
    Ok(Converted {
        system,
        messages: turns,
        has_tool_blocks,
    })
}

/// A user turn's toolResult blocks go first, the order otherwise kept.
fn results_first(turn: &mut Message) {
    let is_result = |b: &RequestBlock| matches!(b, RequestBlock::ToolResult(_));
    if turn.role == Role::User && turn.content.iter().any(is_result) {
        let blocks = std::mem::take(&mut turn.content);
        let (mut results, others): (Vec<_>, Vec<_>) = blocks.into_iter().partition(is_result);
        results.extend(others);
        turn.content = results;
    }
}

/// Text content (a string or text parts) of a `role` message → its
/// non-empty texts.
fn texts<'a>(content: Option<&'a Value>, role: &str) -> Result<Vec<Cow<'a, str>>, AdapterError> {
    let parts = match content {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::String(s)) if s.is_empty() => return Ok(Vec::new()),
        Some(Value::String(s)) => return Ok(vec![Cow::Borrowed(s.as_str())]),
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
            out.push(Cow::Borrowed(text));
        }
    }
    Ok(out)
}

/// A user message's content (a string or parts) → content blocks.
fn user_blocks(content: Option<&Value>) -> Result<Vec<RequestBlock<'_>>, AdapterError> {
    let Some(Value::Array(parts)) = content else {
        let texts = texts(content, "user")?;
        return Ok(texts.into_iter().map(RequestBlock::Text).collect());
    };
    let mut blocks = Vec::with_capacity(parts.len());
    for part in parts {
        let part = object_part(part, "user")?;
        let block = match &*part_kind(part) {
            "text" => match part_text(part, "text")? {
                "" => continue,
                text => RequestBlock::Text(Cow::Borrowed(text)),
            },
            "image_url" => image_block(part.get("image_url"))?,
            "input_audio" => return Err(rejected("Bedrock Converse does not accept audio input")),
            kind => {
                return Err(rejected(format!(
                    "unsupported user content part '{kind}' for Bedrock"
                )))
            }
        };
        blocks.push(block);
    }
    Ok(blocks)
}

/// `image_url` (`{url, detail?}` or a bare URL), a base64 data URL → an
/// image block. Converse takes image bytes only.
fn image_block(image: Option<&Value>) -> Result<RequestBlock<'_>, AdapterError> {
    let url = match image {
        Some(Value::Object(image)) => image.get("url"),
        other => other,
    };
    let Some(Value::String(url)) = url else {
        return Err(rejected("image_url needs a url"));
    };
    let Some(rest) = url.strip_prefix("data:") else {
        return Err(rejected(
            "Bedrock takes images inline: send the image as a base64 data: URL, not a link",
        ));
    };
    let (header, data) = rest
        .split_once(',')
        .ok_or_else(|| rejected("malformed data URL"))?;
    let header = header.to_ascii_lowercase();
    let Some(media_type) = header.strip_suffix(";base64") else {
        return Err(rejected("data URLs must be base64-encoded"));
    };
    let format = match media_type.split(';').next().unwrap_or_default() {
        "image/png" => "png",
        "image/jpeg" | "image/jpg" => "jpeg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        other => {
            return Err(rejected(format!(
                "unsupported image type '{other}': Bedrock accepts png, jpeg, gif and webp"
            )))
        }
    };
    Ok(RequestBlock::Image(ImageBlock {
        format,
        source: ImageSource {
            bytes: Cow::Borrowed(data),
        },
    }))
}

/// An assistant message → its text block(s) first, then one toolUse per
/// call.
fn assistant_blocks(msg: &Map<String, Value>) -> Result<Vec<RequestBlock<'_>>, AdapterError> {
    let mut blocks = Vec::new();
    match msg.get("content") {
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
                    blocks.push(RequestBlock::Text(Cow::Borrowed(text)));
                }
            }
        }
        content => {
            let texts = texts(content, "assistant")?;
            blocks.extend(texts.into_iter().map(RequestBlock::Text));
        }
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

/// A hub tool call → a toolUse block.
fn tool_use_block(call: &Value) -> Result<RequestBlock<'_>, AdapterError> {
    let kind = call.get("type").unwrap_or(&Value::Null);
    if !kind.is_null() && kind != "function" {
        return Err(rejected(format!(
            "tool calls of type '{}' are not supported by Bedrock",
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
    Ok(RequestBlock::ToolUse(ToolUseBlock {
        tool_use_id: Cow::Borrowed(id),
        name: Cow::Borrowed(name),
        input,
    }))
}

/// A `tool` message → a toolResult block: its text (parts as several
/// blocks; other JSON as its text). Empty content is an empty list.
fn tool_result_block(msg: &Map<String, Value>) -> Result<RequestBlock<'_>, AdapterError> {
    let Some(Value::String(id)) = msg.get("tool_call_id") else {
        return Err(rejected("tool messages need a tool_call_id"));
    };
    let content = match msg.get("content") {
        content @ (None | Some(Value::Null | Value::String(_) | Value::Array(_))) => {
            texts(content, "tool")?
        }
        Some(other) => vec![Cow::Owned(other.to_string())],
    };
    Ok(RequestBlock::ToolResult(ToolResultBlock {
        tool_use_id: Cow::Borrowed(id),
        content: content.into_iter().map(ToolResultContent::Text).collect(),
    }))
}
