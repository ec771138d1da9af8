//! JSON as the Gemini script sees it: a value parsed from an upstream event
//! (or borrowed from a body) with Rhai's types and the few Rhai operations
//! the script applies to values it did not build (property access, `??`,
//! string interpolation, `+`), so that odd inputs give the script's outcome.
//!
//! Strings are borrowed from the event text where they need no unescaping;
//! objects are small vectors (looked up from the end: as in a JSON map, the
//! last of duplicate keys wins).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

use crate::provider::native::NativeError;

/// A JSON value with Rhai's number types: integers beyond `i64` are floats,
/// as the gateway's JSON-to-Rhai conversion makes them.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum J<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Cow<'a, str>),
    Arr(Vec<J<'a>>),
    Obj(Vec<(Cow<'a, str>, J<'a>)>),
}

/// `()`, for absent properties.
pub(super) static NULL: J<'static> = J::Null;

/// A Rhai runtime error of the script, as a twin failure.
pub(super) fn fail(message: impl Into<String>) -> NativeError {
    NativeError::Failed(message.into())
}

/// The script's `throw #{ status: 400, message }`.
pub(super) fn reject(message: impl Into<String>) -> NativeError {
    NativeError::Rejected {
        status: 400,
        message: message.into(),
    }
}

impl<'a> J<'a> {
    /// Rhai's `type_of()`.
    pub(super) fn type_name(&self) -> &'static str {
        match self {
            J::Null => "()",
            J::Bool(_) => "bool",
            J::Int(_) => "i64",
            J::Float(_) => "f64",
            J::Str(_) => "string",
            J::Arr(_) => "array",
            J::Obj(_) => "map",
        }
    }

    pub(super) fn is_null(&self) -> bool {
        matches!(self, J::Null)
    }

    pub(super) fn as_str(&self) -> Option<&str> {
        match self {
            J::Str(s) => Some(s),
            _ => None,
        }
    }

    /// `self == s` in Rhai: only a string can equal a string.
    pub(super) fn is_str(&self, s: &str) -> bool {
        self.as_str() == Some(s)
    }

    /// `self.name`: a map's field, `()` when absent; any other value has no
    /// such property (a Rhai error).
    pub(super) fn prop(&self, name: &str) -> Result<&J<'a>, NativeError> {
        match self {
            J::Obj(fields) => Ok(field(fields, name)),
            other => Err(fail(format!(
                "Unknown property '{name}' - a getter is not registered for type '{}'",
                other.type_name()
            ))),
        }
    }

    /// A map's field without the error (`()` for anything else).
    pub(super) fn get(&self, name: &str) -> &J<'a> {
        match self {
            J::Obj(fields) => field(fields, name),
            _ => &NULL,
        }
    }

    /// `self ?? other`.
    pub(super) fn or<'s>(&'s self, other: &'s J<'a>) -> &'s J<'a> {
        if self.is_null() {
            other
        } else {
            self
        }
    }

    /// The items `for x in self` visits. A string iterates its characters;
    /// every caller fails on a character at once (it reads a property of
    /// it), so a non-empty string is a failure here.
    pub(super) fn items(&self) -> Result<&[J<'a>], NativeError> {
        match self {
            J::Arr(items) => Ok(items),
            J::Str(s) if s.is_empty() => Ok(&[]),
            J::Str(_) => Err(fail(
                "Unknown property - a getter is not registered for type 'char'",
            )),
            other => Err(fail(format!(
                "For loop expects an iterable type, not {}",
                other.type_name()
            ))),
        }
    }

    /// `self.len()` for the values it applies to.
    pub(super) fn len(&self) -> Result<usize, NativeError> {
        match self {
            J::Arr(items) => Ok(items.len()),
            J::Obj(_) => Ok(self.entries().len()),
            J::Str(s) => Ok(s.chars().count()),
            other => Err(fail(format!(
                "Function not found: len ({})",
                other.type_name()
            ))),
        }
    }

    /// A map's fields in Rhai's order (sorted, the last duplicate winning).
    pub(super) fn entries(&self) -> BTreeMap<&str, &J<'a>> {
        let mut out = BTreeMap::new();
        if let J::Obj(fields) = self {
            for (k, v) in fields {
                out.insert(k.as_ref(), v);
            }
        }
        out
    }

    /// The same value, owning its strings.
    pub(super) fn into_owned(self) -> J<'static> {
        match self {
            J::Null => J::Null,
            J::Bool(b) => J::Bool(b),
            J::Int(n) => J::Int(n),
            J::Float(f) => J::Float(f),
            J::Str(s) => J::Str(Cow::Owned(s.into_owned())),
            J::Arr(items) => J::Arr(items.into_iter().map(J::into_owned).collect()),
            J::Obj(fields) => J::Obj(
                fields
                    .into_iter()
                    .map(|(k, v)| (Cow::Owned(k.into_owned()), v.into_owned()))
                    .collect(),
            ),
        }
    }

    /// Borrows a JSON body.
    pub(super) fn from_value(v: &'a Value) -> J<'a> {
        match v {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Number(n) => number(n),
            Value::String(s) => J::Str(Cow::Borrowed(s)),
            Value::Array(items) => J::Arr(items.iter().map(J::from_value).collect()),
            Value::Object(map) => J::Obj(
                map.iter()
                    .map(|(k, v)| (Cow::Borrowed(k.as_str()), J::from_value(v)))
                    .collect(),
            ),
        }
    }

    /// The JSON the gateway makes of this value when a script returns it
    /// (a non-finite float becomes null).
    pub(super) fn to_value(&self) -> Value {
        match self {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Int(n) => Value::from(*n),
            J::Float(f) => float(*f),
            J::Str(s) => Value::String(s.to_string()),
            J::Arr(items) => Value::Array(items.iter().map(J::to_value).collect()),
            J::Obj(fields) => {
                let mut map = serde_json::Map::new();
                for (k, v) in fields {
                    map.insert(k.to_string(), v.to_value());
                }
                Value::Object(map)
            }
        }
    }

    /// `${self}`: Rhai's `to_string`.
    pub(super) fn display(&self) -> String {
        let mut out = String::new();
        self.write_display(&mut out);
        out
    }

    fn write_display(&self, out: &mut String) {
        match self {
            J::Null => {}
            J::Str(s) => out.push_str(s),
            J::Float(f) => write_float(*f, out),
            _ => self.write_debug(out),
        }
    }

    /// Rhai's `to_debug`, which arrays and maps use for their items.
    fn write_debug(&self, out: &mut String) {
        match self {
            J::Null => out.push_str("()"),
            J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            J::Int(n) => {
                let _ = write!(out, "{n}");
            }
            J::Float(f) => {
                let _ = write!(out, "{f:?}");
            }
            J::Str(s) => {
                let _ = write!(out, "{:?}", s.as_ref());
            }
            J::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    item.write_debug(out);
                }
                out.push(']');
            }
            J::Obj(_) => {
                out.push_str("#{");
                for (i, (k, v)) in self.entries().into_iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    let _ = write!(out, "{k:?}: ");
                    v.write_debug(out);
                }
                out.push('}');
            }
        }
    }
}

