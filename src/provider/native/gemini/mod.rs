//! The native twin of `scripts/providers/gemini.rhai`: Gemini's answers and
//! stream events translated to OpenAI's format as the script does it,
//! branch for branch, odd inputs included (see `value` for the Rhai
//! semantics this takes on).

mod answer;
mod response;
mod stream;
mod value;

use super::Native;

/// The Gemini twin.
pub static NATIVE: Native = Native {
    name: "gemini",
    source: include_str!("../../../../scripts/providers/gemini.rhai"),
    transform_request: None,
    transform_response: Some(response::transform_response),
    stream: Some(stream::start),
};
