//! The native twin of `scripts/providers/gemini.rhai`: OpenAI requests to
//! Gemini's format and Gemini's answers and stream events back, as the
//! script does it, branch for branch, odd inputs included (see `value` for
//! the Rhai semantics this takes on).

mod answer;
mod media;
mod messages;
mod parse;
mod request;
mod response;
mod stream;
mod tools;
mod value;

use super::Native;

/// The Gemini twin.
pub static NATIVE: Native = Native {
    name: "gemini",
    source: include_str!("../../../../scripts/providers/gemini.rhai"),
    transform_request: Some(request::transform_request),
    transform_response: Some(response::transform_response),
    stream: Some(stream::start),
};
