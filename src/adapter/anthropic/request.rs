//! A hub (OpenAI chat) request → a Messages request body.
//!
//! Mapped: `messages` (see [`super::messages`]), `max_completion_tokens` /
//! `max_tokens` (else `options.max_tokens`, else 4096), `stop`,
//! `temperature` (clamped to Anthropic's 0–1), `top_p`, `safety_identifier`
//! / `user` → `metadata.user_id`, function `tools` (narrowed by an
//! `allowed_tools` choice), `tool_choice` + `parallel_tool_calls`,
//! `response_format` → `output_config.format`, `stream`.
//!
//! Refused with 400 (no Anthropic equivalent): `n > 1`, audio input, file
//! ids and non-PDF files, custom tools, malformed tool-call arguments,
//! images that are not jpeg/png/gif/webp, unknown response formats, and
//! fields of the wrong type. Dropped silently: `seed`, `logprobs`,
//! `top_logprobs`, `logit_bias`, the penalties, `stream_options`,
//! `reasoning_effort` and any other unknown field.

use std::borrow::Cow;

use serde_json::{json, Map, Number, Value};

use super::messages;
use super::wire::{
    JsonSchemaFormat, MessagesRequest, Metadata, NamedToolChoice, OutputConfig, OutputFormat,
    SystemPrompt, Tool, ToolChoice, ToolChoiceOptions,
};
pub(crate) use crate::adapter::hub::{allowed_tool_names, as_count, rejected, shown};
use crate::adapter::{AdapterError, Ctx};

/// `max_tokens` when neither the client nor the provider's options set it.
const DEFAULT_MAX_TOKENS: u64 = 4096;

/// The Messages request for hub request `body`, as JSON.
pub(super) fn request(body: &Value, ctx: &Ctx) -> Result<Value, AdapterError> {
    let request = build(body, ctx)?;
    serde_json::to_value(&request)
        .map_err(|e| AdapterError::failed("anthropic", "request", e.to_string()))
}

/// The Messages request, borrowing from `body` and `ctx`; checks in the
/// order of the fields, so that a request gets the first problem's refusal.
fn build<'a>(body: &'a Value, ctx: &'a Ctx) -> Result<MessagesRequest<'a>, AdapterError> {
    let Value::Object(body) = body else {
        return Err(rejected("the request body must be a JSON object"));
    };
    if body.get("n").and_then(Value::as_i64).is_some_and(|n| n > 1) {
        return Err(rejected(
            "Anthropic returns a single choice: n > 1 is not supported",
        ));
    }
    let converted = messages::convert(body.get("messages"))?;
    let model = match body.get("model") {
        None | Some(Value::Null) => Cow::Borrowed(ctx.model.as_str()),
        Some(Value::String(model)) => Cow::Borrowed(model.as_str()),
        Some(_) => return Err(rejected("model must be a string")),
    };
    let max_tokens = max_tokens(body, ctx)?;
    let stop_sequences = stop_sequences(body.get("stop"))?;
    let temperature = match body.get("temperature") {
        None | Some(Value::Null) => None,
        Some(Value::Number(t)) => Some(clamp_temperature(t)),
        Some(_) => return Err(rejected("temperature must be a number")),
    };
    let top_p = match body.get("top_p") {
        None | Some(Value::Null) => None,
        Some(Value::Number(p)) => Some(p.clone()),
        Some(_) => return Err(rejected("top_p must be a number")),
    };
    let metadata = user(body)?.map(|user_id| Metadata {
        user_id: Some(user_id),
    });
    let choice = body.get("tool_choice");
    let allowed = allowed_tool_names(choice)?;
    let tools = tools(body.get("tools"), allowed.as_deref())?;
    // A tool_choice without tools means nothing (and Anthropic may refuse it).
    let tool_choice = match tools.is_empty() {
        true => None,
        false => tool_choice(choice, body.get("parallel_tool_calls"))?,
    };
    let output_config = output_format(body.get("response_format"))?.map(|format| OutputConfig {
        format: Some(format),
        effort: None,
    });
    let system = (!converted.system.is_empty()).then_some(SystemPrompt::Blocks(converted.system));
    Ok(MessagesRequest {
        model,
        max_tokens,
        messages: converted.messages,
        system,
        stop_sequences,
        temperature,
        top_p,
        top_k: None,
        metadata,
        tools,
        tool_choice,
        thinking: None,
        output_config,
        stream: body.get("stream").and_then(Value::as_bool),
    })
}

