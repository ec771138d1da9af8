//! Anthropic Messages API (wire-formats §2.1–2.3): validation like the real
//! API, the non-stream message, and the full stream event sequence.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::body::{sse_event, Frame};
use super::call::Call;
use super::dialect::{anthropic_error, Dialect};
use super::reply::{self, argument_fragments, content_chars, prompt_tokens, Reply};
use super::state::Shared;

const TOOL_USE_ID: &str = "toolu_mock_1";
/// The text block a tool reply starts with.
const TOOL_PREAMBLE: &str = "Let me check.";

/// `POST /v1/messages`.
pub(crate) async fn messages(
    State(shared): State<Arc<Shared>>,
    request: Request,
) -> Result<Response, Response> {
    let call = Call::begin(&shared, request, Dialect::Anthropic).await?;
    if call.req().header("anthropic-version").is_none() {
        return Err(bad_request("anthropic-version: header is required"));
    }
    Ok(answer(call, None))
}

/// Answers a messages call that passed its checks: the model comes from
/// `url_model` (Anthropic on Vertex AI names it in the path, see
/// `super::vertex`) or else from the body; a 400 if the body is invalid.
pub(crate) fn answer(mut call: Call, url_model: Option<&str>) -> Response {
    let parsed = match MessagesRequest::parse(&call.req().body, call.chunks(), url_model) {
        Ok(parsed) => parsed,
        Err(message) => return bad_request(&message),
    };
    let head = Head {
        id: call.id("msg_mock"),
        model: parsed.model,
        input_tokens: parsed.input_tokens,
        output_tokens: call.chunks(),
    };
    call.count_tokens(head.input_tokens + head.output_tokens);
    if parsed.stream {
        call.stream(stream_frames(&head, &parsed.reply))
    } else {
        call.json(&message(&head, &parsed.reply))
    }
}

fn bad_request(message: &str) -> Response {
    anthropic_error(StatusCode::BAD_REQUEST, message)
}

/// The fields of a messages request the mock uses.
#[derive(Debug)]
struct MessagesRequest {
    model: String,
    stream: bool,
    reply: Reply,
    input_tokens: usize,
}

impl MessagesRequest {
    /// Parses and validates the body (its `model` unless `url_model` is
    /// given); `Err` is the 400 message.
    fn parse(body: &[u8], chunks: usize, url_model: Option<&str>) -> Result<Self, String> {
        let body: Value = serde_json::from_slice(body)
            .map_err(|e| format!("There was an issue with the request body: invalid JSON ({e})"))?;
        let model = url_model
            .or_else(|| body.get("model").and_then(Value::as_str))
            .ok_or("model: Field required")?;
        body.get("max_tokens")
            .and_then(Value::as_u64)
            .ok_or("max_tokens: Field required")?;
        let messages = body
            .get("messages")
            .and_then(Value::as_array)
            .ok_or("messages: Field required")?;
        check_roles(messages)?;
        let system = body.get("system").map_or(0, content_chars);
        let chars: usize = messages
            .iter()
            .filter_map(|m| m.get("content"))
            .map(content_chars)
            .sum();
        Ok(MessagesRequest {
            model: model.to_owned(),
            stream: body.get("stream").and_then(Value::as_bool).unwrap_or(false),
            reply: Reply::choose(tool_to_call(&body, messages), chunks),
            input_tokens: prompt_tokens(system + chars),
        })
    }
}

