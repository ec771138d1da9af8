//! A create-response body: checked and normalized by [`parse`], then turned
//! into the upstream body — a chat request ([`ResponsesRequest::to_hub`]) or
//! a stateless Responses request ([`ResponsesRequest::to_native`]).
//!
//! Top-level fields and tools are mapped here; input items (messages,
//! function calls and their outputs) in [`super::items`].

use serde_json::{json, Map, Value};

use super::custom;
use super::items::{item_id_prefix, Messages, Origin};
use super::response::new_id;
use super::{field, invalid, missing, wrong_type, wrong_value};
use crate::error::GatewayError;

/// The roles a message item may have.
const ROLES: [&str; 4] = ["assistant", "system", "developer", "user"];

/// Fields copied to the hub request under the same name, when present.
const SAME_NAME: [&str; 6] = [
    "temperature",
    "top_p",
    "user",
    "service_tier",
    "prompt_cache_key",
    "safety_identifier",
];

/// A checked create-response request.
#[derive(Debug, Clone)]
pub struct ResponsesRequest {
    pub model: String,
    pub stream: bool,
    /// `store` (OpenAI's default: true).
    pub store: bool,
    pub previous_response_id: Option<String>,
    /// The request's input as items: a string input becomes one user
    /// `message` item (with one `input_text` part); every item without an
    /// `id` gets one (`msg_…` for messages, as OpenAI's input_items listing
    /// shows them); messages get `"type":"message"` if they lacked it.
    pub input: Vec<Value>,
    /// The whole body as the client sent it (echoed fields are read from it).
    pub body: Value,
}

/// Checks a `POST /v1/responses` body and normalizes its input.
///
/// Fails with a 400 ([`GatewayError::BadRequest`], `param` = the field, in
/// OpenAI's words) when the body is not an object; `model` is missing, not a
/// string or empty; `input` is missing (allowed only with
/// `previous_response_id`) or neither a string nor an array; an item is not
/// an object, has no `type` (and no `role`), or is a message without a valid
/// `role` or `content`; `stream`, `store`, `instructions` or
/// `previous_response_id` has the wrong type; or the request asks for
/// `background: true` or a `conversation`, which this gateway does not serve.
/// Item types are not checked here: a native provider may take any of them.
pub fn parse(body: Value) -> Result<ResponsesRequest, GatewayError> {
    if !body.is_object() {
        return Err(GatewayError::bad_request(
            "The request body must be a JSON object",
        ));
    }
    let model = match body.get("model") {
        None | Some(Value::Null) => return Err(missing("model")),
        Some(Value::String(m)) if m.is_empty() => {
            return Err(invalid(
                "model",
                "Invalid 'model': empty string. Expected a string with minimum length 1, but got an empty string instead.",
            ))
        }
        Some(Value::String(m)) => m.clone(),
        Some(other) => return Err(wrong_type("model", "a string", other)),
    };
    let stream = optional_bool(&body, "stream")?.unwrap_or(false);
    let store = optional_bool(&body, "store")?.unwrap_or(true);
    let previous_response_id = optional_string(&body, "previous_response_id")?;
    optional_string(&body, "instructions")?;
    refuse_unserved(&body)?;
    let input = match field(&body, "input") {
        None if previous_response_id.is_some() => Vec::new(),
        None => return Err(missing("input")),
        Some(Value::String(text)) => vec![json!({
            "id": new_id("msg"), "type": "message", "role": "user",
            "content": [{ "type": "input_text", "text": text }],
        })],
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| input_item(i, item))
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(wrong_type(
                "input",
                "a string or an array of input items",
                other,
            ))
        }
    };
    Ok(ResponsesRequest {
        model,
        stream,
        store,
        previous_response_id,
        input,
        body,
    })
}

impl ResponsesRequest {
    /// The hub (chat completions) request for this request, with `history`
    /// (the input and output items of the previous responses in the chain,
    /// oldest first) before its own input. `instructions` of this request
    /// become the first (system) message; earlier requests' instructions are
    /// not carried over (OpenAI's rule).
    ///
    /// Fails with a 400 for what a chat provider cannot take: item types
    /// other than messages, function and custom tool calls, their outputs
    /// and reasoning (`param` `input[i].type`), image file ids, file URLs,
    /// built-in tools (`tools[i].type`), `allowed_tools` and hosted tool
    /// choices, and text formats other than text, json_object and
    /// json_schema. Without tools,
    /// `tool_choice` and `parallel_tool_calls` are left out (OpenAI's chat
    /// API refuses them alone).
    pub fn to_hub(&self, history: &[Value]) -> Result<Value, GatewayError> {
        let body = &self.body;
        let mut messages = Messages::default();
        let instructions = field(body, "instructions").and_then(Value::as_str);
        if let Some(instructions) = instructions.filter(|i| !i.is_empty()) {
            messages.system(instructions);
        }
        for item in history {
            messages.push(item, Origin::History)?;
        }
        for (i, item) in self.input.iter().enumerate() {
            messages.push(item, Origin::Input(i))?;
        }
        let mut out = Map::new();
        out.insert("model".into(), Value::String(self.model.clone()));
        out.insert("messages".into(), Value::Array(messages.finish()));
        for name in SAME_NAME {
            if let Some(value) = field(body, name) {
                out.insert(name.into(), value.clone());
            }
        }
        if let Some(max) = field(body, "max_output_tokens") {
            out.insert("max_tokens".into(), max.clone());
        }
        if let Some(effort) = body.pointer("/reasoning/effort").filter(|e| !e.is_null()) {
            out.insert("reasoning_effort".into(), effort.clone());
        }
        if let Some(format) = response_format(body)? {
            out.insert("response_format".into(), format);
        }
        let choice = field(body, "tool_choice").map(tool_choice).transpose()?;
        // OpenAI refuses `tool_choice` and `parallel_tool_calls` without
        // `tools`; Responses clients send them with `tools: []`.
        if let Some(tools) = tools(body)? {
            out.insert("tools".into(), tools);
            if let Some(choice) = choice {
                out.insert("tool_choice".into(), choice);
            }
            if let Some(parallel) = field(body, "parallel_tool_calls") {
                out.insert("parallel_tool_calls".into(), parallel.clone());
            }
        }
        if self.stream {
            out.insert("stream".into(), Value::Bool(true));
            out.insert("stream_options".into(), json!({ "include_usage": true }));
        }
        Ok(Value::Object(out))
    }

