//! What the script's expressions do to JSON values, as Rhai 1.x evaluates
//! them: `()` for a missing or null field, property access failing on
//! anything but a map, `for` over arrays (and over the characters of a
//! string), `==` between different types being false, `+` and `${..}`
//! formatting any value. The common cases are plain Rust; the rare ones (a
//! float or a map inside an error message, a number added to a string) are
//! handed to a small Rhai function so that they come out byte for byte as
//! the script's would.

use std::sync::OnceLock;

use rhai::{Dynamic, Engine, Map, Scope, AST};
use serde_json::Value;

use super::NativeError;
use crate::provider::engine;

/// Rhai's `()`: a missing or null field.
pub(super) static UNIT: Value = Value::Null;

/// The script's `throw #{ status: 400, message }` (its `reject`).
pub(super) fn reject(message: impl Into<String>) -> NativeError {
    NativeError::Rejected {
        status: 400,
        message: message.into(),
    }
}

/// A Rhai runtime error: the script fails here.
pub(super) fn failed(message: impl Into<String>) -> NativeError {
    NativeError::Failed(message.into())
}

/// `v.key`: a map's field, `()` when absent; an error on anything else.
pub(super) fn prop<'v>(v: &'v Value, key: &str) -> Result<&'v Value, NativeError> {
    match v {
        Value::Object(m) => Ok(m.get(key).unwrap_or(&UNIT)),
        other => Err(failed(format!(
            "property `{key}` of {} (not a map)",
            type_name(other)
        ))),
    }
}

/// `a ?? b`.
pub(super) fn or<'v>(a: &'v Value, b: &'v Value) -> &'v Value {
    if a.is_null() {
        b
    } else {
        a
    }
}

/// An empty map, for `x ?? #{}`.
pub(super) fn empty_map() -> &'static Value {
    static EMPTY: OnceLock<Value> = OnceLock::new();
    EMPTY.get_or_init(|| Value::Object(serde_json::Map::new()))
}

/// The items of `for item in v`, where every loop body starts by reading a
/// property of the item: an array's items; nothing for `()` (the script's
/// `?? []`) or an empty string; a failure for anything else (a map, a
/// number, or a string's characters, which have no properties).
pub(super) fn items(v: &Value) -> Result<&[Value], NativeError> {
    match v {
        Value::Array(a) => Ok(a),
        Value::Null => Ok(&[]),
        Value::String(s) if s.is_empty() => Ok(&[]),
        other => Err(failed(format!("cannot iterate {}", type_name(other)))),
    }
}

/// `v == "s"`: false for every other type.
pub(super) fn is(v: &Value, s: &str) -> bool {
    v.as_str() == Some(s)
}

/// `type_of(v) == "i64"`: integers that fit an i64 (larger ones are f64).
pub(super) fn as_int(v: &Value) -> Option<i64> {
    v.as_i64()
}

/// `type_of(v)` is `i64` or `f64`.
pub(super) fn is_number(v: &Value) -> bool {
    v.is_number()
}

/// Rhai's `type_of` name, for messages.
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "()",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.as_i64().is_some() => "i64",
        Value::Number(_) => "f64",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "map",
    }
}

/// The value as it comes out of Rhai: integers beyond i64 become floats
/// (Rhai has no u64), every other value is unchanged.
pub(super) fn norm(v: &Value) -> Value {
    match v {
        Value::Number(n) => norm_number(n),
        Value::Array(a) => Value::Array(a.iter().map(norm).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), norm(v))).collect()),
        other => other.clone(),
    }
}

/// [`norm`] for an owned value, keeping what needs no change.
pub(super) fn norm_owned(v: Value) -> Value {
    match v {
        Value::Number(n) => norm_number(&n),
        Value::Array(a) => Value::Array(a.into_iter().map(norm_owned).collect()),
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (k, norm_owned(v))).collect()),
        other => other,
    }
}

fn norm_number(n: &serde_json::Number) -> Value {
    match n.as_i64() {
        Some(i) => Value::from(i),
        None => Value::from(n.as_f64().unwrap_or(f64::NAN)),
    }
}

/// `${v}` (and `"text" + v`): the value as Rhai prints it.
pub(super) fn display(v: &Value) -> Result<String, NativeError> {
    match v {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) if n.as_i64().is_some() => Ok(n.to_string()),
        other => {
            let shown = fallback("show", (to_dynamic(other)?,))?;
            Ok(shown.to_string())
        }
    }
}

/// `a + b` for numbers, strings and what else the script adds.
pub(super) fn add(a: &Value, b: &Value) -> Result<Value, NativeError> {
    match (a.as_i64(), b.as_i64()) {
        (Some(x), Some(y)) => x
            .checked_add(y)
            .map(Value::from)
            .ok_or_else(|| failed("integer overflow in addition")),
        _ if a.is_number() && b.is_number() => {
            let (x, y) = (a.as_f64().unwrap_or(0.0), b.as_f64().unwrap_or(0.0));
            Ok(Value::from(x + y))
        }
        _ => {
            let sum = fallback("add", (to_dynamic(a)?, to_dynamic(b)?))?;
            rhai::serde::from_dynamic(&sum).map_err(|e| failed(e.to_string()))
        }
    }
}

/// A `ctx` field as JSON (`()` when absent).
pub(super) fn ctx_value(ctx: &Map, key: &str) -> Result<Value, NativeError> {
    match ctx.get(key) {
        None => Ok(Value::Null),
        Some(d) if d.is_unit() => Ok(Value::Null),
        Some(d) => match d.read_lock::<rhai::ImmutableString>() {
            Some(s) => Ok(Value::String(s.to_string())),
            None => rhai::serde::from_dynamic(d).map_err(|e| failed(e.to_string())),
        },
    }
}

/// `unix_time()`.
pub(super) fn unix_time() -> i64 {
    engine::unix_time()
}

/// `` `chatcmpl-${random_id()}` ``.
pub(super) fn chatcmpl_id() -> String {
    let mut id = String::from("chatcmpl-");
    id.push_str(&engine::random_id());
    id
}

fn to_dynamic(v: &Value) -> Result<Dynamic, NativeError> {
    rhai::serde::to_dynamic(v).map_err(|e| failed(e.to_string()))
}

/// Runs one of the fallback functions with the gateway's engine.
fn fallback(name: &str, args: impl rhai::FuncArgs) -> Result<Dynamic, NativeError> {
    static FALLBACK: OnceLock<Option<(Engine, AST)>> = OnceLock::new();
    let compiled = FALLBACK.get_or_init(|| {
        let engine = engine::build_engine(&Default::default());
        let ast = engine
            .compile("fn show(x) { `${x}` }\nfn add(a, b) { a + b }")
            .ok()?;
        Some((engine, ast))
    });
    let (engine, ast) = compiled
        .as_ref()
        .ok_or_else(|| failed("the fallback functions do not compile"))?;
    engine
        .call_fn::<Dynamic>(&mut Scope::new(), ast, name, args)
        .map_err(|e| failed(e.to_string()))
}
