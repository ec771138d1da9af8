//! The request's top level: model, limits, sampling, tools and tool
//! choice, thinking, structured output; and the `count_tokens` body.

use std::borrow::Cow;

use serde::de::{Deserializer, IgnoredAny};
use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};

use super::{nullable, tagged, unknown, Message, SystemPrompt, Tagged};

/// The body of `POST /v1/messages`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessagesRequest<'a> {
    #[serde(borrow)]
    pub model: Cow<'a, str>,
    pub max_tokens: u64,
    #[serde(borrow)]
    pub messages: Vec<Message<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub system: Option<SystemPrompt<'a>>,
    #[serde(
        borrow,
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "string_list"
    )]
    pub stop_sequences: Option<Vec<Cow<'a, str>>>,
    /// The client's number as written (an integer stays an integer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u64>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata<'a>>,
    #[serde(
        borrow,
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "nullable"
    )]
    pub tools: Vec<Tool<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<ThinkingConfig<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub output_config: Option<OutputConfig<'a>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
}

/// The body of `POST /v1/messages/count_tokens`: a request without
/// `max_tokens` and sampling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CountTokensRequest<'a> {
    #[serde(borrow)]
    pub model: Cow<'a, str>,
    #[serde(borrow)]
    pub messages: Vec<Message<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub system: Option<SystemPrompt<'a>>,
    #[serde(
        borrow,
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "nullable"
    )]
    pub tools: Vec<Tool<'a>>,
}

/// `metadata`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metadata<'a> {
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Cow<'a, str>>,
}

/// A tool the model may call. Client tools have no `type` (or `custom`)
/// and an `input_schema`; server tools have a versioned `type` such as
/// `web_search_20250305` and other fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool<'a> {
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Cow<'a, str>>,
    /// A JSON Schema of type object.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub input_schema: Option<Cow<'a, Value>>,
    #[serde(
        rename = "type",
        borrow,
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub kind: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<Cow<'a, Value>>,
}

/// `tool_choice`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToolChoice<'a> {
    Auto(ToolChoiceOptions),
    Any(ToolChoiceOptions),
    Tool(NamedToolChoice<'a>),
    None,
    #[serde(skip_serializing)]
    Unknown(Cow<'a, str>),
}

impl<'de: 'a, 'a> Deserialize<'de> for ToolChoice<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        tagged::deserialize(d)
    }
}

impl<'de: 'a, 'a> Tagged<'de> for ToolChoice<'a> {
    fn from_tag<D: Deserializer<'de>>(tag: &str, d: D) -> Result<Self, D::Error> {
        Ok(match tag {
            "auto" => Self::Auto(Deserialize::deserialize(d)?),
            "any" => Self::Any(Deserialize::deserialize(d)?),
            "tool" => Self::Tool(Deserialize::deserialize(d)?),
            "none" => {
                IgnoredAny::deserialize(d)?;
                Self::None
            }
            _ => unknown(tag, d).map(Self::Unknown)?,
        })
    }
}

/// What `auto` and `any` take.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolChoiceOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_parallel_tool_use: Option<bool>,
}

/// `{type:"tool", name}`: this tool must be called.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamedToolChoice<'a> {
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_parallel_tool_use: Option<bool>,
}

/// `thinking`: extended thinking on, off or adaptive.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ThinkingConfig<'a> {
    Enabled(ThinkingBudget),
    Disabled,
    Adaptive,
    #[serde(skip_serializing)]
    Unknown(Cow<'a, str>),
}

impl<'de: 'a, 'a> Deserialize<'de> for ThinkingConfig<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        tagged::deserialize(d)
    }
}

impl<'de: 'a, 'a> Tagged<'de> for ThinkingConfig<'a> {
    fn from_tag<D: Deserializer<'de>>(tag: &str, d: D) -> Result<Self, D::Error> {
        Ok(match tag {
            "enabled" => Self::Enabled(Deserialize::deserialize(d)?),
            "disabled" => {
                IgnoredAny::deserialize(d)?;
                Self::Disabled
            }
            "adaptive" => {
                IgnoredAny::deserialize(d)?;
                Self::Adaptive
            }
            _ => unknown(tag, d).map(Self::Unknown)?,
        })
    }
}

/// `{type:"enabled", budget_tokens}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThinkingBudget {
    pub budget_tokens: u64,
}

/// `output_config`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputConfig<'a> {
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub format: Option<OutputFormat<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub effort: Option<Cow<'a, str>>,
}

/// `output_config.format`: structured output.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutputFormat<'a> {
    JsonSchema(JsonSchemaFormat<'a>),
    #[serde(skip_serializing)]
    Unknown(Cow<'a, str>),
}

impl<'de: 'a, 'a> Deserialize<'de> for OutputFormat<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        tagged::deserialize(d)
    }
}

impl<'de: 'a, 'a> Tagged<'de> for OutputFormat<'a> {
    fn from_tag<D: Deserializer<'de>>(tag: &str, d: D) -> Result<Self, D::Error> {
        Ok(match tag {
            "json_schema" => Self::JsonSchema(Deserialize::deserialize(d)?),
            _ => unknown(tag, d).map(Self::Unknown)?,
        })
    }
}

/// `{type:"json_schema", schema}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonSchemaFormat<'a> {
    #[serde(borrow)]
    pub schema: Cow<'a, Value>,
}

/// `stop_sequences`: a list of strings, borrowed when they can be.
fn string_list<'de: 'a, 'a, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<Cow<'a, str>>>, D::Error> {
    struct List<'a>(std::marker::PhantomData<&'a ()>);

    impl<'de: 'a, 'a> serde::de::Visitor<'de> for List<'a> {
        type Value = Option<Vec<Cow<'a, str>>>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a list of strings")
        }

        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
            while let Some(tagged::Str(s)) = seq.next_element()? {
                out.push(s);
            }
            Ok(Some(out))
        }
    }

    d.deserialize_any(List(std::marker::PhantomData))
}
