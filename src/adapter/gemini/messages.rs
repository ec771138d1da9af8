//! OpenAI `messages` -> Gemini `contents` and `systemInstruction` parts.
//!
//! System and developer messages are hoisted into the system instruction;
//! runs of the same role (tool results count as `user`) merge into one
//! content, whose function responses come first, in the order of their
//! calls. Tool messages carry no function name: it is looked up from the
//! assistant tool call they answer.

use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::{Map, Value};

use super::hub::{array, get, shown};
use super::media::{audio_part, file_part, image_part};
use super::wire::{Content, FunctionCall, FunctionResponse, FunctionResult, Part};
use crate::adapter::AdapterError;

/// The converted conversation.
pub(super) struct Converted<'a> {
    /// Text parts of the system and developer messages.
    pub(super) system: Vec<Part<'a>>,
    pub(super) contents: Vec<Content<'a>>,
}

/// A content being assembled; `order` (a function response's call order)
/// only for functionResponse parts.
struct Turn<'a> {
    role: &'static str,
    parts: Vec<(Part<'a>, Option<usize>)>,
}

/// tool_call id -> (function name, order of the call among all calls).
type CallIndex<'a> = HashMap<&'a str, (&'a str, usize)>;

/// Converts `messages`; refuses (400) a conversation without a user or
/// assistant message with content, and any message it cannot express.
pub(super) fn convert_messages(messages: &Value) -> Result<Converted<'_>, AdapterError> {
    let Value::Array(messages) = messages else {
        return Err(AdapterError::rejected("messages must be an array"));
    };
    let calls = tool_call_index(messages);
    let mut system = Vec::new();
    let mut contents = Vec::new();
    let mut current: Option<Turn> = None;
    for msg in messages {
        if !msg.is_object() {
            return Err(AdapterError::rejected("every message must be an object"));
        }
        let role = get(msg, "role");
        if let Some(role @ ("system" | "developer")) = role.as_str() {
            system.extend(text_parts(get(msg, "content"), role)?);
            continue;
        }
        let turn = convert_message(msg, role, &calls)?;
        if turn.parts.is_empty() {
            continue;
        }
        match &mut current {
            Some(open) if open.role == turn.role => open.parts.extend(turn.parts),
            _ => {
                if let Some(done) = current.replace(turn) {
                    contents.push(finish(done));
                }
            }
        }
    }
    let Some(last) = current else {
        return Err(AdapterError::rejected(
            "the request has no user or assistant message with content",
        ));
    };
    contents.push(finish(last));
    Ok(Converted { system, contents })
}

/// Every assistant tool call's id -> its function name and order.
fn tool_call_index(messages: &[Value]) -> CallIndex<'_> {
    let mut index = HashMap::new();
    let mut order = 0;
    for msg in messages {
        if get(msg, "role").as_str() != Some("assistant") {
            continue;
        }
        let Value::Array(tool_calls) = get(msg, "tool_calls") else {
            continue;
        };
        for tool_call in tool_calls {
            let name = get(get(tool_call, "function"), "name");
            if let (Some(id), Some(name)) = (get(tool_call, "id").as_str(), name.as_str()) {
                index.insert(id, (name, order));
            }
            order += 1;
        }
    }
    index
}

/// One user, assistant or tool message -> a turn.
fn convert_message<'a>(
    msg: &'a Value,
    role: &Value,
    calls: &CallIndex<'a>,
) -> Result<Turn<'a>, AdapterError> {
    let plain = |parts: Vec<Part<'a>>| parts.into_iter().map(|p| (p, None)).collect();
    Ok(match role.as_str() {
        Some("user") => Turn {
            role: "user",
            parts: plain(user_parts(get(msg, "content"))?),
        },
        Some("assistant") => Turn {
            role: "model",
            parts: plain(model_parts(msg)?),
        },
        Some("tool") => {
            let (part, order) = function_response_part(msg, calls)?;
            Turn {
                role: "user",
                parts: vec![(part, Some(order))],
            }
        }
        _ => {
            return Err(AdapterError::rejected(format!(
                "unsupported message role '{}'",
                shown(role)
            )))
        }
    })
}

