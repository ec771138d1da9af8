//! A hub (OpenAI chat) request → a Converse request body.
//!
//! Mapped: `messages` (see [`super::messages`]);
//! `max_completion_tokens` / `max_tokens`, `temperature`, `top_p` and
//! `stop` → `inferenceConfig`; function `tools` (narrowed by an
//! `allowed_tools` choice) and `tool_choice` → `toolConfig` (`auto` →
//! `{auto:{}}`, `required` → `{any:{}}`, a named function → `{tool:{name}}`;
//! `none` leaves `toolChoice` out, and the whole `toolConfig` too unless
//! the history holds tool blocks, for which Converse requires it);
//! `response_format` → `outputConfig.textFormat` (the schema as JSON
//! text). For Anthropic models (an id containing `anthropic.claude`):
//! `reasoning_effort` low/medium/high → `additionalModelRequestFields.thinking`
//! with a budget of 1024/4096/16384 tokens (`maxTokens` must exceed it:
//! when unset or not above the budget it becomes budget + 1024), and
//! `top_k` → `additionalModelRequestFields.top_k`; other models ignore both.
//!
//! Refused with 400: `n > 1`, images by URL, audio and file parts, custom
//! tools, malformed tool-call arguments, unknown response formats and
//! fields of the wrong type. Dropped silently (no Converse equivalent):
//! `model` (it is in the path), `stream`, `stream_options`, `user`,
//! `seed`, `logprobs`, the penalties, `parallel_tool_calls` and any other
//! unknown field.

use std::borrow::Cow;

use serde_json::{json, Map, Value};

use super::messages;
use super::wire::request::{Empty, NamedTool};
use super::wire::{
    ConverseRequest, InferenceConfig, InputSchema, JsonSchemaDefinition, OutputConfig,
    OutputFormat, OutputStructure, Tool, ToolChoice, ToolConfig, ToolSpec,
};
pub(crate) use crate::adapter::hub::{allowed_tool_names, as_count, rejected, shown};
use crate::adapter::{AdapterError, Ctx};

/// The Converse request for hub request `body`, as JSON.
pub(super) fn request(body: &Value, ctx: &Ctx) -> Result<Value, AdapterError> {
    let request = build(body, ctx)?;
    serde_json::to_value(&request)
        .map_err(|e| AdapterError::failed(super::NAME, "request", e.to_string()))
}

/// The Converse request, borrowing from `body`; checks in the order of
/// the fields, so that a request gets the first problem's refusal.
fn build<'a>(body: &'a Value, ctx: &Ctx) -> Result<ConverseRequest<'a>, AdapterError> {
    let Value::Object(body) = body else {
        return Err(rejected("the request body must be a JSON object"));
    };
    if body.get("n").and_then(Value::as_i64).is_some_and(|n| n > 1) {
        return Err(rejected(
            "Bedrock returns a single choice: n > 1 is not supported",
        ));
    }
    let converted = messages::convert(body.get("messages"))?;
    let anthropic = ctx.model.contains("anthropic.claude");
    let mut inference = InferenceConfig {
        max_tokens: max_tokens(body)?,
        temperature: number(body, "temperature")?,
        top_p: number(body, "top_p")?,
        stop_sequences: stop_sequences(body.get("stop"))?,
    };
    let choice = body.get("tool_choice");
    let allowed = allowed_tool_names(choice)?;
    let tools = tools(body.get("tools"), allowed.as_deref())?;
    let tool_config = tool_config(tools, choice, converted.has_tool_blocks)?;
    let output_config = output_config(body.get("response_format"))?;
    let mut additional = Map::new();
    if anthropic {
        if let Some(budget) = thinking_budget(body.get("reasoning_effort"))? {
            additional.insert(
                "thinking".into(),
                json!({"type": "enabled", "budget_tokens": budget}),
            );
            if inference.max_tokens.is_none_or(|m| m <= budget) {
                inference.max_tokens = Some(budget + 1024);
            }
        }
        match body.get("top_k") {
            None | Some(Value::Null) => {}
            Some(k @ Value::Number(_)) => {
                additional.insert("top_k".into(), k.clone());
            }
            Some(_) => return Err(rejected("top_k must be a number")),
        }
    }
    Ok(ConverseRequest {
        messages: converted.messages,
        system: converted.system,
        inference_config: inference,
        tool_config,
        output_config,
        additional_model_request_fields: additional,
    })
}

/// `max_completion_tokens ?? max_tokens`, or none (Converse then uses the
/// model's default).
fn max_tokens(body: &Map<String, Value>) -> Result<Option<u64>, AdapterError> {
    for field in ["max_completion_tokens", "max_tokens"] {
        match body.get(field) {
            None | Some(Value::Null) => {}
            Some(v) => {
                return as_count(v)
                    .map(Some)
                    .ok_or_else(|| rejected(format!("{field} must be a non-negative integer")))
            }
        }
    }
    Ok(None)
}

/// A number field, passed as it is.
fn number(
    body: &Map<String, Value>,
    field: &str,
) -> Result<Option<serde_json::Number>, AdapterError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(Some(n.clone())),
        Some(_) => Err(rejected(format!("{field} must be a number"))),
    }
}

