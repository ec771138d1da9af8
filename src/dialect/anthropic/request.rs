//! The top level of a Messages request → an OpenAI chat request: required
//! fields, sampling, tools and tool choice, streaming, structured output.
//! Messages and content blocks are in [`super::content`].
//!
//! Dropped on purpose (no hub equivalent): `top_k`, `thinking`,
//! `output_config.effort`, `service_tier`, `container`, `mcp_servers`,
//! `context_management`, the top-level `cache_control` and any unknown field.

use serde_json::{json, Map, Value};

use super::content::{messages_to_hub, system_to_hub};
use super::invalid;
use crate::error::GatewayError;

/// Translates an Anthropic Messages request into an OpenAI chat request.
///
/// Fails with a 400 ([`GatewayError::BadRequest`], `param` = the field) when
/// the body is not an object, `model`, `max_tokens` or `messages` is missing
/// or mistyped, a role is not `user`/`assistant`, a block cannot be mapped
/// (server tools, file ids, URL documents…), or a field has the wrong type.
pub fn request_to_hub(body: Value) -> Result<Value, GatewayError> {
    let Value::Object(mut req) = body else {
        return Err(GatewayError::bad_request(
            "The request body must be a JSON object",
        ));
    };
    let model = required_model(&req)?;
    let max_tokens = required_max_tokens(&req)?;
    let messages = match req.remove("messages") {
        Some(Value::Array(messages)) => messages,
        None | Some(Value::Null) => return Err(invalid("messages", "Field required")),
        Some(_) => return Err(invalid("messages", "Input should be a valid list")),
    };
    let mut hub_messages: Vec<Value> = system_to_hub(req.remove("system"))?.into_iter().collect();
    hub_messages.extend(messages_to_hub(messages)?);

    let mut out = Map::new();
    out.insert("model".into(), model);
    out.insert("messages".into(), Value::Array(hub_messages));
    out.insert("max_tokens".into(), max_tokens);
    sampling(&req, &mut out)?;
    tools(&mut req, &mut out)?;
    user(&req, &mut out)?;
    stream(&req, &mut out)?;
    response_format(&mut req, &mut out)?;
    Ok(Value::Object(out))
}

fn required_model(req: &Map<String, Value>) -> Result<Value, GatewayError> {
    match req.get("model") {
        None | Some(Value::Null) => Err(invalid("model", "Field required")),
        Some(Value::String(m)) if !m.is_empty() => Ok(Value::String(m.clone())),
        Some(Value::String(_)) => Err(invalid("model", "String should have at least 1 character")),
        Some(_) => Err(invalid("model", "Input should be a valid string")),
    }
}

/// `max_tokens` is required by Anthropic (unlike OpenAI): an integer ≥ 1.
fn required_max_tokens(req: &Map<String, Value>) -> Result<Value, GatewayError> {
    match req.get("max_tokens") {
        None | Some(Value::Null) => Err(invalid("max_tokens", "Field required")),
        Some(Value::Number(n)) if n.as_u64().is_some_and(|n| n >= 1) => {
            Ok(Value::Number(n.clone()))
        }
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Err(invalid(
            "max_tokens",
            "Input should be greater than or equal to 1",
        )),
        Some(_) => Err(invalid("max_tokens", "Input should be a valid integer")),
    }
}

/// `temperature`, `top_p` (copied) and `stop_sequences` → `stop`.
fn sampling(req: &Map<String, Value>, out: &mut Map<String, Value>) -> Result<(), GatewayError> {
    for field in ["temperature", "top_p"] {
        match req.get(field) {
            None | Some(Value::Null) => {}
            Some(v @ Value::Number(_)) => {
                out.insert(field.into(), v.clone());
            }
            Some(_) => return Err(invalid(field, "Input should be a valid number")),
        }
    }
    match req.get("stop_sequences") {
        None | Some(Value::Null) => {}
        Some(Value::Array(stops)) if stops.iter().all(Value::is_string) => {
            if !stops.is_empty() {
                out.insert("stop".into(), Value::Array(stops.clone()));
            }
        }
        Some(_) => {
            return Err(invalid(
                "stop_sequences",
                "Input should be a list of strings",
            ))
        }
    }
    Ok(())
}

/// `metadata.user_id` → `user`.
fn user(req: &Map<String, Value>, out: &mut Map<String, Value>) -> Result<(), GatewayError> {
    match req.get("metadata").and_then(|m| m.get("user_id")) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(id)) => {
            out.insert("user".into(), Value::String(id.clone()));
            Ok(())
        }
        Some(_) => Err(invalid(
            "metadata.user_id",
            "Input should be a valid string",
        )),
    }
}

/// `stream` → `stream`, plus `stream_options.include_usage` when streaming:
/// Anthropic clients always get usage in `message_delta`.
fn stream(req: &Map<String, Value>, out: &mut Map<String, Value>) -> Result<(), GatewayError> {
    match req.get("stream") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(stream)) => {
            out.insert("stream".into(), Value::Bool(*stream));
            if *stream {
                out.insert("stream_options".into(), json!({ "include_usage": true }));
            }
        }
        Some(_) => return Err(invalid("stream", "Input should be a valid boolean")),
    }
    Ok(())
}

