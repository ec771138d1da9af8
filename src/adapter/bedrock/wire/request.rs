//! A Converse request body (`POST /model/{modelId}/converse`), as the
//! adapter writes it. The model is in the path, not the body.

use std::borrow::Cow;

use serde::Serialize;
use serde_json::{Map, Number, Value};

/// The request body.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConverseRequest<'a> {
    pub messages: Vec<Message<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub system: Vec<SystemBlock<'a>>,
    #[serde(skip_serializing_if = "InferenceConfig::is_empty")]
    pub inference_config: InferenceConfig<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_config: Option<ToolConfig<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_config: Option<OutputConfig<'a>>,
    /// Model-specific fields (Anthropic's `thinking`, `top_k`).
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub additional_model_request_fields: Map<String, Value>,
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

/// One turn: Converse wants user and assistant turns to alternate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message<'a> {
    pub role: Role,
    pub content: Vec<RequestBlock<'a>>,
}

/// A content block of a request message (one member of AWS's union).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RequestBlock<'a> {
    Text(Cow<'a, str>),
    Image(ImageBlock<'a>),
    ToolUse(ToolUseBlock<'a>),
    ToolResult(ToolResultBlock<'a>),
}

/// `{format, source: {bytes}}`: an inline image, base64 in JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageBlock<'a> {
    /// `png`, `jpeg`, `gif` or `webp`.
    pub format: &'static str,
    pub source: ImageSource<'a>,
}

/// Where an image's bytes are: inline, base64.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageSource<'a> {
    pub bytes: Cow<'a, str>,
}

/// A tool call of an earlier assistant turn.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolUseBlock<'a> {
    pub tool_use_id: Cow<'a, str>,
    pub name: Cow<'a, str>,
    pub input: Cow<'a, Value>,
}

/// A tool's answer, in a user turn.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolResultBlock<'a> {
    pub tool_use_id: Cow<'a, str>,
    pub content: Vec<ToolResultContent<'a>>,
}

/// A block of a tool result.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ToolResultContent<'a> {
    Text(Cow<'a, str>),
}

/// A block of the top-level `system`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum SystemBlock<'a> {
    Text(Cow<'a, str>),
}

/// `inferenceConfig`, left out when empty.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InferenceConfig<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<Number>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<Number>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stop_sequences: Vec<Cow<'a, str>>,
}

impl InferenceConfig<'_> {
    fn is_empty(&self) -> bool {
        self.max_tokens.is_none()
            && self.temperature.is_none()
            && self.top_p.is_none()
            && self.stop_sequences.is_empty()
    }
}

/// `toolConfig`: the tools and how the model must use them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolConfig<'a> {
    pub tools: Vec<Tool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice<'a>>,
}

/// One tool (`{"toolSpec": …}`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Tool<'a> {
    ToolSpec(ToolSpec<'a>),
}

/// A function tool.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolSpec<'a> {
    pub name: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<Cow<'a, str>>,
    pub input_schema: InputSchema<'a>,
}

/// A tool's parameters (`{"json": <JSON Schema>}`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum InputSchema<'a> {
    Json(Cow<'a, Value>),
}

/// `toolChoice`: `{"auto":{}}`, `{"any":{}}` or `{"tool":{"name"}}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ToolChoice<'a> {
    Auto(Empty),
    Any(Empty),
    Tool(NamedTool<'a>),
}

/// `{}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Empty {}

/// A tool named by `toolChoice`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NamedTool<'a> {
    pub name: Cow<'a, str>,
}

/// `outputConfig`: structured output.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputConfig<'a> {
    pub text_format: OutputFormat<'a>,
}

/// `{type: "json_schema", structure}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutputFormat<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub structure: OutputStructure<'a>,
}

/// `{jsonSchema: …}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputStructure<'a> {
    pub json_schema: JsonSchemaDefinition<'a>,
}

/// A JSON Schema, sent as its JSON text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JsonSchemaDefinition<'a> {
    pub schema: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<Cow<'a, str>>,
}
