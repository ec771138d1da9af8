//! A Converse answer: `{output: {message}, stopReason, usage, metrics}`.

use serde::Deserialize;
use serde_json::Value;

/// The answer. `metrics` and other fields are not read.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConverseResponse {
    pub output: Output,
    #[serde(default)]
    pub stop_reason: Option<StopReason>,
    #[serde(default)]
    pub usage: Option<Usage>,
}

/// `output`: a union of which only `message` exists.
#[derive(Debug, Clone, Deserialize)]
pub struct Output {
    #[serde(default)]
    pub message: Option<OutputMessage>,
}

/// The assistant's message.
#[derive(Debug, Clone, Deserialize)]
pub struct OutputMessage {
    #[serde(default)]
    pub content: Vec<OutputBlock>,
}

/// A content block of an answer (a union: one member is set).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputBlock {
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub tool_use: Option<ToolUse>,
    #[serde(default)]
    pub reasoning_content: Option<ReasoningContent>,
}

/// A tool call.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolUse {
    pub tool_use_id: String,
    pub name: String,
    #[serde(default)]
    pub input: Value,
}

/// Reasoning: `reasoningText` (text and signature) or `redactedContent`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReasoningContent {
    #[serde(default)]
    pub reasoning_text: Option<ReasoningText>,
}

/// Readable reasoning.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ReasoningText {
    #[serde(default)]
    pub text: String,
}

/// Why the model stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    EndTurn,
    ToolUse,
    MaxTokens,
    StopSequence,
    GuardrailIntervened,
    ContentFiltered,
    ModelContextWindowExceeded,
    /// `malformed_model_output`, `malformed_tool_use` and any reason this
    /// version does not know.
    #[serde(other)]
    Unknown,
}

/// Token counts. As with Anthropic's API, `inputTokens` excludes cached
/// input: the prompt is input + cache reads + cache writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    #[serde(default)]
    pub input_tokens: Option<u64>,
    #[serde(default)]
    pub output_tokens: Option<u64>,
    #[serde(default)]
    pub cache_read_input_tokens: Option<u64>,
    #[serde(default)]
    pub cache_write_input_tokens: Option<u64>,
}
