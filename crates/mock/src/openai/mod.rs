//! OpenAI Chat Completions (wire-formats §1.1–1.3), `GET /v1/models`, and
//! the OpenAI-shaped 404 for unknown paths.
//!
//! A request whose system message asks for a `SAFE`/`UNSAFE` verdict (both
//! words in it) is answered as a moderation model would: `UNSAFE` when the
//! other messages contain the word `kill` (any case), else `SAFE` — one
//! delta, for the gateway's verdict guardrail.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::body::{self, sse_data, Frame};
use super::call::{Call, KeyCheck};
use super::dialect::{openai_error, Dialect};
use super::reply::{self, argument_fragments, content_chars, prompt_tokens, Reply};
use super::state::{Endpoint, Shared};

/// `created` of the listed model.
const MODEL_CREATED: u64 = 1_700_000_000;
const TOOL_CALL_ID: &str = "call_mock_1";
/// The reasoning deltas of a reply when [`super::MockConfig::reasoning`] is
/// on (DeepSeek's `reasoning_content`, wire-formats §6).
const REASONING: [&str; 2] = ["Thinking it over. ", "Done thinking."];

/// `POST /v1/chat/completions`.
pub(crate) async fn chat(
    State(shared): State<Arc<Shared>>,
    request: Request,
) -> Result<Response, Response> {
    chat_with(&shared, request, KeyCheck::Enforce).await
}

/// A chat completion, with the key check as `keys` says: Vertex AI's
/// OpenAI-compatible endpoint (`super::vertex`) checked its bearer token
/// before and passes `KeyCheck::Skip`.
pub(crate) async fn chat_with(
    shared: &Arc<Shared>,
    request: Request,
    keys: KeyCheck,
) -> Result<Response, Response> {
    let mut call = Call::begin_with(shared, request, Dialect::OpenAi, keys).await?;
    let chat = ChatRequest::parse(&call.req().body, call.chunks()).map_err(|e| e.response())?;
    let head = Head {
        id: call.id("chatcmpl-mock"),
        created: reply::unix_now(),
        model: chat.model.clone(),
        include_usage: chat.include_usage,
        reasoning: call.reasoning(),
    };
    let usage = usage(chat.prompt_tokens, call.chunks());
    call.count_tokens(chat.prompt_tokens + call.chunks());
    if chat.stream {
        Ok(call.stream(stream_frames(&head, &chat.reply, usage)))
    } else {
        Ok(call.json(&completion(&head, &chat.reply, usage)))
    }
}

/// `GET /v1/models`; accepts either provider's way of sending the key.
pub(crate) async fn models(
    State(shared): State<Arc<Shared>>,
    request: Request,
) -> Result<Response, Response> {
    let started = shared.begin(request, Endpoint::Meta).await?;
    if let Some(key) = &started.cfg.api_key {
        let req = &started.req;
        if !Dialect::OpenAi.authorized(req, key) && !Dialect::Anthropic.authorized(req, key) {
            return Err(Dialect::OpenAi.unauthorized());
        }
    }
    let model =
        json!({"id": "mock-gpt", "object": "model", "created": MODEL_CREATED, "owned_by": "mock"});
    let list = json!({"object": "list", "data": [model]});
    Ok(body::json_response(
        Bytes::from(list.to_string()),
        started.guard,
    ))
}

/// Any other path: recorded, then OpenAI's 404 `unknown_url`.
pub(crate) async fn not_found(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let line = format!("{} {}", request.method(), request.uri().path());
    if let Err(response) = shared.begin(request, Endpoint::Meta).await {
        return response;
    }
    let message = format!("Unknown request URL: {line}. Please check the URL for typos.");
    openai_error(
        StatusCode::NOT_FOUND,
        &message,
        "invalid_request_error",
        None,
        Some("unknown_url"),
    )
}

/// The fields of a chat request the mock uses.
#[derive(Debug)]
struct ChatRequest {
    model: String,
    stream: bool,
    include_usage: bool,
    reply: Reply,
    prompt_tokens: usize,
}

impl ChatRequest {
    /// Parses and validates the body.
    fn parse(body: &[u8], chunks: usize) -> Result<Self, Invalid> {
        let body: Value = serde_json::from_slice(body).map_err(|_| Invalid {
            message: "We could not parse the JSON body of your request.",
            param: None,
            code: None,
        })?;
        let model = body.get("model").and_then(Value::as_str).ok_or(Invalid {
            message: "you must provide a model parameter",
            param: None,
            code: None,
        })?;
        let messages = body
            .get("messages")
            .and_then(Value::as_array)
            .ok_or(Invalid {
                message: "Missing required parameter: 'messages'.",
                param: Some("messages"),
                code: Some("missing_required_parameter"),
            })?;
        let chars = messages
            .iter()
            .filter_map(|m| m.get("content"))
            .map(content_chars)
            .sum();
        Ok(ChatRequest {
            model: model.to_owned(),
            stream: body.get("stream").and_then(Value::as_bool).unwrap_or(false),
            include_usage: body
                .pointer("/stream_options/include_usage")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            reply: verdict(messages)
                .unwrap_or_else(|| Reply::choose(tool_to_call(&body, messages), chunks)),
            prompt_tokens: prompt_tokens(chars),
        })
    }
}

