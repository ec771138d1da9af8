//! `transform_chunk` and `finish_stream`: Gemini's SSE events (whole
//! GenerateContentResponse objects with only the new parts, no terminal
//! event) -> OpenAI chunks. The state is the script's `this`.

use std::collections::BTreeMap;

use rhai::Map;
use serde_json::{json, Value};

use super::answer::{candidate_parts, ctx_value, finish_reason, openai_usage, response_id};
use super::answer::{EMPTY_ARRAY, EMPTY_MAP, USAGE_FIELDS};
use super::value::{fail, J};
use crate::provider::adapter::ChunkOut;
use crate::provider::engine::unix_time;
use crate::provider::native::{NativeError, StreamTranslator};

/// One stream's state.
#[derive(Default)]
pub(super) struct GeminiStream {
    /// `this.id`, `this.model`, `this.created`: set by the first event.
    head: Option<Head>,
    /// `this.usage`: the latest usageMetadata map (only the fields
    /// `openai_usage` reads).
    usage: Option<J<'static>>,
    /// `this.choices`: by candidate index as text.
    choices: BTreeMap<String, Choice>,
}

struct Head {
    id: Value,
    model: Value,
    created: i64,
}

#[derive(Default)]
struct Choice {
    calls: i64,
    has_calls: bool,
    finish: Option<&'static str>,
}

/// Starts a stream.
pub(super) fn start() -> Box<dyn StreamTranslator> {
    Box::<GeminiStream>::default()
}

impl StreamTranslator for GeminiStream {
    fn event(
        &mut self,
        _event: &str,
        data: &str,
        ctx: &Map,
        out: &mut Vec<ChunkOut>,
    ) -> Result<(), NativeError> {
        let parsed = serde_json::from_str::<J>(data);
        let data = match parsed {
            Ok(data @ J::Obj(_)) => data,
            Ok(other) => return not_json(other.display().trim(), out),
            Err(_) => return not_json(data.trim(), out),
        };
        let error = data.get("error");
        if !error.is_null() {
            out.push(ChunkOut::Json(stream_error(error)?));
            return Ok(());
        }
        if self.head.is_none() {
            let id = Value::String(response_id(&data)?);
            let model = match data.get("modelVersion") {
                J::Null => ctx_value(ctx, "model")?,
                model => model.to_value(),
            };
            self.head = Some(Head {
                id,
                model,
                created: unix_time(),
            });
            self.usage = None;
            self.choices.clear();
        }
        let usage = data.get("usageMetadata");
        if let J::Obj(_) = usage {
            self.usage = Some(usage_fields(usage));
        }
        let mut chunks = Vec::new();
        let candidates = data.get("candidates").or(&EMPTY_ARRAY);
        for (i, candidate) in candidates.items()?.iter().enumerate() {
            self.on_candidate(candidate, i as i64, &mut chunks)?;
        }
        if candidates.len()? == 0
            && !data
                .get("promptFeedback")
                .or(&EMPTY_MAP)
                .prop("blockReason")?
                .is_null()
        {
            self.on_blocked_prompt(&mut chunks);
        }
        out.extend(chunks.into_iter().map(ChunkOut::Json));
        Ok(())
    }

    fn finish(&mut self, _ctx: &Map, out: &mut Vec<ChunkOut>) -> Result<(), NativeError> {
        let Some(head) = &self.head else {
            return Ok(());
        };
        if self.choices.is_empty() || self.choices.values().any(|c| c.finish.is_none()) {
            return Ok(());
        }
        let mut chunks = Vec::with_capacity(2);
        if let Some(usage) = &self.usage {
            chunks.push(ChunkOut::Json(json!({
                "id": head.id,
                "object": "chat.completion.chunk",
                "created": head.created,
                "model": head.model,
                "choices": [],
                "usage": openai_usage(usage)?,
            })));
        }
        chunks.push(ChunkOut::Raw("[DONE]".into()));
        out.extend(chunks);
        Ok(())
    }
}