/// `stop` (a string or a list) → `stopSequences`; any other type is
/// ignored.
fn stop_sequences(stop: Option<&Value>) -> Result<Vec<Cow<'_, str>>, AdapterError> {
    match stop {
        Some(Value::String(s)) => Ok(vec![Cow::Borrowed(s.as_str())]),
        Some(Value::Array(list)) => list
            .iter()
            .map(|s| {
                s.as_str()
                    .map(Cow::Borrowed)
                    .ok_or_else(|| rejected("stop must be a string or a list of strings"))
            })
            .collect(),
        _ => Ok(Vec::new()),
    }
}

/// `reasoning_effort` → a thinking budget (low, medium, high); `none`,
/// `minimal` and unknown efforts mean no thinking.
fn thinking_budget(effort: Option<&Value>) -> Result<Option<u64>, AdapterError> {
    match effort {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(effort)) => Ok(match effort.as_str() {
            "low" => Some(1024),
            "medium" => Some(4096),
            "high" => Some(16384),
            _ => None,
        }),
        Some(_) => Err(rejected("reasoning_effort must be a string")),
    }
}

/// Hub `tools[].function` → Converse tool specs, keeping only `allowed`
/// names when that is given.
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
                "tools of type '{}' are not supported by Bedrock",
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
        let schema = match function.and_then(|f| f.get("parameters")) {
            None | Some(Value::Null) => Cow::Owned(json!({"type": "object"})),
            Some(schema @ Value::Object(_)) => Cow::Borrowed(schema),
            Some(_) => {
                return Err(rejected(format!(
                    "the parameters of tool '{name}' must be a JSON Schema object"
                )))
            }
        };
        out.push(Tool::ToolSpec(ToolSpec {
            name: Cow::Borrowed(name),
            description,
            input_schema: InputSchema::Json(schema),
        }));
    }
    Ok(out)
}

/// The `toolConfig`: none without tools; with `tool_choice: none`, the
/// tools without a choice when the history holds tool blocks, else none.
fn tool_config<'a>(
    tools: Vec<Tool<'a>>,
    choice: Option<&'a Value>,
    has_tool_blocks: bool,
) -> Result<Option<ToolConfig<'a>>, AdapterError> {
    if tools.is_empty() {
        return Ok(None);
    }
    let mode = match choice {
        None | Some(Value::Null) => None,
        Some(Value::String(mode)) => Some(mode.as_str()),
        Some(Value::Object(choice)) => match choice.get("type").and_then(Value::as_str) {
            Some("function") => {
                let name = choice.get("function").and_then(|f| f.get("name"));
                let Some(Value::String(name)) = name else {
                    return Err(rejected("tool_choice.function needs a name"));
                };
                let tool_choice = ToolChoice::Tool(NamedTool {
                    name: Cow::Borrowed(name.as_str()),
                });
                return Ok(Some(ToolConfig {
                    tools,
                    tool_choice: Some(tool_choice),
                }));
            }
            // The tool list itself was already narrowed to the allowed tools.
            Some("allowed_tools") => {
                let mode = choice.get("allowed_tools").and_then(|s| s.get("mode"));
                match mode {
                    None | Some(Value::Null) => None,
                    Some(Value::String(mode)) => Some(mode.as_str()),
                    Some(other) => return Err(rejected(format!("unknown tool_choice '{other}'"))),
                }
            }
            _ => {
                return Err(rejected(format!(
                    "tool_choice of type '{}' is not supported by Bedrock",
                    shown(choice.get("type").unwrap_or(&Value::Null))
                )))
            }
        },
        Some(_) => return Err(rejected("tool_choice must be a string or an object")),
    };
    let tool_choice = match mode {
        None => None,
        Some("auto") => Some(ToolChoice::Auto(Empty {})),
        Some("required") => Some(ToolChoice::Any(Empty {})),
        Some("none") if has_tool_blocks => None,
        Some("none") => return Ok(None),
        Some(other) => return Err(rejected(format!("unknown tool_choice '{other}'"))),
    };
    Ok(Some(ToolConfig { tools, tool_choice }))
}

/// `response_format` → `outputConfig.textFormat`: json_schema keeps its
/// schema (as JSON text), name and description; json_object is any
/// object; text or none is none; anything else is a 400.
fn output_config(format: Option<&Value>) -> Result<Option<OutputConfig<'_>>, AdapterError> {
    let format = match format {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(format)) => format,
        Some(_) => return Err(rejected("response_format must be an object")),
    };
    let kind = format.get("type").unwrap_or(&Value::Null);
    let definition = match kind.as_str() {
        Some("text") => return Ok(None),
        Some("json_object") => JsonSchemaDefinition {
            schema: json!({"type": "object"}).to_string(),
            name: None,
            description: None,
        },
        Some("json_schema") => {
            let spec = format.get("json_schema");
            let field = |name| spec.and_then(|s| s.get(name)).filter(|v| !v.is_null());
            let Some(schema) = field("schema") else {
                return Err(rejected(
                    "response_format.json_schema.schema is required for Bedrock",
                ));
            };
            let text = |name| match field(name) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(Cow::Borrowed(s.as_str()))),
                Some(_) => Err(rejected(format!(
                    "response_format.json_schema.{name} must be a string"
                ))),
            };
            JsonSchemaDefinition {
                schema: schema.to_string(),
                name: text("name")?,
                description: text("description")?,
            }
        }
        _ => {
            return Err(rejected(format!(
                "response_format type '{}' is not supported by Bedrock",
                shown(kind)
            )))
        }
    };
    Ok(Some(OutputConfig {
        text_format: OutputFormat {
            kind: "json_schema",
            structure: OutputStructure {
                json_schema: definition,
            },
        },
    }))
}
