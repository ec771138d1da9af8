//! The output items a hub answer becomes, shared by the whole-body mapping
//! ([`super::response`]) and the stream ([`super::stream`]), written in the
//! SDK's shapes (`ResponseReasoningItem`, `ResponseOutputMessage`,
//! `ResponseFunctionToolCall`, `ResponseCustomToolCall`).

use serde_json::{json, Value};

use super::custom;

/// One output item, as far as it is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Item {
    /// Reasoning text (`reasoning_content` / `reasoning`) as one
    /// `reasoning_text` content part.
    Reasoning { id: String, text: String },
    /// An assistant message of `output_text` and `refusal` parts.
    Message { id: String, parts: Vec<Part> },
    /// A function call; `call_id` is the hub's tool call id.
    Call {
        id: String,
        call_id: String,
        name: String,
        arguments: String,
    },
    /// A call to one of the request's custom tools; `arguments` are the
    /// hub's (raw, as streamed so far), its `input` is read from them.
    Custom {
        id: String,
        call_id: String,
        name: String,
        arguments: String,
    },
}

/// One part of a message: text, or a refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Part {
    pub refusal: bool,
    pub text: String,
}

impl Item {
    pub(super) fn id(&self) -> &str {
        match self {
            Self::Reasoning { id, .. }
            | Self::Message { id, .. }
            | Self::Call { id, .. }
            | Self::Custom { id, .. } => id,
        }
    }

    /// The item with `status` (`in_progress`, `completed`, `incomplete`).
    /// Reasoning without text yet has no content part. A custom tool call
    /// has no status (the SDK's `ResponseCustomToolCall` has none).
    pub(super) fn to_json(&self, status: &str) -> Value {
        match self {
            Self::Reasoning { id, text } => {
                let content = match text.is_empty() {
                    true => json!([]),
                    false => json!([reasoning_part(text)]),
                };
                json!({
                    "id": id, "type": "reasoning", "summary": [], "content": content,
                    "status": status,
                })
            }
            Self::Message { id, parts } => json!({
                "id": id, "type": "message", "status": status, "role": "assistant",
                "content": parts.iter().map(Part::to_json).collect::<Vec<_>>(),
            }),
            Self::Call {
                id,
                call_id,
                name,
                arguments,
            } => json!({
                "id": id, "type": "function_call", "status": status,
                "arguments": arguments, "call_id": call_id, "name": name,
            }),
            Self::Custom {
                id,
                call_id,
                name,
                arguments,
            } => json!({
                "id": id, "type": "custom_tool_call", "call_id": call_id, "name": name,
                "input": custom::input(arguments),
            }),
        }
    }
}

impl Part {
    /// `{type:"output_text", text, annotations:[], logprobs:[]}` or
    /// `{type:"refusal", refusal}`.
    pub(super) fn to_json(&self) -> Value {
        match self.refusal {
            true => json!({ "type": "refusal", "refusal": self.text }),
            false => json!({
                "type": "output_text", "text": self.text, "annotations": [], "logprobs": [],
            }),
        }
    }
}

/// A `reasoning_text` content part.
pub(super) fn reasoning_part(text: &str) -> Value {
    json!({ "type": "reasoning_text", "text": text })
}
