//! A `generateContent` answer, which is also the shape of each event of a
//! `streamGenerateContent?alt=sse` stream.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::Content;

/// A `generateContent` answer, or one event of a stream (which carries only
/// the new parts).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerateContentResponse<'a> {
    #[serde(default, borrow, deserialize_with = "super::de::objects")]
    pub candidates: Vec<Candidate<'a>>,
    /// Why the prompt was blocked (then there are no candidates).
    #[serde(
        default,
        borrow,
        deserialize_with = "super::de::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub prompt_feedback: Option<PromptFeedback<'a>>,
    #[serde(
        default,
        deserialize_with = "super::de::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub usage_metadata: Option<UsageMetadata>,
    #[serde(
        default,
        borrow,
        deserialize_with = "super::de::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub model_version: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "super::de::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub response_id: Option<Cow<'a, str>>,
    /// Not part of the answer: an error event in the middle of a stream.
    #[serde(
        default,
        borrow,
        deserialize_with = "super::de::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub error: Option<Status<'a>>,
}

/// One generated answer.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Candidate<'a> {
    #[serde(
        default,
        borrow,
        deserialize_with = "super::de::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub content: Option<Content<'a>>,
    /// `STOP`, `MAX_TOKENS`, `SAFETY`…; kept as text (new values appear).
    #[serde(
        default,
        borrow,
        deserialize_with = "super::de::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub finish_reason: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PromptFeedback<'a> {
    #[serde(
        default,
        borrow,
        deserialize_with = "super::de::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub block_reason: Option<Cow<'a, str>>,
}

/// Token counts. `candidatesTokenCount` leaves the thoughts out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_token_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidates_token_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thoughts_token_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_content_token_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_use_prompt_token_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_token_count: Option<u64>,
}

/// Google's error object `{code, message, status}` (`details` ignored).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Status<'a> {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i64>,
    #[serde(
        default,
        borrow,
        deserialize_with = "super::de::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub message: Option<Cow<'a, str>>,
    /// `INVALID_ARGUMENT`, `RESOURCE_EXHAUSTED`…
    #[serde(
        default,
        borrow,
        deserialize_with = "super::de::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<Cow<'a, str>>,
}