fn role(message: &Value) -> &str {
    message
        .get("role")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// Roles must be `user`/`assistant`, start with `user` and alternate.
fn check_roles(messages: &[Value]) -> Result<(), String> {
    if messages.is_empty() {
        return Err("messages: at least one message is required".into());
    }
    let mut previous = None;
    for (i, message) in messages.iter().enumerate() {
        let role = role(message);
        match role {
            "user" | "assistant" => {}
            "system" => {
                return Err(format!(
                    "messages.{i}.role: Unexpected role \"system\". The Messages API accepts a \
                     top-level `system` parameter, not \"system\" as an input message role."
                ))
            }
            _ => {
                return Err(format!(
                    "messages.{i}.role: Input should be 'user' or 'assistant'"
                ))
            }
        }
        if i == 0 && role != "user" {
            return Err("messages: first message must use the \"user\" role".into());
        }
        if previous == Some(role) {
            return Err(format!(
                "messages: roles must alternate between \"user\" and \"assistant\", \
                 but found multiple \"{role}\" roles in a row"
            ));
        }
        previous = Some(role);
    }
    Ok(())
}

/// The first tool's name, if tools are offered and the last user message
/// carries no `tool_result` block.
fn tool_to_call(body: &Value, messages: &[Value]) -> Option<String> {
    let first = body.get("tools").and_then(Value::as_array)?.first()?;
    let last_user = messages.iter().rev().find(|m| role(m) == "user");
    let blocks = last_user
        .and_then(|m| m.get("content"))
        .and_then(Value::as_array);
    let answered = blocks.is_some_and(|blocks| {
        blocks
            .iter()
            .any(|b| b.get("type").and_then(Value::as_str) == Some("tool_result"))
    });
    if answered {
        return None;
    }
    first.get("name").and_then(Value::as_str).map(str::to_owned)
}

/// Fields shared by the message and its stream events.
#[derive(Debug)]
struct Head {
    id: String,
    model: String,
    input_tokens: usize,
    output_tokens: usize,
}

impl Head {
    /// The message object with the given content, stop reason and usage.
    fn message(&self, content: Value, stop_reason: Option<&str>, output_tokens: usize) -> Value {
        json!({
            "id": self.id, "type": "message", "role": "assistant", "model": self.model,
            "content": content, "stop_reason": stop_reason, "stop_sequence": null,
            "usage": {
                "input_tokens": self.input_tokens, "output_tokens": output_tokens,
                "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
            },
        })
    }
}

fn stop_reason(reply: &Reply) -> &'static str {
    match reply {
        Reply::Text { .. } => "end_turn",
        Reply::Tool { .. } => "tool_use",
    }
}

/// The non-stream message (wire-formats §2.2).
fn message(head: &Head, reply: &Reply) -> Value {
    let content = match reply {
        Reply::Text { deltas } => json!([{"type": "text", "text": reply::joined(deltas)}]),
        Reply::Tool { name } => json!([
            {"type": "text", "text": TOOL_PREAMBLE},
            {"type": "tool_use", "id": TOOL_USE_ID, "name": name, "input": reply::tool_input()},
        ]),
    };
    head.message(content, Some(stop_reason(reply)), head.output_tokens)
}

/// `event: <name>` with `data` = `fields` plus `"type": <name>`.
fn event(name: &str, fields: Value) -> Bytes {
    let mut map = match fields {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    map.insert("type".into(), name.into());
    sse_event(name, &Value::Object(map))
}

fn text_delta(index: usize, text: &str) -> Frame {
    let delta = json!({"type": "text_delta", "text": text});
    Frame::content(event(
        "content_block_delta",
        json!({"index": index, "delta": delta}),
    ))
}

fn block_start(index: usize, block: Value) -> Frame {
    Frame::meta(event(
        "content_block_start",
        json!({"index": index, "content_block": block}),
    ))
}

fn block_stop(index: usize) -> Frame {
    Frame::meta(event("content_block_stop", json!({"index": index})))
}

/// The stream events (wire-formats §2.3), from `message_start` to
/// `message_stop`.
fn stream_frames(head: &Head, reply: &Reply) -> Vec<Frame> {
    let start = head.message(json!([]), None, 1);
    let mut frames = vec![
        Frame::meta(event("message_start", json!({"message": start}))),
        block_start(0, json!({"type": "text", "text": ""})),
        Frame::meta(event("ping", json!({}))),
    ];
    match reply {
        Reply::Text { deltas } => frames.extend(deltas.iter().map(|d| text_delta(0, d))),
        Reply::Tool { .. } => frames.push(text_delta(0, TOOL_PREAMBLE)),
    }
    frames.push(block_stop(0));
    if let Reply::Tool { name } = reply {
        frames.extend(tool_use_frames(1, name));
    }
    let delta = json!({"stop_reason": stop_reason(reply), "stop_sequence": null});
    let usage = json!({"output_tokens": head.output_tokens});
    frames.push(Frame::meta(event(
        "message_delta",
        json!({"delta": delta, "usage": usage}),
    )));
    frames.push(Frame::meta(event("message_stop", json!({}))));
    frames
}

/// A `tool_use` block at `index` whose input arrives in three fragments.
fn tool_use_frames(index: usize, name: &str) -> Vec<Frame> {
    let block = json!({"type": "tool_use", "id": TOOL_USE_ID, "name": name, "input": {}});
    let mut frames = vec![block_start(index, block)];
    for fragment in argument_fragments() {
        let delta = json!({"type": "input_json_delta", "partial_json": fragment});
        let body = json!({"index": index, "delta": delta});
        frames.push(Frame::content(event("content_block_delta", body)));
    }
    frames.push(block_stop(index));
    frames
}

#[cfg(test)]
mod tests;
