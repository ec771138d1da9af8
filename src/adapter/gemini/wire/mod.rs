//! Gemini's REST wire format (generativelanguage v1beta, camelCase JSON):
//! the `generateContent` / `streamGenerateContent` request and answer, and
//! `batchEmbedContents`. Serde types for both directions, so a Gemini-format
//! client dialect can share them.
//!
//! Strings are `Cow`s: built from a hub request they borrow its text (base64
//! media is copied once, into the body sent upstream); read from `&Value` or
//! from an event's text they borrow it where no unescaping was needed.
//! Reading tolerates unknown fields and `null` for absent ones.
//! JSON Schemas and other free-form objects stay `serde_json::Value`s.
//!
//! The request types are here; [`tools`] has the function declarations and
//! their schemas, [`answer`] the answer and stream event, [`embeddings`] the
//! embeddings request and answer.

mod answer;
mod de;
mod embeddings;
mod tools;

use std::borrow::Cow;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

pub use answer::{Candidate, GenerateContentResponse, PromptFeedback, Status, UsageMetadata};
pub use embeddings::{
    BatchEmbedContentsRequest, ContentEmbedding, EmbedContentRequest, EmbedContentsResponse,
};
pub use tools::{
    CallingMode, FunctionCallingConfig, FunctionDeclaration, Schema, SchemaNode, Tool, ToolConfig,
};

/// A `models/{model}:generateContent` (or `:streamGenerateContent`) body.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerateContentRequest<'a> {
    /// The conversation, alternating `user` and `model` turns.
    #[serde(borrow, deserialize_with = "de::objects")]
    pub contents: Vec<Content<'a>>,
    /// System text (a content without a role).
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub system_instruction: Option<Content<'a>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool<'a>>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub tool_config: Option<ToolConfig<'a>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub generation_config: Option<GenerationConfig<'a>>,
    /// `[{category, threshold}]`, as routes.yaml's `safety_settings` gives them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safety_settings: Option<Cow<'a, Value>>,
}

/// One turn: a role (`user`, `model`; none in `systemInstruction`) and its parts.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Content<'a> {
    #[serde(
        default,
        borrow,
        deserialize_with = "de::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub role: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "de::objects")]
    pub parts: Vec<Part<'a>>,
}

/// One part of a content: text (maybe a thought summary), media, a function
/// call or a function response; a `thoughtSignature` may ride on any.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Part<'a> {
    #[serde(
        default,
        borrow,
        deserialize_with = "de::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub text: Option<Cow<'a, str>>,
    /// The text is a thought summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thought: Option<bool>,
    /// Opaque; must come back on the same part in later turns (Gemini 3).
    #[serde(
        default,
        borrow,
        deserialize_with = "de::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub thought_signature: Option<Cow<'a, str>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "de::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub inline_data: Option<Blob<'a>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "de::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub file_data: Option<FileData<'a>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "de::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub function_call: Option<FunctionCall<'a>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "de::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub function_response: Option<FunctionResponse<'a>>,
}

/// Inline media: base64 `data` of type `mimeType`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Blob<'a> {
    #[serde(borrow)]
    pub mime_type: Cow<'a, str>,
    #[serde(borrow)]
    pub data: Cow<'a, str>,
}

/// Media by URI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileData<'a> {
    #[serde(
        default,
        borrow,
        deserialize_with = "de::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub mime_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub file_uri: Cow<'a, str>,
}

/// A call the model made; `args` is an object (OpenAI's is a JSON string).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall<'a> {
    /// Only newer models send one.
    #[serde(
        default,
        borrow,
        deserialize_with = "de::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Cow<'a, Value>>,
}

/// A function's result, paired with its call by `name` (and `id` when the
/// call had one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionResponse<'a> {
    #[serde(
        default,
        borrow,
        deserialize_with = "de::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    #[serde(borrow)]
    pub response: FunctionResult<'a>,
}

/// `functionResponse.response`: an object, or `{"output": text}` kept as
/// the text until it is written (no copy of a long tool output).
#[derive(Debug, Clone, PartialEq)]
pub enum FunctionResult<'a> {
    Object(Cow<'a, Value>),
    Output(Cow<'a, str>),
}

impl Serialize for FunctionResult<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            Self::Object(v) => v.serialize(s),
            Self::Output(text) => {
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry("output", text)?;
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for FunctionResult<'_> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self::Object(Cow::Owned(Value::deserialize(d)?)))
    }
}

/// Sampling, length, stop and output-format settings.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerationConfig<'a> {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<i64>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub stop_sequences: Option<Vec<Cow<'a, str>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate_count: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    #[serde(
        default,
        borrow,
        deserialize_with = "de::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub response_mime_type: Option<Cow<'a, str>>,
    /// An OpenAPI-subset schema for the JSON answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_schema: Option<Cow<'a, Value>>,
    /// A full JSON Schema for the JSON answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_json_schema: Option<Cow<'a, Value>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub thinking_config: Option<ThinkingConfig<'a>>,
}

impl GenerationConfig<'_> {
    /// Nothing is set (the field is then left out of the request).
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Thinking: a token budget (0 off, -1 automatic) or a level, and whether
/// thought summaries come back.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThinkingConfig<'a> {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking_budget: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_thoughts: Option<bool>,
    #[serde(
        default,
        borrow,
        deserialize_with = "de::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub thinking_level: Option<Cow<'a, str>>,
}