/// `max_completion_tokens ?? max_tokens ?? options.max_tokens ?? 4096`. A
/// bad client value is refused; a bad option is the provider's
/// configuration failing.
fn max_tokens(body: &Map<String, Value>, ctx: &Ctx) -> Result<u64, AdapterError> {
    for field in ["max_completion_tokens", "max_tokens"] {
        match body.get(field) {
            None | Some(Value::Null) => {}
            Some(v) => {
                return as_count(v)
                    .ok_or_else(|| rejected(format!("{field} must be a non-negative integer")))
            }
        }
    }
    match ctx.options.get("max_tokens") {
        None | Some(Value::Null) => Ok(DEFAULT_MAX_TOKENS),
        Some(v) => as_count(v).ok_or_else(|| {
            AdapterError::failed(
                "anthropic",
                "request",
                "options.max_tokens must be a non-negative integer",
            )
        }),
    }
}

/// `stop` (a string or a list) → `stop_sequences` (a list, left out when
/// empty); any other type is ignored.
fn stop_sequences(stop: Option<&Value>) -> Result<Option<Vec<Cow<'_, str>>>, AdapterError> {
    match stop {
        Some(Value::String(s)) => Ok(Some(vec![Cow::Borrowed(s.as_str())])),
        Some(Value::Array(list)) if !list.is_empty() => list
            .iter()
            .map(|s| {
                s.as_str()
                    .map(Cow::Borrowed)
                    .ok_or_else(|| rejected("stop must be a string or a list of strings"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        _ => Ok(None),
    }
}

/// OpenAI allows temperature 0–2, Anthropic 0–1.
fn clamp_temperature(t: &Number) -> Number {
    let bound = match t.as_f64() {
        Some(x) if x > 1.0 => 1.0,
        Some(x) if x < 0.0 => 0.0,
        _ => return t.clone(),
    };
    Number::from_f64(bound).unwrap_or_else(|| t.clone())
}

/// `safety_identifier` (the newer name) or `user`, as text.
fn user(body: &Map<String, Value>) -> Result<Option<Cow<'_, str>>, AdapterError> {
    let user = match body.get("safety_identifier") {
        None | Some(Value::Null) => body.get("user"),
        id => id,
    };
    match user {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(user)) => Ok(Some(Cow::Borrowed(user.as_str()))),
        Some(user @ (Value::Number(_) | Value::Bool(_))) => Ok(Some(Cow::Owned(user.to_string()))),
        Some(_) => Err(rejected("user must be a string")),
    }
}

/// Hub `tools[].function` → Anthropic tools, keeping only `allowed` names
/// when that is given.
fn tools<'a>(
    tools: Option<&'a Value>,
    allowed: Option<&[&str]>,
) -> Result<Vec<Tool<'a>>, AdapterError> {
    let tools = match tools {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(tools)) => tools,
        Some(_) => return Err(rejected("tools must be an array")),
    };
    let mut out = Vec::with_capacity(tools.len());
    for tool in tools {
        let kind = tool.get("type").unwrap_or(&Value::Null);
        if !kind.is_null() && kind != "function" {
            return Err(rejected(format!(
                "tools of type '{}' are not supported by Anthropic",
                shown(kind)
            )));
        }
        let function = tool.get("function");
        let Some(name) = function.and_then(|f| f.get("name")).and_then(Value::as_str) else {
            return Err(rejected("every tool needs a function name"));
        };
        if allowed.is_some_and(|names| !names.contains(&name)) {
            continue;
        }
        let description = match function.and_then(|f| f.get("description")) {
            None | Some(Value::Null) => None,
            Some(Value::String(d)) => Some(Cow::Borrowed(d.as_str())),
            Some(_) => {
                return Err(rejected(format!(
                    "the description of tool '{name}' must be a string"
                )))
            }
        };
        out.push(Tool {
            name: Cow::Borrowed(name),
            description,
            input_schema: Some(input_schema(
                function.and_then(|f| f.get("parameters")),
                name,
            )?),
            kind: None,
            strict: None,
            cache_control: None,
        });
    }
    Ok(out)
}

