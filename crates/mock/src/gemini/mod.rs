//! Google Gemini API (wire-formats §4): `POST /v1beta/models/{model}:{method}`
//! for `generateContent`, `streamGenerateContent?alt=sse`,
//! `batchEmbedContents` and `embedContent`.
//!
//! Gemini's key (`x-goog-api-key`, or `?key=`), its error shape
//! `{"error":{"code","message","status"}}` and its validation (unknown field
//! names are refused, see `validate.rs`). Replies: text deltas
//! `"tok{i} "`, one chunk each, the last with `finishReason` and full
//! `usageMetadata`, no `[DONE]`, CRLF frames; a call of the first declared
//! function (with a thought signature, as Gemini 3 sends) when tools are
//! offered and the last content answers none; `finishReason: SAFETY` and no
//! content when a user text contains `BLOCKME`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{json, Value};

use super::body::{self, Ending, Pace};
use super::call::KeyCheck;
use super::faults::Fault;
use super::reply::{self, prompt_tokens, Reply};
use super::state::{Endpoint, RecordedRequest, Shared, Started};

mod validate;

use validate::{Answer, Generate};

const PREFIX: &str = "/v1beta/models/";
/// The thought signature the mock puts on its function calls and wants back.
pub(crate) const THOUGHT_SIGNATURE: &str = "bW9jay10aG91Z2h0LXNpZ25hdHVyZQ==";
/// Dimensions of an embedding when the request does not say.
const DEFAULT_DIMENSIONS: usize = 8;
const MAX_DIMENSIONS: usize = 3072;

/// What `{model}:{method}` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Method {
    Generate { stream: bool },
    BatchEmbed,
    Embed,
}

/// `POST /v1beta/models/{*rest}`: axum cannot match `{model}:{method}`
/// inside one segment, so `rest` is split here.
pub(crate) async fn models(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let path = request.uri().path();
    let target = path.strip_prefix(PREFIX).and_then(|r| r.rsplit_once(':'));
    let (model, method) = match target.and_then(|(m, name)| Some((m, method(name)?))) {
        Some((model, method)) if !model.is_empty() && !model.contains('/') => {
            (model.to_owned(), method)
        }
        _ => {
            let message = format!("Method not found: POST {path}");
            if let Err(response) = shared.begin(request, Endpoint::Meta).await {
                return response;
            }
            return error(StatusCode::NOT_FOUND, &message);
        }
    };
    answer(&shared, request, &model, method, KeyCheck::Enforce).await
}

/// Answers `method` on `model`: the Gemini API's path above, and Vertex
/// AI's `publishers/google` path (`super::vertex`), which checked its
/// bearer token before and passes `KeyCheck::Skip`.
pub(crate) async fn answer(
    shared: &Arc<Shared>,
    request: Request,
    model: &str,
    method: Method,
    keys: KeyCheck,
) -> Response {
    let call = match GeminiCall::begin(shared, request, keys).await {
        Ok(call) => call,
        Err(response) => return response,
    };
    if method == (Method::Generate { stream: true }) && !call.sse() {
        return error(
            StatusCode::BAD_REQUEST,
            "the mock streams with ?alt=sse only",
        );
    }
    let result = match method {
        Method::Generate { stream } => call.generate(model, stream),
        Method::BatchEmbed | Method::Embed => call.embed(model, method == Method::BatchEmbed),
    };
    result.unwrap_or_else(|message| error(StatusCode::BAD_REQUEST, &message))
}

/// The method named after the `:` of a model path.
pub(crate) fn method(name: &str) -> Option<Method> {
    match name {
        "generateContent" => Some(Method::Generate { stream: false }),
        "streamGenerateContent" => Some(Method::Generate { stream: true }),
        "batchEmbedContents" => Some(Method::BatchEmbed),
        "embedContent" => Some(Method::Embed),
        _ => None,
    }
}

/// One call to a Gemini endpoint: the steps `super::call::Call` takes for
/// the other formats (latency, `Hang`, key check, `Status` fault), with
/// Gemini's key header and error shape.
struct GeminiCall {
    started: Started,
}

