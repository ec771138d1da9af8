//! What the Cohere mock checks in a request, as the v2 API reference
//! documents it: known field names only (an OpenAI field that a translation
//! forgot to rename or drop is refused), the four roles and their fields,
//! content blocks, tool calls with JSON-string arguments, tool results that
//! answer a call of the assistant message before them, tool_choice
//! REQUIRED/NONE with tools, response_format without tools (a documented
//! limitation), and the parameters' ranges. Also decides the answer.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::reply::{content_chars, Reply};

/// A check that failed: the 400 message.
type Checked<T> = Result<T, String>;

/// A valid chat request.
#[derive(Debug)]
pub(crate) struct Chat {
    pub stream: bool,
    pub reply: Reply,
    /// Characters of text in the messages.
    pub prompt_chars: usize,
}

#[rustfmt::skip]
const CHAT: &[&str] = &[
    "model", "messages", "tools", "strict_tools", "documents", "citation_options",
    "response_format", "safety_mode", "max_tokens", "stop_sequences", "temperature", "seed",
    "frequency_penalty", "presence_penalty", "k", "p", "logprobs", "tool_choice", "thinking",
    "priority", "stream",
];
const TEXT_MESSAGE: &[&str] = &["role", "content"];
const ASSISTANT: &[&str] = &["role", "content", "tool_calls", "tool_plan", "citations"];
const TOOL_RESULT: &[&str] = &["role", "tool_call_id", "content"];
const TOOL: &[&str] = &["type", "function"];
const FUNCTION: &[&str] = &["name", "description", "parameters"];
const TOOL_CALL: &[&str] = &["id", "type", "function"];
const CALL_FUNCTION: &[&str] = &["name", "arguments"];
const IMAGE_URL: &[&str] = &["url", "detail"];
const RESPONSE_FORMAT: &[&str] = &["type", "json_schema"];
const THINKING: &[&str] = &["type", "token_budget"];
#[rustfmt::skip]
const EMBED: &[&str] = &[
    "model", "input_type", "texts", "images", "inputs", "max_tokens", "output_dimension",
    "embedding_types", "truncate", "priority",
];
#[rustfmt::skip]
const INPUT_TYPES: &[&str] = &[
    "search_document", "search_query", "classification", "clustering", "image",
];
const EMBEDDING_TYPES: &[&str] = &["float", "int8", "uint8", "binary", "ubinary", "base64"];
/// Most texts one embed request may carry.
const MAX_TEXTS: usize = 96;

fn invalid(message: impl std::fmt::Display) -> String {
    format!("invalid request: {message}")
}

fn object<'a>(value: &'a Value, at: &str) -> Checked<&'a Map<String, Value>> {
    value
        .as_object()
        .ok_or_else(|| invalid(format!("{at} must be an object")))
}

/// `value` is an object whose keys are all in `allowed`.
fn known<'a>(value: &'a Value, at: &str, allowed: &[&str]) -> Checked<&'a Map<String, Value>> {
    let map = object(value, at)?;
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(invalid(format!("{at}: unknown field '{k}'"))),
        None => Ok(map),
    }
}

fn string<'a>(map: &'a Map<String, Value>, key: &str, at: &str) -> Checked<&'a str> {
    map.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("{at}.{key} must be a string")))
}

/// An optional number within `low..=high`.
fn in_range(body: &Map<String, Value>, key: &str, low: f64, high: f64) -> Checked<()> {
    match body.get(key) {
        None => Ok(()),
        Some(v) => match v.as_f64() {
            Some(x) if (low..=high).contains(&x) => Ok(()),
            _ => Err(invalid(format!("{key} must be between {low} and {high}"))),
        },
    }
}

/// An optional non-negative integer (at least `min`).
fn integer(body: &Map<String, Value>, key: &str, min: u64) -> Checked<()> {
    match body.get(key) {
        None => Ok(()),
        Some(v) if v.as_u64().is_some_and(|n| n >= min) => Ok(()),
        Some(_) => Err(invalid(format!(
            "{key} must be an integer of at least {min}"
        ))),
    }
}

