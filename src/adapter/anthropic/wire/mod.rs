//! Anthropic's Messages API on the wire (wire-formats §2): the request, the
//! response, the stream events ([`stream`]) and the error body, as typed
//! serde structs. The built-in adapter writes requests and reads answers
//! with them; the `/v1/messages` dialect reads requests and writes answers
//! with the same types. Messages and content blocks are here; the
//! request's top level, the response and the events are in submodules,
//! re-exported.
//!
//! Reading tolerates what the API adds: unknown fields are ignored, and a
//! block, source, tool choice or event of an unknown `type` is kept as the
//! enum's `Unknown` variant (never written). Strings and opaque JSON (JSON
//! Schemas, tool inputs, `cache_control`) are `Cow`s: borrowed from the
//! input or from the hub request when they can be, owned otherwise.
//! Optional fields are left out when written.

use std::borrow::Cow;

use serde::de::{Deserializer, IgnoredAny};
use serde::{Deserialize, Serialize};
use serde_json::Value;

mod request;
mod response;
pub mod stream;
mod tagged;

pub use request::{
    CountTokensRequest, JsonSchemaFormat, MessagesRequest, Metadata, NamedToolChoice, OutputConfig,
    OutputFormat, ThinkingBudget, ThinkingConfig, Tool, ToolChoice, ToolChoiceOptions,
};
pub use response::{
    AssistantRole, ErrorDetail, ErrorKind, ErrorResponse, MessageKind, MessagesResponse,
    OutputTokensDetails, StopReason, Usage,
};
pub use stream::{BlockDelta, MessageDelta, StreamEvent};
pub use tagged::Tagged;
use tagged::TextOrList;

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

/// One turn of the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message<'a> {
    pub role: Role,
    #[serde(borrow)]
    pub content: Content<'a>,
}

/// A message's or tool result's content: a string, or a list of blocks.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Content<'a> {
    Text(Cow<'a, str>),
    Blocks(Vec<ContentBlock<'a>>),
}

impl<'de: 'a, 'a> Deserialize<'de> for Content<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let content = TextOrList::deserialize(d, "a valid string or a list of content blocks")?;
        Ok(match content {
            TextOrList::Text(text) => Self::Text(text),
            TextOrList::List(blocks) => Self::Blocks(blocks),
        })
    }
}

/// `system`: a string, or text blocks.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum SystemPrompt<'a> {
    Text(Cow<'a, str>),
    Blocks(Vec<SystemBlock<'a>>),
}

impl<'de: 'a, 'a> Deserialize<'de> for SystemPrompt<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let system = TextOrList::deserialize(d, "a valid string or a list of text blocks")?;
        Ok(match system {
            TextOrList::Text(text) => Self::Text(text),
            TextOrList::List(blocks) => Self::Blocks(blocks),
        })
    }
}

/// A block of `system`: text (the API refuses any other).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SystemBlock<'a> {
    Text(TextBlock<'a>),
    /// A block of another type, by its type (its fields are not read).
    #[serde(skip_serializing)]
    Unknown(Cow<'a, str>),
}

impl<'de: 'a, 'a> Deserialize<'de> for SystemBlock<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        tagged::deserialize(d)
    }
}

impl<'de: 'a, 'a> Tagged<'de> for SystemBlock<'a> {
    fn from_tag<D: Deserializer<'de>>(tag: &str, d: D) -> Result<Self, D::Error> {
        Ok(match tag {
            "text" => Self::Text(Deserialize::deserialize(d)?),
            _ => unknown(tag, d).map(Self::Unknown)?,
        })
    }
}

/// One content block, of a request or of a response.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentBlock<'a> {
    Text(TextBlock<'a>),
    Image(ImageBlock<'a>),
    Document(DocumentBlock<'a>),
    ToolUse(ToolUseBlock<'a>),
    ToolResult(ToolResultBlock<'a>),
    Thinking(ThinkingBlock<'a>),
    RedactedThinking(RedactedThinkingBlock<'a>),
    /// Any other block (server-tool blocks, search results…).
    #[serde(skip_serializing)]
    Unknown(UnknownBlock<'a>),
}

/// A content block of a type this version does not know: its type and its
/// other fields as they came.
#[derive(Debug, Clone, PartialEq)]
pub struct UnknownBlock<'a> {
    pub kind: Cow<'a, str>,
    pub fields: serde_json::Map<String, Value>,
}

impl ContentBlock<'_> {
    /// The block's `type`.
    pub fn kind(&self) -> &str {
        match self {
            Self::Text(_) => "text",
            Self::Image(_) => "image",
            Self::Document(_) => "document",
            Self::ToolUse(_) => "tool_use",
            Self::ToolResult(_) => "tool_result",
            Self::Thinking(_) => "thinking",
            Self::RedactedThinking(_) => "redacted_thinking",
            Self::Unknown(block) => &block.kind,
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for ContentBlock<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        tagged::deserialize(d)
    }
}

impl<'de: 'a, 'a> Tagged<'de> for ContentBlock<'a> {
    fn from_tag<D: Deserializer<'de>>(tag: &str, d: D) -> Result<Self, D::Error> {
        Ok(match tag {
            "text" => Self::Text(Deserialize::deserialize(d)?),
            "image" => Self::Image(Deserialize::deserialize(d)?),
            "document" => Self::Document(Deserialize::deserialize(d)?),
            "tool_use" => Self::ToolUse(Deserialize::deserialize(d)?),
            "tool_result" => Self::ToolResult(Deserialize::deserialize(d)?),
            "thinking" => Self::Thinking(Deserialize::deserialize(d)?),
            "redacted_thinking" => Self::RedactedThinking(Deserialize::deserialize(d)?),
            _ => Self::Unknown(UnknownBlock {
                kind: Cow::Owned(tag.to_string()),
                fields: Deserialize::deserialize(d)?,
            }),
        })
    }
}

/// Skips an unknown variant's fields and keeps its tag.
pub(super) fn unknown<'de, 'a, D: Deserializer<'de>>(
    tag: &str,
    d: D,
) -> Result<Cow<'a, str>, D::Error> {
    IgnoredAny::deserialize(d)?;
    Ok(Cow::Owned(tag.to_string()))
}

/// `{type:"text", text}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextBlock<'a> {
    #[serde(borrow)]
    pub text: Cow<'a, str>,
    /// Prompt-caching mark, passed on as the client wrote it.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<Cow<'a, Value>>,
}

/// `{type:"image", source}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageBlock<'a> {
    #[serde(borrow)]
    pub source: ImageSource<'a>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<Cow<'a, Value>>,
}