impl GeminiCall {
    async fn begin(
        shared: &Arc<Shared>,
        request: Request,
        keys: KeyCheck,
    ) -> Result<Self, Response> {
        let mut started = shared.begin(request, Endpoint::Llm).await?;
        let latency = match started.cfg.fault {
            Some(Fault::Late { after }) => started.cfg.latency + after,
            _ => started.cfg.latency,
        };
        if !latency.is_zero() {
            tokio::select! {
                () = tokio::time::sleep(latency) => {}
                () = started.shutdown.wait() => return Err(body::abort_response()),
            }
        }
        if started.cfg.fault == Some(Fault::Hang) {
            started.shutdown.wait().await;
            return Err(body::abort_response());
        }
        let refused = match (keys, &started.cfg.api_key) {
            (KeyCheck::Enforce, Some(key)) => check_key(&started.req, key),
            _ => None,
        };
        if let Some(response) = refused {
            return Err(response);
        }
        if let Some(quota) = started.cfg.quota {
            // enforced, not announced: Gemini sends no rate-limit headers
            let now = tokio::time::Instant::now();
            if let Err(standing) = shared.quota.admit(quota, now) {
                return Err(status_error(429, standing.retry_after()));
            }
        }
        if let Some(Fault::Status { code, retry_after }) = started.cfg.fault {
            return Err(status_error(code, retry_after));
        }
        let cfg = &started.cfg;
        if super::call::random_error(cfg.seed, started.seq, cfg.error_rate) {
            return Err(status_error(cfg.error_status, None));
        }
        if started.cfg.fault == Some(Fault::ContextOverflow) {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "The input token count (1048577) exceeds the maximum number of tokens allowed (1048576).",
            ));
        }
        Ok(Self { started })
    }

    fn sse(&self) -> bool {
        let query = self.started.req.query.as_deref().unwrap_or_default();
        query.split('&').any(|pair| pair == "alt=sse")
    }

    /// `generateContent` / `streamGenerateContent`.
    fn generate(self, model: &str, stream: bool) -> Result<Response, String> {
        let chunks = self.started.cfg.chunks;
        let request = validate::generate(&self.started.req.body, chunks)?;
        let head = Head {
            id: format!("mock-gemini-{}", self.started.seq),
            model: model.to_owned(),
            prompt_tokens: prompt_tokens(request.prompt_chars),
            output_tokens: chunks,
        };
        if stream {
            Ok(self.stream(stream_frames(&head, &request)))
        } else {
            Ok(self.json(&response(&head, &request)))
        }
    }

    /// `batchEmbedContents` (`batch`) or `embedContent`.
    fn embed(self, model: &str, batch: bool) -> Result<Response, String> {
        let inputs = validate::embed(&self.started.req.body, model, batch)?;
        let mut embeddings = inputs.iter().map(|input| {
            let dimensions = input
                .dimensions
                .unwrap_or(DEFAULT_DIMENSIONS)
                .min(MAX_DIMENSIONS);
            json!({ "values": vector(&input.text, dimensions) })
        });
        let answer = if batch {
            json!({ "embeddings": embeddings.collect::<Vec<_>>() })
        } else {
            json!({ "embedding": embeddings.next().unwrap_or_default() })
        };
        Ok(self.json(&answer))
    }

    /// Sends `frames` as SSE, cut or corrupted by the fault.
    fn stream(self, frames: Vec<Bytes>) -> Response {
        let Started {
            cfg,
            guard,
            shutdown,
            ..
        } = self.started;
        let (frames, ending) = shape_stream(frames, cfg.fault.as_ref());
        let pace = Pace {
            delay: cfg.chunk_delay,
            split: cfg.split_events,
        };
        body::sse_response(frames, ending, pace, guard, shutdown)
    }

    /// Sends `value` as JSON, unless the fault says otherwise.
    fn json(self, value: &Value) -> Response {
        let Started { cfg, guard, .. } = self.started;
        let bytes = Bytes::from(value.to_string());
        match cfg.fault {
            Some(Fault::DropMidStream { .. }) => body::truncated_json_response(bytes, guard),
            Some(Fault::StreamError { .. }) => status_error(503, None),
            Some(Fault::Malformed) => {
                let mut half = bytes.slice(..bytes.len() / 2).to_vec();
                half.extend_from_slice(b"<!-- mock: malformed -->");
                body::json_response(Bytes::from(half), guard)
            }
            Some(
                Fault::Status { .. }
                | Fault::EchoKey { .. }
                | Fault::Hang
                | Fault::ContextOverflow
                | Fault::Endless { .. }
                | Fault::HugeEvent { .. }
                | Fault::SlowHeader { .. }
                | Fault::WrongType
                | Fault::Late { .. }
                | Fault::BadSse { .. },
            )
            | None => body::json_response(bytes, guard),
        }
    }
}

