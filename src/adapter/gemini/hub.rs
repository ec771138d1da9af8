//! Reading the hub request (OpenAI's format, a borrowed `serde_json::Value`):
//! field access that treats absent and `null` alike, and the 400 refusals
//! for a field of the wrong type.

use std::borrow::Cow;

use serde_json::Value;

use crate::adapter::AdapterError;

static NULL: Value = Value::Null;

/// `v.key`: the field of an object, `null` when absent or when `v` is no object.
pub(super) fn get<'a>(v: &'a Value, key: &str) -> &'a Value {
    match v {
        Value::Object(map) => map.get(key).unwrap_or(&NULL),
        _ => &NULL,
    }
}

/// `v` as an array; `null` is empty; anything else a 400.
pub(super) fn array<'a>(v: &'a Value, what: &str) -> Result<&'a [Value], AdapterError> {
    match v {
        Value::Null => Ok(&[]),
        Value::Array(items) => Ok(items),
        _ => Err(AdapterError::rejected(format!("{what} must be an array"))),
    }
}

/// `v` as text when it is present; a 400 when it is not a string.
pub(super) fn opt_str<'a>(v: &'a Value, what: &str) -> Result<Option<&'a str>, AdapterError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        _ => Err(AdapterError::rejected(format!("{what} must be a string"))),
    }
}

/// A number field, when present; a 400 when it is not a number.
pub(super) fn opt_f64(v: &Value, what: &str) -> Result<Option<f64>, AdapterError> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => Ok(n.as_f64()),
        _ => Err(AdapterError::rejected(format!("{what} must be a number"))),
    }
}

/// An integer field, when present (`5.0` counts); a 400 otherwise.
pub(super) fn opt_i64(v: &Value, what: &str) -> Result<Option<i64>, AdapterError> {
    let refuse = || AdapterError::rejected(format!("{what} must be an integer"));
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Ok(Some(i)),
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Some(f as i64)),
            _ => Err(refuse()),
        },
        _ => Err(refuse()),
    }
}

/// How a value reads inside a message: text as it is, `null` as nothing,
/// anything else as JSON.
pub(super) fn shown(v: &Value) -> Cow<'_, str> {
    match v {
        Value::String(s) => Cow::Borrowed(s),
        Value::Null => Cow::Borrowed(""),
        other => Cow::Owned(other.to_string()),
    }
}
