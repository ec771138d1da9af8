//! OpenAI `messages` -> Anthropic `system` blocks and `messages` turns, as
//! the script's `convert_messages` and the functions it calls.

use serde_json::{json, Map as JsonMap, Value};

use super::rhai_value::{display, empty_map, failed, is, items, norm, or, prop, reject};
use super::NativeError;

/// `convert_messages`'s `#{ system, messages }`.
pub(super) struct Converted {
    pub system: Vec<Value>,
    pub messages: Vec<Value>,
}

/// One turn being built: same-role messages merge into it.
struct Turn {
    role: &'static str,
    content: Vec<Value>,
}

/// System/developer messages are hoisted wherever they are; runs of the
/// same role (tool results count as `user`) are merged into one turn.
pub(super) fn convert_messages(messages: &Value) -> Result<Converted, NativeError> {
    let Value::Array(messages) = messages else {
        return Err(reject("messages must be an array"));
    };
    let mut system = Vec::new();
    let mut turns = Vec::new();
    let mut current: Option<Turn> = None;
    for msg in messages {
        let role = prop(msg, "role")?;
        if let Some(role @ ("system" | "developer")) = role.as_str() {
            system.extend(text_blocks(prop(msg, "content")?, role)?);
            continue;
        }
        let turn = convert_turn(msg, role)?;
        if turn.content.is_empty() {
            continue; // e.g. an assistant message with content "" and no tool calls
        }
        match &mut current {
            Some(c) if c.role == turn.role => c.content.extend(turn.content),
            _ => {
                if let Some(done) = current.replace(turn) {
                    turns.push(finish_turn(done));
                }
            }
        }
    }
    let Some(last) = current else {
        return Err(reject(
            "the request has no user or assistant message with content",
        ));
    };
    turns.push(finish_turn(last));
    Ok(Converted {
        system,
        messages: turns,
    })
}

/// One user, assistant or tool message -> a turn.
fn convert_turn(msg: &Value, role: &Value) -> Result<Turn, NativeError> {
    match role.as_str() {
        Some("user") => Ok(Turn {
            role: "user",
            content: user_blocks(prop(msg, "content")?)?,
        }),
        Some("assistant") => Ok(Turn {
            role: "assistant",
            content: assistant_blocks(msg)?,
        }),
        Some("tool") => Ok(Turn {
            role: "user",
            content: vec![tool_result_block(msg)?],
        }),
        _ => Err(reject(format!(
            "unsupported message role '{}'",
            display(role)?
        ))),
    }
}

/// A complete turn; tool_result blocks open their user turn.
fn finish_turn(turn: Turn) -> Value {
    let mut content = turn.content;
    if turn.role == "user" {
        let is_result = |b: &Value| b.get("type").and_then(Value::as_str) == Some("tool_result");
        if content.iter().any(is_result) {
            let (mut results, others): (Vec<Value>, Vec<Value>) =
                content.into_iter().partition(is_result);
            results.extend(others);
            content = results;
        }
    }
    json!({ "role": turn.role, "content": content })
}

/// Text content (a string or text parts) -> text blocks; empty texts are
/// skipped.
fn text_blocks(content: &Value, role: &str) -> Result<Vec<Value>, NativeError> {
    if let Value::String(s) = content {
        return Ok(if s.is_empty() {
            Vec::new()
        } else {
            vec![text_block(content)]
        });
    }
    let mut blocks = Vec::new();
    for part in items(content)? {
        let kind = prop(part, "type")?;
        if !is(kind, "text") {
            return Err(reject(format!(
                "{role} message content may only hold text parts, not '{}'",
                display(kind)?
            )));
        }
        let text = prop(part, "text")?;
        if !is(text, "") {
            blocks.push(with_cache_control(text_block(text), part)?);
        }
    }
    Ok(blocks)
}

fn text_block(text: &Value) -> Value {
    json!({ "type": "text", "text": norm(text) })
}