// ───────────────────────────── errors ─────────────────────────────

/// The key from `x-goog-api-key` (or `?key=`, which Gemini also accepts).
/// No key: 403 PERMISSION_DENIED; a wrong one: **400** INVALID_ARGUMENT
/// with reason API_KEY_INVALID, as the real API answers. `Some` is the
/// refusal to send.
fn check_key(req: &RecordedRequest, key: &str) -> Option<Response> {
    let query_key = req
        .query
        .as_deref()
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix("key="));
    match req.header("x-goog-api-key").or(query_key) {
        Some(sent) if sent == key => None,
        Some(_) => {
            let details = json!([{
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            }]);
            let mut body = error_body(400, "API key not valid. Please pass a valid API key.");
            body["error"]["details"] = details;
            Some(json_response(StatusCode::BAD_REQUEST, &body))
        }
        None => Some(error(
            StatusCode::FORBIDDEN,
            "Method doesn't allow unregistered callers (callers without established identity). \
             Please use API Key or other form of API consumer identity to call this API.",
        )),
    }
}

/// Gemini's status name for an HTTP status (wire-formats §4.4).
fn status_name(code: u16) -> &'static str {
    match code {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        500 => "INTERNAL",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "UNKNOWN",
    }
}

fn status_message(code: u16) -> &'static str {
    match code {
        429 => "Resource has been exhausted (e.g. check quota).",
        500 => "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
        503 => "The model is overloaded. Please try again later.",
        504 => "Deadline expired before operation could complete.",
        _ => "Mock fault.",
    }
}

fn error_body(code: u16, message: &str) -> Value {
    json!({"error": {"code": code, "message": message, "status": status_name(code)}})
}

/// A Gemini (Google API) error response.
pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    json_response(status, &error_body(status.as_u16(), message))
}

/// The response to a `Fault::Status` (codes outside 100..=999 become 500),
/// with `retry-after` when given.
fn status_error(code: u16, retry_after: Option<u64>) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = error(status, status_message(status.as_u16()));
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let headers = [(CONTENT_TYPE, HeaderValue::from_static("application/json"))];
    (status, headers, body.to_string()).into_response()
}

// ───────────────────────────── replies ─────────────────────────────

/// Fields shared by a response and its stream chunks.
#[derive(Debug)]
struct Head {
    id: String,
    model: String,
    prompt_tokens: usize,
    output_tokens: usize,
}

impl Head {
    /// A GenerateContentResponse with one candidate.
    fn response(&self, candidate: Value, usage: Value) -> Value {
        json!({
            "candidates": [candidate],
            "usageMetadata": usage,
            "modelVersion": self.model,
            "responseId": self.id,
        })
    }

    /// Usage so far: the prompt only, or everything at the end.
    fn usage(&self, done: bool) -> Value {
        let prompt = self.prompt_tokens;
        if !done {
            return json!({"promptTokenCount": prompt, "totalTokenCount": prompt});
        }
        let output = self.output_tokens;
        json!({"promptTokenCount": prompt, "candidatesTokenCount": output,
               "totalTokenCount": prompt + output})
    }
}

/// A candidate with `parts` (none for a blocked answer) and a finish reason.
fn candidate(parts: Option<Value>, finish: Option<&str>) -> Value {
    let mut c = json!({"index": 0});
    if let Some(parts) = parts {
        c["content"] = json!({"role": "model", "parts": parts});
    }
    if let Some(finish) = finish {
        c["finishReason"] = json!(finish);
    }
    if finish == Some("SAFETY") {
        c["safetyRatings"] = json!([{"category": "HARM_CATEGORY_DANGEROUS_CONTENT",
                                      "probability": "HIGH", "blocked": true}]);
    }
    c
}

