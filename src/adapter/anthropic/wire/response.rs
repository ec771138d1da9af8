//! The response: the message, why it stopped, token counts, and the error
//! body.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::{nullable, ContentBlock};

/// A Messages response (also the `message` of `message_start`). Fields the
/// API always sends are optional when read: an answer without `id`,
/// `model`, `content` or `usage` is still translated.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MessagesResponse<'a> {
    #[serde(borrow, default)]
    pub id: Option<Cow<'a, str>>,
    /// Always `message`.
    #[serde(rename = "type", skip_deserializing)]
    pub kind: MessageKind,
    #[serde(skip_deserializing)]
    pub role: AssistantRole,
    #[serde(borrow, default)]
    pub model: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "nullable")]
    pub content: Vec<ContentBlock<'a>>,
    #[serde(default)]
    pub stop_reason: Option<StopReason>,
    #[serde(borrow, default)]
    pub stop_sequence: Option<Cow<'a, str>>,
    #[serde(default)]
    pub usage: Option<Usage>,
}

/// The `type` of a response, `message`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageKind {
    #[default]
    Message,
}

/// The `role` of a response, `assistant`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AssistantRole {
    #[default]
    Assistant,
}

/// Why the model stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    EndTurn,
    MaxTokens,
    StopSequence,
    ToolUse,
    PauseTurn,
    Refusal,
    ModelContextWindowExceeded,
    /// A reason this version does not know (read, never written).
    #[serde(other, skip_serializing)]
    Unknown,
}

/// Token counts. `input_tokens` excludes cached input: the prompt is the
/// sum of input, cache writes and cache reads. In `message_delta` the
/// counts are cumulative, and any may be null or absent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens_details: Option<OutputTokensDetails>,
}

/// `usage.output_tokens_details`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputTokensDetails {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking_tokens: Option<u64>,
}

/// An error body, `{"type":"error","error":{type, message}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorResponse<'a> {
    /// Always `error`.
    #[serde(rename = "type", skip_deserializing)]
    pub kind: ErrorKind,
    #[serde(borrow)]
    pub error: ErrorDetail<'a>,
}

/// The `type` of an error body, `error`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ErrorKind {
    #[default]
    Error,
}

/// What went wrong: `invalid_request_error`, `overloaded_error`… and a
/// message. Either may be missing when read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail<'a> {
    #[serde(rename = "type", borrow, default)]
    pub kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub message: Option<Cow<'a, str>>,
}
