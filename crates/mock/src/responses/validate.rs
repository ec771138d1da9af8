//! Checks of a `POST /v1/responses` body, as the real API makes them, so
//! that a gateway test sees a wrong translation as a 400 naming the field:
//! unknown top-level parameters (`messages`, `max_tokens`,
//! `response_format`), chat-style tools without `tools[i].name`, a
//! `text.format` without `name`, server-side state the mock does not keep
//! (`previous_response_id`, `conversation`, `background`), and the input
//! items (`input.rs`).

use serde_json::{Map, Value};

use super::input::input;
use crate::params::{json_object, Invalid, Obj};
use crate::reply::{prompt_tokens, Reply};

/// Top-level parameters the API knows (the `openai` SDK's
/// `ResponseCreateParams`); any other is a 400.
const KNOWN: &[&str] = &[
    "access_programs",
    "background",
    "background_options",
    "context_management",
    "conversation",
    "image",
    "include",
    "input",
    "instructions",
    "max_output_tokens",
    "max_tool_calls",
    "metadata",
    "model",
    "moderation",
    "parallel_tool_calls",
    "previous_response_id",
    "prompt",
    "prompt_cache_key",
    "prompt_cache_options",
    "prompt_cache_retention",
    "reasoning",
    "safety_identifier",
    "service_tier",
    "store",
    "stream",
    "stream_options",
    "temperature",
    "text",
    "tool_choice",
    "tools",
    "top_logprobs",
    "top_p",
    "truncation",
    "user",
];

const EFFORTS: &[&str] = &["none", "minimal", "low", "medium", "high", "xhigh"];
const SUMMARIES: &[&str] = &["auto", "concise", "detailed"];
const FORMATS: &[&str] = &["text", "json_object", "json_schema"];

/// A valid Responses request: what the reply needs, and the body (whose
/// settings the Response object repeats).
#[derive(Debug)]
pub(crate) struct ResponsesRequest {
    pub body: Map<String, Value>,
    pub model: String,
    pub stream: bool,
    pub reply: Reply,
    pub input_tokens: usize,
}

/// Parses and checks `body`; `chunks` is the length of a text reply.
pub(crate) fn parse(body: &[u8], chunks: usize) -> Result<ResponsesRequest, Invalid> {
    let map = json_object(body)?;
    let top = Obj::new(&map, "");
    top.only(KNOWN)?;
    let model = top.required_str("model")?.to_owned();
    stateless(&top)?;
    let instructions = top.str("instructions")?.unwrap_or_default();
    let input = input(&top)?;
    let tool = tools(&top)?;
    tool_choice(&top)?;
    settings(&top)?;
    let stream = top.bool("stream")?.unwrap_or(false);
    let tool = tool.filter(|_| !input.ends_with_tool_output);
    let chars = instructions.chars().count() + input.chars;
    Ok(ResponsesRequest {
        model,
        stream,
        reply: Reply::choose(tool, chunks),
        input_tokens: prompt_tokens(chars),
        body: map,
    })
}

/// Rejects what would need state kept between requests.
fn stateless(top: &Obj) -> Result<(), Invalid> {
    if top.str("previous_response_id")?.is_some() {
        let message = "previous_response_id is not supported by the mock";
        return Err(Invalid::new(
            message,
            "previous_response_id",
            "previous_response_not_found",
        ));
    }
    if top.get("conversation").is_some() {
        let message = "conversation is not supported by the mock";
        return Err(Invalid::new(
            message,
            "conversation",
            "unsupported_parameter",
        ));
    }
    if top.bool("background")? == Some(true) {
        let message = "background is not supported by the mock";
        return Err(Invalid::new(message, "background", "unsupported_parameter"));
    }
    Ok(())
}

