//! Where a relayed stream's OpenAI chunks go: to an OpenAI-format client as
//! they are, or re-encoded as Anthropic events for a client of
//! `/v1/messages`.

use serde_json::Value;

use crate::dialect::anthropic::{write_event, StreamEncoder};
use crate::request::Dialect;
use crate::transform::sse::{write_data, write_json};

/// The client's stream format.
pub enum Sink {
    /// `data: <chunk>` lines ending with `data: [DONE]`.
    OpenAi,
    /// Anthropic's `event:`/`data:` sequence.
    Anthropic(Box<StreamEncoder>),
}

impl Sink {
    /// The sink for a client of `dialect`; `model` is the name an
    /// Anthropic client asked for, echoed in its events.
    pub fn new(dialect: Dialect, model: &str) -> Self {
        match dialect {
            Dialect::OpenAi => Self::OpenAi,
            Dialect::Anthropic => Self::Anthropic(Box::new(StreamEncoder::new(model))),
        }
    }

    /// An OpenAI chunk already serialized (passthrough from the provider).
    pub fn chunk_text(&mut self, out: &mut Vec<u8>, data: &str) {
        match self {
            Self::OpenAi => write_data(out, data),
            Self::Anthropic(_) => {
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
        }
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
        }
    }

    /// An in-band error `{"error":{"message","type",…}}`; the stream ends after it.
    pub fn error(&mut self, out: &mut Vec<u8>, error: &Value) {
        match self {
            Self::OpenAi => write_json(out, error),
            Self::Anthropic(enc) => {
                let message = error
                    .pointer("/error/message")
                    .and_then(Value::as_str)
                    .unwrap_or("the provider's stream failed");
                let kind = match error.pointer("/error/type").and_then(Value::as_str) {
                    Some("overloaded_error") => "overloaded_error",
                    Some("rate_limit_error") => "rate_limit_error",
                    _ => "api_error",
                };
                for (name, data) in enc.error(message, kind) {
                    write_event(out, name, &data);
                }
            }
        }
    }
}
