//! The built-in Amazon Bedrock adapter, over the Converse API: hub (OpenAI
//! chat) requests → Converse requests (`POST /model/{modelId}/converse`, or
//! `/converse-stream` for a stream, under a base URL such as
//! `https://bedrock-runtime.us-east-1.amazonaws.com`), and Converse answers
//! and ConverseStream events → the hub format. Embeddings are not served
//! through Converse: refused with 400.
//!
//! In an attempt's path: [`Wire::plan`] (the head: the model id
//! percent-encoded into the path, and `authorization: Bearer` for a Bedrock
//! API key; without a key the gateway signs the built request with SigV4),
//! [`request`] (the body, with [`messages`]), then [`response`] for a whole
//! answer or a [`stream`] translator per streamed answer, fed the events of
//! AWS's binary event-stream framing ([`Framing::EventStream`]). [`wire`]
//! holds the API's types.
//!
//! No `options:` are read.

mod messages;
mod request;
mod response;
mod stream;
pub mod wire;

use std::sync::Arc;

use serde_json::Value;

use super::{AdapterError, Capabilities, Ctx, Framing, RequestPlan, StreamTranslator, Wire};

/// The adapter's name, in errors.
const NAME: &str = "bedrock";

/// The Bedrock Converse wire format.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bedrock;

/// The adapter, for the registry.
pub static BEDROCK: Bedrock = Bedrock;

impl Wire for Bedrock {
    fn name(&self) -> &str {
        NAME
    }

    /// Chat (streamed or not), tools, images, JSON output, reasoning; no
    /// embeddings.
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

    /// `POST /model/{modelId}/converse` (or `/converse-stream`), the id
    /// percent-encoded as one path segment (inference profiles and ARNs
    /// alike). Refuses any endpoint but chat, and an empty model, with 400.
    fn plan(&self, ctx: &Ctx) -> Result<RequestPlan, AdapterError> {
        if ctx.endpoint != "chat" {
            return Err(AdapterError::rejected(format!(
                "Bedrock embeddings are not supported through Converse: provider '{}' only \
                 serves chat completions (got endpoint '{}')",
                ctx.provider, ctx.endpoint
            )));
        }
        if ctx.model.is_empty() {
            return Err(AdapterError::rejected("the model name is empty"));
        }
        let model = super::hub::percent_encode(&ctx.model, b"");
        let (path, accept) = match ctx.stream {
            true => (
                format!("/model/{model}/converse-stream"),
                "application/vnd.amazon.eventstream",
            ),
            false => (format!("/model/{model}/converse"), "application/json"),
        };
        let mut headers = vec![
            ("content-type".to_string(), "application/json".to_string()),
            ("accept".to_string(), accept.to_string()),
        ];
        if let Some(key) = &ctx.api_key {
            headers.push(("authorization".to_string(), format!("Bearer {key}")));
        }
        Ok(RequestPlan::post(path, headers))
    }

    /// The Converse body; refuses (400) what Converse cannot express, such
    /// as `n > 1`, images by URL or audio.
    fn request(&self, body: &Value, ctx: &Ctx) -> Result<Option<Value>, AdapterError> {
        request::request(body, ctx).map(Some)
    }

    fn translates_response(&self) -> bool {
        true
    }

    /// The `chat.completion` for a Converse answer; fails on an answer that
    /// is not one.
    fn response(&self, body: Value, ctx: &Ctx) -> Result<Value, AdapterError> {
        response::response(body, ctx)
    }

    fn stream(&self, ctx: &Arc<Ctx>) -> Option<Box<dyn StreamTranslator>> {
        Some(Box::new(stream::Translator::new(Arc::clone(ctx))))
    }

    /// ConverseStream answers in AWS's binary event-stream framing.
    fn framing(&self) -> Framing {
        Framing::EventStream
    }
}

#[cfg(test)]
mod tests;
