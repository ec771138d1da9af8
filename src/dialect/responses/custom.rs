//! Custom (freeform) tools — `{"type":"custom","name","description","format"}`,
//! as Codex CLI sends its `apply_patch` tool — for chat providers, which
//! only know JSON function tools.
//!
//! A custom tool becomes a function tool taking one string, `input`, with
//! its format (a grammar) told in the description ([`function_tool`]); the
//! history's custom calls carry their input as `{"input": …}`
//! ([`arguments`]). On the way back, a call to one of the request's custom
//! tools ([`names`]) becomes a `custom_tool_call` item whose `input` is read
//! back out of the arguments ([`input`]).

use serde_json::{json, Map, Value};

use super::{field, missing, wrong_type};
use crate::error::GatewayError;

/// A custom tool `tools[i]` → a hub function tool with one required string
/// parameter, `input`. A grammar `format` is appended to the description so
/// the model sees it; a plain-text format adds nothing.
///
/// Fails with a 400 when `name` is missing or not a string.
pub(super) fn function_tool(tool: &Value, i: usize) -> Result<Value, GatewayError> {
    let name = match field(tool, "name") {
        Some(Value::String(name)) => name.clone(),
        Some(other) => return Err(wrong_type(&format!("tools[{i}].name"), "a string", other)),
        None => return Err(missing(&format!("tools[{i}].name"))),
    };
    let description = field(tool, "description").and_then(Value::as_str);
    let format = field(tool, "format").and_then(format_text);
    let description = match (description, format) {
        (Some(d), Some(f)) if !d.is_empty() => Some(format!("{d}\n\n{f}")),
        (Some(d), _) => Some(d.to_string()),
        (None, f) => f,
    };
    let mut function = Map::new();
    function.insert("name".into(), Value::String(name));
    if let Some(description) = description.filter(|d| !d.is_empty()) {
        function.insert("description".into(), Value::String(description));
    }
    function.insert(
        "parameters".into(),
        json!({
            "type": "object",
            "properties": {
                "input": { "type": "string", "description": "The tool's raw input." },
            },
            "required": ["input"],
            "additionalProperties": false,
        }),
    );
    Ok(json!({ "type": "function", "function": function }))
}

/// A custom tool's `format` for the model to read: a grammar with its
/// syntax and definition; `text` (unconstrained) is nothing to tell; an
/// unknown format is shown as its JSON.
fn format_text(format: &Value) -> Option<String> {
    match format.get("type").and_then(Value::as_str) {
        Some("text") => None,
        Some("grammar") => {
            let definition = field(format, "definition").and_then(Value::as_str)?;
            let syntax = field(format, "syntax").and_then(Value::as_str);
            Some(format!(
                "The input must match this {} grammar:\n{definition}",
                syntax.unwrap_or("formal")
            ))
        }
        _ => Some(format!("The input must follow this format: {format}")),
    }
}

/// The names of the custom tools of a create-response body (none when
/// `tools` is missing or malformed).
pub(super) fn names(request: &Value) -> Vec<String> {
    let tools = field(request, "tools").and_then(Value::as_array);
    tools
        .into_iter()
        .flatten()
        .filter(|t| t.get("type").and_then(Value::as_str) == Some("custom"))
        .filter_map(|t| t.get("name").and_then(Value::as_str))
        .map(str::to_string)
        .collect()
}

/// A custom call's `input` as hub function arguments: `{"input": …}` as
/// JSON text.
pub(super) fn arguments(input: &str) -> String {
    json!({ "input": input }).to_string()
}

/// The `input` of a custom call from its hub arguments: the string `input`
/// of an arguments object; anything else (not JSON, not an object, no
/// string `input`) is taken as the input text itself.
pub(super) fn input(arguments: &str) -> String {
    match serde_json::from_str::<Value>(arguments) {
        Ok(Value::Object(mut object)) => match object.remove("input") {
            Some(Value::String(input)) => input,
            _ => arguments.to_string(),
        },
        _ => arguments.to_string(),
    }
}
