//! AWS Bedrock's Converse API: `POST /model/{model}/converse` (JSON) and
//! `POST /model/{model}/converse-stream` (binary event stream).
//!
//! A request goes through `call` like every provider's (recording,
//! latency, faults, `error_rate`); its key check is [`refusal`]:
//! SigV4 verified from scratch (`sigv4`) when [`MockConfig::aws`] is set,
//! or a Bedrock API key (`Authorization: Bearer <api_key>`). The body is
//! checked strictly (`validate`), and the reply is the usual one: text
//! deltas `"tok{i} "`, a call of the first declared tool when tools are
//! offered and the last message answers none, or a JSON document when
//! `outputConfig` asks for one. Streams are framed by `eventstream`.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::body::Frame;
use super::call::Call;
use super::dialect::{bedrock_error, Dialect};
use super::reply::{self, argument_fragments, Reply};
use super::state::{RecordedRequest, Shared};
use super::MockConfig;

pub(crate) mod amz_date;
pub(crate) mod eventstream;
pub(crate) mod sigv4;
mod validate;

const TOOL_USE_ID: &str = "tooluse_mock_1";
/// The text block a tool reply starts with.
const TOOL_PREAMBLE: &str = "Let me check.";

/// AWS credentials the mock checks SigV4 signatures against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsAuth {
    /// The access key id requests must be signed with (`AKIA…`, `ASIA…`).
    pub access_key_id: String,
    /// The secret that derives the signing key.
    pub secret_access_key: String,
    /// If set, requests must carry it, signed, as `x-amz-security-token`.
    pub session_token: Option<String>,
    /// The region of the credential scope, e.g. `us-east-1`.
    pub region: String,
    /// The service of the credential scope: `bedrock`.
    pub service: String,
    /// Answer every request signed with this session token with
    /// `ExpiredTokenException`.
    pub expired: bool,
}

impl AwsAuth {
    /// Long-term credentials for `region`, service `bedrock`.
    pub fn new(
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        region: impl Into<String>,
    ) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            session_token: None,
            region: region.into(),
            service: "bedrock".into(),
            expired: false,
        }
    }
}

impl RecordedRequest {
    /// The model of a Bedrock `/model/{model}/converse[-stream]` request,
    /// percent-decoded (`anthropic.claude-3-5-sonnet-20241022-v2:0`).
    pub fn bedrock_model(&self) -> Option<String> {
        let rest = self.path.strip_prefix("/model/")?;
        let (model, _) = rest.split_once('/')?;
        Some(sigv4::percent_decode(model))
    }
}

/// The Bedrock key check: anything passes when neither `aws` nor
/// `api_key` is configured; else `Authorization: Bearer <api_key>` or a
/// valid SigV4 signature (when `aws` is set) does. `Some` is Bedrock's 403.
pub(crate) fn refusal(req: &RecordedRequest, cfg: &MockConfig) -> Option<Response> {
    if cfg.aws.is_none() && cfg.api_key.is_none() {
        return None;
    }
    let header = req.header("authorization");
    if let Some(sent) = header.and_then(|v| v.strip_prefix("Bearer ")) {
        return (cfg.api_key.as_deref() != Some(sent)).then(|| Dialect::Bedrock.unauthorized());
    }
    let error = match &cfg.aws {
        Some(aws) => sigv4::verify(req, aws, SystemTime::now()).err()?,
        None => sigv4::AuthError::Missing,
    };
    Some(bedrock_error(
        StatusCode::FORBIDDEN,
        error.error_type(),
        &error.to_string(),
    ))
}

/// `POST /model/{model}/converse`.
pub(crate) async fn converse(
    State(shared): State<Arc<Shared>>,
    request: Request,
) -> Result<Response, Response> {
    let (call, answer) = begin(&shared, request).await?;
    Ok(call.json(&answer.message()))
}

/// `POST /model/{model}/converse-stream`.
pub(crate) async fn converse_stream(
    State(shared): State<Arc<Shared>>,
    request: Request,
) -> Result<Response, Response> {
    let (call, answer) = begin(&shared, request).await?;
    Ok(call.stream(answer.frames()))
}

/// The shared steps, then the body's validation.
async fn begin(shared: &Arc<Shared>, request: Request) -> Result<(Call, Answer), Response> {
    let started = Instant::now();
    let call = Call::begin(shared, request, Dialect::Bedrock).await?;
    let parsed = validate::converse(&call.req().body)
        .map_err(|m| bedrock_error(StatusCode::BAD_REQUEST, "ValidationException", &m))?;
    let content = match (&parsed.schema, parsed.tool) {
        (Some(schema), _) => Content::Json(instance(schema).to_string()),
        (None, tool) => Content::Reply(Reply::choose(tool, call.chunks())),
    };
    let answer = Answer {
        content,
        chunks: call.chunks(),
        input_tokens: parsed.input_tokens,
        output_tokens: call.chunks(),
        latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    };
    Ok((call, answer))
}

