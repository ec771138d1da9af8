//! The client's request, as every layer sees it: which API it is for
//! ([`Endpoint`]), the format the client speaks ([`Dialect`]), and the
//! request itself, checked ([`ClientRequest`]: valid JSON within the depth
//! limit, and the fields routing needs). Reading it off the connection is
//! the proxy's intake (`proxy::intake`); everything below the proxy —
//! policy, routing, adapters — depends on these types, not on the proxy.

use serde_json::Value;

use crate::error::GatewayError;

pub mod form;
pub use form::Form;

/// Which API a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Chat,
    Embeddings,
    /// `POST /v1/images/generations`.
    ImageGenerations,
    /// `POST /v1/images/edits` (multipart).
    ImageEdits,
    /// `POST /v1/audio/transcriptions` (multipart).
    Transcriptions,
    /// `POST /v1/audio/translations` (multipart).
    Translations,
    /// `POST /v1/audio/speech`: binary audio answers, relayed as they come.
    Speech,
    /// `POST /v1/moderations`.
    Moderations,
    /// `POST /v1/rerank` (Cohere's and Jina's shape).
    Rerank,
    /// Any other request passed through to an OpenAI-compatible provider
    /// with the key swapped: files and batches (at the provider that holds
    /// them), and unknown `/v1/...` paths on a route with `passthrough: true`.
    Passthrough,
}

/// Every endpoint.
pub const ALL: &[Endpoint] = &[
    Endpoint::Chat,
    Endpoint::Embeddings,
    Endpoint::ImageGenerations,
    Endpoint::ImageEdits,
    Endpoint::Transcriptions,
    Endpoint::Translations,
    Endpoint::Speech,
    Endpoint::Moderations,
    Endpoint::Rerank,
    Endpoint::Passthrough,
];

impl Endpoint {
    /// The name scripts see as `ctx.endpoint` and logs show.
    pub fn name(self) -> &'static str {
        match self {
            Self::Chat => "chat",
            Self::Embeddings => "embeddings",
            Self::ImageGenerations => "image_generations",
            Self::ImageEdits => "image_edits",
            Self::Transcriptions => "transcriptions",
            Self::Translations => "translations",
            Self::Speech => "speech",
            Self::Moderations => "moderations",
            Self::Rerank => "rerank",
            Self::Passthrough => "passthrough",
        }
    }

    /// The endpoint's path under an OpenAI-compatible base URL.
    pub fn openai_path(self) -> &'static str {
        match self {
            Self::Chat => "/chat/completions",
            Self::Embeddings => "/embeddings",
            Self::ImageGenerations => "/images/generations",
            Self::ImageEdits => "/images/edits",
            Self::Transcriptions => "/audio/transcriptions",
            Self::Translations => "/audio/translations",
            Self::Speech => "/audio/speech",
            Self::Moderations => "/moderations",
            Self::Rerank => "/rerank",
            // The client's own path (`Passthrough::path`).
            Self::Passthrough => "",
        }
    }

    /// The endpoint of this [`name`](Self::name).
    pub fn named(name: &str) -> Option<Self> {
        ALL.iter().copied().find(|e| e.name() == name)
    }

    /// The endpoint a client path under `/v1` names, for `POST`.
    pub fn from_path(path: &str) -> Option<Self> {
        Some(match path {
            "/chat/completions" => Self::Chat,
            "/embeddings" => Self::Embeddings,
            "/images/generations" => Self::ImageGenerations,
            "/images/edits" => Self::ImageEdits,
            "/audio/transcriptions" => Self::Transcriptions,
            "/audio/translations" => Self::Translations,
            "/audio/speech" => Self::Speech,
            "/moderations" => Self::Moderations,
            "/rerank" => Self::Rerank,
            _ => return None,
        })
    }

    /// The capability a provider needs to serve the endpoint.
    pub fn capability(self) -> &'static str {
        match self {
            Self::Chat => "chat",
            Self::Embeddings => "embeddings",
            Self::ImageGenerations | Self::ImageEdits => "images",
            Self::Transcriptions | Self::Translations => "audio",
            Self::Speech => "speech",
            Self::Moderations => "moderations",
            Self::Rerank => "rerank",
            Self::Passthrough => "passthrough",
        }
    }

    /// Whether the client sends `multipart/form-data`.
    pub fn multipart(self) -> bool {
        matches!(
            self,
            Self::ImageEdits | Self::Transcriptions | Self::Translations
        )
    }

    /// Whether the answer may be other than JSON (audio, or a transcript
    /// as text or subtitles): relayed as the provider sends it.
    pub fn raw_answer(self) -> bool {
        matches!(
            self,
            Self::Speech | Self::Transcriptions | Self::Translations | Self::Passthrough
        )
    }

    /// Chat and embeddings go through the adapters' translation; the
    /// others are OpenAI's format only, sent as the client wrote them.
    pub fn translated(self) -> bool {
        matches!(self, Self::Chat | Self::Embeddings)
    }
}

