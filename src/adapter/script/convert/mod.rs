//! JSON to Rhai values and back, directly: `rhai::serde`'s generic
//! serializer goes through serde's visitor layers for every node, which
//! doubled the cost of handing a body to a script (measured in
//! `benches/core.rs`, `script_hooks`). Numbers follow JSON: an integer that
//! fits `i64` is an `INT`, any other number a `FLOAT`.

use rhai::{Array, Dynamic, EvalAltResult, Map};
use serde_json::{Number, Value};

use super::json::Json;

/// `value` as a Rhai value (objects become maps, arrays arrays).
pub fn to_dynamic(value: Value) -> Dynamic {
    match value {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => Dynamic::from_bool(b),
        Value::Number(n) => number(&n),
        Value::String(s) => Dynamic::from(s),
        Value::Array(items) => {
            let array: Array = items.into_iter().map(to_dynamic).collect();
            Dynamic::from_array(array)
        }
        Value::Object(entries) => {
            let mut map = Map::new();
            for (k, v) in entries {
                map.insert(k.into(), to_dynamic(v));
            }
            Dynamic::from_map(map)
        }
    }
}

/// A borrowed `value` as a Rhai value (its strings copied once).
pub fn to_dynamic_ref(value: &Value) -> Dynamic {
    match value {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => Dynamic::from_bool(*b),
        Value::Number(n) => number(n),
        Value::String(s) => Dynamic::from(s.clone()),
        Value::Array(items) => Dynamic::from_array(items.iter().map(to_dynamic_ref).collect()),
        Value::Object(entries) => {
            let mut map = Map::new();
            for (k, v) in entries {
                map.insert(k.as_str().into(), to_dynamic_ref(v));
            }
            Dynamic::from_map(map)
        }
    }
}

fn number(n: &Number) -> Dynamic {
    match n.as_i64() {
        Some(i) => Dynamic::from_int(i),
        None => Dynamic::from_float(n.as_f64().unwrap_or(f64::NAN)),
    }
}

/// A Rhai value as JSON. Fails on what JSON cannot hold (a function
/// pointer, a non-finite float, a custom type other than [`Json`]).
pub fn from_dynamic(value: &Dynamic) -> Result<Value, Box<EvalAltResult>> {
    if value.is_unit() {
        return Ok(Value::Null);
    }
    if let Ok(b) = value.as_bool() {
        return Ok(Value::Bool(b));
    }
    if let Ok(i) = value.as_int() {
        return Ok(Value::from(i));
    }
    if let Ok(f) = value.as_float() {
        return Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| format!("{f} cannot be written as JSON").into());
    }
    if let Some(s) = value.read_lock::<rhai::ImmutableString>() {
        return Ok(Value::String(s.to_string()));
    }
    if let Ok(c) = value.as_char() {
        return Ok(Value::String(c.to_string()));
    }
    if let Some(array) = value.read_lock::<Array>() {
        return array
            .iter()
            .map(from_dynamic)
            .collect::<Result<_, _>>()
            .map(Value::Array);
    }
    if let Some(map) = value.read_lock::<Map>() {
        let mut out = serde_json::Map::with_capacity(map.len());
        for (k, v) in map.iter() {
            out.insert(k.to_string(), from_dynamic(v)?);
        }
        return Ok(Value::Object(out));
    }
    if let Some(json) = value.read_lock::<Json>() {
        return Ok(json.value());
    }
    if let Some(blob) = value.read_lock::<rhai::Blob>() {
        return Ok(Value::Array(blob.iter().map(|b| Value::from(*b)).collect()));
    }
    Err(format!("a `{}` cannot be written as JSON", value.type_name()).into())
}

#[cfg(test)]
mod tests;
