//! Azure OpenAI, the classic deployment surface (wire-formats §5).
//!
//! `base_url`: `https://{resource}.openai.azure.com/openai`. A request goes
//! to `/deployments/{deployment}/chat/completions` (or `/embeddings`) with
//! `?api-version=…`; the deployment picks the model, and the body (OpenAI
//! format) is passed through as it is.
//!
//! `options` read:
//! - `deployments`: `{ gpt-4o: prod-gpt4o }`, model → deployment name; a
//!   model not listed is used as the deployment name.
//! - `api_version`: the `api-version` query (default `2024-10-21`, a GA
//!   version).
//! - `auth`: `header:api-key` (the default: the key in `api-key`), `bearer`
//!   (an Entra ID token in `Authorization`) or `none`.
//!
//! Answers: non-streaming bodies pass through unchanged, Azure's
//! `prompt_filter_results` and per-choice `content_filter_results` included
//! (OpenAI SDKs ignore unknown fields, and callers that audit content
//! filtering keep the verdicts). In streams, the events that carry nothing
//! but filter annotations are dropped: the first one (`choices: []`, empty
//! id and model, only `prompt_filter_results`) and those of asynchronous
//! filtering whose choices have no `delta`. Every event a client gets is
//! therefore a normal `chat.completion.chunk` with a delta (or the usage
//! chunk).

use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use super::hub::percent_encode;
use super::openai::auth_header;
use super::{AdapterError, Capabilities, ChunkOut, Ctx, RequestPlan, StreamTranslator, Wire};

/// The Azure OpenAI format.
#[derive(Debug, Default)]
pub struct Azure;

/// The one instance the registry hands out.
pub static AZURE: Azure = Azure;

/// The `api-version` when `options.api_version` is not set (a GA version).
pub const DEFAULT_API_VERSION: &str = "2024-10-21";

const NAME: &str = "azure-openai";

impl Wire for Azure {
    fn name(&self) -> &str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        super::openai::OPENAI.capabilities()
    }

    fn plan(&self, ctx: &Ctx) -> Result<RequestPlan, AdapterError> {
        let deployment = ctx
            .options
            .get("deployments")
            .and_then(|d| d.get(&ctx.model))
            .map_or_else(|| ctx.model.clone(), text);
        let version = ctx
            .options
            .get("api_version")
            .map_or_else(|| DEFAULT_API_VERSION.to_string(), text);
        let operation = match ctx.endpoint {
            "embeddings" => "embeddings",
            _ => "chat/completions",
        };
        let headers = auth_header(NAME, ctx, "header:api-key")?
            .into_iter()
            .collect();
        let path = format!(
            "/deployments/{}/{operation}?api-version={}",
            percent_encode(&deployment, b""),
            percent_encode(&version, b"")
        );
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
        Some(Box::<AzureStream>::default())
    }

    fn check_options(&self, options: &serde_json::Map<String, Value>) -> Result<(), String> {
        super::openai::check_auth(options)?;
        match options.get("deployments") {
            None | Some(Value::Object(_)) => {}
            Some(_) => return Err("`deployments` must map model names to deployments".into()),
        }
        match options.get("api_version") {
            None | Some(Value::String(_)) => Ok(()),
            Some(_) => Err("`api_version` must be a string such as \"2024-10-21\"".into()),
        }
    }
}

/// An option's value as text (a string as it is, anything else as JSON).
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One Azure stream: drops filter-only events, and completes a stream that
/// ended without `[DONE]` after a finish reason.
#[derive(Debug, Default)]
struct AzureStream {
    saw_finish: bool,
}

/// What the filter needs of an event; the event itself passes on whole.
#[derive(Deserialize)]
struct Peek {
    #[serde(default)]
    error: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    usage: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    choices: Option<Vec<ChoicePeek>>,
}

#[derive(Deserialize)]
struct ChoicePeek {
    #[serde(default)]
    delta: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    finish_reason: Option<serde::de::IgnoredAny>,
}

impl StreamTranslator for AzureStream {
    fn event(
        &mut self,
        _event: &str,
        data: &str,
        out: &mut Vec<ChunkOut>,
    ) -> Result<(), AdapterError> {
        let data = data.trim();
        if data == "[DONE]" {
            out.push(ChunkOut::Raw("[DONE]".into()));
            return Ok(());
        }
        let not_json = || {
            let head: String = data.chars().take(200).collect();
            AdapterError::failed(
                NAME,
                "transform_chunk",
                format!("Azure OpenAI sent a stream event that is not JSON: {head}"),
            )
        };
        let peek: Peek = serde_json::from_str(data).map_err(|_| {
            match serde_json::from_str::<serde::de::IgnoredAny>(data) {
                Ok(_) => AdapterError::failed(
                    NAME,
                    "transform_chunk",
                    "Azure OpenAI sent a stream event of an unexpected shape",
                ),
                Err(_) => not_json(),
            }
        })?;
        if peek.error.is_some() {
            let v: Value = serde_json::from_str(data).map_err(|_| not_json())?;
            out.push(ChunkOut::Json(v));
            return Ok(());
        }
        let choices = peek.choices.unwrap_or_default();
        let kept = choices.iter().filter(|c| c.delta.is_some()).count();
        if kept == 0 && peek.usage.is_none() {
            // Only filter annotations (the first event, or asynchronous filtering).
            return Ok(());
        }
        self.saw_finish |= choices
            .iter()
            .any(|c| c.delta.is_some() && c.finish_reason.is_some());
        let mut v: Value = serde_json::from_str(data).map_err(|_| not_json())?;
        if kept != choices.len() {
            if let Some(Value::Array(list)) = v.get_mut("choices") {
                list.retain(|c| c.get("delta").is_some_and(|d| !d.is_null()));
            }
        }
        out.push(ChunkOut::Json(v));
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<ChunkOut>) -> Result<(), AdapterError> {
        if self.saw_finish {
            out.push(ChunkOut::Raw("[DONE]".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