/// `output_config.format` (json_schema) → `response_format` json_schema.
fn response_format(
    req: &mut Map<String, Value>,
    out: &mut Map<String, Value>,
) -> Result<(), GatewayError> {
    let Some(mut format) = req
        .get_mut("output_config")
        .and_then(|c| c.get_mut("format"))
        .map(Value::take)
    else {
        return Ok(());
    };
    if format.is_null() {
        return Ok(());
    }
    match format.get("type").and_then(Value::as_str) {
        Some("json_schema") => {}
        _ => {
            return Err(invalid(
                "output_config.format.type",
                "only 'json_schema' is supported",
            ))
        }
    }
    let schema = match format.get_mut("schema").map(Value::take) {
        Some(schema @ Value::Object(_)) => schema,
        _ => return Err(invalid("output_config.format.schema", "Field required")),
    };
    out.insert(
        "response_format".into(),
        json!({ "type": "json_schema", "json_schema": { "name": "output", "schema": schema } }),
    );
    Ok(())
}

/// `tools` → function tools; `tool_choice` → `tool_choice` and
/// `parallel_tool_calls`. Without tools, the choice is dropped (OpenAI
/// refuses a `tool_choice` without `tools`).
fn tools(req: &mut Map<String, Value>, out: &mut Map<String, Value>) -> Result<(), GatewayError> {
    let tools = match req.remove("tools") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(tools)) => tools,
        Some(_) => return Err(invalid("tools", "Input should be a valid list")),
    };
    let tools = tools
        .into_iter()
        .enumerate()
        .map(|(i, tool)| function_tool(i, tool))
        .collect::<Result<Vec<_>, _>>()?;
    let choice = tool_choice(req.get("tool_choice"))?;
    if tools.is_empty() {
        return Ok(());
    }
    out.insert("tools".into(), Value::Array(tools));
    if let Some((choice, parallel)) = choice {
        out.insert("tool_choice".into(), choice);
        if !parallel {
            out.insert("parallel_tool_calls".into(), Value::Bool(false));
        }
    }
    Ok(())
}

/// One client tool → `{type:"function", function:{name, description?,
/// parameters, strict?}}`. Server tools (a versioned `type` such as
/// `web_search_20250305`) run at Anthropic and cannot be routed elsewhere.
fn function_tool(i: usize, tool: Value) -> Result<Value, GatewayError> {
    let Value::Object(mut tool) = tool else {
        return Err(invalid(
            &format!("tools.{i}"),
            "Input should be a valid dictionary",
        ));
    };
    match tool.get("type") {
        None | Some(Value::Null) => {}
        Some(Value::String(t)) if t == "custom" => {}
        Some(t) => {
            let t = t.as_str().unwrap_or("?");
            return Err(invalid(
                &format!("tools.{i}.type"),
                format!("tools of type '{t}' (server tools) are not supported by this gateway"),
            ));
        }
    }
    let name = match tool.remove("name") {
        Some(Value::String(name)) => name,
        _ => return Err(invalid(&format!("tools.{i}.name"), "Field required")),
    };
    let parameters = match tool.remove("input_schema") {
        Some(schema @ Value::Object(_)) => schema,
        _ => {
            return Err(invalid(
                &format!("tools.{i}.input_schema"),
                "Field required",
            ))
        }
    };
    let mut function = Map::new();
    function.insert("name".into(), Value::String(name));
    if let Some(description @ Value::String(_)) = tool.remove("description") {
        function.insert("description".into(), description);
    }
    function.insert("parameters".into(), parameters);
    if let Some(strict @ Value::Bool(_)) = tool.remove("strict") {
        function.insert("strict".into(), strict);
    }
    Ok(json!({ "type": "function", "function": function }))
}

/// `tool_choice` → (hub `tool_choice`, parallel calls allowed).
fn tool_choice(choice: Option<&Value>) -> Result<Option<(Value, bool)>, GatewayError> {
    let choice = match choice {
        None | Some(Value::Null) => return Ok(None),
        Some(choice @ Value::Object(_)) => choice,
        Some(_) => return Err(invalid("tool_choice", "Input should be a valid dictionary")),
    };
    let mapped = match choice.get("type").and_then(Value::as_str) {
        Some("auto") => json!("auto"),
        Some("any") => json!("required"),
        Some("none") => json!("none"),
        Some("tool") => match choice.get("name").and_then(Value::as_str) {
            Some(name) => json!({ "type": "function", "function": { "name": name } }),
            None => return Err(invalid("tool_choice.name", "Field required")),
        },
        _ => {
            return Err(invalid(
                "tool_choice.type",
                "Input should be 'auto', 'any', 'tool' or 'none'",
            ))
        }
    };
    let disable_parallel = choice
        .get("disable_parallel_tool_use")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Ok(Some((mapped, !disable_parallel)))
}
