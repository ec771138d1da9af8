//! ConverseStream event payloads, by `:event-type`. Each may carry a `"p"`
//! padding field (against length side channels), ignored like any unknown
//! field.

use serde::Deserialize;

use super::response::{StopReason, Usage};

/// `contentBlockStart`: a tool call's id and name.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentBlockStart {
    #[serde(default)]
    pub start: Start,
    #[serde(default)]
    pub content_block_index: u64,
}

/// What starts (a union; only `toolUse` has a start).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Start {
    #[serde(default)]
    pub tool_use: Option<ToolUseStart>,
}

/// A tool call's head.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolUseStart {
    pub tool_use_id: String,
    pub name: String,
}

/// `contentBlockDelta`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentBlockDelta {
    pub delta: Delta,
    #[serde(default)]
    pub content_block_index: u64,
}

/// A piece of a block (a union: one member is set).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delta {
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub tool_use: Option<ToolUseDelta>,
    #[serde(default)]
    pub reasoning_content: Option<ReasoningDelta>,
}

/// A fragment of a tool call's input JSON text.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ToolUseDelta {
    #[serde(default)]
    pub input: String,
}

/// Reasoning text (or a signature or redacted content, not read).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ReasoningDelta {
    #[serde(default)]
    pub text: Option<String>,
}

/// `messageStop`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageStop {
    #[serde(default)]
    pub stop_reason: Option<StopReason>,
}

/// `metadata`: the usage (and metrics, not read).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Metadata {
    #[serde(default)]
    pub usage: Option<Usage>,
}

/// An exception's payload.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Exception {
    #[serde(default)]
    pub message: Option<String>,
}

/// An `error` message, as the event-stream reader writes it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorMessage {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}