/// The API format the client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dialect {
    /// OpenAI's (the hub format).
    #[default]
    OpenAi,
    /// Anthropic's Messages API (`/v1/messages`), translated to and from the hub.
    Anthropic,
    /// OpenAI's Responses API (`/v1/responses`): translated to and from the
    /// hub, or sent as it is to a provider that speaks it.
    Responses,
}

/// A parsed, checked client request in OpenAI format.
#[derive(Debug)]
pub struct ClientRequest {
    pub endpoint: Endpoint,
    pub model: String,
    pub stream: bool,
    /// The client asked for a final usage chunk.
    pub include_usage: bool,
    pub body: Value,
    /// Bytes of the body as the client sent it.
    pub body_len: usize,
    /// A multipart request's fields (`body` then holds its text fields).
    pub form: Option<std::sync::Arc<Form>>,
    /// The request in the client's own API, for a provider that speaks it
    /// natively (a Responses request, with its history): sent instead of
    /// the hub body to such a provider. Set for every Responses request
    /// (`Null` when no provider of the config speaks it).
    pub native: Option<std::sync::Arc<Value>>,
    /// A passed-through request: where it goes and its body as sent.
    pub passthrough: Option<std::sync::Arc<Passthrough>>,
}

/// What a passed-through request keeps of the client's.
#[derive(Debug)]
pub struct Passthrough {
    pub method: http::Method,
    /// Path and query under the provider's base URL (the client's, under `/v1`).
    pub path: String,
    /// Client headers sent on (`accept`, `openai-beta`, …).
    pub headers: Vec<(String, String)>,
    pub content_type: Option<String>,
    /// The body, if any.
    pub body: Option<std::sync::Arc<form::Spool>>,
    /// Files and batches: the provider the client named (or the only one
    /// that serves them); else the request is routed by `model`.
    pub provider: Option<String>,
}

impl ClientRequest {
    /// Everything but the body (which may be a large conversation).
    pub fn clone_head(&self) -> Self {
        Self {
            endpoint: self.endpoint,
            model: self.model.clone(),
            stream: self.stream,
            include_usage: self.include_usage,
            body: Value::Null,
            body_len: self.body_len,
            form: self.form.clone(),
            native: self.native.clone(),
            passthrough: self.passthrough.clone(),
        }
    }
}

/// Parses and checks `bytes` as a request for `endpoint`.
pub fn parse(endpoint: Endpoint, bytes: &[u8]) -> Result<ClientRequest, GatewayError> {
    let mut req = parse_value(endpoint, json(bytes)?)?;
    req.body_len = bytes.len();
    Ok(req)
}

/// The deepest nesting a JSON body may have, its outermost object counted
/// as level 1: serde_json's recursion limit, which protects the stack.
pub const MAX_JSON_DEPTH: usize = 127;

/// Parses `bytes` as JSON (nested at most [`MAX_JSON_DEPTH`] levels).
pub fn json(bytes: &[u8]) -> Result<Value, GatewayError> {
    if bytes.is_empty() {
        return Err(GatewayError::bad_request(
            "the request body is empty; expected JSON",
        ));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| GatewayError::bad_request(format!("the request body is not valid JSON: {e}")))
}

/// The model a moderation request without one is routed by (OpenAI's default).
pub const DEFAULT_MODERATION_MODEL: &str = "omni-moderation-latest";