/// What the model answers.
#[derive(Debug)]
enum Content {
    Reply(Reply),
    /// A JSON document (structured output), as text.
    Json(String),
}

/// A reply and its usage.
#[derive(Debug)]
struct Answer {
    content: Content,
    chunks: usize,
    input_tokens: usize,
    output_tokens: usize,
    latency_ms: u64,
}

impl Answer {
    fn stop_reason(&self) -> &'static str {
        match self.content {
            Content::Reply(Reply::Tool { .. }) => "tool_use",
            Content::Reply(Reply::Text { .. }) | Content::Json(_) => "end_turn",
        }
    }

    fn usage(&self) -> Value {
        json!({
            "inputTokens": self.input_tokens,
            "outputTokens": self.output_tokens,
            "totalTokens": self.input_tokens + self.output_tokens,
        })
    }

    /// The non-stream `ConverseResponse`.
    fn message(&self) -> Value {
        let content = match &self.content {
            Content::Reply(Reply::Text { deltas }) => json!([{"text": reply::joined(deltas)}]),
            Content::Reply(Reply::Tool { name }) => json!([
                {"text": TOOL_PREAMBLE},
                {"toolUse": {"toolUseId": TOOL_USE_ID, "name": name, "input": reply::tool_input()}},
            ]),
            Content::Json(text) => json!([{"text": text}]),
        };
        json!({
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": self.stop_reason(),
            "usage": self.usage(),
            "metrics": {"latencyMs": self.latency_ms},
        })
    }

    /// The stream's events, from `messageStart` to `metadata`.
    fn frames(&self) -> Vec<Frame> {
        let mut events: Vec<(&str, Value, bool)> =
            vec![("messageStart", json!({"role": "assistant"}), false)];
        let texts: Vec<String> = match &self.content {
            Content::Reply(Reply::Text { deltas }) => deltas.clone(),
            Content::Reply(Reply::Tool { .. }) => vec![TOOL_PREAMBLE.to_owned()],
            Content::Json(text) => split(text, self.chunks),
        };
        for text in texts {
            let delta = json!({"contentBlockIndex": 0, "delta": {"text": text}});
            events.push(("contentBlockDelta", delta, true));
        }
        events.push(("contentBlockStop", json!({"contentBlockIndex": 0}), false));
        if let Content::Reply(Reply::Tool { name }) = &self.content {
            let start = json!({"toolUse": {"toolUseId": TOOL_USE_ID, "name": name}});
            events.push((
                "contentBlockStart",
                json!({"contentBlockIndex": 1, "start": start}),
                false,
            ));
            for fragment in argument_fragments() {
                let delta = json!({"toolUse": {"input": fragment}});
                events.push((
                    "contentBlockDelta",
                    json!({"contentBlockIndex": 1, "delta": delta}),
                    true,
                ));
            }
            events.push(("contentBlockStop", json!({"contentBlockIndex": 1}), false));
        }
        events.push((
            "messageStop",
            json!({"stopReason": self.stop_reason()}),
            false,
        ));
        let metadata = json!({"usage": self.usage(), "metrics": {"latencyMs": self.latency_ms}});
        events.push(("metadata", metadata, false));
        events
            .into_iter()
            .enumerate()
            .map(|(seq, (name, fields, content))| {
                let bytes = eventstream::event(name, fields, seq);
                Frame { bytes, content }
            })
            .collect()
    }
}

/// `text` in at most `parts` pieces of about equal length.
fn split(text: &str, parts: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let size = chars.len().div_ceil(parts.max(1)).max(1);
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

/// A value that fits `schema`: every property of an object, the first
/// `enum` value, one item of an array.
fn instance(schema: &Value) -> Value {
    if let Some(first) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return first.clone();
    }
    let kind = schema.get("type").and_then(Value::as_str);
    match kind {
        Some("string") => json!("tok0"),
        Some("integer") => json!(1),
        Some("number") => json!(1.5),
        Some("boolean") => json!(true),
        Some("null") => Value::Null,
        Some("array") => json!([instance(schema.get("items").unwrap_or(&Value::Null))]),
        _ => {
            let props = schema.get("properties").and_then(Value::as_object);
            let fields = props
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.clone(), instance(v)));
            Value::Object(fields.collect())
        }
    }
}

#[cfg(test)]
mod tests;