/// A finished turn as a content: in a user turn the function responses
/// first, in the order of their calls (stable among equals).
fn finish(turn: Turn) -> Content {
    let mut parts = turn.parts;
    if turn.role == "user" && parts.iter().any(|(_, order)| order.is_some()) {
        let (mut responses, others): (Vec<_>, Vec<_>) =
            parts.into_iter().partition(|(_, order)| order.is_some());
        responses.sort_by_key(|(_, order)| *order);
        responses.extend(others);
        parts = responses;
    }
    Content {
        role: Some(Cow::Borrowed(turn.role)),
        parts: parts.into_iter().map(|(part, _)| part).collect(),
    }
}

fn text_part(text: &str) -> Part<'_> {
    Part {
        text: Some(Cow::Borrowed(text)),
        ..Part::default()
    }
}

/// The text of a `{type: "text"}` (or refusal) part: empty texts are
/// skipped (Gemini refuses them).
fn part_text<'a>(part: &'a Value, key: &str) -> Result<Option<Part<'a>>, AdapterError> {
    match get(part, key) {
        Value::String(text) if !text.is_empty() => Ok(Some(text_part(text))),
        Value::String(_) | Value::Null => Ok(None),
        _ => Err(AdapterError::rejected(format!(
            "a content part's {key} must be a string"
        ))),
    }
}

/// Text content (a string or text parts) -> text parts.
fn text_parts<'a>(content: &'a Value, role: &str) -> Result<Vec<Part<'a>>, AdapterError> {
    let items = match content {
        Value::String(s) if s.is_empty() => return Ok(Vec::new()),
        Value::String(s) => return Ok(vec![text_part(s)]),
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        _ => {
            return Err(AdapterError::rejected(format!(
                "{role} message content must be a string or an array of parts"
            )))
        }
    };
    let mut parts = Vec::with_capacity(items.len());
    for part in items {
        let kind = get(part, "type");
        if kind.as_str() != Some("text") {
            return Err(AdapterError::rejected(format!(
                "{role} message content may only hold text parts, not '{}'",
                shown(kind)
            )));
        }
        parts.extend(part_text(part, "text")?);
    }
    Ok(parts)
}

/// A user message's content (a string or parts) -> Gemini parts.
fn user_parts(content: &Value) -> Result<Vec<Part<'_>>, AdapterError> {
    let Value::Array(items) = content else {
        return text_parts(content, "user");
    };
    let mut parts = Vec::with_capacity(items.len());
    for part in items {
        let kind = get(part, "type");
        let converted = match kind.as_str() {
            Some("text") => part_text(part, "text")?,
            Some("image_url") => Some(image_part(get(part, "image_url"))?),
            Some("input_audio") => Some(audio_part(get(part, "input_audio"))?),
            Some("file") => Some(file_part(get(part, "file"))?),
            _ => {
                return Err(AdapterError::rejected(format!(
                    "unsupported user content part '{}'",
                    shown(kind)
                )))
            }
        };
        parts.extend(converted);
    }
    Ok(parts)
}

/// An assistant message -> its text part(s) (a refusal is its text too),
/// then one functionCall per tool call. Content that is neither text nor
/// parts is ignored.
fn model_parts(msg: &Value) -> Result<Vec<Part<'_>>, AdapterError> {
    let mut parts = Vec::new();
    match get(msg, "content") {
        content @ Value::String(_) => parts.extend(text_parts(content, "assistant")?),
        Value::Array(items) => {
            for part in items {
                let kind = get(part, "type");
                let key = match kind.as_str() {
                    Some("text") => "text",
                    Some("refusal") => "refusal",
                    _ => {
                        return Err(AdapterError::rejected(format!(
                            "unsupported assistant content part '{}'",
                            shown(kind)
                        )))
                    }
                };
                parts.extend(part_text(part, key)?);
            }
        }
        _ => {}
    }
    for tool_call in array(get(msg, "tool_calls"), "tool_calls")? {
        parts.push(function_call_part(tool_call)?);
    }
    Ok(parts)
}

/// An OpenAI tool call -> a functionCall part, with Gemini's id and thought
/// signature when the call came from Gemini.
fn function_call_part(tool_call: &Value) -> Result<Part<'_>, AdapterError> {
    let kind = get(tool_call, "type");
    if !kind.is_null() && kind.as_str() != Some("function") {
        return Err(AdapterError::rejected(format!(
            "tool calls of type '{}' are not supported by Gemini",
            shown(kind)
        )));
    }
    let f = get(tool_call, "function");
    let Some(name) = get(f, "name").as_str() else {
        return Err(AdapterError::rejected(
            "every assistant tool call needs a function name",
        ));
    };
    let args = tool_args(get(f, "arguments"), name)?;
    let (id, signature) = split_call_id(get(tool_call, "id"));
    Ok(Part {
        function_call: Some(FunctionCall {
            id: id.map(Cow::Borrowed),
            name: Cow::Borrowed(name),
            args: Some(args),
        }),
        thought_signature: signature.map(Cow::Borrowed),
        ..Part::default()
    })
}

