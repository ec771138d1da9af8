//! Checks of request fields with OpenAI's 400 messages (`Missing required
//! parameter: 'x'.`, `Invalid type for 'x'…`, `Unknown parameter…`), naming
//! the field by its path (`tools[0].name`, `text.format.schema`). Used by
//! the Responses, images, audio, moderations, rerank and files endpoints.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value};

use super::dialect::{cohere_error, openai_error};
use super::form::Form;

/// Why a request was rejected: OpenAI's `{"error":{message,type,param,code}}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Invalid {
    pub message: String,
    pub param: Option<String>,
    pub code: Option<&'static str>,
}

impl Invalid {
    pub(crate) fn new(message: impl Into<String>, param: &str, code: &'static str) -> Self {
        Self {
            message: message.into(),
            param: Some(param.to_owned()),
            code: Some(code),
        }
    }

    /// A body that is not JSON (no param, no code).
    pub(crate) fn not_json() -> Self {
        Self {
            message: "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)".into(),
            param: None,
            code: None,
        }
    }

    pub(crate) fn missing(param: &str) -> Self {
        let message = format!("Missing required parameter: '{param}'.");
        Self::new(message, param, "missing_required_parameter")
    }

    pub(crate) fn wrong_type(param: &str, expected: &str, got: &Value) -> Self {
        let message = format!(
            "Invalid type for '{param}': expected {expected}, but got {} instead.",
            type_name(got)
        );
        Self::new(message, param, "invalid_type")
    }

    /// `got` is not one of `supported`.
    pub(crate) fn value(param: &str, got: &str, supported: &[&str]) -> Self {
        let message = format!(
            "Invalid value: '{got}'. Supported values are: {}.",
            quoted_list(supported)
        );
        Self::new(message, param, "invalid_value")
    }

    pub(crate) fn unknown(param: &str) -> Self {
        let message = format!("Unknown parameter: '{param}'.");
        Self::new(message, param, "unknown_parameter")
    }

    pub(crate) fn empty_string(param: &str) -> Self {
        let message = format!("Invalid '{param}': empty string. Expected a string with minimum length 1, but got an empty string instead.");
        Self::new(message, param, "empty_string")
    }

    pub(crate) fn empty_array(param: &str) -> Self {
        let message = format!("Invalid '{param}': empty array. Expected an array with minimum length 1, but got an empty array instead.");
        Self::new(message, param, "empty_array")
    }

    /// A number outside `min..=max`.
    pub(crate) fn out_of_range(param: &str, got: f64, min: f64, max: f64) -> Self {
        let (side, code, bound) = if got < min {
            ("below minimum", "below_min_value", format!(">= {min}"))
        } else {
            ("above maximum", "above_max_value", format!("<= {max}"))
        };
        let message = format!(
            "Invalid '{param}': number {side} value. Expected a value {bound}, but got {got} instead."
        );
        Self::new(message, param, code)
    }

    /// OpenAI's 400 response.
    pub(crate) fn response(&self) -> Response {
        openai_error(
            StatusCode::BAD_REQUEST,
            &self.message,
            "invalid_request_error",
            self.param.as_deref(),
            self.code,
        )
    }

    /// Cohere's 400 response (`{"id","message"}`), for `/v2/rerank`.
    pub(crate) fn cohere_response(&self) -> Response {
        cohere_error(StatusCode::BAD_REQUEST, &self.message)
    }
}

/// `'a', 'b', and 'c'` as OpenAI lists supported values.
fn quoted_list(values: &[&str]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| format!("'{v}'")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [first, second] => format!("{first} and {second}"),
        [rest @ .., last] => format!("{}, and {last}", rest.join(", ")),
    }
}

/// How OpenAI's messages name the type of `value`.
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a decimal",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The body as a JSON object.
pub(crate) fn json_object(body: &[u8]) -> Result<Map<String, Value>, Invalid> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(Invalid::not_json()),
    }
}

/// A JSON object being checked, and its path for messages (`""` at the
/// top, `text.format`, `input[2]`).
#[derive(Clone, Debug)]
pub(crate) struct Obj<'a> {
    pub map: &'a Map<String, Value>,
    pub path: String,
}

impl<'a> Obj<'a> {
    pub(crate) fn new(map: &'a Map<String, Value>, path: impl Into<String>) -> Self {
        Self {
            map,
            path: path.into(),
        }
    }

