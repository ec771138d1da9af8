//! Input items (the chain's history, then the request's own input) → hub
//! chat messages, as OpenAI's chat API takes them:
//!
//! - `message` → a message of its role (`developer` → `system`); parts
//!   `input_text`/`output_text`/`refusal` → text, `input_image` → `image_url`,
//!   `input_file` → `file`. All-text assistant content, and a single text
//!   part, become a plain string.
//! - `function_call` → a `tool_calls` entry of an assistant message; calls
//!   right after an assistant message (or each other) join it.
//! - `custom_tool_call` → the same, with `{"input": …}` as its arguments
//!   (its tool is a function of one string to a chat provider).
//! - `function_call_output` and `custom_tool_call_output` → a `tool`
//!   message; image and file parts of an output (which a tool message
//!   cannot carry) follow the tool messages as one user message.
//! - `reasoning` → dropped; any other type → a 400.

use serde_json::{json, Map, Value};

use super::{custom, field, invalid, missing, wrong_type};
use crate::error::GatewayError;

/// Where an item comes from, for the `param` of a 400.
#[derive(Debug, Clone, Copy)]
pub(super) enum Origin {
    /// The items of the previous responses (`previous_response_id`).
    History,
    /// `input[i]` of this request.
    Input(usize),
}

impl Origin {
    fn path(self) -> String {
        match self {
            Self::History => "item".to_string(),
            Self::Input(i) => format!("input[{i}]"),
        }
    }

    /// An error about an earlier response's item names `previous_response_id`.
    fn locate(self, err: GatewayError) -> GatewayError {
        match (self, err) {
            (Self::History, GatewayError::BadRequest { message, .. }) => invalid(
                "previous_response_id",
                format!(
                    "An item of the previous responses cannot be sent to this model: {message}"
                ),
            ),
            (_, err) => err,
        }
    }
}

/// The `id` prefix OpenAI uses for items of this type.
pub(super) fn item_id_prefix(kind: &str) -> &'static str {
    match kind {
        "message" => "msg",
        "function_call" => "fc",
        "function_call_output" => "fco",
        "reasoning" => "rs",
        "custom_tool_call" => "ctc",
        "custom_tool_call_output" => "ctco",
        _ => "item",
    }
}

/// The hub messages being built.
#[derive(Debug, Default)]
pub(super) struct Messages {
    out: Vec<Value>,
    /// Image and file parts of tool outputs, sent as a user message after
    /// the tool messages.
    deferred: Vec<Value>,
}

impl Messages {
    /// The `instructions` as the first (system) message.
    pub(super) fn system(&mut self, text: &str) {
        self.out.push(json!({ "role": "system", "content": text }));
    }

    /// One input item. Fails with a 400 for an item a chat provider cannot
    /// take, or one missing a field its mapping needs.
    pub(super) fn push(&mut self, item: &Value, origin: Origin) -> Result<(), GatewayError> {
        let kind = match item.get("type").and_then(Value::as_str) {
            Some(kind) => kind,
            None if item.get("role").is_some() => "message",
            None => "item_reference",
        };
        if !matches!(kind, "function_call_output" | "custom_tool_call_output") {
            self.flush();
        }
        let path = origin.path();
        let done = match kind {
            "message" => self.message(item, &path),
            "function_call" => self.function_call(item, &path, false),
            "custom_tool_call" => self.function_call(item, &path, true),
            "function_call_output" | "custom_tool_call_output" => self.tool_output(item, &path),
            "reasoning" => Ok(()),
            other => Err(invalid(
                format!("{path}.type"),
                format!("Input items of type '{other}' are not supported by this gateway for models served without the Responses API."),
            )),
        };
        done.map_err(|err| origin.locate(err))
    }

    /// The messages, in order.
    pub(super) fn finish(mut self) -> Vec<Value> {
        self.flush();
        self.out
    }

    fn flush(&mut self) {
        if !self.deferred.is_empty() {
            let parts = std::mem::take(&mut self.deferred);
            self.out.push(json!({ "role": "user", "content": parts }));
        }
    }

    fn message(&mut self, item: &Value, path: &str) -> Result<(), GatewayError> {
        let role = match field(item, "role").and_then(Value::as_str) {
            Some("developer") => "system",
            Some(role) => role,
            None => return Err(missing(&format!("{path}.role"))),
        };
        let content = match field(item, "content") {
            Some(Value::String(text)) => Value::String(text.clone()),
            Some(Value::Array(parts)) => {
                let parts = parts
                    .iter()
                    .enumerate()
                    .map(|(j, part)| content_part(part, &format!("{path}.content[{j}]")))
                    .collect::<Result<Vec<_>, _>>()?;
                collapse(role, parts)
            }
            Some(other) => {
                return Err(wrong_type(
                    &format!("{path}.content"),
                    "a string or an array of content parts",
                    other,
                ))
            }
            None => return Err(missing(&format!("{path}.content"))),
        };
        self.out.push(json!({ "role": role, "content": content }));
        Ok(())
    }

