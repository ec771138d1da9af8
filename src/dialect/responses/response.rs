//! An OpenAI `chat.completion` (the hub answer) → a Response object, and what
//! the stream shares with it: the echoed request fields, usage, statuses.
//!
//! Output items, in this order:
//! - `reasoning_content` (DeepSeek's convention; `reasoning` from vLLM and
//!   OpenRouter) → a `reasoning` item with one `reasoning_text` part;
//! - `content` and `refusal` → one assistant `message` with an `output_text`
//!   and/or a `refusal` part (none when both are empty);
//! - each of `tool_calls` → a `function_call` item whose `call_id` is the
//!   hub's tool call id (the client sends it back in `function_call_output`),
//!   or a `custom_tool_call` item when it calls one of the request's custom
//!   tools (its `input` read from the arguments, see `custom.rs`).
//!
//! `finish_reason` `length` and `content_filter` make the response
//! `incomplete` (its last item too); anything else is `completed`.

use serde_json::{json, Map, Value};

use super::output::{Item, Part};
use super::{custom, field};

/// What a Response object echoes besides its output.
#[derive(Debug, Clone)]
pub struct Meta {
    /// `resp_…`, chosen by the caller (it is the key the response is stored
    /// under).
    pub id: String,
    pub created_at: u64,
    /// The model name the client asked for.
    pub model: String,
    /// The request body: instructions, tools, tool_choice, temperature,
    /// top_p, max_output_tokens, text, reasoning, metadata,
    /// previous_response_id, store, parallel_tool_calls, truncation, user
    /// are echoed from it with OpenAI's defaults when absent (tool_choice
    /// "auto", tools [], parallel_tool_calls true, truncation "disabled",
    /// text {format:{type:"text"}}, metadata {}, store true…).
    pub request: Value,
}

/// A new id: `prefix` + `_` + 32 random lowercase hex digits.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{:032x}", rand::random::<u128>())
}

/// Translates a hub `chat.completion` into a Response object. Never fails:
/// a missing message is an empty output, missing usage is all zeros.
pub fn response_from_hub(hub: &Value, meta: &Meta) -> Value {
    let choice = hub.pointer("/choices/0");
    let message = choice
        .and_then(|c| c.get("message"))
        .unwrap_or(&Value::Null);
    let finish = choice
        .and_then(|c| c.get("finish_reason"))
        .and_then(Value::as_str);
    let reason = incomplete_reason(finish);
    let items = output_items(message, &custom::names(&meta.request));
    let output = items
        .iter()
        .enumerate()
        .map(|(i, item)| item.to_json(item_status(reason, i + 1 == items.len())))
        .collect();
    finished(meta, reason, output, usage(hub.get("usage")))
}

/// A Response in `status` with this output and usage; `error` and
/// `incomplete_details` are `null`.
pub(super) fn response_object(
    meta: &Meta,
    status: &str,
    output: Vec<Value>,
    usage: Value,
) -> Value {
    let request = &meta.request;
    let echo = |name: &str, default: Value| field(request, name).cloned().unwrap_or(default);
    let mut text = echo("text", json!({}));
    if let Some(text) = text.as_object_mut() {
        text.entry("format")
            .and_modify(|f| {
                if f.is_null() {
                    *f = json!({ "type": "text" });
                }
            })
            .or_insert(json!({ "type": "text" }));
    }
    let mut out = Map::new();
    let mut put = |name: &str, value: Value| {
        out.insert(name.to_string(), value);
    };
    put("id", json!(meta.id));
    put("object", json!("response"));
    put("created_at", json!(meta.created_at));
    put("status", json!(status));
    put("background", json!(false));
    put("error", Value::Null);
    put("incomplete_details", Value::Null);
    put("instructions", echo("instructions", Value::Null));
    put("max_output_tokens", echo("max_output_tokens", Value::Null));
    put("max_tool_calls", echo("max_tool_calls", Value::Null));
    put("model", json!(meta.model));
    put("output", Value::Array(output));
    put(
        "parallel_tool_calls",
        echo("parallel_tool_calls", json!(true)),
    );
    put(
        "previous_response_id",
        echo("previous_response_id", Value::Null),
    );
    put("prompt_cache_key", echo("prompt_cache_key", Value::Null));
    let no_reasoning = json!({ "effort": null, "summary": null });
    put("reasoning", echo("reasoning", no_reasoning));
    put("safety_identifier", echo("safety_identifier", Value::Null));
    put("service_tier", echo("service_tier", json!("default")));
    put("store", echo("store", json!(true)));
    put("temperature", echo("temperature", json!(1.0)));
    put("text", text);
    put("tool_choice", echo("tool_choice", json!("auto")));
    put("tools", echo("tools", json!([])));
    put("top_logprobs", echo("top_logprobs", json!(0)));
    put("top_p", echo("top_p", json!(1.0)));
    put("truncation", echo("truncation", json!("disabled")));
    put("usage", usage);
    put("user", echo("user", Value::Null));
    put("metadata", echo("metadata", json!({})));
    Value::Object(out)
}

