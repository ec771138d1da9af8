//! Gemini's function declarations, their OpenAPI-subset schemas and the
//! tool config.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A set of tools; the adapter sends function declarations only.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tool<'a> {
    #[serde(borrow, deserialize_with = "super::de::objects")]
    pub function_declarations: Vec<FunctionDeclaration<'a>>,
}

/// One function the model may call: its parameters as Gemini's OpenAPI
/// subset (`parameters`) or as full JSON Schema (`parametersJsonSchema`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionDeclaration<'a> {
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    #[serde(
        default,
        borrow,
        deserialize_with = "super::de::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<Cow<'a, str>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Schema<'a>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters_json_schema: Option<Cow<'a, Value>>,
}

/// Gemini's OpenAPI-subset Schema. Keywords whose value the adapter passes
/// on untouched (`enum`, `required`, bounds…) stay JSON values.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Schema<'a> {
    #[serde(
        rename = "type",
        default,
        borrow,
        deserialize_with = "super::de::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub kind: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nullable: Option<Cow<'a, Value>>,
    #[serde(
        default,
        borrow,
        deserialize_with = "super::de::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub format: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<Cow<'a, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Cow<'a, Value>>,
    #[serde(rename = "enum", default, skip_serializing_if = "Option::is_none")]
    pub enumeration: Option<Cow<'a, Value>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub properties: Option<BTreeMap<Cow<'a, str>, SchemaNode<'a>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<Cow<'a, Value>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub items: Option<SchemaNode<'a>>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub any_of: Option<Vec<SchemaNode<'a>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_items: Option<Cow<'a, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_items: Option<Cow<'a, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum: Option<Cow<'a, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum: Option<Cow<'a, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<Cow<'a, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<Cow<'a, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<Cow<'a, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_properties: Option<Cow<'a, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_properties: Option<Cow<'a, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property_ordering: Option<Cow<'a, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<Cow<'a, Value>>,
}

/// Where a schema is expected: a schema object, or any other JSON value
/// passed on as it is (`"items": true`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SchemaNode<'a> {
    #[serde(borrow)]
    Schema(Box<Schema<'a>>),
    Other(Cow<'a, Value>),
}

/// How the model may call the declared functions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolConfig<'a> {
    #[serde(borrow)]
    pub function_calling_config: FunctionCallingConfig<'a>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionCallingConfig<'a> {
    pub mode: CallingMode,
    /// With mode `ANY`: the functions it may call.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    pub allowed_function_names: Option<Vec<Cow<'a, str>>>,
}

/// `functionCallingConfig.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CallingMode {
    /// The model chooses (the default).
    Auto,
    /// The model must call a function.
    Any,
    /// No function calls.
    None,
    /// Calls or text, calls checked against their schemas.
    Validated,
}
