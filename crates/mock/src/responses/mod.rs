//! OpenAI's Responses API, natively: `POST /v1/responses`.
//!
//! The reply follows the chat mock's rule (`reply.rs`): when tools are
//! offered and the last input item is not a `function_call_output`, a call
//! of the first tool (a `function_call` item `fc_mock_N`, `call_id`
//! `call_mock_1`, arguments `{"city":"Paris","unit":"c"}`); otherwise the
//! text `tok0 tok1 …` of `chunks` deltas (a `message` item `msg_mock_N`
//! with one `output_text` part). It comes as a Response object
//! (`resp_mock_N`, status `completed`) or as the typed event stream
//! (`stream.rs`). Usage: input tokens as the chat mock counts them (the
//! instructions and the input's text, one token per 4 characters, at least
//! 1), output tokens = `chunks`. Requests are checked in `validate.rs`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::Response;
use serde_json::{json, Map, Value};

use super::call::Call;
use super::dialect::Dialect;
use super::reply::{self, Reply, TOOL_ARGUMENTS};
use super::state::Shared;

mod input;
mod stream;
mod validate;

/// The `call_id` of the mock's function call (the chat mock's id too).
const CALL_ID: &str = "call_mock_1";

/// `POST /v1/responses`.
pub(crate) async fn create(
    State(shared): State<Arc<Shared>>,
    request: Request,
) -> Result<Response, Response> {
    let mut call = Call::begin(&shared, request, Dialect::Responses).await?;
    let req = validate::parse(&call.req().body, call.chunks()).map_err(|e| e.response())?;
    let head = Head {
        id: call.id("resp_mock_"),
        message_id: call.id("msg_mock_"),
        function_call_id: call.id("fc_mock_"),
        created_at: reply::unix_now(),
        model: req.model.clone(),
        settings: req.body.clone(),
        input_tokens: req.input_tokens,
        output_tokens: call.chunks(),
    };
    call.count_tokens(head.input_tokens + head.output_tokens);
    if req.stream {
        Ok(call.stream(stream::frames(&head, &req.reply)))
    } else {
        let output = vec![head.item(&req.reply, true)];
        Ok(call.json(&head.response("completed", output, head.usage())))
    }
}

/// What every object of one response shares.
#[derive(Debug)]
struct Head {
    id: String,
    message_id: String,
    function_call_id: String,
    created_at: u64,
    model: String,
    /// The request body: the Response object repeats its settings.
    settings: Map<String, Value>,
    input_tokens: usize,
    output_tokens: usize,
}

impl Head {
    /// Request setting `key`, or `default` when it was not given.
    fn setting(&self, key: &str, default: Value) -> Value {
        let given = self.settings.get(key).filter(|v| !v.is_null());
        given.cloned().unwrap_or(default)
    }

    /// The Response object with `status`, `output` and `usage`.
    fn response(&self, status: &str, output: Vec<Value>, usage: Value) -> Value {
        let completed_at = (status == "completed").then_some(self.created_at);
        json!({
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "completed_at": completed_at,
            "status": status,
            "background": false,
            "error": null,
            "incomplete_details": null,
            "instructions": self.setting("instructions", Value::Null),
            "max_output_tokens": self.setting("max_output_tokens", Value::Null),
            "max_tool_calls": self.setting("max_tool_calls", Value::Null),
            "model": self.model,
            "output": output,
            "parallel_tool_calls": self.setting("parallel_tool_calls", json!(true)),
            "previous_response_id": null,
            "reasoning": self.setting("reasoning", json!({"effort": null, "summary": null})),
            "service_tier": "default",
            "store": self.setting("store", json!(true)),
            "temperature": self.setting("temperature", json!(1.0)),
            "text": self.setting("text", json!({"format": {"type": "text"}, "verbosity": "medium"})),
            "tool_choice": self.setting("tool_choice", json!("auto")),
            "tools": self.setting("tools", json!([])),
            "top_logprobs": self.setting("top_logprobs", json!(0)),
            "top_p": self.setting("top_p", json!(1.0)),
            "truncation": self.setting("truncation", json!("disabled")),
            "usage": usage,
            "user": null,
            "metadata": self.setting("metadata", json!({})),
        })
    }

    fn usage(&self) -> Value {
        json!({
            "input_tokens": self.input_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": self.output_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": self.input_tokens + self.output_tokens,
        })
    }

    /// The output item of `reply`: complete when `done`, else as a stream
    /// first announces it (no content, empty arguments).
    fn item(&self, reply: &Reply, done: bool) -> Value {
        let status = if done { "completed" } else { "in_progress" };
        match reply {
            Reply::Text { deltas } => {
                let content = if done {
                    json!([output_text(&reply::joined(deltas))])
                } else {
                    json!([])
                };
                json!({"id": self.message_id, "type": "message", "status": status,
                    "role": "assistant", "content": content})
            }
            Reply::Tool { name } => {
                let arguments = if done { TOOL_ARGUMENTS } else { "" };
                json!({"id": self.function_call_id, "type": "function_call", "status": status,
                    "call_id": CALL_ID, "name": name, "arguments": arguments})
            }
        }
    }
}

/// An `output_text` content part.
fn output_text(text: &str) -> Value {
    json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []})
}

#[cfg(test)]
mod tests;
