//! Anthropic's Messages API (being written; see issue 16).

pub mod wire;
