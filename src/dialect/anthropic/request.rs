//! The top level of a Messages request → an OpenAI chat request: required
//! fields, sampling, tools and tool choice, streaming, structured output.
//! Messages and content blocks are in [`super::content`].
//!
//! The request is read as a [`MessagesRequest`]: a field of the wrong type
//! is a 400 naming it. Dropped on purpose (no hub equivalent): `top_k`,
//! `thinking`, `output_config.effort`, `service_tier`, `container`,
//! `mcp_servers`, `context_management`, the top-level `cache_control` and
//! any unknown field.

use std::borrow::Cow;

use serde_json::{json, Map, Value};

use super::content::{messages_to_hub, system_to_hub};
use super::{from_serde, invalid};
use crate::adapter::anthropic::wire::{
    MessagesRequest, OutputConfig, OutputFormat, Tool, ToolChoice,
};
use crate::error::GatewayError;

/// Translates an Anthropic Messages request into an OpenAI chat request.
///
/// Fails with a 400 ([`GatewayError::BadRequest`], `param` = the field) when
/// the body is not an object, `model`, `max_tokens` or `messages` is missing
/// or mistyped, a role is not `user`/`assistant`, a block cannot be mapped
/// (server tools, file ids, URL documents…), or a field has the wrong type.
pub fn request_to_hub(body: Value) -> Result<Value, GatewayError> {
    if !body.is_object() {
        return Err(GatewayError::bad_request(
            "The request body must be a JSON object",
        ));
    }
    let req: MessagesRequest = serde_path_to_error::deserialize(body).map_err(from_serde)?;
    if req.model.is_empty() {
        return Err(invalid("model", "String should have at least 1 character"));
    }
    if req.max_tokens < 1 {
        return Err(invalid(
            "max_tokens",
            "Input should be greater than or equal to 1",
        ));
    }
    let mut messages: Vec<Value> = system_to_hub(req.system)?.into_iter().collect();
    messages.extend(messages_to_hub(req.messages)?);

    let mut out = Map::new();
    out.insert("model".into(), Value::String(req.model.into_owned()));
    out.insert("messages".into(), Value::Array(messages));
    out.insert("max_tokens".into(), Value::from(req.max_tokens));
    for (field, value) in [("temperature", req.temperature), ("top_p", req.top_p)] {
        if let Some(value) = value {
            out.insert(field.into(), Value::Number(value));
        }
    }
    if let Some(stops) = req.stop_sequences.filter(|s| !s.is_empty()) {
        let stops = stops.into_iter().map(|s| Value::String(s.into_owned()));
        out.insert("stop".into(), Value::Array(stops.collect()));
    }
    tools(req.tools, req.tool_choice, &mut out)?;
    if let Some(user) = req.metadata.and_then(|m| m.user_id) {
        out.insert("user".into(), Value::String(user.into_owned()));
    }
    // Anthropic clients always get usage in `message_delta`.
    if let Some(stream) = req.stream {
        out.insert("stream".into(), Value::Bool(stream));
        if stream {
            out.insert("stream_options".into(), json!({ "include_usage": true }));
        }
    }
    if let Some(format) = response_format(req.output_config)? {
        out.insert("response_format".into(), format);
    }
    Ok(Value::Object(out))
}

/// `output_config.format` (json_schema) → `response_format` json_schema.
fn response_format(config: Option<OutputConfig>) -> Result<Option<Value>, GatewayError> {
    let schema = match config.and_then(|c| c.format) {
        None => return Ok(None),
        Some(OutputFormat::JsonSchema(format)) => format.schema.into_owned(),
        Some(OutputFormat::Unknown(_)) => {
            return Err(invalid(
                "output_config.format.type",
                "only 'json_schema' is supported",
            ))
        }
    };
    if !schema.is_object() {
        return Err(invalid("output_config.format.schema", "Field required"));
    }
    Ok(Some(json!({
        "type": "json_schema",
        "json_schema": { "name": "output", "schema": schema },
    })))
}

/// `tools` → function tools; `tool_choice` → `tool_choice` and
/// `parallel_tool_calls`. Without tools, the choice is dropped (OpenAI
/// refuses a `tool_choice` without `tools`).
fn tools(
    tools: Vec<Tool>,
    choice: Option<ToolChoice>,
    out: &mut Map<String, Value>,
) -> Result<(), GatewayError> {
    let tools = tools
        .into_iter()
        .enumerate()
        .map(|(i, tool)| function_tool(i, tool))
        .collect::<Result<Vec<_>, _>>()?;
    let choice = choice.map(tool_choice).transpose()?;
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
fn function_tool(i: usize, tool: Tool) -> Result<Value, GatewayError> {
    match tool.kind.as_deref() {
        None | Some("custom") => {}
        Some(kind) => {
            return Err(invalid(
                &format!("tools.{i}.type"),
                format!("tools of type '{kind}' (server tools) are not supported by this gateway"),
            ))
        }
    }
    let parameters = match tool.input_schema.map(Cow::into_owned) {
        Some(schema @ Value::Object(_)) => schema,
        _ => {
            return Err(invalid(
                &format!("tools.{i}.input_schema"),
                "Field required",
            ))
        }
    };
    let mut function = Map::new();
    function.insert("name".into(), Value::String(tool.name.into_owned()));
    if let Some(description) = tool.description {
        function.insert(
            "description".into(),
            Value::String(description.into_owned()),
        );
    }
    function.insert("parameters".into(), parameters);
    if let Some(strict) = tool.strict {
        function.insert("strict".into(), Value::Bool(strict));
    }
    Ok(json!({ "type": "function", "function": function }))
}

/// `tool_choice` → (hub `tool_choice`, parallel calls allowed).
fn tool_choice(choice: ToolChoice) -> Result<(Value, bool), GatewayError> {
    let disabled = |flag: Option<bool>| flag.unwrap_or(false);
    Ok(match choice {
        ToolChoice::Auto(o) => (json!("auto"), !disabled(o.disable_parallel_tool_use)),
        ToolChoice::Any(o) => (json!("required"), !disabled(o.disable_parallel_tool_use)),
        ToolChoice::None => (json!("none"), true),
        ToolChoice::Tool(named) => (
            json!({ "type": "function", "function": { "name": named.name } }),
            !disabled(named.disable_parallel_tool_use),
        ),
        ToolChoice::Unknown(_) => {
            return Err(invalid(
                "tool_choice.type",
                "Input should be 'auto', 'any', 'tool' or 'none'",
            ))
        }
    })
}