/// The final Response: `completed`, or `incomplete` with
/// `incomplete_details.reason`.
pub(super) fn finished(
    meta: &Meta,
    reason: Option<&str>,
    output: Vec<Value>,
    usage: Value,
) -> Value {
    let status = if reason.is_some() {
        "incomplete"
    } else {
        "completed"
    };
    let mut response = response_object(meta, status, output, usage);
    if let Some(reason) = reason {
        response["incomplete_details"] = json!({ "reason": reason });
    }
    response
}

/// `finish_reason` → `incomplete_details.reason`: length →
/// `max_output_tokens`, content_filter → `content_filter`, else complete.
pub(super) fn incomplete_reason(finish: Option<&str>) -> Option<&'static str> {
    match finish {
        Some("length") => Some("max_output_tokens"),
        Some("content_filter") => Some("content_filter"),
        _ => None,
    }
}

/// An item's final status: the last item of an incomplete response was cut
/// off, every other one is complete.
pub(super) fn item_status(reason: Option<&str>, last: bool) -> &'static str {
    if reason.is_some() && last {
        "incomplete"
    } else {
        "completed"
    }
}

/// Hub `usage` → Responses usage. `input_tokens` includes cached tokens in
/// both APIs; cached tokens are `prompt_tokens_details.cached_tokens` (or
/// DeepSeek's `prompt_cache_hit_tokens`). Missing counts are zeros.
pub(super) fn usage(usage: Option<&Value>) -> Value {
    let usage = usage.unwrap_or(&Value::Null);
    let count = |pointer: &str| usage.pointer(pointer).and_then(Value::as_u64);
    let input = count("/prompt_tokens").unwrap_or(0);
    let output = count("/completion_tokens").unwrap_or(0);
    let cached = count("/prompt_tokens_details/cached_tokens")
        .or_else(|| count("/prompt_cache_hit_tokens"))
        .unwrap_or(0);
    json!({
        "input_tokens": input,
        "input_tokens_details": {
            "cached_tokens": cached,
            "cache_write_tokens": count("/prompt_tokens_details/cache_write_tokens").unwrap_or(0),
        },
        "output_tokens": output,
        "output_tokens_details": {
            "reasoning_tokens": count("/completion_tokens_details/reasoning_tokens").unwrap_or(0),
        },
        "total_tokens": count("/total_tokens").unwrap_or(input + output),
    })
}

/// The reasoning text of a message or delta, if any.
pub(super) fn reasoning_text(message: &Value) -> Option<&str> {
    ["reasoning_content", "reasoning"]
        .iter()
        .find_map(|field| message.get(*field).and_then(Value::as_str))
        .filter(|text| !text.is_empty())
}

/// The output items of a hub message; `custom` names the request's custom
/// tools.
fn output_items(message: &Value, custom: &[String]) -> Vec<Item> {
    let mut items = Vec::new();
    if let Some(text) = reasoning_text(message) {
        items.push(Item::Reasoning {
            id: new_id("rs"),
            text: text.to_string(),
        });
    }
    let text = match message.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect(),
        _ => String::new(),
    };
    let refusal = message.get("refusal").and_then(Value::as_str);
    let parts: Vec<Part> = [(false, Some(text.as_str())), (true, refusal)]
        .into_iter()
        .filter_map(|(refusal, text)| match text {
            Some(text) if !text.is_empty() => Some(Part {
                refusal,
                text: text.to_string(),
            }),
            _ => None,
        })
        .collect();
    if !parts.is_empty() {
        items.push(Item::Message {
            id: new_id("msg"),
            parts,
        });
    }
    let calls = message.get("tool_calls").and_then(Value::as_array);
    items.extend(calls.into_iter().flatten().map(|c| call_item(c, custom)));
    items
}

fn call_item(call: &Value, custom: &[String]) -> Item {
    let function = call.get("function").unwrap_or(&Value::Null);
    let call_id = match call.get("id").and_then(Value::as_str) {
        Some(id) if !id.is_empty() => id.to_string(),
        _ => new_id("call"),
    };
    let name = function.get("name").and_then(Value::as_str);
    // Arguments are a JSON string; some servers send the object itself.
    let arguments = match function.get("arguments") {
        Some(Value::String(text)) => text.clone(),
        None | Some(Value::Null) => String::new(),
        Some(other) => other.to_string(),
    };
    let name = name.unwrap_or_default().to_string();
    if custom.contains(&name) {
        return Item::Custom {
            id: new_id("ctc"),
            call_id,
            name,
            arguments,
        };
    }
    Item::Call {
        id: new_id("fc"),
        call_id,
        name,
        arguments: no_arguments_as_object(arguments),
    }
}

/// Empty arguments (a call without parameters, from some servers) → `{}`,
/// which clients can parse.
pub(super) fn no_arguments_as_object(arguments: String) -> String {
    match arguments.trim().is_empty() {
        true => "{}".to_string(),
        false => arguments,
    }
}