/// Tool-call `arguments` (a JSON string; some clients send the object)
/// -> functionCall `args`. Empty arguments are `{}`; invalid JSON is
/// refused rather than guessed.
fn tool_args<'a>(arguments: &'a Value, name: &str) -> Result<Cow<'a, Value>, AdapterError> {
    let empty = || Cow::Owned(Value::Object(Map::new()));
    let text = match arguments {
        Value::Object(_) => return Ok(Cow::Borrowed(arguments)),
        Value::Null => return Ok(empty()),
        Value::String(text) => text.trim(),
        _ => {
            return Err(AdapterError::rejected(format!(
                "arguments of tool call '{name}' must be a JSON string"
            )))
        }
    };
    if text.is_empty() {
        return Ok(empty());
    }
    match serde_json::from_str::<Value>(text) {
        Ok(args @ Value::Object(_)) => Ok(Cow::Owned(args)),
        Ok(_) => Err(AdapterError::rejected(format!(
            "arguments of tool call '{name}' must be a JSON object"
        ))),
        Err(_) => Err(AdapterError::rejected(format!(
            "arguments of tool call '{name}' are not valid JSON"
        ))),
    }
}

/// A `tool` message -> a functionResponse part named after its call, and
/// the call's order (orphans with a legacy `name` go last).
fn function_response_part<'a>(
    msg: &'a Value,
    calls: &CallIndex<'a>,
) -> Result<(Part<'a>, usize), AdapterError> {
    let id_value = get(msg, "tool_call_id");
    let Some(id) = id_value.as_str() else {
        return Err(AdapterError::rejected("tool messages need a tool_call_id"));
    };
    let call = calls.get(id);
    let name = match (call.map(|(name, _)| *name), get(msg, "name").as_str()) {
        (Some(name), _) | (None, Some(name)) => name,
        (None, None) => {
            return Err(AdapterError::rejected(format!(
                "tool message '{id}' answers no tool call of an earlier assistant message"
            )))
        }
    };
    let part = Part {
        function_response: Some(FunctionResponse {
            id: split_call_id(id_value).0.map(Cow::Borrowed),
            name: Cow::Borrowed(name),
            response: tool_response(get(msg, "content"))?,
        }),
        ..Part::default()
    };
    Ok((part, call.map_or(usize::MAX, |(_, order)| *order)))
}

/// A tool result -> functionResponse.response: the JSON object itself if
/// the content is one, else `{"output": text}`.
fn tool_response(content: &Value) -> Result<FunctionResult<'_>, AdapterError> {
    let text: Cow<str> = match content {
        Value::Array(items) => {
            let mut joined = String::new();
            for part in items {
                let kind = get(part, "type");
                if kind.as_str() != Some("text") {
                    return Err(AdapterError::rejected(format!(
                        "tool message content may only hold text parts, not '{}'",
                        shown(kind)
                    )));
                }
                joined.push_str(&shown(get(part, "text")));
            }
            Cow::Owned(joined)
        }
        other => shown(other),
    };
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') {
        if let Ok(parsed @ Value::Object(_)) = serde_json::from_str::<Value>(trimmed) {
            return Ok(FunctionResult::Object(Cow::Owned(parsed)));
        }
    }
    Ok(FunctionResult::Output(text))
}

/// An OpenAI tool-call id -> (Gemini's id, thought signature). Ids minted
/// here (`call_…`, or by another provider) are not Gemini's.
pub(super) fn split_call_id(id: &Value) -> (Option<&str>, Option<&str>) {
    let Some(id) = id.as_str() else {
        return (None, None);
    };
    let (native, signature) = match id.split_once(".ts.") {
        Some((native, signature)) => (native, Some(signature).filter(|s| !s.is_empty())),
        None => (id, None),
    };
    let native = Some(native).filter(|n| !n.is_empty() && !n.starts_with("call_"));
    (native, signature)
}