    /// A function call, or a custom tool call (`custom`), whose `input`
    /// becomes the arguments `{"input": …}`.
    fn function_call(
        &mut self,
        item: &Value,
        path: &str,
        custom: bool,
    ) -> Result<(), GatewayError> {
        let text = |name: &str| match field(item, name) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(wrong_type(&format!("{path}.{name}"), "a string", other)),
            None => Err(missing(&format!("{path}.{name}"))),
        };
        let (id, name) = (text("call_id")?, text("name")?);
        let arguments = match custom {
            true => custom::arguments(&text("input")?),
            false => text("arguments")?,
        };
        let call = json!({
            "id": id, "type": "function",
            "function": { "name": name, "arguments": arguments },
        });
        let last = self
            .out
            .last_mut()
            .filter(|m| m.get("role").and_then(Value::as_str) == Some("assistant"))
            .and_then(Value::as_object_mut);
        match last {
            Some(message) => match message.get_mut("tool_calls") {
                Some(Value::Array(calls)) => calls.push(call),
                _ => {
                    message.insert("tool_calls".into(), json!([call]));
                }
            },
            None => self.out.push(json!({
                "role": "assistant", "content": null, "tool_calls": [call],
            })),
        }
        Ok(())
    }

    fn tool_output(&mut self, item: &Value, path: &str) -> Result<(), GatewayError> {
        let call_id = match field(item, "call_id") {
            Some(Value::String(id)) => id.clone(),
            Some(other) => return Err(wrong_type(&format!("{path}.call_id"), "a string", other)),
            None => return Err(missing(&format!("{path}.call_id"))),
        };
        let content = match field(item, "output") {
            Some(Value::String(text)) => text.clone(),
            Some(Value::Array(parts)) => {
                let mut text = String::new();
                for (j, part) in parts.iter().enumerate() {
                    match content_part(part, &format!("{path}.output[{j}]"))? {
                        Value::Object(p) if p.get("type") == Some(&json!("text")) => {
                            text.push_str(p.get("text").and_then(Value::as_str).unwrap_or_default())
                        }
                        other => self.deferred.push(other),
                    }
                }
                text
            }
            // Not in the API, but unambiguous: a JSON result as its text.
            Some(other) => other.to_string(),
            None => return Err(missing(&format!("{path}.output"))),
        };
        self.out.push(json!({
            "role": "tool", "tool_call_id": call_id, "content": content,
        }));
        Ok(())
    }
}

/// All-text content of an assistant message → one string (its parts are
/// pieces of one answer); a single text part → its string.
fn collapse(role: &str, parts: Vec<Value>) -> Value {
    let texts: Option<Vec<&str>> = parts
        .iter()
        .map(|p| match p.get("type").and_then(Value::as_str) {
            Some("text") => p.get("text").and_then(Value::as_str),
            _ => None,
        })
        .collect();
    match texts {
        Some(texts) if role == "assistant" || texts.len() == 1 => Value::String(texts.concat()),
        _ => Value::Array(parts),
    }
}

/// One content part → a hub content part. `path` is the part's own path
/// (`input[0].content[1]`).
fn content_part(part: &Value, path: &str) -> Result<Value, GatewayError> {
    let text_of = |name: &str| match field(part, name) {
        Some(Value::String(text)) => Ok(json!({ "type": "text", "text": text })),
        Some(other) => Err(wrong_type(&format!("{path}.{name}"), "a string", other)),
        None => Err(missing(&format!("{path}.{name}"))),
    };
    match part.get("type").and_then(Value::as_str) {
        Some("input_text" | "output_text" | "text") => text_of("text"),
        Some("refusal") => text_of("refusal"),
        Some("input_image") => image_part(part, path),
        Some("input_file") => file_part(part, path),
        Some(other) => Err(invalid(
            format!("{path}.type"),
            format!("Content parts of type '{other}' are not supported by this gateway for models served without the Responses API."),
        )),
        None => Err(missing(&format!("{path}.type"))),
    }
}

/// `input_image` → `image_url` (`detail` kept); a `file_id` needs OpenAI's
/// Files API.
fn image_part(part: &Value, path: &str) -> Result<Value, GatewayError> {
    let url = match (field(part, "image_url"), field(part, "file_id")) {
        (Some(Value::String(url)), _) => url.clone(),
        (Some(other), _) => return Err(wrong_type(&format!("{path}.image_url"), "a string", other)),
        (None, Some(_)) => {
            return Err(invalid(
                format!("{path}.file_id"),
                "Images by 'file_id' are not supported by this gateway for models served without the Responses API; send an 'image_url' (a URL or a data URL) instead.",
            ))
        }
        (None, None) => return Err(missing(&format!("{path}.image_url"))),
    };
    let mut image_url = Map::new();
    image_url.insert("url".into(), Value::String(url));
    if let Some(detail) = field(part, "detail") {
        image_url.insert("detail".into(), detail.clone());
    }
    Ok(json!({ "type": "image_url", "image_url": image_url }))
}

/// `input_file` → `file` with `file_data`, `filename`, `file_id`; a
/// `file_url` has no chat equivalent.
fn file_part(part: &Value, path: &str) -> Result<Value, GatewayError> {
    if field(part, "file_url").is_some() {
        return Err(invalid(
            format!("{path}.file_url"),
            "Files by 'file_url' are not supported by this gateway for models served without the Responses API; send 'file_data' instead.",
        ));
    }
    let mut file = Map::new();
    for name in ["file_data", "filename", "file_id"] {
        if let Some(value) = field(part, name) {
            file.insert(name.into(), value.clone());
        }
    }
    if !file.contains_key("file_data") && !file.contains_key("file_id") {
        return Err(missing(&format!("{path}.file_data")));
    }
    Ok(json!({ "type": "file", "file": file }))
}