impl GeminiStream {
    /// One OpenAI chunk with a single choice.
    fn chunk(&self, index: &Value, delta: Value, finish: Option<&str>) -> Value {
        let (id, model, created) = match &self.head {
            Some(h) => (h.id.clone(), h.model.clone(), h.created),
            None => (Value::Null, Value::Null, 0),
        };
        json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": index, "delta": delta, "logprobs": null, "finish_reason": finish}],
        })
    }

    /// The role chunk the first time candidate `key` shows up.
    fn open_choice(&mut self, key: &str, index: &Value, chunks: &mut Vec<Value>) {
        if self.choices.contains_key(key) {
            return;
        }
        self.choices.insert(key.to_string(), Choice::default());
        chunks.push(self.chunk(index, json!({"role": "assistant", "content": ""}), None));
    }

    /// One candidate of an event.
    fn on_candidate(
        &mut self,
        candidate: &J,
        i: i64,
        chunks: &mut Vec<Value>,
    ) -> Result<(), NativeError> {
        let position = J::Int(i);
        let index = candidate.prop("index")?.or(&position);
        let key = index.display();
        let index = index.to_value();
        self.open_choice(&key, &index, chunks);
        let parts = candidate_parts(candidate)?;
        if let Some(reasoning) = parts.reasoning.filter(|r| !r.is_empty()) {
            chunks.push(self.chunk(&index, json!({"reasoning_content": reasoning}), None));
        }
        if let Some(text) = parts.text.filter(|t| !t.is_empty()) {
            chunks.push(self.chunk(&index, json!({"content": text}), None));
        }
        for mut call in parts.calls {
            let state = self.choice(&key)?;
            call.insert("index".into(), Value::from(state.calls));
            state.calls += 1;
            state.has_calls = true;
            let delta = json!({"tool_calls": [Value::Object(call)]});
            chunks.push(self.chunk(&index, delta, None));
        }
        let reason = candidate.get("finishReason");
        if !reason.is_null() && self.choice(&key)?.finish.is_none() {
            let state = self.choice(&key)?;
            let finish = finish_reason(reason, state.has_calls)?;
            state.finish = Some(finish);
            chunks.push(self.chunk(&index, json!({}), Some(finish)));
        }
        Ok(())
    }

    /// promptFeedback.blockReason without candidates: an empty answer that
    /// finishes with content_filter.
    fn on_blocked_prompt(&mut self, chunks: &mut Vec<Value>) {
        let index = Value::from(0);
        self.open_choice("0", &index, chunks);
        if let Some(state) = self.choices.get_mut("0") {
            if state.finish.is_none() {
                state.finish = Some("content_filter");
                chunks.push(self.chunk(&index, json!({}), Some("content_filter")));
            }
        }
    }

    fn choice(&mut self, key: &str) -> Result<&mut Choice, NativeError> {
        self.choices
            .get_mut(key)
            .ok_or_else(|| fail("the choice's state is missing"))
    }
}

/// An event that is not a JSON object: nothing when blank, else an error.
fn not_json(text: &str, out: &mut Vec<ChunkOut>) -> Result<(), NativeError> {
    if !text.is_empty() {
        let error = J::Obj(vec![
            ("status".into(), J::Str("MALFORMED_EVENT".into())),
            (
                "message".into(),
                J::Str("Gemini sent a stream event that is not JSON".into()),
            ),
        ]);
        out.push(ChunkOut::Json(stream_error(&error)?));
    }
    Ok(())
}

/// A Gemini error object {code, message, status} -> an OpenAI in-band error.
fn stream_error(error: &J) -> Result<Value, NativeError> {
    let wrapped;
    let error = match error {
        J::Obj(_) => error,
        other => {
            wrapped = J::Obj(vec![("message".into(), J::Str(other.display().into()))]);
            &wrapped
        }
    };
    let internal = J::Str("INTERNAL".into());
    let status = error.get("status").or(&internal);
    let kind = match status.as_str() {
        Some("INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "OUT_OF_RANGE") => {
            "invalid_request_error"
        }
        Some("UNAUTHENTICATED") => "authentication_error",
        Some("PERMISSION_DENIED") => "permission_error",
        Some("NOT_FOUND") => "not_found_error",
        Some("RESOURCE_EXHAUSTED") => "rate_limit_error",
        Some("DEADLINE_EXCEEDED") => "timeout_error",
        _ => "api_error",
    };
    let code = match status.as_str() {
        Some("RESOURCE_EXHAUSTED") => "rate_limit_exceeded".to_string(),
        Some(s) => s.to_lowercase(),
        None => {
            return Err(fail(format!(
                "Function not found: to_lower ({})",
                status.type_name()
            )))
        }
    };
    let message = match error.get("message") {
        J::Null => Value::from("the provider reported an error during the stream"),
        m => m.to_value(),
    };
    Ok(json!({"error": {"message": message, "type": kind, "param": null, "code": code}}))
}

/// The usageMetadata fields `openai_usage` reads, kept past the event.
fn usage_fields(usage: &J) -> J<'static> {
    J::Obj(
        USAGE_FIELDS
            .iter()
            .map(|&name| (name.into(), usage.get(name).clone().into_owned()))
            .filter(|(_, v)| !v.is_null())
            .collect(),
    )
}