fn field<'s, 'a>(fields: &'s [(Cow<'a, str>, J<'a>)], name: &str) -> &'s J<'a> {
    fields
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map_or(&NULL, |(_, v)| v)
}

/// A JSON number as Rhai holds it.
fn number(n: &serde_json::Number) -> J<'static> {
    if let Some(i) = n.as_i64() {
        J::Int(i)
    } else if let Some(u) = n.as_u64() {
        J::Float(u as f64)
    } else {
        J::Float(n.as_f64().unwrap_or(f64::NAN))
    }
}

/// A Rhai float as JSON.
pub(super) fn float(f: f64) -> Value {
    serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
}

/// Rhai's `to_string` of a float.
fn write_float(f: f64, out: &mut String) {
    let abs = f.abs();
    let max = f64::from(10_000_000_000_000.0_f32);
    let min = f64::from(0.000_000_000_000_1_f32);
    if abs == 0.0 {
        out.push_str("0.0");
    } else if abs > max || abs < min {
        let _ = write!(out, "{f:e}");
    } else {
        let _ = write!(out, "{f}");
        if abs.fract() == 0.0 {
            out.push_str(".0");
        }
    }
}

/// Rhai's `a + b` on the values JSON gives (and the script's constants).
pub(super) fn add<'a>(a: &J<'a>, b: &J<'a>) -> Result<J<'a>, NativeError> {
    Ok(match (a, b) {
        (J::Int(x), J::Int(y)) => J::Int(
            x.checked_add(*y)
                .ok_or_else(|| fail(format!("Addition overflow: {x} + {y}")))?,
        ),
        (J::Int(x), J::Float(y)) => J::Float(*x as f64 + y),
        (J::Float(x), J::Int(y)) => J::Float(x + *y as f64),
        (J::Float(x), J::Float(y)) => J::Float(x + y),
        (J::Str(_), J::Null) => a.clone(),
        (J::Null, J::Str(_)) => b.clone(),
        (J::Str(x), _) => {
            let mut s = x.to_string();
            b.write_display(&mut s);
            J::Str(Cow::Owned(s))
        }
        (_, J::Str(y)) => {
            let mut s = a.display();
            s.push_str(y);
            J::Str(Cow::Owned(s))
        }
        (J::Arr(x), J::Arr(y)) => J::Arr(x.iter().chain(y).cloned().collect()),
        (J::Obj(_), J::Obj(_)) => {
            let mut merged: BTreeMap<&str, &J<'a>> = a.entries();
            merged.extend(b.entries());
            J::Obj(
                merged
                    .into_iter()
                    .map(|(k, v)| (Cow::Owned(k.to_string()), v.clone()))
                    .collect(),
            )
        }
        _ => {
            return Err(fail(format!(
                "Function not found: + ({}, {})",
                a.type_name(),
                b.type_name()
            )))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::engine::{build_engine, ScriptLimits};
    use rhai::{Dynamic, Scope};
    use serde_json::json;

    fn samples() -> Vec<Value> {
        vec![
            Value::Null,
            json!(true),
            json!(false),
            json!(0),
            json!(5),
            json!(-3),
            json!(i64::MAX),
            json!(i64::MIN),
            json!(u64::MAX),
            json!(1.5),
            json!(-0.0),
            json!(2.0),
            json!(1e300),
            json!(-1e300),
            json!(1.7e308),
            json!(1e13),
            json!(1.1e13),
            json!(1e-13),
            json!(1e-14),
            json!(0.1),
            json!(123456789.125),
            json!(""),
            json!("ab"),
            json!("q\"u\\o\nte\u{1}é"),
            json!([]),
            json!([1, "a", null, 1.0, [true], {"k": "v"}]),
            json!({}),
            json!({"b": 1, "a": [null], "\"k\"": "x"}),
        ]
    }

    fn eval(script: &str, a: &Value, b: &Value) -> Result<Dynamic, String> {
        let engine = build_engine(&ScriptLimits::default());
        let mut scope = Scope::new();
        scope.push("a", rhai::serde::to_dynamic(a).unwrap());
        scope.push("b", rhai::serde::to_dynamic(b).unwrap());
        engine
            .eval_with_scope::<Dynamic>(&mut scope, script)
            .map_err(|e| e.to_string())
    }

    /// `${x}`, `type_of(x)` and `x.len()` agree with Rhai's.
    #[test]
    fn display_and_type_match_rhai() {
        for v in samples() {
            let j = J::from_value(&v);
            let got = eval("`${a}`", &v, &Value::Null).unwrap().to_string();
            assert_eq!(j.display(), got, "{v}");
            let ty = eval("type_of(a)", &v, &Value::Null).unwrap().to_string();
            assert_eq!(j.type_name(), ty, "{v}");
            let len = eval("a.len()", &v, &Value::Null).map(|d| d.as_int().unwrap());
            assert_eq!(j.len().ok().map(|n| n as i64), len.ok(), "{v}");
        }
    }

    /// `a + b` agrees with Rhai's on every pair (failures on both sides).
    #[test]
    fn addition_matches_rhai() {
        let samples = samples();
        for a in &samples {
            for b in &samples {
                let got = add(&J::from_value(a), &J::from_value(b)).map(|j| j.to_value());
                let want =
                    eval("a + b", a, b).map(|d| rhai::serde::from_dynamic::<Value>(&d).unwrap());
                assert_eq!(got.ok(), want.ok(), "{a} + {b}");
            }
        }
    }
}
