//! What the stream encoder reads of a hub `chat.completion.chunk`, borrowed
//! from the chunk's text (or its `Value`) instead of a whole `Value` tree:
//! `error`, `usage`, and per choice its `index`, `finish_reason` and the
//! delta's text, reasoning, refusal and tool-call fragments.
//!
//! Two ways in, with the same meaning: [`HubChunk::parse`] from the text
//! (strict types: a chunk whose fields have unexpected types does not
//! parse, and the caller falls back to a `Value`), and
//! [`HubChunk::from_value`], lenient like `Value::as_str`: a field of an
//! unexpected type counts as absent.

use std::borrow::Cow;

use serde::de::{Deserializer, Visitor};
use serde::Deserialize;
use serde_json::Value;

/// One hub chunk, as far as the encoder reads it.
#[derive(Debug, Default, Deserialize)]
pub(super) struct HubChunk<'a> {
    /// An in-band error (`null` is none).
    #[serde(default, borrow)]
    pub error: Option<Cow<'a, Value>>,
    #[serde(default, borrow)]
    pub usage: Option<Cow<'a, Value>>,
    #[serde(default, borrow)]
    pub choices: Option<Vec<Choice<'a>>>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct Choice<'a> {
    #[serde(default)]
    pub index: Option<u64>,
    #[serde(default, borrow)]
    pub delta: Option<Delta<'a>>,
    #[serde(default, borrow)]
    pub finish_reason: Option<Text<'a>>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct Delta<'a> {
    #[serde(default, borrow)]
    pub content: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub refusal: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub reasoning_content: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub reasoning: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub tool_calls: Option<Vec<ToolCall<'a>>>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct ToolCall<'a> {
    #[serde(default)]
    pub index: Option<u64>,
    #[serde(default, borrow)]
    pub id: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub function: Option<Function<'a>>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct Function<'a> {
    #[serde(default, borrow)]
    pub name: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub arguments: Option<Text<'a>>,
}

/// A JSON string, borrowed from the input unless it had escapes (serde's
/// `Cow<str>` always copies inside an `Option`).
#[derive(Debug)]
pub(super) struct Text<'a>(pub Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Str;
        impl<'de> Visitor<'de> for Str {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(Str)
    }
}

impl<'a> HubChunk<'a> {
    /// The chunk in `text`; `None` when it is not an object or a field has
    /// an unexpected type (then read it as a `Value`).
    pub(super) fn parse(text: &'a str) -> Option<Self> {
        // serde also reads a struct from an array, by position.
        if !text.trim_start().starts_with('{') {
            return None;
        }
        serde_json::from_str(text).ok()
    }

    /// The chunk in `value`, if it is an object; fields of other types than
    /// expected count as absent.
    pub(super) fn from_value(value: &'a Value) -> Option<Self> {
        let object = value.as_object()?;
        let choices = object.get("choices").and_then(Value::as_array).map(|all| {
            all.iter()
                .map(|choice| Choice {
                    index: Some(choice.get("index").and_then(Value::as_u64).unwrap_or(0)),
                    delta: choice.get("delta").map(Delta::from_value),
                    finish_reason: text(choice.get("finish_reason")),
                })
                .collect()
        });
        Some(Self {
            error: object
                .get("error")
                .filter(|e| !e.is_null())
                .map(Cow::Borrowed),
            usage: object.get("usage").map(Cow::Borrowed),
            choices,
        })
    }

    /// The in-band error, if any.
    pub(super) fn error(&self) -> Option<&Value> {
        self.error.as_deref().filter(|e| !e.is_null())
    }
}

impl<'a> Delta<'a> {
    fn from_value(delta: &'a Value) -> Self {
        let calls = delta.get("tool_calls").and_then(Value::as_array);
        Self {
            content: text(delta.get("content")),
            refusal: text(delta.get("refusal")),
            reasoning_content: text(delta.get("reasoning_content")),
            reasoning: text(delta.get("reasoning")),
            tool_calls: calls.map(|calls| calls.iter().map(ToolCall::from_value).collect()),
        }
    }

    /// The reasoning text (DeepSeek's `reasoning_content`, else vLLM's and
    /// OpenRouter's `reasoning`), if not empty.
    pub(super) fn reasoning_text(&self) -> Option<&str> {
        let text = self.reasoning_content.as_ref().or(self.reasoning.as_ref());
        text.map(|t| t.0.as_ref()).filter(|t| !t.is_empty())
    }
}

impl<'a> ToolCall<'a> {
    fn from_value(call: &'a Value) -> Self {
        let function = call.get("function");
        Self {
            index: call.get("index").and_then(Value::as_u64),
            id: text(call.get("id")),
            function: Some(Function {
                name: text(function.and_then(|f| f.get("name"))),
                arguments: text(function.and_then(|f| f.get("arguments"))),
            }),
        }
    }

    /// The call's hub id, if not empty.
    pub(super) fn id(&self) -> Option<&str> {
        self.id
            .as_ref()
            .map(|t| t.0.as_ref())
            .filter(|id| !id.is_empty())
    }

    pub(super) fn name(&self) -> Option<&str> {
        let function = self.function.as_ref();
        function.and_then(|f| f.name.as_ref()).map(|t| t.0.as_ref())
    }

    pub(super) fn arguments(&self) -> Option<&str> {
        let function = self.function.as_ref();
        function
            .and_then(|f| f.arguments.as_ref())
            .map(|t| t.0.as_ref())
    }
}

/// A string field, borrowed.
fn text(value: Option<&Value>) -> Option<Text<'_>> {
    value
        .and_then(Value::as_str)
        .map(|s| Text(Cow::Borrowed(s)))
}

/// A string field's text.
pub(super) fn str_of<'b>(text: &'b Option<Text<'_>>) -> Option<&'b str> {
    text.as_ref().map(|t| t.0.as_ref())
}
