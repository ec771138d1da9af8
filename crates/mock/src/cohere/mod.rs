//! Cohere's native API v2: `POST /v2/chat` (JSON, or server-sent events with
//! `event:` names when `"stream": true`) and `POST /v2/embed`, as the v2
//! reference shows them (docs.cohere.com/reference/chat, chat-stream, embed).
//!
//! Bearer keys, Cohere's error shape `{"id","message"}` and its validation
//! (`validate.rs`: unknown fields, roles, tool-call pairing, ranges).
//! Replies: text deltas `"tok{i} "` as `content-delta` events between
//! `content-start` and `content-end`; when tools are offered and the last
//! message is not a tool result, a `tool_plan` and a call of the first tool
//! (`tool-plan-delta`, `tool-call-start`, three `tool-call-delta`s,
//! `tool-call-end`); `message-end` carries the finish_reason and the usage.
//! No `[DONE]` line.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::body::{sse_event, Frame};
use super::call::Call;
use super::dialect::{cohere_error, Dialect};
use super::embeddings::embed as vector_of;
use super::reply::{self, argument_fragments, prompt_tokens, Reply, TOOL_ARGUMENTS};
use super::state::Shared;

pub(super) mod validate;

/// The id of the mock's tool call (Cohere ids read `<tool>_<random>`).
const TOOL_CALL_SUFFIX: &str = "_mock0001";
/// The plan a tool reply gives before its call.
pub(crate) const TOOL_PLAN: &str = "I will look that up.";

/// `POST /v2/chat`.
pub(crate) async fn chat(
    State(shared): State<Arc<Shared>>,
    request: Request,
) -> Result<Response, Response> {
    let call = Call::begin(&shared, request, Dialect::Cohere).await?;
    let chat = validate::chat(&call.req().body, call.chunks()).map_err(|m| bad_request(&m))?;
    let head = Head {
        id: call.id(MOCK_ID),
        prompt_tokens: prompt_tokens(chat.prompt_chars),
        output_tokens: call.chunks(),
    };
    if chat.stream {
        Ok(call.stream(stream_frames(&head, &chat.reply)))
    } else {
        Ok(call.json(&response(&head, &chat.reply)))
    }
}

/// `POST /v2/embed`: float embeddings (the mock's 8-dimension vectors).
pub(crate) async fn embed(
    State(shared): State<Arc<Shared>>,
    request: Request,
) -> Result<Response, Response> {
    let call = Call::begin(&shared, request, Dialect::Cohere).await?;
    let texts = validate::embed(&call.req().body).map_err(|m| bad_request(&m))?;
    let vectors: Vec<Value> = texts
        .iter()
        .map(|t| json!(vector_of(t.as_bytes())))
        .collect();
    let tokens: usize = texts.iter().map(|t| prompt_tokens(t.chars().count())).sum();
    let answer = json!({
        "id": call.id(MOCK_ID),
        "texts": texts,
        "embeddings": {"float": vectors},
        "meta": {"api_version": {"version": "2"}, "billed_units": {"input_tokens": tokens}},
        "response_type": "embeddings_by_type",
    });
    Ok(call.json(&answer))
}

/// The prefix of the mock's response ids (Cohere's are UUIDs).
const MOCK_ID: &str = "c0e4e2e0-0000-4000-8000-mock-";

fn bad_request(message: &str) -> Response {
    cohere_error(StatusCode::BAD_REQUEST, message)
}

/// Fields shared by a response and its stream events.
#[derive(Debug)]
struct Head {
    id: String,
    prompt_tokens: usize,
    output_tokens: usize,
}

impl Head {
    fn usage(&self) -> Value {
        let counts =
            json!({"input_tokens": self.prompt_tokens, "output_tokens": self.output_tokens});
        json!({"billed_units": counts, "tokens": counts})
    }
}

fn finish_reason(reply: &Reply) -> &'static str {
    match reply {
        Reply::Text { .. } => "COMPLETE",
        Reply::Tool { .. } => "TOOL_CALL",
    }
}

fn tool_call_id(name: &str) -> String {
    format!("{name}{TOOL_CALL_SUFFIX}")
}

/// The non-stream response.
fn response(head: &Head, reply: &Reply) -> Value {
    let message = match reply {
        Reply::Text { deltas } => json!({
            "role": "assistant",
            "content": [{"type": "text", "text": reply::joined(deltas)}],
        }),
        Reply::Tool { name } => json!({
            "role": "assistant",
            "tool_plan": TOOL_PLAN,
            "tool_calls": [{"id": tool_call_id(name), "type": "function",
                            "function": {"name": name, "arguments": TOOL_ARGUMENTS}}],
        }),
    };
    json!({
        "id": head.id,
        "message": message,
        "finish_reason": finish_reason(reply),
        "usage": head.usage(),
    })
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

fn message_delta(name: &str, index: Option<usize>, message: Value) -> Bytes {
    let mut fields = json!({"delta": {"message": message}});
    if let Some(index) = index {
        fields["index"] = json!(index);
    }
    event(name, fields)
}

/// The stream (chat-stream reference), from `message-start` to `message-end`.
fn stream_frames(head: &Head, reply: &Reply) -> Vec<Frame> {
    let start = json!({"id": head.id, "delta": {"message": {"role": "assistant"}}});
    let mut frames = vec![Frame::meta(event("message-start", start))];
    match reply {
        Reply::Text { deltas } => {
            let open = json!({"content": {"type": "text", "text": ""}});
            frames.push(Frame::meta(message_delta("content-start", Some(0), open)));
            frames.extend(deltas.iter().map(|d| {
                let content = json!({"content": {"text": d}});
                Frame::content(message_delta("content-delta", Some(0), content))
            }));
            frames.push(Frame::meta(event("content-end", json!({"index": 0}))));
        }
        Reply::Tool { name } => frames.extend(tool_frames(name)),
    }
    let end = json!({"delta": {"finish_reason": finish_reason(reply), "usage": head.usage()}});
    frames.push(Frame::meta(event("message-end", end)));
    frames
}

/// The plan, then one tool call whose arguments arrive in three fragments.
fn tool_frames(name: &str) -> Vec<Frame> {
    let plan = json!({"tool_plan": TOOL_PLAN});
    let call = json!({"tool_calls": {"id": tool_call_id(name), "type": "function",
                                     "function": {"name": name, "arguments": ""}}});
    let mut frames = vec![
        Frame::content(message_delta("tool-plan-delta", None, plan)),
        Frame::meta(message_delta("tool-call-start", Some(0), call)),
    ];
    for fragment in argument_fragments() {
        let delta = json!({"tool_calls": {"function": {"arguments": fragment}}});
        frames.push(Frame::content(message_delta(
            "tool-call-delta",
            Some(0),
            delta,
        )));
    }
    frames.push(Frame::meta(event("tool-call-end", json!({"index": 0}))));
    frames
}

#[cfg(test)]
mod tests;