/// A user message's content (a string or parts) -> content blocks.
fn user_blocks(content: &Value) -> Result<Vec<Value>, NativeError> {
    let Value::Array(parts) = content else {
        return text_blocks(content, "user");
    };
    let mut blocks = Vec::new();
    for part in parts {
        let kind = prop(part, "type")?;
        let block = match kind.as_str() {
            Some("text") => {
                let text = prop(part, "text")?;
                (!is(text, "")).then(|| text_block(text))
            }
            Some("image_url") => Some(image_block(prop(part, "image_url")?)?),
            Some("file") => Some(document_block(prop(part, "file")?)?),
            Some("input_audio") => return Err(reject("Anthropic does not accept audio input")),
            _ => {
                return Err(reject(format!(
                    "unsupported user content part '{}'",
                    display(kind)?
                )))
            }
        };
        if let Some(block) = block {
            blocks.push(with_cache_control(block, part)?);
        }
    }
    Ok(blocks)
}

/// Copies a part's `cache_control` onto its block.
fn with_cache_control(mut block: Value, part: &Value) -> Result<Value, NativeError> {
    let cache_control = prop(part, "cache_control")?;
    if !cache_control.is_null() {
        if let Value::Object(m) = &mut block {
            m.insert("cache_control".into(), norm(cache_control));
        }
    }
    Ok(block)
}

/// `image_url` (`{url, detail?}` or a bare URL) -> an image block.
fn image_block(image: &Value) -> Result<Value, NativeError> {
    let url = if image.is_object() {
        prop(image, "url")?
    } else {
        image
    };
    let Value::String(url) = url else {
        return Err(reject("image_url needs a url"));
    };
    if url.starts_with("data:") {
        let (media_type, data) = parse_data_url(url)?;
        // Anthropic accepts these four only; image/jpg is a common misspelling.
        let media_type = if media_type == "image/jpg" {
            "image/jpeg"
        } else {
            media_type.as_str()
        };
        if !["image/jpeg", "image/png", "image/gif", "image/webp"].contains(&media_type) {
            return Err(reject(format!(
                "unsupported image type '{media_type}': Anthropic accepts jpeg, png, gif and webp"
            )));
        }
        return Ok(json!({
            "type": "image",
            "source": { "type": "base64", "media_type": media_type, "data": data },
        }));
    }
    // `url.sub_string(0, 8).to_lower()`: the first 8 characters.
    let scheme: String = url.chars().take(8).collect::<String>().to_lowercase();
    if scheme.starts_with("https://") || scheme.starts_with("http://") {
        return Ok(json!({ "type": "image", "source": { "type": "url", "url": url } }));
    }
    Err(reject(
        "image_url must be an http(s) URL or a base64 data URL",
    ))
}

/// `file` part -> a PDF document block.
fn document_block(file: &Value) -> Result<Value, NativeError> {
    let data = prop(or(file, empty_map()), "file_data")?;
    let data = match data {
        Value::String(s) if s.starts_with("data:") => s,
        _ => {
            return Err(reject(
                "file parts need file_data as a base64 data URL (file ids are not supported)",
            ))
        }
    };
    let (media_type, data) = parse_data_url(data)?;
    if media_type != "application/pdf" {
        return Err(reject(format!(
            "unsupported file type '{media_type}': only PDF files are passed to Anthropic"
        )));
    }
    Ok(json!({
        "type": "document",
        "source": { "type": "base64", "media_type": "application/pdf", "data": data },
    }))
}

/// "data:image/png;base64,AAAA" -> ("image/png", "AAAA"); `url` starts
/// with "data:".
fn parse_data_url(url: &str) -> Result<(String, &str), NativeError> {
    let comma = url.find(',').ok_or_else(|| reject("malformed data URL"))?;
    let header = url
        .get(5..comma)
        .ok_or_else(|| failed("data URL header"))?
        .to_lowercase();
    if !header.ends_with(";base64") {
        return Err(reject("data URLs must be base64-encoded"));
    }
    let media_type = header.split(';').next().unwrap_or_default().to_string();
    let data = url.get(comma + 1..).unwrap_or_default();
    Ok((media_type, data))
}

