//! Google Vertex AI: Google's, Anthropic's and partners' models in a
//! Google Cloud project, behind one OAuth2 token (see [`crate::cloud::google`]).
//!
//! `base_url`: `https://{location}-aiplatform.googleapis.com/v1` (or
//! `https://aiplatform.googleapis.com/v1` for `global`). What a request
//! becomes depends on the model's family — and each family is the format
//! the gateway already speaks, so this adapter only places it:
//!
//! | model | path under `/projects/{project}/locations/{location}` | body |
//! |---|---|---|
//! | `gemini-…` (any other name) | `/publishers/google/models/{model}:generateContent`, `:streamGenerateContent?alt=sse` | Gemini's ([`super::gemini`]) |
//! | `claude-…` | `/publishers/anthropic/models/{model}:rawPredict`, `:streamRawPredict` | Anthropic's ([`super::anthropic`]) without `model`, with `anthropic_version: vertex-2023-10-16` |
//! | `publisher/model` (`meta/llama-3.3-70b-instruct-maas`) | `/endpoints/openapi/chat/completions` | OpenAI's, as it is |
//!
//! `options` read: `project` and `location` (filled from the provider's
//! `gcp:` block, the credentials file or the environment), `publishers`
//! (`{ model: google | anthropic | openapi }`, for a model name the rules
//! above would place wrongly). An `api_key` is sent as a bearer token (one
//! from `gcloud auth print-access-token`); without one the gateway adds a
//! token from the service account.

use std::sync::Arc;

use serde_json::Value;

use super::anthropic::ANTHROPIC;
use super::gemini::GEMINI;
use super::hub::percent_encode;
use super::{AdapterError, Capabilities, Ctx, RequestPlan, StreamTranslator, Wire};

/// The Vertex AI format.
#[derive(Debug, Default)]
pub struct Vertex;

/// The one instance the registry hands out.
pub static VERTEX: Vertex = Vertex;

/// What Anthropic on Vertex wants in the body instead of a version header.
pub const ANTHROPIC_VERSION: &str = "vertex-2023-10-16";

const NAME: &str = "vertex";

/// Who publishes a model, which decides its format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Gemini (`publishers/google`).
    Google,
    /// Claude (`publishers/anthropic`).
    Anthropic,
    /// Partner and open models through the OpenAI-compatible endpoint.
    OpenApi,
}

/// The family of `ctx.model`.
pub fn family(ctx: &Ctx) -> Family {
    let named = ctx
        .options
        .get("publishers")
        .and_then(|p| p.get(&ctx.model))
        .and_then(Value::as_str);
    match named {
        Some("anthropic") => Family::Anthropic,
        Some("openapi") => Family::OpenApi,
        Some(_) => Family::Google,
        None if ctx.model.starts_with("claude") => Family::Anthropic,
        None if ctx.model.contains('/') => Family::OpenApi,
        None => Family::Google,
    }
}

impl Wire for Vertex {
    fn name(&self) -> &str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        [
            ("chat", true),
            ("stream", true),
            ("tools", true),
            ("vision", true),
            ("json", true),
            ("reasoning", true),
            // Vertex's embeddings are another API (`:predict`).
            ("embeddings", false),
        ]
        .into_iter()
        .map(|(name, on)| (name.to_string(), on))
        .collect()
    }

    fn plan(&self, ctx: &Ctx) -> Result<RequestPlan, AdapterError> {
        if ctx.endpoint != "chat" {
            return Err(AdapterError::rejected(format!(
                "provider '{}' (Vertex AI) serves chat completions only (got endpoint '{}')",
                ctx.provider, ctx.endpoint
            )));
        }
        let option = |name: &str| {
            ctx.option_str(name).ok_or_else(|| {
                AdapterError::failed(NAME, "plan", format!("options.{name} is not set"))
            })
        };
        let base = format!(
            "/projects/{}/locations/{}",
            percent_encode(option("project")?, b""),
            percent_encode(option("location")?, b"")
        );
        // `@` as it is: Vertex's model versions (`claude-sonnet-4-5@20250929`).
        let model = percent_encode(&ctx.model, b"@");
        let path = match (family(ctx), ctx.stream) {
            (Family::Google, false) => {
                format!("{base}/publishers/google/models/{model}:generateContent")
            }
            (Family::Google, true) => {
                format!("{base}/publishers/google/models/{model}:streamGenerateContent?alt=sse")
            }
            (Family::Anthropic, false) => {
                format!("{base}/publishers/anthropic/models/{model}:rawPredict")
            }
            (Family::Anthropic, true) => {
                format!("{base}/publishers/anthropic/models/{model}:streamRawPredict")
            }
            (Family::OpenApi, _) => format!("{base}/endpoints/openapi/chat/completions"),
        };
        let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
        if let Some(token) = &ctx.api_key {
            headers.push(("authorization".to_string(), format!("Bearer {token}")));
        }
        Ok(RequestPlan::post(path, headers))
    }

    fn request(&self, body: &Value, ctx: &Ctx) -> Result<Option<Value>, AdapterError> {
        match family(ctx) {
            Family::Google => GEMINI.request(body, ctx),
            Family::Anthropic => {
                let Some(mut out) = ANTHROPIC.request(body, ctx)? else {
                    return Ok(None);
                };
                if let Some(obj) = out.as_object_mut() {
                    obj.remove("model");
                    obj.insert("anthropic_version".into(), ANTHROPIC_VERSION.into());
                }
                Ok(Some(out))
            }
            Family::OpenApi => Ok(None),
        }
    }

    fn translates_response(&self) -> bool {
        true
    }

    fn response(&self, body: Value, ctx: &Ctx) -> Result<Value, AdapterError> {
        match family(ctx) {
            Family::Google => GEMINI.response(body, ctx),
            Family::Anthropic => ANTHROPIC.response(body, ctx),
            Family::OpenApi => Ok(body),
        }
    }

    fn stream(&self, ctx: &Arc<Ctx>) -> Option<Box<dyn StreamTranslator>> {
        match family(ctx) {
            Family::Google => GEMINI.stream(ctx),
            Family::Anthropic => ANTHROPIC.stream(ctx),
            Family::OpenApi => None,
        }
    }

    fn check_options(&self, options: &serde_json::Map<String, Value>) -> Result<(), String> {
        for name in ["project", "location"] {
            match options.get(name) {
                None | Some(Value::String(_)) => {}
                Some(_) => return Err(format!("`{name}` must be a string")),
            }
        }
        match options.get("publishers") {
            None => Ok(()),
            Some(Value::Object(m)) => {
                for (model, p) in m {
                    if !matches!(p.as_str(), Some("google" | "anthropic" | "openapi")) {
                        return Err(format!(
                            "publishers.{model}: expected google, anthropic or openapi"
                        ));
                    }
                }
                Ok(())
            }
            Some(_) => {
                Err("`publishers` must map model names to google, anthropic or openapi".into())
            }
        }
    }
}

#[cfg(test)]
mod tests;
