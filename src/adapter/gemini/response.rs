//! A `generateContent` answer -> a `chat.completion`, and what the stream
//! translator shares with it: reading a candidate's parts, tool-call ids,
//! finish reasons, usage and the completion id.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::wire::{Candidate, FunctionCall, GenerateContentResponse, Part, UsageMetadata};
use super::{failed, random_id, unix_time, Ctx};
use crate::adapter::AdapterError;

/// The answer in the hub format. Fails when it has neither candidates nor a
/// block reason, or is not the shape Gemini documents.
pub(super) fn chat(body: &Value, ctx: &Ctx) -> Result<Value, AdapterError> {
    let answer = read(body)?;
    let mut choices = Vec::with_capacity(answer.candidates.len().max(1));
    if answer.candidates.is_empty() {
        let blocked = answer
            .prompt_feedback
            .as_ref()
            .and_then(|f| f.block_reason.as_ref());
        if blocked.is_none() {
            return Err(failed("response", "Gemini's answer has no candidates"));
        }
        // The prompt itself was blocked.
        choices.push(json!({
            "index": 0,
            "message": {"role": "assistant", "content": "", "refusal": null},
            "logprobs": null,
            "finish_reason": "content_filter",
        }));
    }
    for (i, candidate) in answer.candidates.iter().enumerate() {
        choices.push(choice(candidate, i));
    }
    let mut out = Map::new();
    out.insert(
        "id".into(),
        completion_id(answer.response_id.as_deref()).into(),
    );
    out.insert("object".into(), "chat.completion".into());
    out.insert("created".into(), unix_time().into());
    let model = answer.model_version.as_deref().unwrap_or(&ctx.model);
    out.insert("model".into(), model.into());
    out.insert("choices".into(), Value::Array(choices));
    if let Some(usage) = &answer.usage_metadata {
        out.insert("usage".into(), openai_usage(usage));
    }
    Ok(Value::Object(out))
}

/// The typed answer, borrowing `body`'s text; on failure, the path of the
/// first field that is not what Gemini documents.
fn read(body: &Value) -> Result<GenerateContentResponse<'_>, AdapterError> {
    // Serde would read an array as a struct too.
    if !body.is_object() {
        return Err(failed("response", "Gemini's answer is not an object"));
    }
    GenerateContentResponse::deserialize(body).map_err(|_| {
        let message = match serde_path_to_error::deserialize::<_, GenerateContentResponse>(body) {
            Err(e) => e.to_string(),
            Ok(_) => "the answer is not a GenerateContentResponse".into(),
        };
        failed("response", message)
    })
}

/// One candidate -> one choice.
fn choice(candidate: &Candidate, i: usize) -> Value {
    let parts = read_parts(candidate_parts(candidate));
    let has_calls = !parts.calls.is_empty();
    // Only tool calls: content is null, as OpenAI sends it; nothing at all: "".
    let content = match parts.text {
        Some(text) => Value::String(text.into_owned()),
        None if has_calls => Value::Null,
        None => Value::from(""),
    };
    let mut message = Map::new();
    message.insert("role".into(), "assistant".into());
    message.insert("content".into(), content);
    message.insert("refusal".into(), Value::Null);
    if has_calls {
        message.insert("tool_calls".into(), Value::Array(parts.calls));
    }
    if let Some(reasoning) = parts.reasoning {
        // DeepSeek's convention.
        message.insert("reasoning_content".into(), reasoning.into_owned().into());
    }
    let finish = finish_reason(candidate.finish_reason.as_deref(), has_calls);
    json!({
        "index": candidate.index.map_or(i as u64, u64::from),
        "message": message,
        "logprobs": null,
        "finish_reason": finish,
    })
}

/// A candidate's parts (none when it has no content).
pub(super) fn candidate_parts<'c, 'a>(candidate: &'c Candidate<'a>) -> &'c [Part<'a>] {
    candidate
        .content
        .as_ref()
        .map_or(&[], |c| c.parts.as_slice())
}

/// What a candidate's parts say: text, thought text (each `None` when no
/// part had any) and OpenAI tool calls. Inline data and code execution
/// parts have no OpenAI form and are dropped.
pub(super) struct Said<'p> {
    pub(super) text: Option<Cow<'p, str>>,
    pub(super) reasoning: Option<Cow<'p, str>>,
    pub(super) calls: Vec<Value>,
}

pub(super) fn read_parts<'p>(parts: &'p [Part]) -> Said<'p> {
    let mut said = Said {
        text: None,
        reasoning: None,
        calls: Vec::new(),
    };
    for part in parts {
        if let Some(call) = &part.function_call {
            said.calls
                .push(tool_call(call, part.thought_signature.as_deref()));
        } else if let Some(text) = &part.text {
            let into = if part.thought == Some(true) {
                &mut said.reasoning
            } else {
                &mut said.text
            };
            match into {
                None => *into = Some(Cow::Borrowed(text)),
                Some(joined) => joined.to_mut().push_str(text),
            }
        }
    }
    said
}

/// A functionCall part -> an OpenAI tool call (`arguments` a JSON string).
fn tool_call(call: &FunctionCall, signature: Option<&str>) -> Value {
    let arguments = match &call.args {
        Some(args) => args.to_string(),
        None => "{}".to_string(),
    };
    json!({
        "id": call_id(call.id.as_deref(), signature),
        "type": "function",
        "function": {"name": call.name, "arguments": arguments},
    })
}

/// Gemini's call id or a minted `call_<hex>`, plus `.ts.<signature>`.
fn call_id(id: Option<&str>, signature: Option<&str>) -> String {
    let mut out = match id {
        Some(id) if !id.is_empty() => id.to_string(),
        _ => format!("call_{}", random_id()),
    };
    if let Some(signature) = signature.filter(|s| !s.is_empty()) {
        out.push_str(".ts.");
        out.push_str(signature);
    }
    out
}

/// `chatcmpl-<responseId>`, or a random id when Gemini sent none.
pub(super) fn completion_id(response_id: Option<&str>) -> String {
    match response_id {
        Some(id) if !id.is_empty() => format!("chatcmpl-{id}"),
        _ => format!("chatcmpl-{}", random_id()),
    }
}

/// Gemini finishReason -> OpenAI finish_reason. A call that returns
/// function calls still finishes with STOP: `tool_calls` comes from their
/// presence. MALFORMED_FUNCTION_CALL, LANGUAGE, OTHER… are `stop` (policy).
pub(super) fn finish_reason(reason: Option<&str>, has_calls: bool) -> &'static str {
    match reason.unwrap_or("STOP") {
        "STOP" if has_calls => "tool_calls",
        "STOP" => "stop",
        "MAX_TOKENS" => "length",
        r if r.starts_with("IMAGE_") => "content_filter",
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" => "content_filter",
        _ => "stop",
    }
}

/// usageMetadata -> OpenAI usage. candidatesTokenCount leaves the thoughts
/// out, OpenAI's completion_tokens counts them.
pub(super) fn openai_usage(u: &UsageMetadata) -> Value {
    let count = |n: Option<u64>| n.unwrap_or(0);
    let prompt = count(u.prompt_token_count).saturating_add(count(u.tool_use_prompt_token_count));
    let thoughts = count(u.thoughts_token_count);
    let completion = count(u.candidates_token_count).saturating_add(thoughts);
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": u.total_token_count.unwrap_or(prompt.saturating_add(completion)),
        "prompt_tokens_details": {"cached_tokens": count(u.cached_content_token_count)},
        "completion_tokens_details": {"reasoning_tokens": thoughts},
    })
}
