//! Test support (unit tests and the fuzz targets): an adapter that runs
//! every hook through both a script and its native twin
//! ([`super::native`]) and panics unless both have the same outcome, so
//! that every test written against a script also checks its twin.
//!
//! Outputs must be equal; a refusal must have the same status and message;
//! a failure must be a failure on both sides (the messages may differ: the
//! script's names a line). The twin's result is returned, as the gateway
//! uses it.
//!
//! Both sides of one call see the same clock and the same `random_id()`
//! sequence (`engine::pin`): a minted id or a `created` time must be the
//! one the script would have made, not merely look like it (an id such as
//! Gemini's `call_<random>.ts.<signature>` has no fixed shape to mask).

// Test support whose job is to panic on a disagreement; never on a request path.
#![allow(clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rhai::Map;
use serde_json::Value;

use super::adapter::{Adapter, ChunkOut, RequestPlan, ScriptError, StreamState};
use super::engine::{build_engine, pin, ScriptLimits};

/// A shipped script (`scripts/providers/<name>.rhai`) and its twin.
pub struct Differential {
    native: Adapter,
    script: Adapter,
}

/// One stream's state on both sides.
pub struct DiffState {
    native: StreamState,
    script: StreamState,
}

impl Differential {
    /// Loads `scripts/providers/<name>.rhai` with the default limits.
    pub fn shipped(name: &str) -> Self {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scripts/providers")
            .join(format!("{name}.rhai"));
        let source = std::fs::read_to_string(&path).expect("read the shipped script");
        let compile = || {
            Adapter::compile(
                name,
                &path,
                &source,
                Arc::new(build_engine(&ScriptLimits::default())),
                // Generous: a debug build on a busy machine runs the long
                // conversations of the tests for seconds; the operation
                // limit still stops a runaway script.
                Duration::from_secs(60),
            )
            .expect("the shipped script compiles")
        };
        Self {
            native: compile(),
            script: compile().script_only(),
        }
    }

    /// The adapter's name.
    pub fn name(&self) -> &str {
        self.script.name()
    }

    /// The twin's name; `None` when the script has none (both sides then
    /// run the script).
    pub fn native(&self) -> Option<&'static str> {
        self.native.native()
    }

    pub fn request(&self, ctx: &Map) -> Result<RequestPlan, ScriptError> {
        self.native.request(ctx)
    }

    pub fn capabilities(&self) -> Result<std::collections::BTreeMap<String, bool>, ScriptError> {
        self.native.capabilities()
    }

    pub fn transform_request(&self, body: &Value, ctx: &Map) -> Result<Option<Value>, ScriptError> {
        let (native, script) = twice(
            || self.native.transform_request(body, ctx),
            || self.script.transform_request(body, ctx),
        );
        same("transform_request", native, script)
    }

    pub fn transform_response(&self, body: Value, ctx: &Map) -> Result<Value, ScriptError> {
        let (native, script) = twice(
            || self.native.transform_response(body.clone(), ctx),
            || self.script.transform_response(body.clone(), ctx),
        );
        same("transform_response", native, script)
    }

    pub fn stream_state(&self) -> DiffState {
        DiffState {
            native: self.native.stream_state(),
            script: self.script.stream_state(),
        }
    }

    pub fn transform_chunk(
        &self,
        state: &mut DiffState,
        event: &str,
        data: &str,
        ctx: &Map,
    ) -> Result<Vec<ChunkOut>, ScriptError> {
        let (native, script) = twice(
            || {
                self.native
                    .transform_chunk(&mut state.native, event, data, ctx)
            },
            || {
                self.script
                    .transform_chunk(&mut state.script, event, data, ctx)
            },
        );
        same("transform_chunk", native, script)
    }

    pub fn finish_stream(
        &self,
        state: &mut DiffState,
        ctx: &Map,
    ) -> Result<Vec<ChunkOut>, ScriptError> {
        let (native, script) = twice(
            || self.native.finish_stream(&mut state.native, ctx),
            || self.script.finish_stream(&mut state.script, ctx),
        );
        same("finish_stream", native, script)
    }
}

