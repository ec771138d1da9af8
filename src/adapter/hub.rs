//! Reading the hub request (OpenAI's chat format) and writing hub answers:
//! the pieces the Anthropic and Bedrock adapters share (both turn OpenAI
//! messages into content blocks with tool-use blocks, and their answers
//! back into `chat.completion`s).

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::AdapterError;

/// A 400 refusal.
pub(crate) fn rejected(message: impl Into<String>) -> AdapterError {
    AdapterError::rejected(message)
}

/// A value as it reads in a message: a string as it is, `null` as
/// nothing, anything else as JSON.
pub(crate) fn shown(v: &Value) -> Cow<'_, str> {
    match v {
        Value::String(s) => Cow::Borrowed(s),
        Value::Null => Cow::Borrowed(""),
        other => Cow::Owned(other.to_string()),
    }
}

/// A token count: a non-negative integer (also written as `1024.0`).
pub(crate) fn as_count(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| {
        let f = v.as_f64()?;
        // Exact in f64 up to 2^53.
        (f >= 0.0 && f.fract() == 0.0 && f <= 9_007_199_254_740_992.0).then_some(f as u64)
    })
}

/// The tool names a `{type:"allowed_tools"}` tool_choice permits, or none
/// for all.
pub(crate) fn allowed_tool_names(
    choice: Option<&Value>,
) -> Result<Option<Vec<&str>>, AdapterError> {
    let Some(choice) = choice.filter(|c| c.get("type").is_some_and(|t| t == "allowed_tools"))
    else {
        return Ok(None);
    };
    let listed = match choice.get("allowed_tools") {
        None | Some(Value::Null) => None,
        Some(Value::Object(spec)) => spec.get("tools"),
        Some(_) => return Err(rejected("tool_choice.allowed_tools must be an object")),
    };
    let tools = match listed {
        None | Some(Value::Null) => return Ok(Some(Vec::new())),
        Some(Value::Array(tools)) => tools,
        Some(_) => return Err(rejected("tool_choice.allowed_tools.tools must be an array")),
    };
    let names = tools
        .iter()
        .filter_map(|tool| {
            let function = tool
                .get("function")
                .filter(|f| !f.is_null())
                .unwrap_or(tool);
            function.get("name").and_then(Value::as_str)
        })
        .collect();
    Ok(Some(names))
}

/// A content part as an object; anything else is a 400.
pub(crate) fn object_part<'a>(
    part: &'a Value,
    role: &str,
) -> Result<&'a Map<String, Value>, AdapterError> {
    part.as_object()
        .ok_or_else(|| rejected(format!("{role} message content parts must be objects")))
}

/// A part's `type`, for dispatch and messages (`''` when missing).
pub(crate) fn part_kind<'a>(part: &'a Map<String, Value>) -> Cow<'a, str> {
    part.get("type").map(shown).unwrap_or_default()
}

/// A part's `text` (or `refusal`) string.
pub(crate) fn part_text<'a>(
    part: &'a Map<String, Value>,
    field: &str,
) -> Result<&'a str, AdapterError> {
    part.get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| rejected(format!("{field} parts need a {field} string")))
}

/// Tool-call `arguments` (a JSON string) → the tool_use `input` object.
/// Empty arguments mean `{}`; invalid JSON is refused rather than guessed.
pub(crate) fn tool_input<'a>(
    arguments: Option<&'a Value>,
    name: &str,
) -> Result<Cow<'a, Value>, AdapterError> {
    let text = match arguments {
        // Some clients send the object itself.
        Some(object @ Value::Object(_)) => return Ok(Cow::Borrowed(object)),
        None | Some(Value::Null) => return Ok(Cow::Owned(Value::Object(Map::new()))),
        Some(Value::String(text)) => text.trim(),
        Some(_) => {
            return Err(rejected(format!(
                "arguments of tool call '{name}' must be a JSON string"
            )))
        }
    };
    if text.is_empty() {
        return Ok(Cow::Owned(Value::Object(Map::new())));
    }
    match serde_json::from_str::<Value>(text) {
        Ok(input @ Value::Object(_)) => Ok(Cow::Owned(input)),
        Ok(_) => Err(rejected(format!(
            "arguments of tool call '{name}' must be a JSON object"
        ))),
        Err(_) => Err(rejected(format!(
            "arguments of tool call '{name}' are not valid JSON"
        ))),
    }
}

/// `chatcmpl-` and 24 random hex digits: the id of an answer that came
/// without one.
pub(crate) fn chatcmpl_id() -> String {
    let n: u128 = rand::random();
    let mut id = format!("chatcmpl-{n:032x}");
    id.truncate("chatcmpl-".len() + 24);
    id
}

/// Seconds since the epoch (0 before it), for `created`.
pub(crate) fn unix_time() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A delta with one tool call.
pub(crate) fn tool_calls(call: Map<String, Value>) -> Map<String, Value> {
    let mut delta = Map::new();
    delta.insert("tool_calls".into(), Value::Array(vec![Value::Object(call)]));
    delta
}

/// A stream chunk's one choice.
pub(crate) fn delta_choice(delta: Map<String, Value>, finish: Option<&'static str>) -> Value {
    let mut choice = Map::new();
    choice.insert("index".into(), Value::from(0));
    choice.insert("delta".into(), Value::Object(delta));
    choice.insert("logprobs".into(), Value::Null);
    choice.insert(
        "finish_reason".into(),
        finish.map_or(Value::Null, Value::from),
    );
    Value::Object(choice)
}

/// A `chat.completion`'s one choice: the assistant's text (or `null`),
/// tool calls and reasoning.
pub(crate) fn message_choice(
    text: Option<String>,
    reasoning: Option<String>,
    calls: Vec<Value>,
    finish: &'static str,
) -> Value {
    let mut message = Map::new();
    message.insert("role".into(), Value::from("assistant"));
    message.insert("content".into(), text.map_or(Value::Null, Value::String));
    message.insert("refusal".into(), Value::Null);
    if !calls.is_empty() {
        message.insert("tool_calls".into(), Value::Array(calls));
    }
    if let Some(reasoning) = reasoning {
        message.insert("reasoning_content".into(), Value::String(reasoning));
    }
    let mut choice = Map::new();
    choice.insert("index".into(), Value::from(0));
    choice.insert("message".into(), Value::Object(message));
    choice.insert("logprobs".into(), Value::Null);
    choice.insert("finish_reason".into(), Value::from(finish));
    Value::Object(choice)
}

/// `text` percent-encoded for a URL path segment or query value: RFC 3986's
/// unreserved characters (letters, digits, `-._~`) and those in `keep` as
/// they are, every other byte as `%XX` (so `/`, `:` and `?` of model ids,
/// ARNs and deployment names cannot change the path).
pub(crate) fn percent_encode(text: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') || keep.contains(&b)
        {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
