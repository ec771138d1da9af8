//! Where a relayed stream's OpenAI chunks go: to an OpenAI-format client as
//! they are, re-encoded as Anthropic events for a client of `/v1/messages`
//! or as Responses events for a client of `/v1/responses`; or, from a
//! provider that speaks the Responses API itself, its own events as they
//! came.

use serde_json::{json, Value};

use crate::dialect::anthropic::{write_event, StreamEncoder};
use crate::dialect::responses;
use crate::proxy::RequestCtx;
use crate::request::Dialect;
use crate::transform::sse::{write_data, write_json};

/// The client's stream format.
pub enum Sink {
    /// `data: <chunk>` lines ending with `data: [DONE]`.
    OpenAi,
    /// Anthropic's `event:`/`data:` sequence.
    Anthropic(Box<StreamEncoder>),
    /// The Responses API's typed events, from hub chunks.
    Responses(Box<responses::StreamEncoder>),
    /// A provider's own Responses events, passed on (`events` counts them:
    /// the next `sequence_number`); `response` is the final Response.
    Native {
        events: u64,
        response: Option<Value>,
    },
}

impl Sink {
    /// The sink for `ctx`'s client; `model` is the name it asked for,
    /// echoed in Anthropic events; `native` when the provider streams
    /// Responses events itself.
    pub fn new(ctx: &RequestCtx, model: &str, native: bool) -> Self {
        match ctx.dialect {
            Dialect::OpenAi => Self::OpenAi,
            Dialect::Anthropic => Self::Anthropic(Box::new(StreamEncoder::new(model))),
            Dialect::Responses if native => Self::Native {
                events: 0,
                response: None,
            },
            Dialect::Responses => match &ctx.turn {
                Some(turn) => {
                    Self::Responses(Box::new(responses::StreamEncoder::new(turn.meta.clone())))
                }
                None => Self::OpenAi,
            },
        }
    }

    /// An OpenAI chunk already serialized (passthrough from the provider).
    pub fn chunk_text(&mut self, out: &mut Vec<u8>, data: &str) {
        match self {
            Self::OpenAi => write_data(out, data),
            Self::Responses(enc) => enc.chunk_text_into(data, out),
            _ => {
                if let Ok(v) = serde_json::from_str::<Value>(data) {
                    self.chunk(out, &v);
                }
            }
        }
    }

    /// An OpenAI chunk.
    pub fn chunk(&mut self, out: &mut Vec<u8>, chunk: &Value) {
        match self {
            Self::OpenAi => write_json(out, chunk),
            Self::Anthropic(enc) => {
                for (name, data) in enc.chunk(chunk) {
                    write_event(out, name, &data);
                }
            }
            Self::Responses(enc) => enc.chunk_into(chunk, out),
            Self::Native { .. } => {}
        }
    }

    /// One of the provider's own Responses events, as it came.
    pub fn native_event(&mut self, out: &mut Vec<u8>, name: &str, data: &str) {
        if let Self::Native { events, .. } = self {
            *events += 1;
        }
        if !name.is_empty() {
            out.extend_from_slice(b"event: ");
            out.extend_from_slice(name.as_bytes());
            out.push(b'\n');
        }
        write_data(out, data);
    }

    /// The stream is complete.
    pub fn done(&mut self, out: &mut Vec<u8>) {
        match self {
            Self::OpenAi => write_data(out, "[DONE]"),
            Self::Anthropic(enc) => {
                for (name, data) in enc.finish() {
                    write_event(out, name, &data);
                }
            }
            Self::Responses(enc) => enc.finish_into(out),
            Self::Native { .. } => {}
        }
    }

    /// The final Response object of a Responses stream, once it ended.
    pub fn response(&self) -> Option<&Value> {
        match self {
            Self::Responses(enc) => enc.response(),
            Self::Native { response, .. } => response.as_ref(),
            _ => None,
        }
    }

    /// Keeps the final Response a native stream sent.
    pub fn set_response(&mut self, value: Value) {
        if let Self::Native { response, .. } = self {
            *response = Some(value);
        }
    }

    /// An in-band error `{"error":{"message","type",…}}`; the stream ends after it.
    pub fn error(&mut self, out: &mut Vec<u8>, error: &Value) {
        let message = error
            .pointer("/error/message")
            .and_then(Value::as_str)
            .unwrap_or("the provider's stream failed");
        match self {
            Self::OpenAi => write_json(out, error),
            Self::Anthropic(enc) => {
                let kind = match error.pointer("/error/type").and_then(Value::as_str) {
                    Some("overloaded_error") => "overloaded_error",
                    Some("rate_limit_error") => "rate_limit_error",
                    _ => "api_error",
                };
                for (name, data) in enc.error(message, kind) {
                    write_event(out, name, &data);
                }
            }
            Self::Responses(enc) => {
                let code = error
                    .pointer("/error/code")
                    .and_then(Value::as_str)
                    .unwrap_or("api_error");
                enc.error_into(message, code, out);
            }
            Self::Native { events, .. } => {
                let code = error
                    .pointer("/error/code")
                    .and_then(Value::as_str)
                    .unwrap_or("api_error");
                let data = json!({
                    "type": "error",
                    "code": code,
                    "message": message,
                    "param": null,
                    "sequence_number": *events,
                });
                *events += 1;
                write_event(out, "error", &data);
            }
        }
    }
}