    /// The body for a provider that speaks the Responses API natively:
    /// `history` + `input` as the `input` array, `previous_response_id`
    /// removed, `store: false` (the gateway keeps the state), every other
    /// field as the client sent it. (`model` is set per attempt by the
    /// caller.)
    ///
    /// Item `id`s are left out (except on `item_reference`s, which are
    /// nothing else): with `store: false` the provider has none of these
    /// items stored and refuses ids it does not know. For the same reason
    /// `reasoning` items without `encrypted_content` (a chat provider's
    /// reasoning text, from an earlier turn served elsewhere) are left out:
    /// a stateless provider cannot take them.
    pub fn to_native(&self, history: &[Value]) -> Value {
        let mut out = self.body.as_object().cloned().unwrap_or_default();
        out.remove("previous_response_id");
        out.insert("store".into(), Value::Bool(false));
        let items = history.iter().chain(&self.input).filter(|i| replayable(i));
        let items = items.map(without_id).collect();
        out.insert("input".into(), Value::Array(items));
        Value::Object(out)
    }
}

/// One input item, checked: an object with a `type` (a `role` alone means a
/// message); messages get `type` and a checked `role` and `content`; every
/// item gets an `id` if it has none.
fn input_item(i: usize, item: &Value) -> Result<Value, GatewayError> {
    let path = format!("input[{i}]");
    let Value::Object(object) = item else {
        return Err(wrong_type(&path, "an object", item));
    };
    let mut object = object.clone();
    let kind = match object.get("type") {
        Some(Value::String(kind)) => kind.clone(),
        None | Some(Value::Null) if object.contains_key("role") => "message".to_string(),
        None | Some(Value::Null) if object.contains_key("id") => "item_reference".to_string(),
        None | Some(Value::Null) => return Err(missing(&format!("{path}.type"))),
        Some(other) => return Err(wrong_type(&format!("{path}.type"), "a string", other)),
    };
    if kind == "message" {
        object.insert("type".into(), Value::String(kind.clone()));
        check_message(&path, &object)?;
    }
    if !object.get("id").is_some_and(Value::is_string) {
        object.insert("id".into(), Value::String(new_id(item_id_prefix(&kind))));
    }
    Ok(Value::Object(object))
}

fn check_message(path: &str, message: &Map<String, Value>) -> Result<(), GatewayError> {
    let role_path = format!("{path}.role");
    match message.get("role") {
        None | Some(Value::Null) => return Err(missing(&role_path)),
        Some(Value::String(role)) if ROLES.contains(&role.as_str()) => {}
        Some(Value::String(role)) => return Err(wrong_value(&role_path, role, &ROLES)),
        Some(other) => return Err(wrong_type(&role_path, "a string", other)),
    }
    let content_path = format!("{path}.content");
    match message.get("content") {
        None | Some(Value::Null) => Err(missing(&content_path)),
        Some(Value::String(_)) => Ok(()),
        Some(Value::Array(parts)) => {
            for (j, part) in parts.iter().enumerate() {
                let part_path = format!("{content_path}[{j}]");
                if !part.is_object() {
                    return Err(wrong_type(&part_path, "an object", part));
                }
                if !part.get("type").is_some_and(Value::is_string) {
                    return Err(missing(&format!("{part_path}.type")));
                }
            }
            Ok(())
        }
        Some(other) => Err(wrong_type(
            &content_path,
            "a string or an array of content parts",
            other,
        )),
    }
}

/// `background: true` and `conversation` need server-side features this
/// gateway does not have.
fn refuse_unserved(body: &Value) -> Result<(), GatewayError> {
    if optional_bool(body, "background")? == Some(true) {
        return Err(invalid(
            "background",
            "Background mode ('background': true) is not supported by this gateway.",
        ));
    }
    if field(body, "conversation").is_some() {
        return Err(invalid(
            "conversation",
            "The Conversations API is not supported by this gateway; use 'previous_response_id' or send the whole input instead.",
        ));
    }
    Ok(())
}