/// Checks `tools`; returns the name of the first one if it is a function
/// (or custom) tool, the one the mock calls.
fn tools(top: &Obj) -> Result<Option<String>, Invalid> {
    let Some(tools) = top.array("tools")? else {
        return Ok(None);
    };
    let mut first = None;
    for (i, tool) in tools.iter().enumerate() {
        let path = format!("tools[{i}]");
        let Value::Object(map) = tool else {
            return Err(Invalid::wrong_type(&path, "an object", tool));
        };
        let tool = Obj::new(map, &path);
        let kind = tool.required_str("type")?;
        let name = match kind {
            "function" | "custom" => Some(tool_name(&tool)?),
            _ => None,
        };
        if kind == "function" {
            tool.object("parameters")?;
        }
        if i == 0 {
            first = name.map(str::to_owned);
        }
    }
    Ok(first)
}

/// A tool's `name`: required, letters, digits, `_` and `-`, at most 64.
fn tool_name<'a>(tool: &Obj<'a>) -> Result<&'a str, Invalid> {
    let name = tool.required_str("name")?;
    let valid = name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !valid {
        let message = format!(
            "Invalid '{}': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]{{1,64}}$'.",
            tool.param("name")
        );
        return Err(Invalid::new(message, &tool.param("name"), "invalid_value"));
    }
    Ok(name)
}

fn tool_choice(top: &Obj) -> Result<(), Invalid> {
    match top.get("tool_choice") {
        None => Ok(()),
        Some(Value::String(_)) => top
            .choice("tool_choice", &["none", "auto", "required"])
            .map(drop),
        Some(Value::Object(map)) => {
            let choice = Obj::new(map, "tool_choice");
            let kind = choice.required_str("type")?;
            if kind != "function" {
                return Ok(());
            }
            let name = choice.required_str("name")?;
            let offered = top.array("tools")?.into_iter().flatten().any(|t| {
                t.get("type").and_then(Value::as_str) == Some("function")
                    && t.get("name").and_then(Value::as_str) == Some(name)
            });
            if offered {
                return Ok(());
            }
            let message = format!("Tool choice 'function' not found in 'tools' parameter: no function named '{name}'.");
            Err(Invalid::new(message, "tool_choice", "invalid_value"))
        }
        Some(other) => Err(Invalid::wrong_type(
            "tool_choice",
            "a string or an object",
            other,
        )),
    }
}

/// `text`, `reasoning` and the scalar settings.
fn settings(top: &Obj) -> Result<(), Invalid> {
    if let Some(text) = top.object("text")? {
        let text = Obj::new(text, "text");
        text.only(&["format", "verbosity"])?;
        text.choice("verbosity", &["low", "medium", "high"])?;
        if let Some(format) = text.object("format")? {
            text_format(&Obj::new(format, "text.format"))?;
        }
    }
    if let Some(reasoning) = top.object("reasoning")? {
        let reasoning = Obj::new(reasoning, "reasoning");
        reasoning.choice("effort", EFFORTS)?;
        reasoning.choice("summary", SUMMARIES)?;
        reasoning.choice("generate_summary", SUMMARIES)?;
    }
    top.int("max_output_tokens", 16, i64::from(i32::MAX))?;
    top.num("temperature", 0.0, 2.0)?;
    top.num("top_p", 0.0, 1.0)?;
    top.int("top_logprobs", 0, 20)?;
    top.str("instructions")?;
    top.bool("store")?;
    top.bool("parallel_tool_calls")?;
    top.object("metadata")?;
    top.array("include")?;
    top.choice("truncation", &["auto", "disabled"])?;
    let tiers = ["auto", "default", "flex", "scale", "priority"];
    top.choice("service_tier", &tiers)?;
    Ok(())
}

fn text_format(format: &Obj) -> Result<(), Invalid> {
    let kind = format
        .choice("type", FORMATS)?
        .ok_or_else(|| Invalid::missing(&format.param("type")))?;
    match kind {
        "json_schema" => {
            format.required_str("name")?;
            format
                .object("schema")?
                .ok_or_else(|| Invalid::missing(&format.param("schema")))?;
            format.bool("strict")?;
            format.only(&["type", "name", "schema", "description", "strict"])?;
        }
        _ => format.only(&["type"])?,
    }
    Ok(())
}
