//! `batchEmbedContents`: the request and the answer.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::answer::UsageMetadata;
use super::Content;

/// A `models/{model}:batchEmbedContents` body (at most 100 requests).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchEmbedContentsRequest<'a> {
    #[serde(borrow)]
    pub requests: Vec<EmbedContentRequest<'a>>,
}

/// One text to embed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmbedContentRequest<'a> {
    /// `models/{model}`.
    #[serde(borrow)]
    pub model: Cow<'a, str>,
    #[serde(borrow)]
    pub content: Content<'a>,
    #[serde(
        default,
        borrow,
        deserialize_with = "super::de::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub task_type: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_dimensionality: Option<i64>,
}

/// A `batchEmbedContents` answer (`embeddings`, in request order) or an
/// `embedContent` one (`embedding`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmbedContentsResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embeddings: Option<Vec<ContentEmbedding>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding: Option<ContentEmbedding>,
    #[serde(
        default,
        deserialize_with = "super::de::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub usage_metadata: Option<UsageMetadata>,
}

/// One embedding.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ContentEmbedding {
    #[serde(default, deserialize_with = "super::de::null_as_empty")]
    pub values: Vec<f32>,
}
