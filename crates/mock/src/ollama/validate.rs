//! What the Ollama mock checks in a request. Ollama's server refuses what
//! does not decode into its types (`api/types.go`): a `content` that is not
//! a string, images that are not base64, tool-call `arguments` that are not
//! an object, a `think` that is not a boolean or low/medium/high/max, a
//! `format` that is neither "json" nor a schema object. It ignores unknown
//! fields and options; the mock refuses them too, since a field Ollama
//! would ignore (an OpenAI `max_tokens` left at the top level, say) is a
//! translation mistake that would otherwise pass unnoticed. Tool results
//! must name the tool (`tool_name`) of a call of the assistant message
//! before them. Also decides the answer.

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::reply::Reply;

/// A check that failed: the 400 message.
type Checked<T> = Result<T, String>;

/// A valid `/api/chat` request.
#[derive(Debug)]
pub(crate) struct Chat {
    pub model: String,
    pub stream: bool,
    /// `think` is on (true or a level).
    pub think: bool,
    pub reply: Reply,
    /// Characters of the messages' contents.
    pub prompt_chars: usize,
}

/// A valid `/api/embed` request.
#[derive(Debug)]
pub(crate) struct Embed {
    pub model: String,
    pub inputs: Vec<String>,
}

#[rustfmt::skip]
const CHAT: &[&str] = &[
    "model", "messages", "stream", "format", "keep_alive", "tools", "options", "think",
    "truncate", "shift", "logprobs", "top_logprobs",
];
#[rustfmt::skip]
const MESSAGE: &[&str] = &[
    "role", "content", "thinking", "images", "tool_calls", "tool_name", "tool_call_id",
];
const TOOL_CALL: &[&str] = &["id", "function"];
const CALL_FUNCTION: &[&str] = &["index", "name", "arguments"];
const TOOL: &[&str] = &["type", "items", "function"];
const FUNCTION: &[&str] = &["name", "description", "parameters"];
/// `options` Ollama knows, with whether each takes an integer (else a
/// number; `stop` is a list of strings, `use_mmap` a boolean).
#[rustfmt::skip]
const OPTIONS: &[(&str, bool)] = &[
    ("num_ctx", true), ("num_batch", true), ("num_gpu", true), ("main_gpu", true),
    ("num_thread", true), ("draft_num_predict", true), ("num_keep", true), ("seed", true),
    ("num_predict", true), ("top_k", true), ("top_p", false), ("min_p", false),
    ("typical_p", false), ("repeat_last_n", true), ("temperature", false),
    ("repeat_penalty", false), ("presence_penalty", false), ("frequency_penalty", false),
];
const EMBED: &[&str] = &[
    "model",
    "input",
    "keep_alive",
    "truncate",
    "dimensions",
    "options",
];

fn object<'a>(value: &'a Value, at: &str) -> Checked<&'a Map<String, Value>> {
    value
        .as_object()
        .ok_or_else(|| format!("json: cannot unmarshal {at}: expected an object"))
}

/// `value` is an object whose keys are all in `allowed`.
fn known<'a>(value: &'a Value, at: &str, allowed: &[&str]) -> Checked<&'a Map<String, Value>> {
    let map = object(value, at)?;
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(format!(
            "{at}: unknown field \"{k}\" (Ollama would ignore it)"
        )),
        None => Ok(map),
    }
}

fn string<'a>(map: &'a Map<String, Value>, key: &str, at: &str) -> Checked<&'a str> {
    map.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("json: cannot unmarshal {at}.{key} into a Go string"))
}

fn parse(body: &[u8]) -> Checked<Value> {
    serde_json::from_slice(body).map_err(|e| format!("invalid character in JSON body: {e}"))
}

fn model(body: &Map<String, Value>) -> Checked<String> {
    match body.get("model").and_then(Value::as_str) {
        Some(m) if !m.is_empty() => Ok(m.to_owned()),
        _ => Err("model is required".to_owned()),
    }
}