/// Where an image's bytes are.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ImageSource<'a> {
    Base64(Base64Source<'a>),
    Url(UrlSource<'a>),
    /// A file id or another source type, by its type.
    #[serde(skip_serializing)]
    Unknown(Cow<'a, str>),
}

impl<'de: 'a, 'a> Deserialize<'de> for ImageSource<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        tagged::deserialize(d)
    }
}

impl<'de: 'a, 'a> Tagged<'de> for ImageSource<'a> {
    fn from_tag<D: Deserializer<'de>>(tag: &str, d: D) -> Result<Self, D::Error> {
        Ok(match tag {
            "base64" => Self::Base64(Deserialize::deserialize(d)?),
            "url" => Self::Url(Deserialize::deserialize(d)?),
            _ => unknown(tag, d).map(Self::Unknown)?,
        })
    }
}

/// `{type:"base64", media_type, data}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Base64Source<'a> {
    #[serde(borrow)]
    pub media_type: Cow<'a, str>,
    #[serde(borrow)]
    pub data: Cow<'a, str>,
}

/// `{type:"url", url}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UrlSource<'a> {
    #[serde(borrow)]
    pub url: Cow<'a, str>,
}

/// `{type:"document", source, title?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentBlock<'a> {
    #[serde(borrow)]
    pub source: DocumentSource<'a>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub title: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<Cow<'a, Value>>,
}

/// Where a document is: a base64 PDF, plain text, or a URL.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DocumentSource<'a> {
    Base64(Base64Source<'a>),
    Text(TextSource<'a>),
    Url(UrlSource<'a>),
    /// Content blocks, a file id or another source type, by its type.
    #[serde(skip_serializing)]
    Unknown(Cow<'a, str>),
}

impl<'de: 'a, 'a> Deserialize<'de> for DocumentSource<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        tagged::deserialize(d)
    }
}

impl<'de: 'a, 'a> Tagged<'de> for DocumentSource<'a> {
    fn from_tag<D: Deserializer<'de>>(tag: &str, d: D) -> Result<Self, D::Error> {
        Ok(match tag {
            "base64" => Self::Base64(Deserialize::deserialize(d)?),
            "text" => Self::Text(Deserialize::deserialize(d)?),
            "url" => Self::Url(Deserialize::deserialize(d)?),
            _ => unknown(tag, d).map(Self::Unknown)?,
        })
    }
}

/// `{type:"text", media_type?, data}`: a plain-text document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextSource<'a> {
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub data: Cow<'a, str>,
}

/// `{type:"tool_use", id, name, input}`: the assistant calls a tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolUseBlock<'a> {
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    /// A JSON object; `null` when the block had none.
    #[serde(borrow, default)]
    pub input: Cow<'a, Value>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<Cow<'a, Value>>,
}

/// `{type:"tool_result", tool_use_id, content?, is_error?}`: a tool's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolResultBlock<'a> {
    #[serde(borrow)]
    pub tool_use_id: Cow<'a, str>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Content<'a>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_error: Option<bool>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<Cow<'a, Value>>,
}

/// `{type:"thinking", thinking, signature}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThinkingBlock<'a> {
    #[serde(borrow)]
    pub thinking: Cow<'a, str>,
    #[serde(borrow, default)]
    pub signature: Cow<'a, str>,
}

/// `{type:"redacted_thinking", data}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RedactedThinkingBlock<'a> {
    #[serde(borrow)]
    pub data: Cow<'a, str>,
}

/// A value where `null` means the same as absent: the type's default.
pub(super) fn nullable<'de, T, D>(d: D) -> Result<T, D::Error>
where
    T: Deserialize<'de> + Default,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}
