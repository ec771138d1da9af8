//! Test support for the adapters' robustness sweeps: every node of a JSON
//! value, the value with one node removed or replaced by an odd value, and
//! random multi-field variations.

use serde_json::{json, Value};

/// One step of a path into a JSON value.
#[derive(Clone, Debug)]
pub enum Step {
    Key(String),
    Index(usize),
}

/// The path to every node of `v`, the root (an empty path) first.
pub fn paths(v: &Value) -> Vec<Vec<Step>> {
    fn walk(v: &Value, at: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
        out.push(at.clone());
        match v {
            Value::Object(m) => {
                for (k, child) in m {
                    at.push(Step::Key(k.clone()));
                    walk(child, at, out);
                    at.pop();
                }
            }
            Value::Array(a) => {
                for (i, child) in a.iter().enumerate() {
                    at.push(Step::Index(i));
                    walk(child, at, out);
                    at.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, &mut Vec::new(), &mut out);
    out
}

fn node<'v>(v: &'v mut Value, path: &[Step]) -> &'v mut Value {
    path.iter().fold(v, |v, step| match step {
        Step::Key(k) => &mut v[k.as_str()],
        Step::Index(i) => &mut v[*i],
    })
}

/// `v` with the node at `path` replaced by `with`, or removed (`None`);
/// `None` when there is nothing to remove it from (the root).
/// The node at `path` (`null` when there is none).
pub fn get<'v>(v: &'v Value, path: &[Step]) -> &'v Value {
    path.iter().fold(v, |v, step| match step {
        Step::Key(k) => &v[k.as_str()],
        Step::Index(i) => &v[*i],
    })
}

pub fn mutated(v: &Value, path: &[Step], with: Option<&Value>) -> Option<Value> {
    let mut out = v.clone();
    match (with, path.split_last()) {
        (Some(w), _) => *node(&mut out, path) = w.clone(),
        (None, Some((last, parent))) => match (node(&mut out, parent), last) {
            (Value::Object(m), Step::Key(k)) => {
                m.remove(k);
            }
            (Value::Array(a), Step::Index(i)) => {
                a.remove(*i);
            }
            _ => return None,
        },
        (None, None) => return None,
    }
    Some(out)
}

/// What a field is set to in the sweep.
pub fn odd_values() -> Vec<Value> {
    vec![
        Value::Null,
        json!(""),
        json!("  "),
        json!("x"),
        json!("STOP"),
        json!("IMAGE_SAFETY"),
        json!("RESOURCE_EXHAUSTED"),
        json!(0),
        json!(1),
        json!(-1),
        json!(i64::MAX),
        json!(u64::MAX),
        json!(1.5),
        json!(-0.0),
        json!(1e300),
        json!(true),
        json!(false),
        json!([]),
        json!([1, "a", null]),
        json!([{}]),
        json!({}),
        json!({"a": 1}),
    ]
}

/// Every one-field variation of `v`.
pub fn variations(v: &Value) -> Vec<Value> {
    let odd = odd_values();
    let mut out = Vec::new();
    for path in &paths(v) {
        out.extend(mutated(v, path, None));
        for w in &odd {
            out.extend(mutated(v, path, Some(w)));
        }
    }
    out
}

/// Values that mean something to the adapter somewhere, for the random
/// multi-field variations.
fn plausible_values() -> Vec<Value> {
    [
        "text",
        "image_url",
        "input_audio",
        "file",
        "refusal",
        "function",
        "allowed_tools",
        "json_schema",
        "json_object",
        "user",
        "assistant",
        "tool",
        "system",
        "developer",
        "auto",
        "none",
        "required",
        "high",
        "minimal",
        "wav",
        "mp3",
        "STOP",
        "MAX_TOKENS",
        "SAFETY",
        "data:image/png;base64,AA",
        "data:,x",
        "https://a.example/b.PNG?x#y",
        "call_1.ts.c2ln",
        "fc-1.ts.",
        "{\"a\": 1}",
        " {} ",
        "[1]",
        "object",
        "null",
        "$ref",
        "embeddings",
        "base64",
        "float",
    ]
    .iter()
    .map(|s| json!(s))
    .chain([
        json!({"type": "text", "text": "t"}),
        json!({"name": "f", "arguments": "{}"}),
        json!({"functionCall": {"name": "f", "args": {"a": [1]}}, "thoughtSignature": "s"}),
        json!({"text": "x", "thought": true}),
        json!([{"type": ["string", "null"]}]),
        json!({"type": "object", "properties": {"p": {"type": "string"}}}),
    ])
    .collect()
}

/// `count` variations of `v` with two to four fields replaced or removed
/// at random (a fixed seed: the same cases every run).
pub fn random_variations(v: &Value, count: usize, seed: u64) -> Vec<Value> {
    let values: Vec<Value> = odd_values().into_iter().chain(plausible_values()).collect();
    let mut state = seed;
    let mut next = move |n: usize| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((state >> 33) as usize) % n.max(1)
    };
    (0..count)
        .map(|_| {
            let mut out = v.clone();
            for _ in 0..2 + next(3) {
                let now = paths(&out);
                let path = &now[next(now.len())];
                let with = next(values.len() + 1);
                // Removing the root leaves nothing: `null`.
                out = mutated(&out, path, values.get(with)).unwrap_or(Value::Null);
            }
            out
        })
        .collect()
}