/// Checks a `/v2/chat` body and picks the answer (`chunks` text deltas).
pub(crate) fn chat(body: &[u8], chunks: usize) -> Checked<Chat> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| invalid(format!("invalid json: {e}")))?;
    let body = known(&value, "body", CHAT)?;
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if model.is_empty() {
        return Err(invalid("model must be specified"));
    }
    let stream = match body.get("stream") {
        None => false,
        Some(v) => v
            .as_bool()
            .ok_or_else(|| invalid("stream must be a boolean"))?,
    };
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| invalid("messages must be a non-empty array"))?;
    let mut pending: HashSet<String> = HashSet::new();
    for (i, message) in messages.iter().enumerate() {
        check_message(message, &format!("messages[{i}]"), &mut pending)?;
    }
    let tools = check_tools(body)?;
    check_options(body, !tools.is_empty())?;
    let prompt_chars = messages
        .iter()
        .filter_map(|m| m.get("content"))
        .map(content_chars)
        .sum();
    let answered = messages.last().and_then(|m| m.get("role")) == Some(&Value::from("tool"));
    let none = body.get("tool_choice").and_then(Value::as_str) == Some("NONE");
    let tool = tools.first().filter(|_| !answered && !none).cloned();
    Ok(Chat {
        stream,
        reply: Reply::choose(tool, chunks),
        prompt_chars,
    })
}

/// One message; `pending` holds the tool-call ids a tool result may answer.
fn check_message(message: &Value, at: &str, pending: &mut HashSet<String>) -> Checked<()> {
    let role = object(message, at)?
        .get("role")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match role {
        "system" => {
            let m = known(message, at, TEXT_MESSAGE)?;
            text_content(m.get("content"), at, &["text"])
        }
        "user" => {
            let m = known(message, at, TEXT_MESSAGE)?;
            text_content(m.get("content"), at, &["text", "image_url"])
        }
        "assistant" => check_assistant(message, at, pending),
        "tool" => {
            let m = known(message, at, TOOL_RESULT)?;
            let id = string(m, "tool_call_id", at)?;
            if !pending.remove(id) {
                return Err(invalid(format!(
                    "{at}.tool_call_id '{id}' answers no tool call of the assistant message before it"
                )));
            }
            text_content(m.get("content"), at, &["text", "document"])
        }
        other => Err(invalid(format!(
            "{at}.role: unknown role '{other}' (expected system, user, assistant or tool)"
        ))),
    }
}

/// Content: a string, or blocks whose `type` is one of `types`.
fn text_content(content: Option<&Value>, at: &str, types: &[&str]) -> Checked<()> {
    let at = format!("{at}.content");
    match content {
        Some(Value::String(_)) => Ok(()),
        Some(Value::Array(blocks)) => blocks
            .iter()
            .enumerate()
            .try_for_each(|(i, b)| content_block(b, &format!("{at}[{i}]"), types)),
        _ => Err(invalid(format!(
            "{at} must be a string or a list of content blocks"
        ))),
    }
}

fn content_block(block: &Value, at: &str, types: &[&str]) -> Checked<()> {
    let map = object(block, at)?;
    let kind = map.get("type").and_then(Value::as_str).unwrap_or_default();
    if !types.contains(&kind) {
        return Err(invalid(format!("{at}.type: '{kind}' is not allowed here")));
    }
    match kind {
        "text" => string(map, "text", at).map(drop),
        "thinking" => string(map, "thinking", at).map(drop),
        "document" => object(map.get("document").unwrap_or(&Value::Null), at).map(drop),
        "image_url" => {
            let at = format!("{at}.image_url");
            let image = known(map.get("image_url").unwrap_or(&Value::Null), &at, IMAGE_URL)?;
            let url = string(image, "url", &at)?;
            let web = url.starts_with("https://") || url.starts_with("http://");
            if !web && !url.starts_with("data:image/") {
                return Err(invalid(format!("{at}.url must be a data URI or a web URL")));
            }
            match image.get("detail").map(Value::as_str) {
                None | Some(Some("auto" | "low" | "high")) => Ok(()),
                Some(_) => Err(invalid(format!("{at}.detail must be auto, low or high"))),
            }
        }
        _ => Ok(()),
    }
}

