//! Where the text of a request or an answer is, in the OpenAI format: the
//! one walker that the built-in guardrails edit through, and that scripts'
//! `prompt_text` / `answer_text` and moderation read through.

use serde_json::Value;

/// Each text of a request's prompt, to edit in place: its messages'
/// content (a string, or the `text` of its parts), `input` and `prompt`
/// (a string or an array of strings).
pub fn prompt_texts(body: &mut Value, f: &mut dyn FnMut(&mut String)) {
    if let Some(messages) = body.get_mut("messages").and_then(Value::as_array_mut) {
        for m in messages {
            if let Some(c) = m.get_mut("content") {
                texts(c, f);
            }
        }
    }
    for field in ["input", "prompt"] {
        if let Some(v) = body.get_mut(field) {
            texts(v, f);
        }
    }
}

/// Each text of an answer, to edit in place: its choices' message content
/// and refusal, or `text` (completions).
pub fn answer_texts(body: &mut Value, f: &mut dyn FnMut(&mut String)) {
    let Some(choices) = body.get_mut("choices").and_then(Value::as_array_mut) else {
        return;
    };
    for choice in choices {
        if let Some(m) = choice.get_mut("message") {
            for field in ["content", "refusal"] {
                if let Some(v) = m.get_mut(field) {
                    texts(v, f);
                }
            }
        }
        if let Some(t) = choice.get_mut("text") {
            texts(t, f);
        }
    }
}

/// A string, the strings of an array, or the `text` of content parts.
fn texts(v: &mut Value, f: &mut dyn FnMut(&mut String)) {
    match v {
        Value::String(s) => f(s),
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::String(s) => f(s),
                    Value::Object(part) => {
                        if let Some(Value::String(s)) = part.get_mut("text") {
                            f(s);
                        }
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

/// Every text of a request, one per line (for moderation and scripts).
pub fn prompt_text(request: &mut Value) -> String {
    let mut out = String::new();
    prompt_texts(request, &mut |s| line(&mut out, s));
    out
}

/// Every text of an answer, one per line.
pub fn answer_text(response: &mut Value) -> String {
    let mut out = String::new();
    answer_texts(response, &mut |s| line(&mut out, s));
    out
}

fn line(out: &mut String, s: &str) {
    if !out.is_empty() {
        out.push('\n');
    }
    out.push_str(s);
}
