//! Ollama's native API: `POST /api/chat` (one JSON object with `"stream":
//! false`, else newline-delimited JSON, `application/x-ndjson`, Ollama's
//! default) and `POST /api/embed`, as Ollama's API reference shows them
//! (docs/api.md, docs/api/streaming.mdx and errors.mdx of ollama/ollama).
//!
//! Ollama's error shape `{"error": "…"}` (in a stream, an `{"error"}`
//! line), a bearer key when `api_key` is set (ollama.com, or a proxy in
//! front), and its validation (`validate.rs`: string contents, base64
//! images, tool-call arguments as objects, `options`, `format`, `think`).
//! Replies: one line per text delta `"tok{i} "`; when tools are offered and
//! the last message is not a tool result, one line with a whole call of the
//! first tool (Ollama never splits a call); then the `done: true` line with
//! done_reason and the counts. With `think` on, one `thinking` line first.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::body::{ndjson_line, Frame};
use super::call::Call;
use super::dialect::{ollama_error, Dialect};
use super::embeddings::embed as vector_of;
use super::reply::{self, prompt_tokens, Reply};
use super::state::Shared;

pub(super) mod validate;

/// What a model says when `think` is on.
pub(crate) const THINKING: &str = "Let me think about it.";
/// The `created_at` of every answer (Ollama's RFC 3339 timestamps).
const CREATED_AT: &str = "2026-08-21T12:00:00.000000Z";

/// `POST /api/chat`.
pub(crate) async fn chat(
    State(shared): State<Arc<Shared>>,
    request: Request,
) -> Result<Response, Response> {
    let call = Call::begin(&shared, request, Dialect::Ollama).await?;
    let chat = validate::chat(&call.req().body, call.chunks()).map_err(|m| bad_request(&m))?;
    let head = Head {
        model: chat.model,
        call_id: call.id("call_mock"),
        think: chat.think,
        prompt_tokens: prompt_tokens(chat.prompt_chars),
        output_tokens: call.chunks(),
    };
    if chat.stream {
        Ok(call.stream(stream_frames(&head, &chat.reply)))
    } else {
        Ok(call.json(&response(&head, &chat.reply)))
    }
}

/// `POST /api/embed`: the mock's 8-dimension vectors, one per input.
pub(crate) async fn embed(
    State(shared): State<Arc<Shared>>,
    request: Request,
) -> Result<Response, Response> {
    let call = Call::begin(&shared, request, Dialect::Ollama).await?;
    let embed = validate::embed(&call.req().body).map_err(|m| bad_request(&m))?;
    let vectors: Vec<Value> = embed
        .inputs
        .iter()
        .map(|t| json!(vector_of(t.as_bytes())))
        .collect();
    let tokens: usize = embed
        .inputs
        .iter()
        .map(|t| prompt_tokens(t.chars().count()))
        .sum();
    let answer = json!({
        "model": embed.model,
        "embeddings": vectors,
        "total_duration": 14_143_917,
        "load_duration": 1_019_500,
        "prompt_eval_count": tokens,
    });
    Ok(call.json(&answer))
}

fn bad_request(message: &str) -> Response {
    ollama_error(StatusCode::BAD_REQUEST, message)
}

/// Fields shared by a response and its stream lines.
#[derive(Debug)]
struct Head {
    model: String,
    call_id: String,
    think: bool,
    prompt_tokens: usize,
    output_tokens: usize,
}

impl Head {
    /// A ChatResponse with `message`; the last one (`done`) with the counts.
    fn line(&self, message: Value, done: bool) -> Value {
        let mut line = json!({
            "model": self.model,
            "created_at": CREATED_AT,
            "message": message,
            "done": done,
        });
        if done {
            let counts = json!({
                "done_reason": "stop",
                "total_duration": 182_242_375,
                "load_duration": 41_295_167,
                "prompt_eval_count": self.prompt_tokens,
                "prompt_eval_duration": 24_573_166,
                "eval_count": self.output_tokens,
                "eval_duration": 115_959_084,
            });
            if let (Some(line), Value::Object(counts)) = (line.as_object_mut(), counts) {
                line.extend(counts);
            }
        }
        line
    }

    fn tool_call(&self, name: &str) -> Value {
        json!({"id": self.call_id, "function": {"index": 0, "name": name, "arguments": reply::tool_input()}})
    }
}

/// The non-stream response.
fn response(head: &Head, reply: &Reply) -> Value {
    let mut message = match reply {
        Reply::Text { deltas } => json!({"role": "assistant", "content": reply::joined(deltas)}),
        Reply::Tool { name } => {
            json!({"role": "assistant", "content": "", "tool_calls": [head.tool_call(name)]})
        }
    };
    if head.think {
        message["thinking"] = json!(THINKING);
    }
    head.line(message, true)
}

/// The NDJSON stream: thinking, text deltas or a whole tool call, the done line.
fn stream_frames(head: &Head, reply: &Reply) -> Vec<Frame> {
    let mut frames = Vec::new();
    if head.think {
        let thinking = json!({"role": "assistant", "content": "", "thinking": THINKING});
        frames.push(Frame::content(ndjson_line(&head.line(thinking, false))));
    }
    match reply {
        Reply::Text { deltas } => frames.extend(deltas.iter().map(|d| {
            let message = json!({"role": "assistant", "content": d});
            Frame::content(ndjson_line(&head.line(message, false)))
        })),
        Reply::Tool { name } => {
            let message =
                json!({"role": "assistant", "content": "", "tool_calls": [head.tool_call(name)]});
            frames.push(Frame::content(ndjson_line(&head.line(message, false))));
        }
    }
    let last = json!({"role": "assistant", "content": ""});
    frames.push(Frame::meta(ndjson_line(&head.line(last, true))));
    frames
}

#[cfg(test)]
mod tests;