fn check_assistant(message: &Value, at: &str, pending: &mut HashSet<String>) -> Checked<()> {
    let m = known(message, at, ASSISTANT)?;
    if let Some(content) = m.get("content") {
        text_content(Some(content), at, &["text", "thinking"])?;
    }
    if let Some(plan) = m.get("tool_plan") {
        plan.as_str()
            .ok_or_else(|| invalid(format!("{at}.tool_plan must be a string")))?;
    }
    pending.clear();
    let calls = match m.get("tool_calls") {
        None => &[][..],
        Some(v) => v
            .as_array()
            .ok_or_else(|| invalid(format!("{at}.tool_calls must be a list")))?,
    };
    for (i, call) in calls.iter().enumerate() {
        let at = format!("{at}.tool_calls[{i}]");
        let c = known(call, &at, TOOL_CALL)?;
        let id = string(c, "id", &at)?;
        if c.get("type").is_some_and(|t| t != "function") {
            return Err(invalid(format!("{at}.type must be 'function'")));
        }
        let at = format!("{at}.function");
        let f = known(
            c.get("function").unwrap_or(&Value::Null),
            &at,
            CALL_FUNCTION,
        )?;
        string(f, "name", &at)?;
        let arguments = string(f, "arguments", &at)?;
        let parsed: Value = serde_json::from_str(arguments)
            .map_err(|_| invalid(format!("{at}.arguments must be a JSON string")))?;
        object(&parsed, &format!("{at}.arguments"))?;
        pending.insert(id.to_owned());
    }
    if m.get("content").is_none() && calls.is_empty() {
        return Err(invalid(format!(
            "{at}: an assistant message needs content or tool_calls"
        )));
    }
    Ok(())
}

/// `tools` and `tool_choice`; the tool names, in order.
fn check_tools(body: &Map<String, Value>) -> Checked<Vec<String>> {
    let tools = match body.get("tools") {
        None => &[][..],
        Some(v) => v
            .as_array()
            .ok_or_else(|| invalid("tools must be a list"))?,
    };
    let mut names = Vec::new();
    for (i, tool) in tools.iter().enumerate() {
        let at = format!("tools[{i}]");
        let t = known(tool, &at, TOOL)?;
        if t.get("type").and_then(Value::as_str) != Some("function") {
            return Err(invalid(format!("{at}.type must be 'function'")));
        }
        let at = format!("{at}.function");
        let f = known(t.get("function").unwrap_or(&Value::Null), &at, FUNCTION)?;
        names.push(string(f, "name", &at)?.to_owned());
        if let Some(parameters) = f.get("parameters") {
            object(parameters, &format!("{at}.parameters"))?;
        }
    }
    if let Some(choice) = body.get("tool_choice") {
        if choice != "REQUIRED" && choice != "NONE" {
            return Err(invalid("tool_choice must be REQUIRED or NONE"));
        }
        if names.is_empty() {
            return Err(invalid("tool_choice requires tools"));
        }
    }
    if body.get("strict_tools").is_some_and(|s| !s.is_boolean()) {
        return Err(invalid("strict_tools must be a boolean"));
    }
    Ok(names)
}

