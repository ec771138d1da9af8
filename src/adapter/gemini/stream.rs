//! Gemini's SSE stream -> `chat.completion.chunk`s. Each event is a whole
//! GenerateContentResponse carrying only the new parts; there is no
//! terminal event, the stream ends when the connection closes. Each
//! candidate opens a choice (a role chunk), then its thoughts, text and
//! whole function calls go out as deltas, and its finishReason as a finish
//! chunk. At the end: the usage chunk and `[DONE]`, but only if every
//! choice finished; else nothing, and the relay reports the truncation.

use std::sync::Arc;

use serde::de::IgnoredAny;
use serde_json::{json, Map, Value};

use super::response::{candidate_parts, completion_id, finish_reason, openai_usage, read_parts};
use super::wire::{Candidate, GenerateContentResponse, Status, UsageMetadata};
use super::{failed, unix_time, Ctx};
use crate::adapter::{AdapterError, ChunkOut, StreamTranslator};

/// One stream's translation state.
pub(super) struct GeminiStream {
    ctx: Arc<Ctx>,
    /// Set by the first event that is not an error.
    head: Option<Head>,
    /// The latest usageMetadata (several events carry it; the last wins).
    usage: Option<UsageMetadata>,
    /// The choices opened so far, in order of appearance.
    choices: Vec<ChoiceState>,
}

/// What every chunk of the stream repeats.
struct Head {
    id: String,
    model: String,
    created: i64,
}

struct ChoiceState {
    /// The candidate index.
    index: u32,
    /// Tool calls sent so far (OpenAI's `tool_calls[].index` counts them).
    calls: usize,
    finish: Option<&'static str>,
}

impl GeminiStream {
    pub(super) fn new(ctx: Arc<Ctx>) -> Self {
        Self {
            ctx,
            head: None,
            usage: None,
            choices: Vec::new(),
        }
    }
}

impl StreamTranslator for GeminiStream {
    /// Fails on an event that is a JSON object but not the shape Gemini
    /// documents; data that is not a JSON object becomes an in-band error.
    fn event(
        &mut self,
        _event: &str,
        data: &str,
        out: &mut Vec<ChunkOut>,
    ) -> Result<(), AdapterError> {
        let text = data.trim_start();
        if text.is_empty() {
            return Ok(());
        }
        // Serde would read an array as a struct too.
        if !text.starts_with('{') {
            out.push(ChunkOut::Json(not_json()));
            return Ok(());
        }
        let event = match serde_json::from_str::<GenerateContentResponse>(data) {
            Ok(event) => event,
            Err(e) => return not_a_response(data, e, out),
        };
        if let Some(error) = &event.error {
            out.push(ChunkOut::Json(stream_error(error)));
            return Ok(());
        }
        if self.head.is_none() {
            let model = event.model_version.as_deref().unwrap_or(&self.ctx.model);
            self.head = Some(Head {
                id: completion_id(event.response_id.as_deref()),
                model: model.to_string(),
                created: unix_time(),
            });
        }
        if event.usage_metadata.is_some() {
            self.usage = event.usage_metadata;
        }
        for (i, candidate) in event.candidates.iter().enumerate() {
            self.candidate(candidate, i, out);
        }
        let blocked = event
            .prompt_feedback
            .as_ref()
            .and_then(|f| f.block_reason.as_ref());
        if event.candidates.is_empty() && blocked.is_some() {
            self.blocked_prompt(out);
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<ChunkOut>) -> Result<(), AdapterError> {
        let Some(head) = &self.head else {
            return Ok(());
        };
        if self.choices.is_empty() || self.choices.iter().any(|c| c.finish.is_none()) {
            return Ok(());
        }
        if let Some(usage) = &self.usage {
            // Always sent: the relay drops it when the client did not ask.
            let mut chunk = head.envelope();
            chunk.insert("choices".into(), Value::Array(Vec::new()));
            chunk.insert("usage".into(), openai_usage(usage));
            out.push(ChunkOut::Json(Value::Object(chunk)));
        }
        out.push(ChunkOut::Raw("[DONE]".into()));
        Ok(())
    }
}

impl GeminiStream {
    /// One candidate of an event: its thoughts, its text, each whole
    /// function call as one tool_calls delta, and its finish when Gemini
    /// gives the first finishReason.
    fn candidate(&mut self, candidate: &Candidate, i: usize, out: &mut Vec<ChunkOut>) {
        let index = candidate
            .index
            .unwrap_or_else(|| u32::try_from(i).unwrap_or(u32::MAX));
        let at = self.open_choice(index, out);
        let said = read_parts(candidate_parts(candidate));
        if let Some(reasoning) = said.reasoning.filter(|r| !r.is_empty()) {
            self.push(out, index, json!({"reasoning_content": reasoning}), None);
        }
        if let Some(text) = said.text.filter(|t| !t.is_empty()) {
            self.push(out, index, json!({"content": text}), None);
        }
        for mut call in said.calls {
            let Some(state) = self.choices.get_mut(at) else {
                return;
            };
            if let Value::Object(call) = &mut call {
                call.insert("index".into(), state.calls.into());
            }
            state.calls += 1;
            self.push(out, index, json!({"tool_calls": [call]}), None);
        }
        let Some(state) = self.choices.get_mut(at) else {
            return;
        };
        if let (Some(reason), None) = (&candidate.finish_reason, state.finish) {
            let finish = finish_reason(Some(reason), state.calls > 0);
            state.finish = Some(finish);
            self.push(out, index, json!({}), Some(finish));
        }
    }

