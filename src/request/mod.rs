//! The client's request, as every layer sees it: which API it is for
//! ([`Endpoint`]), the format the client speaks ([`Dialect`]), and the
//! request itself, checked ([`ClientRequest`]: valid JSON within the depth
//! limit, and the fields routing needs). Reading it off the connection is
//! the proxy's intake (`proxy::intake`); everything below the proxy —
//! policy, routing, adapters — depends on these types, not on the proxy.

use serde_json::Value;

use crate::error::GatewayError;

/// Which API a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Chat,
    Embeddings,
}

impl Endpoint {
    /// The name scripts see as `ctx.endpoint` and logs show.
    pub fn name(self) -> &'static str {
        match self {
            Self::Chat => "chat",
            Self::Embeddings => "embeddings",
        }
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

/// Checks an OpenAI-format request for `endpoint`.
pub fn parse_value(endpoint: Endpoint, body: Value) -> Result<ClientRequest, GatewayError> {
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
        Endpoint::Embeddings => {
            if stream {
                return Err(invalid("stream", "embeddings cannot be streamed"));
            }
            match obj.get("input") {
                Some(Value::String(_) | Value::Array(_)) => {}
                Some(_) => return Err(invalid("input", "`input` must be a string or an array")),
                None => return Err(invalid("input", "missing required parameter: `input`")),
            }
        }
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
    })
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
        if self.endpoint == Endpoint::Embeddings {
            needs.push("embeddings");
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