/// Anthropic requires a JSON Schema object: no parameters is `{}`, and a
/// schema without a `type` gets `"type": "object"`.
fn input_schema<'a>(
    parameters: Option<&'a Value>,
    name: &str,
) -> Result<Cow<'a, Value>, AdapterError> {
    match parameters {
        None | Some(Value::Null) => Ok(Cow::Owned(json!({ "type": "object" }))),
        Some(schema @ Value::Object(fields)) => match fields.get("type") {
            None | Some(Value::Null) => {
                let mut fields = fields.clone();
                fields.insert("type".into(), Value::from("object"));
                Ok(Cow::Owned(Value::Object(fields)))
            }
            Some(_) => Ok(Cow::Borrowed(schema)),
        },
        Some(_) => Err(rejected(format!(
            "the parameters of tool '{name}' must be a JSON Schema object"
        ))),
    }
}

/// Hub `tool_choice` + `parallel_tool_calls` → Anthropic `tool_choice`.
fn tool_choice<'a>(
    choice: Option<&'a Value>,
    parallel: Option<&Value>,
) -> Result<Option<ToolChoice<'a>>, AdapterError> {
    let mut out = match choice {
        Some(Value::String(mode)) => Some(tool_choice_mode(mode)?),
        Some(Value::Object(choice)) => Some(tool_choice_object(choice)?),
        _ => None,
    };
    if parallel.is_some_and(|p| *p == Value::Bool(false)) {
        // `none` takes no disable_parallel_tool_use.
        match out.get_or_insert(ToolChoice::Auto(ToolChoiceOptions::default())) {
            ToolChoice::Auto(options) | ToolChoice::Any(options) => {
                options.disable_parallel_tool_use = Some(true);
            }
            ToolChoice::Tool(named) => named.disable_parallel_tool_use = Some(true),
            ToolChoice::None | ToolChoice::Unknown(_) => {}
        }
    }
    Ok(out)
}

fn tool_choice_mode(mode: &str) -> Result<ToolChoice<'static>, AdapterError> {
    match mode {
        "auto" => Ok(ToolChoice::Auto(ToolChoiceOptions::default())),
        "required" => Ok(ToolChoice::Any(ToolChoiceOptions::default())),
        "none" => Ok(ToolChoice::None),
        _ => Err(rejected(format!("unknown tool_choice '{mode}'"))),
    }
}

fn tool_choice_object(choice: &Map<String, Value>) -> Result<ToolChoice<'_>, AdapterError> {
    let kind = choice.get("type").unwrap_or(&Value::Null);
    match kind.as_str() {
        Some("function") => {
            let name = choice.get("function").and_then(|f| f.get("name"));
            let Some(Value::String(name)) = name else {
                return Err(rejected("tool_choice.function needs a name"));
            };
            Ok(ToolChoice::Tool(NamedToolChoice {
                name: Cow::Borrowed(name.as_str()),
                disable_parallel_tool_use: None,
            }))
        }
        // The tool list itself was already narrowed to the allowed tools.
        Some("allowed_tools") => {
            let mode = choice
                .get("allowed_tools")
                .and_then(|spec| spec.get("mode"));
            match mode {
                None | Some(Value::Null) => tool_choice_mode("auto"),
                Some(Value::String(mode)) => tool_choice_mode(mode),
                Some(other) => Err(rejected(format!("unknown tool_choice '{other}'"))),
            }
        }
        _ => Err(rejected(format!(
            "tool_choice of type '{}' is not supported by Anthropic",
            shown(kind)
        ))),
    }
}

/// `response_format` → `output_config.format`: json_schema keeps its
/// schema; json_object is JSON output with any object; text or none is
/// none. Never dropped silently: anything else is a 400.
fn output_format(format: Option<&Value>) -> Result<Option<OutputFormat<'_>>, AdapterError> {
    let format = match format {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(format)) => format,
        Some(_) => return Err(rejected("response_format must be an object")),
    };
    let kind = format.get("type").unwrap_or(&Value::Null);
    let schema = match kind.as_str() {
        Some("text") => return Ok(None),
        Some("json_object") => Cow::Owned(json!({ "type": "object" })),
        Some("json_schema") => {
            let schema = format
                .get("json_schema")
                .and_then(|spec| spec.get("schema"));
            match schema {
                None | Some(Value::Null) => {
                    return Err(rejected(
                        "response_format.json_schema.schema is required for Anthropic",
                    ))
                }
                Some(schema) => Cow::Borrowed(schema),
            }
        }
        _ => {
            return Err(rejected(format!(
                "response_format type '{}' is not supported by Anthropic",
                shown(kind)
            )))
        }
    };
    Ok(Some(OutputFormat::JsonSchema(JsonSchemaFormat { schema })))
}