/// Sampling, length, stop, format, thinking and safety fields.
fn check_options(body: &Map<String, Value>, tools: bool) -> Checked<()> {
    in_range(body, "temperature", 0.0, f64::MAX)?;
    in_range(body, "p", 0.01, 0.99)?;
    in_range(body, "frequency_penalty", 0.0, 1.0)?;
    in_range(body, "presence_penalty", 0.0, 1.0)?;
    integer(body, "k", 0)?;
    in_range(body, "k", 0.0, 500.0)?;
    integer(body, "max_tokens", 1)?;
    if body.get("seed").is_some_and(|s| !s.is_i64() && !s.is_u64()) {
        return Err(invalid("seed must be an integer"));
    }
    if let Some(stop) = body.get("stop_sequences") {
        let valid = stop
            .as_array()
            .is_some_and(|s| s.len() <= 5 && s.iter().all(Value::is_string));
        if !valid {
            return Err(invalid(
                "stop_sequences must be a list of at most 5 strings",
            ));
        }
    }
    if let Some(format) = body.get("response_format") {
        let f = known(format, "response_format", RESPONSE_FORMAT)?;
        match f.get("type").and_then(Value::as_str) {
            Some("json_object") => {}
            Some("text") if f.get("json_schema").is_none() => {}
            _ => return Err(invalid("response_format.type must be text or json_object (json_schema only with json_object)")),
        }
        if tools || body.contains_key("documents") {
            return Err(invalid(
                "response_format is not supported with tools or documents",
            ));
        }
    }
    if let Some(thinking) = body.get("thinking") {
        let t = known(thinking, "thinking", THINKING)?;
        if !matches!(
            t.get("type").and_then(Value::as_str),
            Some("enabled" | "disabled")
        ) {
            return Err(invalid("thinking.type must be enabled or disabled"));
        }
        integer(t, "token_budget", 1)?;
    }
    match body.get("safety_mode").map(Value::as_str) {
        None | Some(Some("CONTEXTUAL" | "STRICT" | "OFF")) => Ok(()),
        Some(_) => Err(invalid("safety_mode must be CONTEXTUAL, STRICT or OFF")),
    }
}

/// Checks a `/v2/embed` body; the texts to embed, in order.
pub(crate) fn embed(body: &[u8]) -> Checked<Vec<String>> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| invalid(format!("invalid json: {e}")))?;
    let body = known(&value, "body", EMBED)?;
    string(body, "model", "body")?;
    let input_type = body.get("input_type").and_then(Value::as_str);
    if !input_type.is_some_and(|t| INPUT_TYPES.contains(&t)) {
        return Err(invalid(format!(
            "input_type must be one of {}",
            INPUT_TYPES.join(", ")
        )));
    }
    let types = body
        .get("embedding_types")
        .and_then(Value::as_array)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| invalid("embedding_types is required"))?;
    if !types
        .iter()
        .all(|t| t.as_str().is_some_and(|t| EMBEDDING_TYPES.contains(&t)))
    {
        return Err(invalid(format!(
            "embedding_types must be some of {}",
            EMBEDDING_TYPES.join(", ")
        )));
    }
    if !types.iter().any(|t| t == "float") {
        return Err(invalid("the mock answers float embeddings only"));
    }
    match body.get("output_dimension").and_then(Value::as_u64) {
        None if !body.contains_key("output_dimension") => {}
        Some(256 | 512 | 1024 | 1536) => {}
        _ => return Err(invalid("output_dimension must be 256, 512, 1024 or 1536")),
    }
    match body.get("truncate").map(Value::as_str) {
        None | Some(Some("NONE" | "START" | "END")) => {}
        Some(_) => return Err(invalid("truncate must be NONE, START or END")),
    }
    let texts = body
        .get("texts")
        .and_then(Value::as_array)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| invalid("texts must be a non-empty list (the mock embeds texts only)"))?;
    if texts.len() > MAX_TEXTS {
        return Err(invalid(format!(
            "texts: at most {MAX_TEXTS} texts per call, got {}",
            texts.len()
        )));
    }
    texts
        .iter()
        .map(|t| t.as_str().map(str::to_owned))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| invalid("texts must be strings"))
}
