//! A hub chat request -> a `generateContent` body: the conversation
//! ([`super::messages`]), tools ([`super::tools`]), and here the
//! generationConfig (sampling, length, stop, JSON output, thinking) and
//! the safety settings from the options.

use std::borrow::Cow;

use serde_json::Value;

use super::hub::{get, opt_f64, opt_i64, shown};
use super::messages::convert_messages;
use super::tools::{allowed_tool_names, function_calling_config, function_declarations};
use super::wire::{GenerateContentRequest, GenerationConfig, ThinkingConfig, Tool, ToolConfig};
use super::{failed, Ctx};
use crate::adapter::AdapterError;

/// `body` (an OpenAI chat request) as a Gemini body. Fields Gemini has no
/// use for (logprobs, logit_bias, parallel_tool_calls, user, metadata,
/// store, service_tier, stream_options…) are dropped.
pub(super) fn chat(body: &Value, ctx: &Ctx) -> Result<Value, AdapterError> {
    let converted = convert_messages(get(body, "messages"))?;
    let mut out = GenerateContentRequest {
        contents: converted.contents,
        ..GenerateContentRequest::default()
    };
    if !converted.system.is_empty() {
        out.system_instruction = Some(super::wire::Content {
            role: None,
            parts: converted.system,
        });
    }
    let choice = get(body, "tool_choice");
    let allowed = allowed_tool_names(choice)?;
    let declarations = function_declarations(get(body, "tools"), allowed.as_deref(), ctx)?;
    // A tool_choice without tools means nothing.
    if !declarations.is_empty() {
        out.tools = Some(vec![Tool {
            function_declarations: declarations,
        }]);
        out.tool_config = function_calling_config(choice)?.map(|calling| ToolConfig {
            function_calling_config: calling,
        });
    }
    let generation = generation_config(body, ctx)?;
    if !generation.is_empty() {
        out.generation_config = Some(generation);
    }
    if let Some(safety) = ctx.options.get("safety_settings").filter(|v| !v.is_null()) {
        out.safety_settings = Some(Cow::Borrowed(safety));
    }
    serde_json::to_value(&out).map_err(|e| failed("request", e.to_string()))
}

/// Sampling, length, stop and output-format fields -> generationConfig.
fn generation_config<'a>(body: &'a Value, ctx: &Ctx) -> Result<GenerationConfig<'a>, AdapterError> {
    let max_tokens = match get(body, "max_completion_tokens") {
        Value::Null => opt_i64(get(body, "max_tokens"), "max_tokens")?,
        max => opt_i64(max, "max_completion_tokens")?,
    };
    let mut g = GenerationConfig {
        max_output_tokens: max_tokens,
        temperature: opt_f64(get(body, "temperature"), "temperature")?,
        top_p: opt_f64(get(body, "top_p"), "top_p")?,
        stop_sequences: stop_sequences(get(body, "stop"))?,
        candidate_count: opt_i64(get(body, "n"), "n")?,
        seed: opt_i64(get(body, "seed"), "seed")?,
        presence_penalty: opt_f64(get(body, "presence_penalty"), "presence_penalty")?,
        frequency_penalty: opt_f64(get(body, "frequency_penalty"), "frequency_penalty")?,
        ..GenerationConfig::default()
    };
    output_format(get(body, "response_format"), &mut g)?;
    g.thinking_config = thinking_config(get(body, "reasoning_effort"), ctx)?;
    Ok(g)
}

/// OpenAI `stop` (a string or an array) -> `stopSequences`; an empty array
/// (or any other value) sets none.
fn stop_sequences(stop: &Value) -> Result<Option<Vec<Cow<'_, str>>>, AdapterError> {
    match stop {
        Value::String(s) => Ok(Some(vec![Cow::Borrowed(s.as_str())])),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|s| match s {
                Value::String(s) => Ok(Cow::Borrowed(s.as_str())),
                _ => Err(AdapterError::rejected("stop sequences must be strings")),
            })
            .collect::<Result<_, _>>()
            .map(Some),
        _ => Ok(None),
    }
}

/// `response_format` -> the fields it sets: json_object is JSON output,
/// json_schema adds the schema (as full JSON Schema), text sets nothing.
fn output_format<'a>(format: &'a Value, g: &mut GenerationConfig<'a>) -> Result<(), AdapterError> {
    if format.is_null() {
        return Ok(());
    }
    if !format.is_object() {
        return Err(AdapterError::rejected("response_format must be an object"));
    }
    let kind = get(format, "type");
    match kind.as_str() {
        Some("text") => {}
        Some("json_object") => g.response_mime_type = Some("application/json".into()),
        Some("json_schema") => {
            let spec = get(format, "json_schema");
            if !spec.is_null() && !spec.is_object() {
                return Err(AdapterError::rejected(
                    "response_format.json_schema must be an object",
                ));
            }
            g.response_mime_type = Some("application/json".into());
            let schema = get(spec, "schema");
            if !schema.is_null() {
                g.response_json_schema = Some(Cow::Borrowed(schema));
            }
        }
        _ => {
            return Err(AdapterError::rejected(format!(
                "response_format type '{}' is not supported by Gemini",
                shown(kind)
            )))
        }
    }
    Ok(())
}

/// `reasoning_effort` -> a thinking budget (the values Google's own OpenAI
/// compatibility layer uses); `options.include_thoughts` asks for thought
/// summaries.
fn thinking_config<'a>(
    effort: &Value,
    ctx: &Ctx,
) -> Result<Option<ThinkingConfig<'a>>, AdapterError> {
    let mut t = ThinkingConfig::default();
    if !effort.is_null() {
        t.thinking_budget = Some(match effort.as_str() {
            Some("none") => 0,
            Some("minimal" | "low") => 1024,
            Some("medium") => 8192,
            Some("high") => 24576,
            _ => {
                return Err(AdapterError::rejected(format!(
                    "unknown reasoning_effort '{}'",
                    shown(effort)
                )))
            }
        });
    }
    if ctx.options.get("include_thoughts") == Some(&Value::Bool(true)) {
        t.include_thoughts = Some(true);
    }
    Ok((t != ThinkingConfig::default()).then_some(t))
}
