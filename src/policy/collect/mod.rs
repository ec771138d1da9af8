//! Rebuilds a whole chat completion from the OpenAI chunks of a stream, so
//! that a streamed answer can be cached and later served to streaming and
//! non-streaming clients alike. Only used on routes that cache: other
//! streams are relayed without parsing every chunk.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

#[derive(Default)]
struct Choice {
    content: String,
    reasoning: String,
    refusal: String,
    /// index → (id, name, arguments)
    tool_calls: BTreeMap<u64, (String, String, String)>,
    finish_reason: Option<Value>,
}

/// The parts of a stream seen so far.
#[derive(Default)]
pub struct Collector {
    id: Option<Value>,
    created: Option<Value>,
    model: Option<Value>,
    choices: BTreeMap<u64, Choice>,
    usage: Option<Value>,
}

impl Collector {
    /// Takes in one OpenAI `chat.completion.chunk`.
    pub fn feed(&mut self, chunk: &Value) {
        for (field, slot) in [
            ("id", &mut self.id),
            ("created", &mut self.created),
            ("model", &mut self.model),
        ] {
            if slot.is_none() {
                *slot = chunk.get(field).filter(|v| !v.is_null()).cloned();
            }
        }
        if let Some(u) = chunk.get("usage").filter(|u| u.is_object()) {
            self.usage = Some(u.clone());
        }
        let Some(choices) = chunk.get("choices").and_then(Value::as_array) else {
            return;
        };
        for (i, c) in choices.iter().enumerate() {
            let index = c.get("index").and_then(Value::as_u64).unwrap_or(i as u64);
            let acc = self.choices.entry(index).or_default();
            if let Some(delta) = c.get("delta") {
                let text = |f: &str| delta.get(f).and_then(Value::as_str).unwrap_or("");
                acc.content.push_str(text("content"));
                acc.reasoning.push_str(text("reasoning_content"));
                acc.refusal.push_str(text("refusal"));
                for (j, call) in delta
                    .get("tool_calls")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    let at = call
                        .get("index")
                        .and_then(Value::as_u64)
                        .unwrap_or(j as u64);
                    let entry = acc.tool_calls.entry(at).or_default();
                    if let Some(id) = call.get("id").and_then(Value::as_str) {
                        entry.0 = id.to_string();
                    }
                    let f = call.get("function");
                    let part = |k: &str| f.and_then(|f| f.get(k)).and_then(Value::as_str);
                    if let Some(name) = part("name") {
                        entry.1.push_str(name);
                    }
                    if let Some(args) = part("arguments") {
                        entry.2.push_str(args);
                    }
                }
            }
            if let Some(f) = c.get("finish_reason").filter(|f| !f.is_null()) {
                acc.finish_reason = Some(f.clone());
            }
        }
    }

    /// The `chat.completion` the stream amounted to.
    pub fn finish(self) -> Value {
        let choices: Vec<Value> = self
            .choices
            .into_iter()
            .map(|(index, c)| {
                let mut message = Map::new();
                message.insert("role".into(), json!("assistant"));
                let has_calls = !c.tool_calls.is_empty();
                message.insert(
                    "content".into(),
                    if c.content.is_empty() && has_calls {
                        Value::Null
                    } else {
                        json!(c.content)
                    },
                );
                if !c.reasoning.is_empty() {
                    message.insert("reasoning_content".into(), json!(c.reasoning));
                }
                if !c.refusal.is_empty() {
                    message.insert("refusal".into(), json!(c.refusal));
                }
                if has_calls {
                    let calls: Vec<Value> = c
                        .tool_calls
                        .into_values()
                        .map(|(id, name, args)| {
                            json!({"id": id, "type": "function", "function": {"name": name, "arguments": args}})
                        })
                        .collect();
                    message.insert("tool_calls".into(), Value::Array(calls));
                }
                json!({
                    "index": index,
                    "message": message,
                    "finish_reason": c.finish_reason.unwrap_or(json!("stop")),
                })
            })
            .collect();
        let mut out = json!({
            "id": self.id.unwrap_or(json!("chatcmpl-collected")),
            "object": "chat.completion",
            "created": self.created.unwrap_or(json!(0)),
            "model": self.model.unwrap_or(json!("")),
            "choices": choices,
        });
        if let (Some(obj), Some(u)) = (out.as_object_mut(), self.usage) {
            obj.insert("usage".into(), u);
        }
        out
    }
}

#[cfg(test)]
mod tests;
