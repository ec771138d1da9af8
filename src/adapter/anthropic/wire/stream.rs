//! The Messages stream's events (wire-formats §2.3), each an SSE event
//! whose `event:` name repeats the `type` of its data: `message_start`,
//! then per content block `content_block_start`, `content_block_delta`s
//! and `content_block_stop`, then `message_delta` (stop reason, cumulative
//! usage) and `message_stop`; `ping` and `error` may come at any time.

use std::borrow::Cow;

use serde::de::{Deserializer, IgnoredAny};
use serde::{Deserialize, Serialize};

use super::{
    nullable, tagged, ContentBlock, ErrorDetail, MessagesResponse, StopReason, Tagged, Usage,
};

/// One stream event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent<'a> {
    MessageStart(MessageStart<'a>),
    ContentBlockStart(ContentBlockStart<'a>),
    ContentBlockDelta(ContentBlockDelta<'a>),
    ContentBlockStop(ContentBlockStop),
    MessageDelta(MessageDeltaEvent<'a>),
    MessageStop,
    Ping,
    Error(ErrorEvent<'a>),
    /// An event this version does not know, by its type.
    #[serde(skip_serializing)]
    Unknown(Cow<'a, str>),
}

impl StreamEvent<'_> {
    /// The event's name: its `event:` line and its data's `type`.
    pub fn name(&self) -> &str {
        match self {
            Self::Unknown(name) => name,
            known => known.known_name().unwrap_or_default(),
        }
    }

    /// The name of an event this version knows (`None` for `Unknown`).
    pub fn known_name(&self) -> Option<&'static str> {
        Some(match self {
            Self::MessageStart(_) => "message_start",
            Self::ContentBlockStart(_) => "content_block_start",
            Self::ContentBlockDelta(_) => "content_block_delta",
            Self::ContentBlockStop(_) => "content_block_stop",
            Self::MessageDelta(_) => "message_delta",
            Self::MessageStop => "message_stop",
            Self::Ping => "ping",
            Self::Error(_) => "error",
            Self::Unknown(_) => return None,
        })
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for StreamEvent<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        tagged::deserialize(d)
    }
}

/// With an SSE event's name as the tag, its data reads as that event
/// without looking at the data's own `type`.
impl<'de: 'a, 'a> Tagged<'de> for StreamEvent<'a> {
    fn from_tag<D: Deserializer<'de>>(tag: &str, d: D) -> Result<Self, D::Error> {
        Ok(match tag {
            "message_start" => Self::MessageStart(Deserialize::deserialize(d)?),
            "content_block_start" => Self::ContentBlockStart(Deserialize::deserialize(d)?),
            "content_block_delta" => Self::ContentBlockDelta(Deserialize::deserialize(d)?),
            "content_block_stop" => Self::ContentBlockStop(Deserialize::deserialize(d)?),
            "message_delta" => Self::MessageDelta(Deserialize::deserialize(d)?),
            "message_stop" => {
                IgnoredAny::deserialize(d)?;
                Self::MessageStop
            }
            "ping" => {
                IgnoredAny::deserialize(d)?;
                Self::Ping
            }
            "error" => Self::Error(Deserialize::deserialize(d)?),
            _ => {
                IgnoredAny::deserialize(d)?;
                Self::Unknown(Cow::Owned(tag.to_string()))
            }
        })
    }
}

/// `message_start`: the message with empty content and the usage so far
/// (a missing or null `message` reads as an empty one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageStart<'a> {
    #[serde(borrow, default, deserialize_with = "nullable")]
    pub message: MessagesResponse<'a>,
}

/// `content_block_start`: block `index` opens (text and thinking empty, a
/// tool_use with `input: {}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContentBlockStart<'a> {
    pub index: u64,
    #[serde(borrow)]
    pub content_block: ContentBlock<'a>,
}

/// `content_block_delta`: more of block `index`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContentBlockDelta<'a> {
    pub index: u64,
    #[serde(borrow)]
    pub delta: BlockDelta<'a>,
}

/// `content_block_stop`: block `index` is complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentBlockStop {
    pub index: u64,
}

/// What a `content_block_delta` adds.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BlockDelta<'a> {
    TextDelta(TextDelta<'a>),
    /// A fragment of a tool_use block's input JSON text.
    InputJsonDelta(InputJsonDelta<'a>),
    ThinkingDelta(ThinkingDelta<'a>),
    SignatureDelta(SignatureDelta<'a>),
    /// `citations_delta` and any other, by its type.
    #[serde(skip_serializing)]
    Unknown(Cow<'a, str>),
}

impl<'de: 'a, 'a> Deserialize<'de> for BlockDelta<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        tagged::deserialize(d)
    }
}

impl<'de: 'a, 'a> Tagged<'de> for BlockDelta<'a> {
    fn from_tag<D: Deserializer<'de>>(tag: &str, d: D) -> Result<Self, D::Error> {
        Ok(match tag {
            "text_delta" => Self::TextDelta(Deserialize::deserialize(d)?),
            "input_json_delta" => Self::InputJsonDelta(Deserialize::deserialize(d)?),
            "thinking_delta" => Self::ThinkingDelta(Deserialize::deserialize(d)?),
            "signature_delta" => Self::SignatureDelta(Deserialize::deserialize(d)?),
            _ => {
                IgnoredAny::deserialize(d)?;
                Self::Unknown(Cow::Owned(tag.to_string()))
            }
        })
    }
}

/// `{type:"text_delta", text}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextDelta<'a> {
    #[serde(borrow)]
    pub text: Cow<'a, str>,
}

/// `{type:"input_json_delta", partial_json}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputJsonDelta<'a> {
    #[serde(borrow)]
    pub partial_json: Cow<'a, str>,
}

/// `{type:"thinking_delta", thinking}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThinkingDelta<'a> {
    #[serde(borrow)]
    pub thinking: Cow<'a, str>,
}

/// `{type:"signature_delta", signature}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignatureDelta<'a> {
    #[serde(borrow)]
    pub signature: Cow<'a, str>,
}

/// `message_delta`: the stop reason and the usage so far (a missing or
/// null `delta` or `usage` reads as an empty one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageDeltaEvent<'a> {
    #[serde(borrow, default, deserialize_with = "nullable")]
    pub delta: MessageDelta<'a>,
    #[serde(default, deserialize_with = "nullable")]
    pub usage: Usage,
}

/// `message_delta.delta`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MessageDelta<'a> {
    #[serde(default)]
    pub stop_reason: Option<StopReason>,
    #[serde(borrow, default)]
    pub stop_sequence: Option<Cow<'a, str>>,
}

/// `error`: the stream failed (a missing or null `error` reads as an
/// empty one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorEvent<'a> {
    #[serde(borrow, default, deserialize_with = "nullable")]
    pub error: ErrorDetail<'a>,
}
