//! The built-in Anthropic adapter: hub (OpenAI chat) requests → Anthropic
//! Messages requests (`POST /v1/messages` under a base URL such as
//! `https://api.anthropic.com`), and Messages answers and stream events →
//! the hub format. Anthropic has no embeddings API: embeddings requests are
//! refused with 400.
//!
//! In an attempt's path: [`Wire::plan`] (the head), [`request`] (the body,
//! with [`messages`]), then [`response`] for a whole answer or a
//! [`stream`] translator per streamed answer. [`wire`] holds the API's
//! types, which the `/v1/messages` dialect shares.
//!
//! `options:` (routes.yaml):
//! - `version: "2023-06-01"`: the `anthropic-version` header (this is the
//!   default);
//! - `beta: "a,b"` or `["a", "b"]`: the `anthropic-beta` header;
//! - `max_tokens: 4096`: `max_tokens` when the client sent neither
//!   `max_completion_tokens` nor `max_tokens` (default 4096).
//!
//! Extension: a `cache_control` on a text, image or file part is passed on.

mod messages;
mod request;
mod response;
mod stream;
pub mod wire;

use std::sync::Arc;

use serde_json::Value;

use super::{AdapterError, Capabilities, Ctx, RequestPlan, StreamTranslator, Wire};

/// The Messages API version sent when `options.version` is not set.
const DEFAULT_VERSION: &str = "2023-06-01";

/// The Anthropic Messages wire format.
#[derive(Debug, Clone, Copy, Default)]
pub struct Anthropic;

/// The adapter, for the registry.
pub static ANTHROPIC: Anthropic = Anthropic;

impl Wire for Anthropic {
    fn name(&self) -> &str {
        "anthropic"
    }

    /// Chat (streamed or not), tools, images, JSON output (json_schema and
    /// json_object), thinking as reasoning_content; no embeddings.
    fn capabilities(&self) -> Capabilities {
        [
            ("chat", true),
            ("stream", true),
            ("tools", true),
            ("vision", true),
            ("json", true),
            ("embeddings", false),
            ("reasoning", true),
        ]
        .into_iter()
        .map(|(name, on)| (name.to_string(), on))
        .collect()
    }

    /// `POST /v1/messages` with `anthropic-version`, `anthropic-beta` (from
    /// the options) and `x-api-key` (when the backend has a key). Refuses
    /// any endpoint but chat with a 400.
    fn plan(&self, ctx: &Ctx) -> Result<RequestPlan, AdapterError> {
        if ctx.endpoint != "chat" {
            return Err(AdapterError::rejected(format!(
                "Anthropic has no embeddings API: provider '{}' only serves chat completions \
                 (got endpoint '{}')",
                ctx.provider, ctx.endpoint
            )));
        }
        let mut headers = Vec::with_capacity(3);
        if let Some(beta) = ctx.options.get("beta").filter(|b| !b.is_null()) {
            headers.push(("anthropic-beta".to_string(), comma_list(beta)));
        }
        let version = match ctx.options.get("version") {
            None | Some(Value::Null) => DEFAULT_VERSION.to_string(),
            Some(version) => request::shown(version).into_owned(),
        };
        headers.push(("anthropic-version".to_string(), version));
        if let Some(key) = &ctx.api_key {
            headers.push(("x-api-key".to_string(), key.clone()));
        }
        Ok(RequestPlan::post("/v1/messages", headers))
    }

    /// The Messages request body; refuses (400) what Anthropic cannot
    /// express, such as `n > 1` or audio input.
    fn request(&self, body: &Value, ctx: &Ctx) -> Result<Option<Value>, AdapterError> {
        request::request(body, ctx).map(Some)
    }

    fn translates_response(&self) -> bool {
        true
    }

    /// The `chat.completion` for a Messages answer; fails on an answer that
    /// is not one.
    fn response(&self, body: Value, ctx: &Ctx) -> Result<Value, AdapterError> {
        response::response(body, ctx)
    }

    fn stream(&self, ctx: &Arc<Ctx>) -> Option<Box<dyn StreamTranslator>> {
        Some(Box::new(stream::Translator::new(Arc::clone(ctx))))
    }
}

/// A string, or a list of strings joined with ",".
fn comma_list(value: &Value) -> String {
    match value {
        Value::Array(items) => items
            .iter()
            .map(request::shown)
            .collect::<Vec<_>>()
            .join(","),
        other => request::shown(other).into_owned(),
    }
}

#[cfg(test)]
mod tests;
