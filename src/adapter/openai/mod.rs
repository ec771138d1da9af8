//! OpenAI and every OpenAI-compatible provider (a `base_url` and a preset
//! of the catalog): the hub format is OpenAI's own, so bodies and stream
//! events pass through unchanged; only the request head is built here.
//!
//! `options` read:
//! - `auth`: `bearer` (`Authorization: Bearer <key>`, the default),
//!   `header:<name>` (the raw key in header `<name>`, e.g. `header:api-key`)
//!   or `none` (no credential header, even when a key is set). A preset sets
//!   it for its provider; `options.auth` in routes.yaml overrides it.
//! - `organization`, `project`: the `OpenAI-Organization` and
//!   `OpenAI-Project` headers.

use std::sync::Arc;

use serde_json::Value;

use crate::request::Endpoint;

use super::{AdapterError, Capabilities, Ctx, RequestPlan, StreamTranslator, Wire};

/// The OpenAI format.
#[derive(Debug, Default)]
pub struct OpenAi;

/// The one instance the registry hands out.
pub static OPENAI: OpenAi = OpenAi;

/// How a key is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth<'a> {
    /// `Authorization: Bearer <key>`.
    Bearer,
    /// The raw key in a header of this (lowercase) name.
    Header(&'a str),
    /// No credential header.
    None,
}

impl<'a> Auth<'a> {
    /// Parses an `auth` option (`bearer`, `header:<name>`, `none`).
    pub fn parse(style: &'a str) -> Result<Self, String> {
        match style.trim() {
            "bearer" => Ok(Self::Bearer),
            "none" => Ok(Self::None),
            s => match s.strip_prefix("header:").map(str::trim) {
                Some(name) if !name.is_empty() => Ok(Self::Header(name)),
                _ => Err(format!(
                    "unknown auth style '{s}' (expected bearer, header:<name> or none)"
                )),
            },
        }
    }

    /// The credential header for `key` in this style, if any.
    pub fn header(self, key: Option<&str>) -> Option<(String, String)> {
        let key = key?;
        match self {
            Self::Bearer => Some(("authorization".into(), format!("Bearer {key}"))),
            Self::Header(name) => Some((name.to_ascii_lowercase(), key.to_string())),
            Self::None => None,
        }
    }
}

/// The credential header `ctx` asks for (`default` when `options.auth` is
/// unset); a refusal naming `adapter` for an unknown style.
pub fn auth_header(
    adapter: &str,
    ctx: &Ctx,
    default: &str,
) -> Result<Option<(String, String)>, AdapterError> {
    let style = ctx.option_str("auth").unwrap_or(default);
    let auth = Auth::parse(style).map_err(|e| AdapterError::failed(adapter, "request", e))?;
    Ok(auth.header(ctx.api_key.as_deref()))
}

impl Wire for OpenAi {
    fn name(&self) -> &str {
        "openai"
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
        .map(|c| (c.to_string(), true))
        .collect()
    }

    fn plan(&self, ctx: &Ctx) -> Result<RequestPlan, AdapterError> {
        let mut headers: Vec<(String, String)> =
            auth_header("openai", ctx, "bearer")?.into_iter().collect();
        if let Some(org) = ctx.option_str("organization") {
            headers.push(("openai-organization".into(), org.to_string()));
        }
        if let Some(project) = ctx.option_str("project") {
            headers.push(("openai-project".into(), project.to_string()));
        }
        let path = match ctx.endpoint {
            // A Responses request to a provider that speaks it natively.
            "responses" => "/responses",
            name => Endpoint::named(name).map_or("/chat/completions", Endpoint::openai_path),
        };
        Ok(RequestPlan::post(path, headers))
    }

    fn request(&self, _body: &Value, _ctx: &Ctx) -> Result<Option<Value>, AdapterError> {
        Ok(None)
    }

    fn translates_response(&self) -> bool {
        false
    }

    fn response(&self, body: Value, _ctx: &Ctx) -> Result<Value, AdapterError> {
        Ok(body)
    }

    fn stream(&self, _ctx: &Arc<Ctx>) -> Option<Box<dyn StreamTranslator>> {
        None
    }

    fn check_options(&self, options: &serde_json::Map<String, Value>) -> Result<(), String> {
        check_auth(options)
    }
}

/// `options.auth`, if set, must be an auth style.
pub fn check_auth(options: &serde_json::Map<String, Value>) -> Result<(), String> {
    match options.get("auth") {
        None => Ok(()),
        Some(Value::String(style)) => Auth::parse(style).map(|_| ()),
        Some(other) => Err(format!("`auth` must be a string, not {other}")),
    }
}

#[cfg(test)]
mod tests;