fn optional_bool(body: &Value, name: &str) -> Result<Option<bool>, GatewayError> {
    match field(body, name) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(wrong_type(name, "a boolean", other)),
    }
}

fn optional_string(body: &Value, name: &str) -> Result<Option<String>, GatewayError> {
    match field(body, name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(wrong_type(name, "a string", other)),
    }
}

/// Whether a stateless Responses provider can take `item`.
fn replayable(item: &Value) -> bool {
    item.get("type").and_then(Value::as_str) != Some("reasoning")
        || field(item, "encrypted_content").is_some()
}

fn without_id(item: &Value) -> Value {
    let mut item = item.clone();
    let reference = item.get("type").and_then(Value::as_str) == Some("item_reference");
    if let (Some(object), false) = (item.as_object_mut(), reference) {
        object.remove("id");
    }
    item
}

/// `text.format` → `response_format`: `json_object` as is, `json_schema`
/// with its `name`, `schema`, `strict`, `description` under `json_schema`;
/// `text` (the default) → nothing.
fn response_format(body: &Value) -> Result<Option<Value>, GatewayError> {
    let Some(format) = body.pointer("/text/format").filter(|f| !f.is_null()) else {
        return Ok(None);
    };
    match format.get("type").and_then(Value::as_str) {
        Some("text") => Ok(None),
        Some("json_object") => Ok(Some(json!({ "type": "json_object" }))),
        Some("json_schema") => {
            let mut schema = Map::new();
            for name in ["name", "schema", "strict", "description"] {
                if let Some(value) = field(format, name) {
                    schema.insert(name.into(), value.clone());
                }
            }
            if !schema.contains_key("name") {
                return Err(missing("text.format.name"));
            }
            if !schema.contains_key("schema") {
                return Err(missing("text.format.schema"));
            }
            Ok(Some(
                json!({ "type": "json_schema", "json_schema": schema }),
            ))
        }
        Some(other) => Err(wrong_value(
            "text.format.type",
            other,
            &["text", "json_object", "json_schema"],
        )),
        None => Err(missing("text.format.type")),
    }
}

/// `tools` → hub function tools; custom (freeform) tools become function
/// tools taking one string (`super::custom`); other tool types run at
/// OpenAI and cannot be routed to a chat provider.
fn tools(body: &Value) -> Result<Option<Value>, GatewayError> {
    let tools = match field(body, "tools") {
        None => return Ok(None),
        Some(Value::Array(tools)) if tools.is_empty() => return Ok(None),
        Some(Value::Array(tools)) => tools,
        Some(other) => return Err(wrong_type("tools", "an array", other)),
    };
    let mut out = Vec::with_capacity(tools.len());
    for (i, tool) in tools.iter().enumerate() {
        match tool.get("type").and_then(Value::as_str) {
            Some("function") => {}
            Some("custom") => {
                out.push(custom::function_tool(tool, i)?);
                continue;
            }
            Some(kind) => {
                return Err(invalid(
                    format!("tools[{i}].type"),
                    format!("Tools of type '{kind}' are not supported by this gateway for models served without the Responses API; only 'function' and 'custom' tools are."),
                ))
            }
            None => return Err(missing(&format!("tools[{i}].type"))),
        }
        let mut function = Map::new();
        match field(tool, "name") {
            Some(name @ Value::String(_)) => function.insert("name".into(), name.clone()),
            _ => return Err(missing(&format!("tools[{i}].name"))),
        };
        for name in ["description", "parameters", "strict"] {
            if let Some(value) = field(tool, name) {
                function.insert(name.into(), value.clone());
            }
        }
        out.push(json!({ "type": "function", "function": function }));
    }
    Ok(Some(Value::Array(out)))
}

/// `tool_choice`: `none`/`auto`/`required` as is; `{type:"function", name}`
/// and `{type:"custom", name}` → `{type:"function", function:{name}}`;
/// anything else (allowed_tools, hosted tools, MCP) refused.
fn tool_choice(choice: &Value) -> Result<Value, GatewayError> {
    match choice {
        Value::String(mode) if ["none", "auto", "required"].contains(&mode.as_str()) => {
            Ok(choice.clone())
        }
        Value::String(mode) => Err(wrong_value(
            "tool_choice",
            mode,
            &["none", "auto", "required"],
        )),
        Value::Object(_) => match choice.get("type").and_then(Value::as_str) {
            Some("function" | "custom") => match field(choice, "name") {
                Some(name @ Value::String(_)) => {
                    Ok(json!({ "type": "function", "function": { "name": name } }))
                }
                _ => Err(missing("tool_choice.name")),
            },
            Some(kind) => Err(invalid(
                "tool_choice.type",
                format!("Tool choice of type '{kind}' is not supported by this gateway for models served without the Responses API."),
            )),
            None => Err(missing("tool_choice.type")),
        },
        other => Err(wrong_type("tool_choice", "a string or an object", other)),
    }
}