/// Runs both sides with the same pinned clock and id sequence.
fn twice<T>(native: impl FnOnce() -> T, script: impl FnOnce() -> T) -> (T, T) {
    let time = super::engine::unix_time();
    let seed = rand::random::<u64>();
    (pin::with(time, seed, native), pin::with(time, seed, script))
}

/// The twin's outcome, after checking that the script's is the same.
fn same<T: Comparable + std::fmt::Debug>(
    hook: &str,
    native: Result<T, ScriptError>,
    script: Result<T, ScriptError>,
) -> Result<T, ScriptError> {
    match (&native, &script) {
        (Ok(n), Ok(s)) => assert_eq!(
            n.compared(),
            s.compared(),
            "{hook}: the native twin and the script differ"
        ),
        (
            Err(ScriptError::Rejected { status, message }),
            Err(ScriptError::Rejected {
                status: s_status,
                message: s_message,
            }),
        ) => assert_eq!(
            (status, message),
            (s_status, s_message),
            "{hook}: the native twin and the script refuse differently"
        ),
        (Err(ScriptError::Runtime { .. }), Err(ScriptError::Runtime { .. })) => {}
        _ => panic!("{hook}: native twin {native:?}, script {script:?}"),
    }
    native
}

/// What two outputs are compared on. The differences allowed:
/// - Rhai's integers are i64, so a script turns a whole number above
///   `i64::MAX` into a float; the twin keeps it exact. Both sides are
///   compared with such numbers as floats.
/// - `random_id()` differs between two calls: an id of the shape it makes
///   (`chatcmpl-` or `call_` and 24 hex digits) is compared on its prefix.
/// - `unix_time()` may tick between the two calls: a `created` within a
///   minute of now is compared as 0.
trait Comparable {
    fn compared(&self) -> Vec<Value>;
}

impl Comparable for Value {
    fn compared(&self) -> Vec<Value> {
        vec![rhai_numbers(self)]
    }
}

impl Comparable for Option<Value> {
    fn compared(&self) -> Vec<Value> {
        self.iter().map(rhai_numbers).collect()
    }
}

impl Comparable for Vec<ChunkOut> {
    fn compared(&self) -> Vec<Value> {
        self.iter()
            .map(|c| match c {
                ChunkOut::Json(v) => rhai_numbers(v),
                ChunkOut::Raw(s) => Value::String(format!("raw:{s}")),
            })
            .collect()
    }
}

fn rhai_numbers(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(random_ids(s)),
        Value::Number(n) if n.is_u64() && !n.is_i64() => n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Null, Value::Number),
        Value::Array(a) => Value::Array(a.iter().map(rhai_numbers).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| match v.as_i64() {
                    Some(t) if k == "created" && (t - super::engine::unix_time()).abs() < 60 => {
                        (k.clone(), Value::from(0))
                    }
                    _ => (k.clone(), rhai_numbers(v)),
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `s` with a `random_id()` suffix replaced by `<random>`.
fn random_ids(s: &str) -> String {
    for prefix in ["chatcmpl-", "call_"] {
        if let Some(rest) = s.strip_prefix(prefix) {
            if rest.len() == 24 && rest.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                return format!("{prefix}<random>");
            }
        }
    }
    s.to_string()
}

/// For the sweeps of the twins' tests: every node of a JSON value, and the
/// value with one node replaced or removed.
#[cfg(test)]
pub mod mutate {
    use serde_json::Value;

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

    /// The node at `path` (`null` when there is none).
    pub fn get<'v>(v: &'v Value, path: &[Step]) -> &'v Value {
        path.iter().fold(v, |v, step| match step {
            Step::Key(k) => &v[k.as_str()],
            Step::Index(i) => &v[*i],
        })
    }

    fn node<'v>(v: &'v mut Value, path: &[Step]) -> &'v mut Value {
        path.iter().fold(v, |v, step| match step {
            Step::Key(k) => &mut v[k.as_str()],
            Step::Index(i) => &mut v[*i],
        })
    }

    /// `v` with the node at `path` replaced by `with`, or removed (`None`);
    /// `None` when there is nothing to remove it from (the root).
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
}
