//! The Bedrock Converse API's types: [`request`] (what the adapter sends,
//! borrowing from the hub request), [`response`] (a Converse answer) and
//! [`stream`] (ConverseStream event payloads). AWS's unions (a content
//! block is `{"text": …}` or `{"toolUse": …}` or …) are read as structs of
//! optional members, so that a member this version does not know is
//! skipped rather than an error; unknown fields (such as the stream's
//! `"p"` padding) are ignored.

pub mod request;
pub mod response;
pub mod stream;

pub use request::{
    ConverseRequest, ImageBlock, ImageSource, InferenceConfig, InputSchema, JsonSchemaDefinition,
    Message, OutputConfig, OutputFormat, OutputStructure, RequestBlock, Role, SystemBlock, Tool,
    ToolChoice, ToolConfig, ToolResultBlock, ToolResultContent, ToolSpec, ToolUseBlock,
};
pub use response::{ConverseResponse, OutputBlock, StopReason, Usage};