    /// The path of field `key`.
    pub(crate) fn param(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// Field `key`; `None` when absent or null.
    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// Fails on the first field not in `known`.
    pub(crate) fn only(&self, known: &[&str]) -> Result<(), Invalid> {
        match self.map.keys().find(|k| !known.contains(&k.as_str())) {
            Some(key) => Err(Invalid::unknown(&self.param(key))),
            None => Ok(()),
        }
    }

    pub(crate) fn str(&self, key: &str) -> Result<Option<&'a str>, Invalid> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(Invalid::wrong_type(&self.param(key), "a string", other)),
        }
    }

    /// A string that must be present and not empty.
    pub(crate) fn required_str(&self, key: &str) -> Result<&'a str, Invalid> {
        match self.str(key)? {
            None => Err(Invalid::missing(&self.param(key))),
            Some("") => Err(Invalid::empty_string(&self.param(key))),
            Some(s) => Ok(s),
        }
    }

    /// A string that must be one of `supported`.
    pub(crate) fn choice(&self, key: &str, supported: &[&str]) -> Result<Option<&'a str>, Invalid> {
        let value = self.str(key)?;
        match value {
            Some(v) if !supported.contains(&v) => {
                Err(Invalid::value(&self.param(key), v, supported))
            }
            _ => Ok(value),
        }
    }

    pub(crate) fn bool(&self, key: &str) -> Result<Option<bool>, Invalid> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(Invalid::wrong_type(&self.param(key), "a boolean", other)),
        }
    }

    /// An integer within `min..=max`.
    pub(crate) fn int(&self, key: &str, min: i64, max: i64) -> Result<Option<i64>, Invalid> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        let n = value
            .as_i64()
            .ok_or_else(|| Invalid::wrong_type(&self.param(key), "an integer", value))?;
        if n < min || n > max {
            return Err(int_range(&self.param(key), n, min, max));
        }
        Ok(Some(n))
    }

    /// A number within `min..=max`.
    pub(crate) fn num(&self, key: &str, min: f64, max: f64) -> Result<Option<f64>, Invalid> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        let x = value
            .as_f64()
            .ok_or_else(|| Invalid::wrong_type(&self.param(key), "a decimal", value))?;
        if x < min || x > max {
            return Err(Invalid::out_of_range(&self.param(key), x, min, max));
        }
        Ok(Some(x))
    }

    pub(crate) fn object(&self, key: &str) -> Result<Option<&'a Map<String, Value>>, Invalid> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(map)),
            Some(other) => Err(Invalid::wrong_type(&self.param(key), "an object", other)),
        }
    }

    pub(crate) fn array(&self, key: &str) -> Result<Option<&'a Vec<Value>>, Invalid> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(other) => Err(Invalid::wrong_type(&self.param(key), "an array", other)),
        }
    }
}

/// An integer outside `min..=max`, in OpenAI's words.
pub(crate) fn int_range(param: &str, got: i64, min: i64, max: i64) -> Invalid {
    let (side, code, bound) = if got < min {
        (
            "below minimum",
            "integer_below_min_value",
            format!(">= {min}"),
        )
    } else {
        (
            "above maximum",
            "integer_above_max_value",
            format!("<= {max}"),
        )
    };
    let message = format!(
        "Invalid '{param}': integer {side} value. Expected a value {bound}, but got {got} instead."
    );
    Invalid::new(message, param, code)
}

/// The form of a multipart request; fails when the body is not
/// `multipart/form-data` or could not be parsed.
pub(crate) fn multipart<'a>(
    form: Option<&'a Form>,
    content_type: Option<&str>,
) -> Result<&'a Form, Invalid> {
    let Some(form) = form else {
        let got = content_type.unwrap_or("none");
        return Err(Invalid {
            message: format!("Invalid Content-Type header ({got}), expected multipart/form-data. (HINT: If you're using curl, you can pass -H 'Content-Type: multipart/form-data')"),
            param: None,
            code: None,
        });
    };
    match &form.error {
        Some(e) => Err(Invalid {
            message: format!("Could not parse multipart form: {e}"),
            param: None,
            code: None,
        }),
        None => Ok(form),
    }
}

/// Checks of the text fields of a multipart form.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fields<'a>(pub &'a Form);

impl<'a> Fields<'a> {
    /// Text field `name`; fails if it is a file or not UTF-8.
    pub(crate) fn str(&self, name: &str) -> Result<Option<&'a str>, Invalid> {
        let Some(part) = self.0.get(name) else {
            return Ok(None);
        };
        match part.text() {
            Some(text) if !part.is_file() => Ok(Some(text)),
            _ => Err(Invalid::new(
                format!(
                    "Invalid value for '{name}': expected a text field, but got a file instead."
                ),
                name,
                "invalid_type",
            )),
        }
    }

    pub(crate) fn required_str(&self, name: &str) -> Result<&'a str, Invalid> {
        match self.str(name)? {
            None => Err(Invalid::missing(name)),
            Some("") => Err(Invalid::empty_string(name)),
            Some(s) => Ok(s),
        }
    }

    pub(crate) fn choice(
        &self,
        name: &str,
        supported: &[&str],
    ) -> Result<Option<&'a str>, Invalid> {
        match self.str(name)? {
            Some(v) if !supported.contains(&v) => Err(Invalid::value(name, v, supported)),
            value => Ok(value),
        }
    }

    pub(crate) fn int(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>, Invalid> {
        let Some(text) = self.str(name)? else {
            return Ok(None);
        };
        let n: i64 = text
            .trim()
            .parse()
            .map_err(|_| not_a(name, "an integer", text))?;
        if n < min || n > max {
            return Err(int_range(name, n, min, max));
        }
        Ok(Some(n))
    }

    pub(crate) fn num(&self, name: &str, min: f64, max: f64) -> Result<Option<f64>, Invalid> {
        let Some(text) = self.str(name)? else {
            return Ok(None);
        };
        let x: f64 = text
            .trim()
            .parse()
            .map_err(|_| not_a(name, "a decimal", text))?;
        if !(min..=max).contains(&x) {
            return Err(Invalid::out_of_range(name, x, min, max));
        }
        Ok(Some(x))
    }
}

fn not_a(name: &str, expected: &str, got: &str) -> Invalid {
    let message =
        format!("Invalid value for '{name}': expected {expected}, but got '{got}' instead.");
    Invalid::new(message, name, "invalid_type")
}

#[cfg(test)]
mod tests;