fn function_call_parts(name: &str) -> Value {
    json!([{"functionCall": {"name": name, "args": reply::tool_input()},
            "thoughtSignature": THOUGHT_SIGNATURE}])
}

/// The non-stream response.
fn response(head: &Head, request: &Generate) -> Value {
    let candidate = match &request.answer {
        Answer::Reply(Reply::Text { deltas }) => {
            candidate(Some(json!([{"text": reply::joined(deltas)}])), Some("STOP"))
        }
        Answer::Reply(Reply::Tool { name }) => {
            candidate(Some(function_call_parts(name)), Some("STOP"))
        }
        Answer::Blocked => candidate(None, Some("SAFETY")),
    };
    head.response(candidate, head.usage(true))
}

/// The stream: one chunk per text delta (at least one), the last with
/// `finishReason` and the full usage; a function call comes whole.
fn stream_frames(head: &Head, request: &Generate) -> Vec<Bytes> {
    let last = |parts: Option<Value>, finish: &str| {
        vec![sse(
            &head.response(candidate(parts, Some(finish)), head.usage(true))
        )]
    };
    match &request.answer {
        Answer::Reply(Reply::Text { deltas }) if !deltas.is_empty() => {
            let n = deltas.len();
            let frame = |(i, delta): (usize, &String)| {
                let done = i + 1 == n;
                let parts = Some(json!([{ "text": delta }]));
                let c = candidate(parts, done.then_some("STOP"));
                sse(&head.response(c, head.usage(done)))
            };
            deltas.iter().enumerate().map(frame).collect()
        }
        Answer::Reply(Reply::Text { .. }) => last(Some(json!([{"text": ""}])), "STOP"),
        Answer::Reply(Reply::Tool { name }) => last(Some(function_call_parts(name)), "STOP"),
        Answer::Blocked => last(None, "SAFETY"),
    }
}

/// `data: <json>` with Gemini's CRLF line ends.
fn sse(value: &Value) -> Bytes {
    Bytes::from(format!("data: {value}\r\n\r\n"))
}

/// Applies a stream fault: every Gemini chunk carries content, so `after`
/// counts chunks. `Status` and `Hang` were handled before the reply.
fn shape_stream(mut frames: Vec<Bytes>, fault: Option<&Fault>) -> (Vec<Bytes>, Ending) {
    match fault {
        Some(Fault::DropMidStream { after }) => {
            frames.truncate(*after);
            (frames, Ending::Abort)
        }
        Some(Fault::StreamError { after }) => {
            frames.truncate(*after);
            frames.push(sse(&error_body(500, status_message(500))));
            (frames, Ending::Finish)
        }
        Some(Fault::Malformed) => {
            let bad = Bytes::from_static(b"data: {\"candidates\": [{\"content\":\r\n\r\n");
            frames.insert(frames.len().min(1), bad);
            (frames, Ending::Finish)
        }
        // The hostile faults are served by the OpenAI and Anthropic
        // endpoints (and, for `late` and `slow-header`, by the connection).
        Some(
            Fault::Status { .. }
            | Fault::EchoKey { .. }
            | Fault::Hang
            | Fault::ContextOverflow
            | Fault::Endless { .. }
            | Fault::HugeEvent { .. }
            | Fault::SlowHeader { .. }
            | Fault::WrongType
            | Fault::Late { .. }
            | Fault::BadSse { .. },
        )
        | None => (frames, Ending::Finish),
    }
}

// ─────────────────────────── embeddings ───────────────────────────

/// A deterministic unit vector of `dimensions` derived from `text` (FNV-1a,
/// one seed per dimension).
fn vector(text: &str, dimensions: usize) -> Vec<f32> {
    let mut v: Vec<f32> = (0..dimensions as u64)
        .map(|dim| {
            let mut hash = 0xcbf2_9ce4_8422_2325_u64 ^ dim.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            for byte in text.bytes() {
                hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
            }
            // In [-1, 1]; the modulo keeps the value exact in f32.
            (hash % 2001) as f32 / 1000.0 - 1.0
        })
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

#[cfg(test)]
mod tests;
