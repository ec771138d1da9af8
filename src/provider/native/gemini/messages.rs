//! OpenAI `messages` -> Gemini `contents` and `systemInstruction` parts
//! (`convert_messages` and what it calls in the script).

use std::collections::HashMap;

use serde_json::{json, Map as Object, Value};

use super::answer::{EMPTY_ARRAY, EMPTY_MAP};
use super::media::{audio_part, file_part, image_part};
use super::value::{reject, J};
use crate::provider::native::NativeError;

/// `#{ system, contents }`.
pub(super) struct Converted {
    pub(super) system: Vec<Value>,
    pub(super) contents: Vec<Value>,
}

/// One part of a content; `order` (the script's `_order`) only on
/// functionResponse parts.
struct Part {
    json: Value,
    order: Option<i64>,
}

struct Content {
    role: &'static str,
    parts: Vec<Part>,
}

/// tool_call id -> (function name, order of the call).
type CallIndex<'j> = HashMap<&'j str, (&'j str, i64)>;

/// System/developer messages hoisted; runs of the same role merged.
pub(super) fn convert_messages(messages: &J) -> Result<Converted, NativeError> {
    let J::Arr(messages) = messages else {
        return Err(reject("messages must be an array"));
    };
    let calls = tool_call_index(messages)?;
    let mut system = Vec::new();
    let mut contents = Vec::new();
    let mut current: Option<Content> = None;
    for msg in messages {
        let role = msg.prop("role")?;
        if role.is_str("system") || role.is_str("developer") {
            system.extend(text_parts(msg.prop("content")?, &role.display())?);
            continue;
        }
        let content = convert_message(msg, role, &calls)?;
        if content.parts.is_empty() {
            continue;
        }
        match &mut current {
            Some(c) if c.role == content.role => c.parts.extend(content.parts),
            _ => {
                if let Some(done) = current.replace(content) {
                    contents.push(finish_content(done));
                }
            }
        }
    }
    let Some(last) = current else {
        return Err(reject(
            "the request has no user or assistant message with content",
        ));
    };
    contents.push(finish_content(last));
    Ok(Converted { system, contents })
}

/// Every assistant tool call's id -> its function name and order.
fn tool_call_index<'j>(messages: &'j [J<'j>]) -> Result<CallIndex<'j>, NativeError> {
    let mut index = HashMap::new();
    let mut order = 0_i64;
    for msg in messages {
        if !msg.prop("role")?.is_str("assistant") {
            continue;
        }
        let J::Arr(tool_calls) = msg.prop("tool_calls")? else {
            continue;
        };
        for tool_call in tool_calls {
            let name = tool_call.prop("function")?.or(&EMPTY_MAP).prop("name")?;
            if let (J::Str(id), J::Str(name)) = (tool_call.prop("id")?, name) {
                index.insert(id.as_ref(), (name.as_ref(), order));
            }
            order += 1;
        }
    }
    Ok(index)
}

/// One user, assistant or tool message -> a content.
fn convert_message(msg: &J, role: &J, calls: &CallIndex) -> Result<Content, NativeError> {
    Ok(match role.as_str() {
        Some("user") => Content {
            role: "user",
            parts: plain(user_parts(msg.prop("content")?)?),
        },
        Some("assistant") => Content {
            role: "model",
            parts: plain(model_parts(msg)?),
        },
        Some("tool") => Content {
            role: "user",
            parts: vec![function_response_part(msg, calls)?],
        },
        _ => {
            return Err(reject(format!(
                "unsupported message role '{}'",
                role.display()
            )))
        }
    })
}

fn plain(parts: Vec<Value>) -> Vec<Part> {
    parts
        .into_iter()
        .map(|json| Part { json, order: None })
        .collect()
}

/// In a user content the function responses come first, in the order of
/// their calls.
fn finish_content(content: Content) -> Value {
    let mut parts = content.parts;
    if content.role == "user" && parts.iter().any(|p| p.order.is_some()) {
        let (mut responses, others): (Vec<Part>, Vec<Part>) =
            parts.into_iter().partition(|p| p.order.is_some());
        responses.sort_by_key(|p| p.order);
        responses.extend(others);
        parts = responses;
    }
    let parts: Vec<Value> = parts.into_iter().map(|p| p.json).collect();
    json!({"role": content.role, "parts": parts})
}

/// Text content (a string or text parts) -> text parts; empty texts skipped.
fn text_parts(content: &J, role: &str) -> Result<Vec<Value>, NativeError> {
    if let J::Str(s) = content {
        return Ok(if s.is_empty() {
            Vec::new()
        } else {
            vec![json!({"text": s})]
        });
    }
    let mut parts = Vec::new();
    for part in content.or(&EMPTY_ARRAY).items()? {
        let kind = part.prop("type")?;
        if !kind.is_str("text") {
            return Err(reject(format!(
                "{role} message content may only hold text parts, not '{}'",
                kind.display()
            )));
        }
        let text = part.prop("text")?;
        if !text.is_str("") {
            parts.push(json!({"text": text.to_value()}));
        }
    }
    Ok(parts)
}

/// A user message's content (a string or parts) -> Gemini parts.
fn user_parts(content: &J) -> Result<Vec<Value>, NativeError> {
    let J::Arr(items) = content else {
        return text_parts(content, "user");
    };
    let mut parts = Vec::new();
    for part in items {
        let kind = part.prop("type")?;
        let converted = match kind.as_str() {
            Some("text") => {
                let text = part.prop("text")?;
                if text.is_str("") {
                    continue;
                }
                json!({"text": text.to_value()})
            }
            Some("image_url") => image_part(part.prop("image_url")?)?,
            Some("input_audio") => audio_part(part.prop("input_audio")?)?,
            Some("file") => file_part(part.prop("file")?)?,
            _ => {
                return Err(reject(format!(
                    "unsupported user content part '{}'",
                    kind.display()
                )))
            }
        };
        parts.push(converted);
    }
    Ok(parts)
}

/// An assistant message -> its text part(s), then one functionCall per call.
fn model_parts(msg: &J) -> Result<Vec<Value>, NativeError> {
    let mut parts = Vec::new();
    match msg.prop("content")? {
        content @ J::Str(_) => parts.extend(text_parts(content, "assistant")?),
        J::Arr(items) => {
            for part in items {
                let kind = part.prop("type")?;
                if !kind.is_str("text") && !kind.is_str("refusal") {
                    return Err(reject(format!(
                        "unsupported assistant content part '{}'",
                        kind.display()
                    )));
                }
                let text = if kind.is_str("refusal") {
                    part.prop("refusal")?
                } else {
                    part.prop("text")?
                };
                if !text.is_str("") {
                    parts.push(json!({"text": text.to_value()}));
                }
            }
        }
        _ => {}
    }
    for tool_call in msg.prop("tool_calls")?.or(&EMPTY_ARRAY).items()? {
        parts.push(function_call_part(tool_call)?);
    }
    Ok(parts)
}

/// An OpenAI tool call -> a functionCall part.
fn function_call_part(tool_call: &J) -> Result<Value, NativeError> {
    let kind = tool_call.prop("type")?;
    if !kind.is_null() && !kind.is_str("function") {
        return Err(reject(format!(
            "tool calls of type '{}' are not supported by Gemini",
            kind.display()
        )));
    }
    let f = tool_call.prop("function")?.or(&EMPTY_MAP);
    let name = f.prop("name")?;
    let Some(name_text) = name.as_str() else {
        return Err(reject("every assistant tool call needs a function name"));
    };
    let mut call = Object::new();
    call.insert("name".into(), Value::String(name_text.to_string()));
    call.insert("args".into(), tool_args(f.prop("arguments")?, name_text)?);
    let (native, signature) = split_call_id(tool_call.prop("id")?);
    if let Some(native) = native {
        call.insert("id".into(), Value::String(native.to_string()));
    }
    let mut part = Object::new();
    part.insert("functionCall".into(), Value::Object(call));
    if let Some(signature) = signature {
        part.insert(
            "thoughtSignature".into(),
            Value::String(signature.to_string()),
        );
    }
    Ok(Value::Object(part))
}

/// Tool-call `arguments` (a JSON string) -> functionCall `args` (an object).
fn tool_args(arguments: &J, name: &str) -> Result<Value, NativeError> {
    let text = match arguments {
        J::Obj(_) => return Ok(arguments.to_value()),
        J::Null => return Ok(Value::Object(Object::new())),
        J::Str(text) => text.trim(),
        _ => {
            return Err(reject(format!(
                "arguments of tool call '{name}' must be a JSON string"
            )))
        }
    };
    if text.is_empty() {
        return Ok(Value::Object(Object::new()));
    }
    match serde_json::from_str::<J>(text) {
        Err(_) => Err(reject(format!(
            "arguments of tool call '{name}' are not valid JSON"
        ))),
        Ok(args @ J::Obj(_)) => Ok(args.to_value()),
        Ok(_) => Err(reject(format!(
            "arguments of tool call '{name}' must be a JSON object"
        ))),
    }
}

/// A `tool` message -> a functionResponse part named after its call.
fn function_response_part(msg: &J, calls: &CallIndex) -> Result<Part, NativeError> {
    let J::Str(id) = msg.prop("tool_call_id")? else {
        return Err(reject("tool messages need a tool_call_id"));
    };
    let call = calls.get(id.as_ref());
    let name = match call {
        Some((name, _)) => Value::String(name.to_string()),
        None => match msg.prop("name")? {
            J::Str(name) => Value::String(name.to_string()),
            _ => {
                return Err(reject(format!(
                    "tool message '{id}' answers no tool call of an earlier assistant message"
                )))
            }
        },
    };
    let mut response = Object::new();
    response.insert("name".into(), name);
    response.insert("response".into(), tool_response(msg.prop("content")?)?);
    if let (Some(native), _) = split_call_id(msg.prop("tool_call_id")?) {
        response.insert("id".into(), Value::String(native.to_string()));
    }
    Ok(Part {
        json: json!({"functionResponse": response}),
        order: Some(call.map_or(1_000_000_000, |(_, order)| *order)),
    })
}

/// A tool result -> functionResponse.response: the JSON object itself if
/// the content is one, else `{"output": text}`.
fn tool_response(content: &J) -> Result<Value, NativeError> {
    let text = match content {
        J::Arr(items) => {
            let mut joined = String::new();
            for part in items {
                let kind = part.prop("type")?;
                if !kind.is_str("text") {
                    return Err(reject(format!(
                        "tool message content may only hold text parts, not '{}'",
                        kind.display()
                    )));
                }
                joined.push_str(&part.prop("text")?.display());
            }
            joined
        }
        other => other.display(),
    };
    let trimmed = text.trim();
    if trimmed.starts_with('{') {
        if let Ok(parsed @ J::Obj(_)) = serde_json::from_str::<J>(trimmed) {
            return Ok(parsed.to_value());
        }
    }
    Ok(json!({"output": text}))
}

/// An OpenAI tool-call id -> (Gemini's id, thought signature).
fn split_call_id<'j>(id: &'j J) -> (Option<&'j str>, Option<&'j str>) {
    let J::Str(id) = id else {
        return (None, None);
    };
    let (native, signature) = match id.find(".ts.") {
        Some(at) => {
            let signature = id.get(at + 4..).filter(|s| !s.is_empty());
            (id.get(..at).unwrap_or(""), signature)
        }
        None => (id.as_ref(), None),
    };
    let native = Some(native).filter(|n| !n.is_empty() && !n.starts_with("call_"));
    (native, signature)
}
