//! Google Gemini's API (generativelanguage v1beta), built in: OpenAI chat
//! requests become `generateContent` / `streamGenerateContent?alt=sse`
//! bodies and embeddings requests `batchEmbedContents` ones; Gemini's
//! answers and stream events come back as `chat.completion`,
//! `chat.completion.chunk` and embeddings lists (shared/notes/wire-formats.md §4).
//!
//! A request's path: [`Gemini::plan`] (path and key header), [`request`]
//! (messages via [`messages`] and [`media`], tools via [`tools`]) or
//! [`embeddings`], then [`response`] or one [`stream`] translator. The
//! Gemini side is typed in [`wire`].
//!
//! Options (routes.yaml `options:`):
//! - `auth`: `header:<name>` (the key in that header; `header:x-goog-api-key`
//!   by default), `bearer` (`Authorization: Bearer <key>`) or `none`. Never a
//!   `?key=` query: URLs end up in logs.
//! - `tool_schema: json_schema`: tool parameters go as they are in
//!   `parametersJsonSchema` (a schema using `$ref` always does); else they
//!   are narrowed to Gemini's OpenAPI subset in `parameters`.
//! - `include_thoughts: true`: thought summaries come back as `reasoning_content`.
//! - `task_type`: the `taskType` of every embeddings request.
//! - `safety_settings`: `safetySettings`, passed as they are.
//!
//! Tool-call ids: Gemini's `functionCall.id` when it sends one, else a minted
//! `call_<hex>`, which is never sent upstream (Gemini pairs results by
//! name). A call's `thoughtSignature` rides in the id as `<id>.ts.<sig>`
//! and goes back on the functionCall part.

mod embeddings;
mod hub;
mod media;
mod messages;
mod request;
mod response;
mod stream;
mod tools;
pub mod wire;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use serde_json::Value;

use super::{AdapterError, Capabilities, Ctx, RequestPlan, StreamTranslator, Wire};

/// The adapter's name, in routes.yaml and in its errors.
const NAME: &str = "gemini";

/// The built-in Gemini adapter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Gemini;

/// The one instance the adapter registry holds.
pub static GEMINI: Gemini = Gemini;

impl Wire for Gemini {
    fn name(&self) -> &str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        [
            "chat",
            "stream",
            "tools",
            "vision",
            "json",
            "embeddings",
            "reasoning",
        ]
        .into_iter()
        .map(|name| (name.to_string(), true))
        .collect()
    }

    /// `POST /models/{model}:generateContent`, `…:streamGenerateContent?alt=sse`
    /// or `…:batchEmbedContents`, with the key header `options.auth` names.
    /// Fails with a 400 for a model name that is not safe in a path, and
    /// with `Failed` for an unknown `auth` style.
    fn plan(&self, ctx: &Ctx) -> Result<RequestPlan, AdapterError> {
        let model = model_id(&ctx.model)?;
        let path = if ctx.endpoint == "embeddings" {
            format!("/models/{model}:batchEmbedContents")
        } else if ctx.stream {
            format!("/models/{model}:streamGenerateContent?alt=sse")
        } else {
            format!("/models/{model}:generateContent")
        };
        let headers = auth_header(ctx)?.into_iter().collect();
        Ok(RequestPlan::post(path, headers))
    }

    /// The Gemini body; always `Some`. Refuses (400) what Gemini cannot
    /// express: custom tools, token-id embedding inputs, http(s) images
    /// whose type the extension does not tell, file ids, malformed tool-call
    /// arguments, tool messages that answer no earlier tool call, and fields
    /// of the wrong type.
    fn request(&self, body: &Value, ctx: &Ctx) -> Result<Option<Value>, AdapterError> {
        let out = if ctx.endpoint == "embeddings" {
            embeddings::request(body, ctx)?
        } else {
            request::chat(body, ctx)?
        };
        Ok(Some(out))
    }

    fn translates_response(&self) -> bool {
        true
    }

    /// Fails when the answer is not the shape Gemini documents (no
    /// candidates and no block reason, no embeddings, wrong types).
    fn response(&self, body: Value, ctx: &Ctx) -> Result<Value, AdapterError> {
        if ctx.endpoint == "embeddings" {
            embeddings::response(body, ctx)
        } else {
            response::chat(&body, ctx)
        }
    }

    fn stream(&self, ctx: &Arc<Ctx>) -> Option<Box<dyn StreamTranslator>> {
        Some(Box::new(stream::GeminiStream::new(Arc::clone(ctx))))
    }
}

/// A failure of this adapter in `hook`.
fn failed(hook: &'static str, message: impl Into<String>) -> AdapterError {
    AdapterError::failed(NAME, hook, message)
}

/// "gemini-2.5-flash" or "models/gemini-2.5-flash" -> "gemini-2.5-flash".
/// The name goes into the URL path: anything but ASCII letters, digits,
/// `-`, `.` and `_` is refused.
fn model_id(model: &str) -> Result<&str, AdapterError> {
    let id = model.strip_prefix("models/").unwrap_or(model);
    if id.is_empty() {
        return Err(AdapterError::rejected("the model name is empty"));
    }
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_');
    if !id.chars().all(plain) {
        return Err(AdapterError::rejected(format!(
            "'{model}' is not a valid Gemini model name"
        )));
    }
    Ok(id)
}

/// The credential header for `options.auth`, or none (no key, or `none`).
fn auth_header(ctx: &Ctx) -> Result<Option<(String, String)>, AdapterError> {
    let style = match ctx.options.get("auth") {
        None | Some(Value::Null) => "header:x-goog-api-key".into(),
        Some(style) => hub::shown(style),
    };
    let Some(key) = &ctx.api_key else {
        return Ok(None);
    };
    if style == "none" {
        return Ok(None);
    }
    if style == "bearer" {
        return Ok(Some(("authorization".into(), format!("Bearer {key}"))));
    }
    if let Some(name) = style.strip_prefix("header:").map(str::trim) {
        if !name.is_empty() {
            return Ok(Some((name.to_lowercase(), key.clone())));
        }
    }
    Err(failed(
        "plan",
        format!("unknown auth style '{style}' (expected header:<name>, bearer or none)"),
    ))
}

/// 24 random lowercase hex digits, for minted ids.
fn random_id() -> String {
    let n: u128 = rand::random();
    format!("{:024x}", n >> 32)
}

/// Seconds since the Unix epoch, for `created`.
fn unix_time() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