/// A moderation model's one-word verdict, when the system message asks
/// for one (see the module's doc).
fn verdict(messages: &[Value]) -> Option<Reply> {
    let text = |m: &Value| {
        m.get("content")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let (system, rest) = messages.split_first()?;
    let asks = system.get("role").and_then(Value::as_str) == Some("system")
        && text(system).contains("UNSAFE")
        && text(system).contains("SAFE");
    if !asks {
        return None;
    }
    let flagged = rest.iter().any(|m| text(m).to_lowercase().contains("kill"));
    let word = if flagged { "UNSAFE" } else { "SAFE" };
    Some(Reply::Text {
        deltas: vec![word.to_string()],
    })
}

/// Why a chat body was rejected; becomes OpenAI's 400.
#[derive(Debug)]
struct Invalid {
    message: &'static str,
    param: Option<&'static str>,
    code: Option<&'static str>,
}

impl Invalid {
    fn response(&self) -> Response {
        let kind = "invalid_request_error";
        openai_error(
            StatusCode::BAD_REQUEST,
            self.message,
            kind,
            self.param,
            self.code,
        )
    }
}

/// The first tool's name, if tools are offered and the last message is not
/// a tool result.
fn tool_to_call(body: &Value, messages: &[Value]) -> Option<String> {
    let first = body.get("tools").and_then(Value::as_array)?.first()?;
    let last_role = messages
        .last()
        .and_then(|m| m.get("role"))
        .and_then(Value::as_str);
    if last_role == Some("tool") {
        return None;
    }
    let name = first
        .pointer("/function/name")
        .or_else(|| first.pointer("/custom/name"));
    name.and_then(Value::as_str).map(str::to_owned)
}

fn usage(prompt: usize, completion: usize) -> Value {
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0, "audio_tokens": 0,
            "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0,
        },
    })
}

/// Fields every object of one response shares.
#[derive(Debug)]
struct Head {
    id: String,
    created: u64,
    model: String,
    include_usage: bool,
    /// Reply with DeepSeek-style `reasoning_content` first.
    reasoning: bool,
}

impl Head {
    /// The common fields of a response object of type `object`.
    fn object(&self, object: &str) -> Map<String, Value> {
        let mut map = Map::new();
        map.insert("id".into(), self.id.clone().into());
        map.insert("object".into(), object.into());
        map.insert("created".into(), self.created.into());
        map.insert("model".into(), self.model.clone().into());
        map.insert("service_tier".into(), "default".into());
        map.insert("system_fingerprint".into(), "fp_mock".into());
        map
    }

    /// One `chat.completion.chunk` event with a single choice.
    fn chunk(&self, delta: Value, finish_reason: Option<&str>) -> Bytes {
        let choice =
            json!({"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason});
        self.chunk_with(json!([choice]), Value::Null)
    }

    fn chunk_with(&self, choices: Value, usage: Value) -> Bytes {
        let mut map = self.object("chat.completion.chunk");
        map.insert("choices".into(), choices);
        if self.include_usage {
            map.insert("usage".into(), usage);
        }
        sse_data(&Value::Object(map))
    }
}

/// The non-stream `chat.completion` (wire-formats §1.2).
fn completion(head: &Head, reply: &Reply, usage: Value) -> Value {
    let (message, finish_reason) = match reply {
        Reply::Text { deltas } => (
            json!({"role": "assistant", "content": reply::joined(deltas), "refusal": null, "annotations": []}),
            "stop",
        ),
        Reply::Tool { name } => {
            let call = json!({"id": TOOL_CALL_ID, "type": "function",
                "function": {"name": name, "arguments": reply::TOOL_ARGUMENTS}});
            let message = json!({"role": "assistant", "content": null, "refusal": null,
                "tool_calls": [call], "annotations": []});
            (message, "tool_calls")
        }
    };
    let mut message = message;
    if head.reasoning {
        message["reasoning_content"] = REASONING.concat().into();
    }
    let mut map = head.object("chat.completion");
    let choice =
        json!({"index": 0, "message": message, "logprobs": null, "finish_reason": finish_reason});
    map.insert("choices".into(), json!([choice]));
    map.insert("usage".into(), usage);
    Value::Object(map)
}

/// The stream events (wire-formats §1.3), ending with `data: [DONE]`.
fn stream_frames(head: &Head, reply: &Reply, usage: Value) -> Vec<Frame> {
    let mut frames = vec![Frame::meta(
        head.chunk(json!({"role": "assistant", "content": ""}), None),
    )];
    if head.reasoning {
        let thinking = REASONING
            .iter()
            .map(|r| head.chunk(json!({"content": null, "reasoning_content": r}), None));
        frames.extend(thinking.map(Frame::content));
    }
    let finish_reason = match reply {
        Reply::Text { deltas } => {
            let content = deltas
                .iter()
                .map(|d| head.chunk(json!({"content": d}), None));
            frames.extend(content.map(Frame::content));
            "stop"
        }
        Reply::Tool { name } => {
            frames.extend(tool_call_frames(head, name));
            "tool_calls"
        }
    };
    frames.push(Frame::meta(head.chunk(json!({}), Some(finish_reason))));
    if head.include_usage {
        frames.push(Frame::meta(head.chunk_with(json!([]), usage)));
    }
    frames.push(Frame::meta(Bytes::from_static(b"data: [DONE]\n\n")));
    frames
}

/// The first tool-call delta (id, name, empty arguments), then the
/// arguments in three fragments.
fn tool_call_frames(head: &Head, name: &str) -> Vec<Frame> {
    let first = json!({"tool_calls": [{"index": 0, "id": TOOL_CALL_ID, "type": "function",
        "function": {"name": name, "arguments": ""}}]});
    let mut frames = vec![Frame::meta(head.chunk(first, None))];
    for fragment in argument_fragments() {
        let delta = json!({"tool_calls": [{"index": 0, "function": {"arguments": fragment}}]});
        frames.push(Frame::content(head.chunk(delta, None)));
    }
    frames
}

#[cfg(test)]
mod tests;