/// Checks an `/api/chat` body and picks the answer (`chunks` text deltas).
pub(crate) fn chat(body: &[u8], chunks: usize) -> Checked<Chat> {
    let value = parse(body)?;
    let body = known(&value, "request", CHAT)?;
    let model = model(body)?;
    // Ollama streams unless told not to.
    let stream = match body.get("stream") {
        None | Some(Value::Null) => true,
        Some(v) => v.as_bool().ok_or("stream must be a boolean")?,
    };
    let messages = match body.get("messages") {
        Some(Value::Array(m)) => m,
        _ => return Err("messages must be a list".to_owned()),
    };
    let mut calls: Vec<(Option<String>, String)> = Vec::new();
    let mut prompt_chars = 0;
    for (i, message) in messages.iter().enumerate() {
        prompt_chars += check_message(message, &format!("messages[{i}]"), &mut calls)?;
    }
    let tools = check_tools(body.get("tools"))?;
    check_format(body.get("format"))?;
    check_options(body.get("options"))?;
    let think = check_think(body.get("think"))?;
    let answered = messages.last().and_then(|m| m.get("role")) == Some(&Value::from("tool"));
    let tool = tools.first().filter(|_| !answered).cloned();
    Ok(Chat {
        model,
        stream,
        think,
        reply: Reply::choose(tool, chunks),
        prompt_chars,
    })
}

/// One message; `calls` holds `(id, name)` of the last assistant message's
/// tool calls. Returns the characters of its content.
fn check_message(
    message: &Value,
    at: &str,
    calls: &mut Vec<(Option<String>, String)>,
) -> Checked<usize> {
    let m = known(message, at, MESSAGE)?;
    let role = m.get("role").and_then(Value::as_str).unwrap_or_default();
    if !matches!(role, "system" | "user" | "assistant" | "tool") {
        return Err(format!("{at}.role: invalid role \"{role}\""));
    }
    let content = match m.get("content") {
        None => "",
        Some(Value::String(s)) => s,
        Some(other) => {
            let kind = if other.is_array() {
                "array"
            } else {
                "non-string"
            };
            return Err(format!(
                "json: cannot unmarshal {kind} into Go struct field Message.messages.content of type string"
            ));
        }
    };
    if let Some(thinking) = m.get("thinking") {
        thinking
            .as_str()
            .ok_or_else(|| format!("{at}.thinking must be a string"))?;
    }
    check_images(m.get("images"), at)?;
    match role {
        "assistant" => check_tool_calls(m.get("tool_calls"), at, calls)?,
        "tool" => check_tool_result(m, at, calls)?,
        _ if m.contains_key("tool_calls") => {
            return Err(format!("{at}: only assistant messages carry tool_calls"))
        }
        _ => {}
    }
    Ok(content.chars().count())
}

/// `images`: a list of base64 strings (Ollama decodes them to bytes).
fn check_images(images: Option<&Value>, at: &str) -> Checked<()> {
    let Some(images) = images else { return Ok(()) };
    let list = images
        .as_array()
        .ok_or_else(|| format!("{at}.images must be a list"))?;
    for (i, image) in list.iter().enumerate() {
        let data = image.as_str().unwrap_or_default();
        let decoded = base64::engine::general_purpose::STANDARD.decode(data);
        if data.is_empty() || decoded.is_err() {
            return Err(format!(
                "{at}.images[{i}]: illegal base64 data (send the bare base64, not a data URL)"
            ));
        }
    }
    Ok(())
}

fn check_tool_calls(
    tool_calls: Option<&Value>,
    at: &str,
    calls: &mut Vec<(Option<String>, String)>,
) -> Checked<()> {
    calls.clear();
    let Some(list) = tool_calls else {
        return Ok(());
    };
    let list = list
        .as_array()
        .ok_or_else(|| format!("{at}.tool_calls must be a list"))?;
    for (i, call) in list.iter().enumerate() {
        let at = format!("{at}.tool_calls[{i}]");
        let c = known(call, &at, TOOL_CALL)?;
        let at = format!("{at}.function");
        let f = known(
            c.get("function").unwrap_or(&Value::Null),
            &at,
            CALL_FUNCTION,
        )?;
        let name = string(f, "name", &at)?;
        if !f.get("arguments").is_some_and(Value::is_object) {
            return Err(format!(
                "json: cannot unmarshal {at}.arguments into an object (Ollama's arguments are objects, not JSON strings)"
            ));
        }
        let id = c.get("id").and_then(Value::as_str).map(str::to_owned);
        calls.push((id, name.to_owned()));
    }
    Ok(())
}