/// An assistant message -> its text block(s) first, then one tool_use per call.
fn assistant_blocks(msg: &Value) -> Result<Vec<Value>, NativeError> {
    let mut blocks = Vec::new();
    let content = prop(msg, "content")?;
    match content {
        Value::String(_) => blocks.extend(text_blocks(content, "assistant")?),
        Value::Array(parts) => {
            for part in parts {
                let kind = prop(part, "type")?;
                // A refusal part is the assistant's text too.
                let text = if is(kind, "refusal") {
                    prop(part, "refusal")?
                } else {
                    prop(part, "text")?
                };
                if !is(kind, "text") && !is(kind, "refusal") {
                    return Err(reject(format!(
                        "unsupported assistant content part '{}'",
                        display(kind)?
                    )));
                }
                if !is(text, "") {
                    blocks.push(text_block(text));
                }
            }
        }
        _ => {}
    }
    for tool_call in items(prop(msg, "tool_calls")?)? {
        blocks.push(tool_use_block(tool_call)?);
    }
    Ok(blocks)
}

/// An OpenAI tool call -> a tool_use block.
fn tool_use_block(tool_call: &Value) -> Result<Value, NativeError> {
    let kind = prop(tool_call, "type")?;
    if !kind.is_null() && !is(kind, "function") {
        return Err(reject(format!(
            "tool calls of type '{}' are not supported by Anthropic",
            display(kind)?
        )));
    }
    let f = or(prop(tool_call, "function")?, empty_map());
    let needs = "every assistant tool call needs an id and a function name";
    let Value::String(id) = prop(tool_call, "id")? else {
        return Err(reject(needs));
    };
    let Value::String(name) = prop(f, "name")? else {
        return Err(reject(needs));
    };
    let input = tool_input(prop(f, "arguments")?, name)?;
    Ok(json!({ "type": "tool_use", "id": id, "name": name, "input": input }))
}

/// Tool-call `arguments` (a JSON string) -> the tool_use `input` object.
fn tool_input(arguments: &Value, name: &str) -> Result<Value, NativeError> {
    let text = match arguments {
        Value::Object(_) => return Ok(norm(arguments)), // some clients send the object itself
        Value::Null => return Ok(Value::Object(JsonMap::new())),
        Value::String(s) => s.trim(),
        _ => {
            return Err(reject(format!(
                "arguments of tool call '{name}' must be a JSON string"
            )))
        }
    };
    if text.is_empty() {
        return Ok(Value::Object(JsonMap::new()));
    }
    match serde_json::from_str::<Value>(text) {
        Ok(input @ Value::Object(_)) => Ok(super::rhai_value::norm_owned(input)),
        Ok(_) => Err(reject(format!(
            "arguments of tool call '{name}' must be a JSON object"
        ))),
        Err(_) => Err(reject(format!(
            "arguments of tool call '{name}' are not valid JSON"
        ))),
    }
}

/// A `tool` message -> a tool_result block.
fn tool_result_block(msg: &Value) -> Result<Value, NativeError> {
    let Value::String(id) = prop(msg, "tool_call_id")? else {
        return Err(reject("tool messages need a tool_call_id"));
    };
    let mut block = JsonMap::new();
    block.insert("type".into(), Value::from("tool_result"));
    block.insert("tool_use_id".into(), Value::String(id.clone()));
    let content = prop(msg, "content")?;
    if content.is_array() {
        let blocks = text_blocks(content, "tool")?;
        if !blocks.is_empty() {
            block.insert("content".into(), Value::Array(blocks));
        }
    } else if !content.is_null() && !is(content, "") {
        block.insert("content".into(), Value::String(display(content)?));
    }
    Ok(Value::Object(block))
}
