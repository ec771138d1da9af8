//! What the mock answers, independent of the wire format: the text deltas,
//! the canned tool call, and the token estimates.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// Arguments of the canned tool call, as a JSON string.
pub(crate) const TOOL_ARGUMENTS: &str = r#"{"city":"Paris","unit":"c"}"#;

/// The reply the mock gives to one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Reply {
    /// Text made of the deltas `"tok0 "`, `"tok1 "`, ...
    Text { deltas: Vec<String> },
    /// One call to the tool named `name` with [`TOOL_ARGUMENTS`].
    Tool { name: String },
}

impl Reply {
    /// A text reply of `chunks` deltas.
    pub(crate) fn text(chunks: usize) -> Self {
        let deltas = (0..chunks).map(|i| format!("tok{i} ")).collect();
        Reply::Text { deltas }
    }

    /// A tool call if a tool name is given, else a text reply.
    pub(crate) fn choose(tool: Option<String>, chunks: usize) -> Self {
        match tool {
            Some(name) => Reply::Tool { name },
            None => Reply::text(chunks),
        }
    }
}

/// The full text of `deltas`.
pub(crate) fn joined(deltas: &[String]) -> String {
    deltas.concat()
}

/// [`TOOL_ARGUMENTS`] cut into three fragments, as a stream sends them.
pub(crate) fn argument_fragments() -> [&'static str; 3] {
    let third = TOOL_ARGUMENTS.len() / 3;
    let (first, rest) = TOOL_ARGUMENTS.split_at(third);
    let (second, last) = rest.split_at(third);
    [first, second, last]
}

/// [`TOOL_ARGUMENTS`] as a JSON object.
pub(crate) fn tool_input() -> Value {
    serde_json::from_str(TOOL_ARGUMENTS).unwrap_or_default()
}

/// Characters of text in a message `content`: a string, or parts/blocks
/// with `text` (and Anthropic `tool_result` blocks with nested `content`).
pub(crate) fn content_chars(content: &Value) -> usize {
    match content {
        Value::String(s) => s.chars().count(),
        Value::Array(parts) => parts.iter().map(part_chars).sum(),
        _ => 0,
    }
}

fn part_chars(part: &Value) -> usize {
    let text = part.get("text").map_or(0, content_chars);
    let nested = part.get("content").map_or(0, content_chars);
    text + nested
}

/// Prompt tokens for `chars` characters of input: one per 4, at least 1.
pub(crate) fn prompt_tokens(chars: usize) -> usize {
    (chars / 4).max(1)
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests;