/// A tool result names the tool of a call before it (and its id, if given).
fn check_tool_result(
    m: &Map<String, Value>,
    at: &str,
    calls: &[(Option<String>, String)],
) -> Checked<()> {
    let name = m
        .get("tool_name")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{at}: a tool result needs the tool_name of the call it answers"))?;
    let id = m.get("tool_call_id").and_then(Value::as_str);
    let matches = calls.iter().any(|(call_id, call_name)| {
        call_name == name && (id.is_none() || call_id.is_none() || call_id.as_deref() == id)
    });
    if !matches {
        return Err(format!(
            "{at}: tool_name \"{name}\" answers no tool call of the assistant message before it"
        ));
    }
    Ok(())
}

/// `tools`; the function names, in order.
fn check_tools(tools: Option<&Value>) -> Checked<Vec<String>> {
    let Some(tools) = tools else {
        return Ok(Vec::new());
    };
    let list = tools.as_array().ok_or("tools must be a list")?;
    let mut names = Vec::new();
    for (i, tool) in list.iter().enumerate() {
        let at = format!("tools[{i}]");
        let t = known(tool, &at, TOOL)?;
        if t.get("type").and_then(Value::as_str) != Some("function") {
            return Err(format!("{at}.type must be \"function\""));
        }
        let at = format!("{at}.function");
        let f = known(t.get("function").unwrap_or(&Value::Null), &at, FUNCTION)?;
        names.push(string(f, "name", &at)?.to_owned());
        if let Some(parameters) = f.get("parameters") {
            object(parameters, &format!("{at}.parameters"))?;
        }
    }
    Ok(names)
}

/// `format`: "json" or a JSON schema object.
fn check_format(format: Option<&Value>) -> Checked<()> {
    match format {
        None | Some(Value::Null) | Some(Value::Object(_)) => Ok(()),
        Some(v) if v == "json" || v == "" => Ok(()),
        Some(v) => Err(format!(
            "invalid format: {v}; expected \"json\" or a valid JSON Schema object"
        )),
    }
}

/// `options`: known Modelfile parameters of the right types.
fn check_options(options: Option<&Value>) -> Checked<()> {
    let Some(options) = options else {
        return Ok(());
    };
    for (key, value) in object(options, "options")? {
        let ok = match key.as_str() {
            "stop" => value
                .as_array()
                .is_some_and(|s| s.iter().all(Value::is_string)),
            "use_mmap" => value.is_boolean(),
            other => match OPTIONS.iter().find(|(name, _)| *name == other) {
                Some((_, true)) => value.is_i64() || value.is_u64(),
                Some((_, false)) => value.is_number(),
                None => {
                    return Err(format!(
                        "options: unknown option \"{other}\" (Ollama would ignore it)"
                    ))
                }
            },
        };
        if !ok {
            return Err(format!("option \"{key}\" has the wrong type: {value}"));
        }
    }
    Ok(())
}

/// `think`: a boolean or low/medium/high/max; whether thinking is on.
fn check_think(think: Option<&Value>) -> Checked<bool> {
    match think {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if matches!(s.as_str(), "low" | "medium" | "high" | "max") => Ok(true),
        Some(v) => Err(format!(
            "invalid think value: {v} (must be \"high\", \"medium\", \"low\", \"max\", true, or false)"
        )),
    }
}

/// Checks an `/api/embed` body; the model and the inputs, in order.
pub(crate) fn embed(body: &[u8]) -> Checked<Embed> {
    let value = parse(body)?;
    let body = known(&value, "request", EMBED)?;
    let model = model(body)?;
    let inputs = match body.get("input") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or("invalid input type: input must be a string or a list of strings")?,
        _ => {
            return Err(
                "invalid input type: input must be a string or a list of strings".to_owned(),
            )
        }
    };
    if let Some(d) = body.get("dimensions") {
        d.as_u64()
            .filter(|d| *d > 0)
            .ok_or("dimensions must be a positive integer")?;
    }
    check_options(body.get("options"))?;
    Ok(Embed { model, inputs })
}