    /// promptFeedback.blockReason without candidates: an empty answer that
    /// finishes with content_filter.
    fn blocked_prompt(&mut self, out: &mut Vec<ChunkOut>) {
        let at = self.open_choice(0, out);
        if let Some(state) = self.choices.get_mut(at) {
            if state.finish.is_none() {
                state.finish = Some("content_filter");
                self.push(out, 0, json!({}), Some("content_filter"));
            }
        }
    }

    /// The position of candidate `index`'s choice; the role chunk the first
    /// time it shows up.
    fn open_choice(&mut self, index: u32, out: &mut Vec<ChunkOut>) -> usize {
        if let Some(at) = self.choices.iter().position(|c| c.index == index) {
            return at;
        }
        self.choices.push(ChoiceState {
            index,
            calls: 0,
            finish: None,
        });
        self.push(
            out,
            index,
            json!({"role": "assistant", "content": ""}),
            None,
        );
        self.choices.len() - 1
    }

    /// One chunk with a single choice.
    fn push(&self, out: &mut Vec<ChunkOut>, index: u32, delta: Value, finish: Option<&str>) {
        let Some(head) = &self.head else {
            return;
        };
        let mut chunk = head.envelope();
        let choice =
            json!({"index": index, "delta": delta, "logprobs": null, "finish_reason": finish});
        chunk.insert("choices".into(), Value::Array(vec![choice]));
        out.push(ChunkOut::Json(Value::Object(chunk)));
    }
}

impl Head {
    /// A chunk's `id`, `object`, `created` and `model`.
    fn envelope(&self) -> Map<String, Value> {
        let mut chunk = Map::new();
        chunk.insert("id".into(), self.id.clone().into());
        chunk.insert("object".into(), "chat.completion.chunk".into());
        chunk.insert("created".into(), self.created.into());
        chunk.insert("model".into(), self.model.clone().into());
        chunk
    }
}

/// An event starting with `{` that is no GenerateContentResponse: a JSON
/// object of the wrong shape fails the stream; text that is not JSON
/// becomes an in-band error.
fn not_a_response(
    data: &str,
    error: serde_json::Error,
    out: &mut Vec<ChunkOut>,
) -> Result<(), AdapterError> {
    if serde_json::from_str::<IgnoredAny>(data).is_ok() {
        let mut de = serde_json::Deserializer::from_str(data);
        let message = match serde_path_to_error::deserialize::<_, GenerateContentResponse>(&mut de)
        {
            Err(e) => e.to_string(),
            Ok(_) => error.to_string(),
        };
        return Err(failed("stream", message));
    }
    out.push(ChunkOut::Json(not_json()));
    Ok(())
}

/// The in-band error for an event that is not a JSON object.
fn not_json() -> Value {
    stream_error(&Status {
        code: None,
        message: Some("Gemini sent a stream event that is not JSON".into()),
        status: Some("MALFORMED_EVENT".into()),
    })
}

/// A Gemini error object `{code, message, status}` -> an OpenAI in-band error.
fn stream_error(error: &Status) -> Value {
    let status = error.status.as_deref().unwrap_or("INTERNAL");
    let kind = match status {
        "INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "OUT_OF_RANGE" => "invalid_request_error",
        "UNAUTHENTICATED" => "authentication_error",
        "PERMISSION_DENIED" => "permission_error",
        "NOT_FOUND" => "not_found_error",
        "RESOURCE_EXHAUSTED" => "rate_limit_error",
        "DEADLINE_EXCEEDED" => "timeout_error",
        _ => "api_error",
    };
    let code = match status {
        "RESOURCE_EXHAUSTED" => "rate_limit_exceeded".to_string(),
        other => other.to_lowercase(),
    };
    let message = error
        .message
        .as_deref()
        .unwrap_or("the provider reported an error during the stream");
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}
