//! Checks of the `input` of a Responses request: a string, or items —
//! messages (easy `{role, content}` or `type: "message"`) whose parts suit
//! the role (`input_text`, `input_image`, `input_file`, `input_audio` from
//! the user, system and developer; `output_text` and `refusal` from the
//! assistant), `function_call`s, and `function_call_output`s whose
//! `call_id` a `function_call` before them made.

use serde_json::Value;

use crate::params::{Invalid, Obj};
use crate::reply::content_chars;

const ROLES: &[&str] = &["user", "assistant", "system", "developer"];
const INPUT_PARTS: &[&str] = &["input_text", "input_image", "input_audio", "input_file"];
const OUTPUT_PARTS: &[&str] = &["output_text", "refusal"];
/// Input item types besides messages and function calls, accepted as is.
const OTHER_ITEMS: &[&str] = &[
    "reasoning",
    "item_reference",
    "custom_tool_call",
    "custom_tool_call_output",
    "web_search_call",
    "file_search_call",
    "computer_call",
    "computer_call_output",
    "image_generation_call",
    "code_interpreter_call",
    "local_shell_call",
    "local_shell_call_output",
    "mcp_call",
    "mcp_list_tools",
    "mcp_approval_request",
    "mcp_approval_response",
    "compaction",
];

/// What the input adds up to.
#[derive(Debug, Default)]
pub(super) struct Input {
    pub chars: usize,
    pub ends_with_tool_output: bool,
}

pub(super) fn input(top: &Obj) -> Result<Input, Invalid> {
    let items = match top.get("input") {
        None if top.get("prompt").is_some() => return Ok(Input::default()),
        None => return Err(Invalid::missing("input")),
        Some(Value::String(text)) => {
            return Ok(Input {
                chars: text.chars().count(),
                ends_with_tool_output: false,
            })
        }
        Some(Value::Array(items)) => items,
        Some(other) => return Err(Invalid::wrong_type("input", "a string or an array", other)),
    };
    let mut calls: Vec<&str> = Vec::new();
    let mut total = Input::default();
    for (i, item) in items.iter().enumerate() {
        let path = format!("input[{i}]");
        let Value::Object(map) = item else {
            return Err(Invalid::wrong_type(&path, "an object", item));
        };
        let item = Obj::new(map, &path);
        let kind = item_type(&item)?;
        total.chars += match kind {
            "message" => message(&item)?,
            "function_call" => {
                calls.push(item.required_str("call_id")?);
                item.required_str("name")?;
                item.str("arguments")?
                    .ok_or_else(|| Invalid::missing(&item.param("arguments")))?;
                0
            }
            "function_call_output" => function_call_output(&item, &calls)?,
            _ => 0,
        };
        total.ends_with_tool_output = kind == "function_call_output";
    }
    Ok(total)
}

/// The item's `type`; a `role` without a type is an easy message.
fn item_type<'a>(item: &Obj<'a>) -> Result<&'a str, Invalid> {
    let kind = match item.str("type")? {
        None if item.get("role").is_some() => "message",
        None => return Err(Invalid::missing(&item.param("type"))),
        Some(kind) => kind,
    };
    let known = ["message", "function_call", "function_call_output"];
    if known.contains(&kind) || OTHER_ITEMS.contains(&kind) {
        return Ok(kind);
    }
    let mut supported = known.to_vec();
    supported.extend_from_slice(OTHER_ITEMS);
    Err(Invalid::value(&item.param("type"), kind, &supported))
}

/// Checks a message; returns its characters of text.
fn message(item: &Obj) -> Result<usize, Invalid> {
    let role = item
        .choice("role", ROLES)?
        .ok_or_else(|| Invalid::missing(&item.param("role")))?;
    let parts = match item.get("content") {
        None => return Err(Invalid::missing(&item.param("content"))),
        Some(content @ Value::String(_)) => return Ok(content_chars(content)),
        Some(Value::Array(parts)) => parts,
        Some(other) => {
            let param = item.param("content");
            return Err(Invalid::wrong_type(&param, "a string or an array", other));
        }
    };
    let allowed = if role == "assistant" {
        OUTPUT_PARTS
    } else {
        INPUT_PARTS
    };
    for (j, part) in parts.iter().enumerate() {
        let path = format!("{}.content[{j}]", item.path);
        let Value::Object(map) = part else {
            return Err(Invalid::wrong_type(&path, "an object", part));
        };
        content_part(&Obj::new(map, &path), allowed)?;
    }
    Ok(content_chars(&Value::Array(parts.clone())))
}

fn content_part(part: &Obj, allowed: &[&str]) -> Result<(), Invalid> {
    let kind = part
        .str("type")?
        .ok_or_else(|| Invalid::missing(&part.param("type")))?;
    if !allowed.contains(&kind) {
        return Err(Invalid::value(&part.path, kind, allowed));
    }
    match kind {
        "input_text" | "output_text" => {
            part.str("text")?
                .ok_or_else(|| Invalid::missing(&part.param("text")))?;
        }
        "input_image" => {
            let (url, file) = (part.str("image_url")?, part.str("file_id")?);
            if url.is_none() && file.is_none() {
                return Err(Invalid::missing(&part.param("image_url")));
            }
            part.choice("detail", &["auto", "low", "high", "original"])?;
        }
        _ => {}
    }
    Ok(())
}

/// Checks a tool result against the calls before it; returns its
/// characters of text.
fn function_call_output(item: &Obj, calls: &[&str]) -> Result<usize, Invalid> {
    let call_id = item.required_str("call_id")?;
    let output = item
        .get("output")
        .ok_or_else(|| Invalid::missing(&item.param("output")))?;
    if !calls.contains(&call_id) {
        let message =
            format!("No tool call found for function call output with call_id {call_id}.");
        return Err(Invalid::new(message, "input", "invalid_value"));
    }
    match output {
        Value::String(_) | Value::Array(_) => Ok(content_chars(output)),
        other => Err(Invalid::wrong_type(
            &item.param("output"),
            "a string or an array",
            other,
        )),
    }
}