/// Checks an OpenAI-format request for `endpoint`.
pub fn parse_value(endpoint: Endpoint, body: Value) -> Result<ClientRequest, GatewayError> {
    let mut body = body;
    if endpoint == Endpoint::Moderations {
        // Optional at OpenAI, which then uses its latest moderation model:
        // routed by that name here.
        if let Some(obj) = body.as_object_mut() {
            obj.entry("model")
                .or_insert_with(|| Value::String(DEFAULT_MODERATION_MODEL.into()));
        }
    }
    let obj = body
        .as_object()
        .ok_or_else(|| GatewayError::bad_request("the request body must be a JSON object"))?;
    let model = match obj.get("model") {
        Some(Value::String(m)) if !m.is_empty() => m.clone(),
        Some(_) => return Err(invalid("model", "`model` must be a non-empty string")),
        None => return Err(invalid("model", "you must provide a model parameter")),
    };
    let stream = match obj.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(invalid("stream", "`stream` must be a boolean")),
    };
    match endpoint {
        Endpoint::Chat => match obj.get("messages") {
            Some(Value::Array(m)) if !m.is_empty() => {
                if let Some(i) = m
                    .iter()
                    .position(|msg| msg.get("role").and_then(Value::as_str).is_none())
                {
                    return Err(invalid(
                        &format!("messages[{i}].role"),
                        "every message needs a string `role`",
                    ));
                }
            }
            Some(Value::Array(_)) => {
                return Err(invalid("messages", "`messages` must not be empty"))
            }
            Some(_) => return Err(invalid("messages", "`messages` must be an array")),
            None => {
                return Err(invalid(
                    "messages",
                    "missing required parameter: `messages`",
                ))
            }
        },
        Endpoint::Embeddings | Endpoint::Moderations => {
            if stream {
                return Err(invalid("stream", "this endpoint cannot be streamed"));
            }
            match obj.get("input") {
                Some(Value::String(_) | Value::Array(_)) => {}
                Some(_) => return Err(invalid("input", "`input` must be a string or an array")),
                None => return Err(invalid("input", "missing required parameter: `input`")),
            }
        }
        Endpoint::ImageGenerations | Endpoint::ImageEdits => required_string(obj, "prompt")?,
        Endpoint::Speech => {
            required_string(obj, "input")?;
            required_string(obj, "voice")?;
        }
        Endpoint::Rerank => {
            required_string(obj, "query")?;
            match obj.get("documents") {
                Some(Value::Array(d)) if !d.is_empty() => {}
                Some(_) => {
                    return Err(invalid(
                        "documents",
                        "`documents` must be a non-empty array",
                    ))
                }
                None => {
                    return Err(invalid(
                        "documents",
                        "missing required parameter: `documents`",
                    ))
                }
            }
        }
        Endpoint::Transcriptions | Endpoint::Translations | Endpoint::Passthrough => {}
    }
    if stream && !matches!(endpoint, Endpoint::Chat | Endpoint::Transcriptions) {
        return Err(invalid("stream", "this endpoint cannot be streamed"));
    }
    let include_usage = body
        .get("stream_options")
        .and_then(|o| o.get("include_usage"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Ok(ClientRequest {
        endpoint,
        model,
        stream,
        include_usage,
        body_len: 0,
        body,
        form: None,
        native: None,
        passthrough: None,
    })
}

/// A field that must be a non-empty string.
fn required_string(obj: &serde_json::Map<String, Value>, name: &str) -> Result<(), GatewayError> {
    match obj.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(()),
        Some(_) => Err(invalid(
            name,
            &format!("`{name}` must be a non-empty string"),
        )),
        None => Err(invalid(
            name,
            &format!("missing required parameter: `{name}`"),
        )),
    }
}

impl ClientRequest {
    /// The output limit the client set, if any.
    pub fn max_output_tokens(&self) -> Option<u64> {
        self.body
            .get("max_completion_tokens")
            .or_else(|| self.body.get("max_tokens"))
            .and_then(Value::as_u64)
    }

    /// The provider capabilities this request needs.
    pub fn needs(&self) -> Vec<&'static str> {
        let mut needs = Vec::new();
        if let Some(p) = &self.passthrough {
            if p.path.starts_with("/files") {
                needs.push("files");
            } else if p.path.starts_with("/batches") {
                needs.push("batches");
            }
            return needs;
        }
        if self.endpoint != Endpoint::Chat {
            needs.push(self.endpoint.capability());
            if self.stream {
                needs.push("stream");
            }
            return needs;
        }
        needs.push("chat");
        if self.stream {
            needs.push("stream");
        }
        let has = |v: Option<&Value>| {
            v.is_some_and(|v| !v.is_null() && v.as_array().is_none_or(|a| !a.is_empty()))
        };
        if has(self.body.get("tools")) {
            needs.push("tools");
        }
        let json = self
            .body
            .get("response_format")
            .and_then(|f| f.get("type"))
            .and_then(Value::as_str)
            .is_some_and(|t| t != "text");
        if json {
            needs.push("json");
        }
        let image = |part: &Value| part.get("type").and_then(Value::as_str) == Some("image_url");
        let vision = self
            .body
            .get("messages")
            .and_then(Value::as_array)
            .is_some_and(|m| {
                m.iter().any(|msg| {
                    msg.get("content")
                        .and_then(Value::as_array)
                        .is_some_and(|c| c.iter().any(image))
                })
            });
        if vision {
            needs.push("vision");
        }
        needs
    }
}

fn invalid(param: &str, message: &str) -> GatewayError {
    GatewayError::BadRequest {
        message: message.to_string(),
        param: Some(param.to_string()),
    }
}

#[cfg(test)]
mod tests;
