//! The native twin of `scripts/providers/anthropic.rhai`: OpenAI chat
//! requests -> Anthropic Messages requests, and Anthropic responses and
//! stream events -> OpenAI chat format, exactly as the script does it
//! (same outputs, same refusals, failures where the script fails).
//! `request(ctx)` and `capabilities()` stay in the script.

mod messages;
mod request;
mod response;
mod rhai_value;
mod shapes;
mod stream;

use super::{ChunkOut, Native, NativeError, StreamTranslator};

/// The twin, used while the script is the shipped one.
pub static NATIVE: Native = Native {
    name: "anthropic",
    source: include_str!("../../../scripts/providers/anthropic.rhai"),
    transform_request: Some(request::transform_request),
    transform_response: Some(response::transform_response),
    stream: Some(start_stream),
};

fn start_stream() -> Box<dyn StreamTranslator> {
    Box::<stream::AnthropicStream>::default()
}
