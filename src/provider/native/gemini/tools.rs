//! OpenAI `tools` and `tool_choice` -> Gemini functionDeclarations (with
//! JSON Schemas narrowed to Gemini's OpenAPI subset) and toolConfig.

use std::borrow::Cow;

use serde_json::{json, Map as Object, Value};

use super::answer::{EMPTY_ARRAY, EMPTY_MAP};
use super::value::{fail, reject, J};
use crate::provider::native::NativeError;

/// How deep script calls may nest below the first `gemini_schema`: Rhai
/// refuses a call above level 64 (the default `max_call_depth`), and
/// `transform_request`, `function_declarations` and the first
/// `gemini_schema` take levels 1 to 3. Each nested schema is one level
/// down, `schema_type` one more, the closures of `filter` and `map` one.
const SCHEMA_DEPTH: usize = 62;

/// The tool names a `{type:"allowed_tools"}` tool_choice permits, or None
/// for all.
pub(super) fn allowed_tool_names<'j>(
    choice: &'j J<'j>,
) -> Result<Option<Vec<&'j J<'j>>>, NativeError> {
    if !matches!(choice, J::Obj(_)) || !choice.prop("type")?.is_str("allowed_tools") {
        return Ok(None);
    }
    let mut names = Vec::new();
    let tools = choice
        .prop("allowed_tools")?
        .or(&EMPTY_MAP)
        .prop("tools")?
        .or(&EMPTY_ARRAY);
    for tool in tools.items()? {
        names.push(tool.prop("function")?.or(tool).prop("name")?);
    }
    Ok(Some(names))
}

/// OpenAI `tools` -> functionDeclarations, only `allowed` names when given.
pub(super) fn function_declarations(
    tools: &J,
    allowed: Option<&[&J]>,
    options: &J,
) -> Result<Vec<Value>, NativeError> {
    let mut out = Vec::new();
    for tool in tools.or(&EMPTY_ARRAY).items()? {
        let kind = tool.prop("type")?;
        if !kind.is_null() && !kind.is_str("function") {
            return Err(reject(format!(
                "tools of type '{}' are not supported by Gemini",
                kind.display()
            )));
        }
        let f = tool.prop("function")?.or(&EMPTY_MAP);
        let Some(name) = f.prop("name")?.as_str() else {
            return Err(reject("every tool needs a function name"));
        };
        if let Some(allowed) = allowed {
            if !allowed.iter().any(|a| a.is_str(name)) {
                continue;
            }
        }
        let mut declaration = Object::new();
        declaration.insert("name".into(), Value::String(name.to_string()));
        let description = f.prop("description")?;
        if !description.is_null() {
            declaration.insert("description".into(), description.to_value());
        }
        let schema = f.prop("parameters")?;
        if matches!(schema, J::Obj(_)) && schema.len()? > 0 {
            let json = schema.to_value();
            if options.prop("tool_schema")?.is_str("json_schema")
                || json.to_string().contains("\"$ref\"")
            {
                declaration.insert("parametersJsonSchema".into(), json);
            } else {
                let parameters = gemini_schema(schema, 0)?;
                // Gemini refuses an OBJECT schema without properties.
                let object = match parameters.get("type") {
                    J::Str(kind) => to_lower(kind) == "object",
                    _ => false,
                };
                let has_properties = parameters.get("properties").or(&EMPTY_MAP).len()? > 0;
                if !object || has_properties {
                    declaration.insert("parameters".into(), parameters.to_value());
                }
            }
        }
        out.push(Value::Object(declaration));
    }
    Ok(out)
}

/// Rhai's `to_lower`.
fn to_lower(s: &str) -> Cow<'_, str> {
    if s.chars().all(char::is_lowercase) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.to_lowercase())
    }
}

/// A JSON Schema -> Gemini's OpenAPI-subset Schema (see the script).
fn gemini_schema<'j>(schema: &J<'j>, depth: usize) -> Result<J<'j>, NativeError> {
    if depth >= SCHEMA_DEPTH {
        return Err(fail("Stack overflow in function calls"));
    }
    if !matches!(schema, J::Obj(_)) {
        return Ok(schema.clone());
    }
    let mut out: Vec<(Cow<'j, str>, J<'j>)> = Vec::new();
    let set = |out: &mut Vec<(Cow<'j, str>, J<'j>)>, key: &str, value: J<'j>| match out
        .iter_mut()
        .find(|(k, _)| k == key)
    {
        Some((_, v)) => *v = value,
        None => out.push((Cow::Owned(key.to_string()), value)),
    };
    for (key, value) in schema.entries() {
        match key {
            "type" => {
                // schema_type() one level down, its filter closure two.
                let filters = matches!(value, J::Arr(items) if !items.is_empty());
                if depth + 1 >= SCHEMA_DEPTH || (filters && depth + 2 >= SCHEMA_DEPTH) {
                    return Err(fail("Stack overflow in function calls"));
                }
                for (k, v) in schema_type(value) {
                    set(&mut out, k, v);
                }
            }
            "properties" => {
                let value = value.or(&EMPTY_MAP);
                if !matches!(value, J::Obj(_)) {
                    return Err(fail(format!(
                        "Function not found: keys ({})",
                        value.type_name()
                    )));
                }
                let mut properties = Vec::new();
                for (name, sub) in value.entries() {
                    properties.push((Cow::Owned(name.to_string()), gemini_schema(sub, depth + 1)?));
                }
                set(&mut out, "properties", J::Obj(properties));
            }
            "items" => set(&mut out, "items", gemini_schema(value, depth + 1)?),
            "anyOf" | "oneOf" => {
                let any = match value {
                    J::Arr(items) => J::Arr(
                        items
                            .iter()
                            .map(|s| gemini_schema(s, depth + 2))
                            .collect::<Result<_, _>>()?,
                    ),
                    // A map's `map` passes each key to the closure.
                    J::Obj(_) => {
                        let mut keys = Vec::new();
                        for name in value.entries().into_keys() {
                            if depth + 2 >= SCHEMA_DEPTH {
                                return Err(fail("Stack overflow in function calls"));
                            }
                            keys.push((
                                Cow::Owned(name.to_string()),
                                J::Str(Cow::Owned(name.to_string())),
                            ));
                        }
                        J::Obj(keys)
                    }
                    other => {
                        return Err(fail(format!(
                            "Function not found: map ({}, Fn)",
                            other.type_name()
                        )))
                    }
                };
                set(&mut out, "anyOf", any);
            }
            "const" => set(&mut out, "enum", J::Arr(vec![value.clone()])),
            "format" => {
                let known = ["enum", "date-time", "int32", "int64", "float", "double"];
                if value.as_str().is_some_and(|f| known.contains(&f)) {
                    set(&mut out, "format", value.clone());
                }
            }
            "description" | "enum" | "required" | "nullable" | "title" | "minItems"
            | "maxItems" | "minimum" | "maximum" | "minLength" | "maxLength" | "pattern"
            | "minProperties" | "maxProperties" | "propertyOrdering" | "example" => {
                set(&mut out, key, value.clone());
            }
            _ => {}
        }
    }
    Ok(J::Obj(out))
}

/// JSON Schema `type` (a name or a list of names) -> `type` (+ `nullable`).
fn schema_type<'j>(value: &J<'j>) -> Vec<(&'static str, J<'j>)> {
    let J::Arr(items) = value else {
        return vec![("type", value.clone())];
    };
    let types: Vec<&J> = items.iter().filter(|t| !t.is_str("null")).collect();
    let mut out = Vec::new();
    if let Some(first) = types.first() {
        out.push(("type", (*first).clone()));
    }
    if types.len() < items.len() {
        out.push(("nullable", J::Bool(true)));
    }
    out
}

/// OpenAI `tool_choice` -> functionCallingConfig (None: Gemini's default).
pub(super) fn function_calling_config(choice: &J) -> Result<Option<Value>, NativeError> {
    match choice {
        J::Str(_) => Ok(Some(json!({"mode": function_calling_mode(choice)?}))),
        J::Obj(_) => {
            let kind = choice.prop("type")?;
            match kind.as_str() {
                Some("function") => {
                    let name = choice.prop("function")?.or(&EMPTY_MAP).prop("name")?;
                    let Some(name) = name.as_str() else {
                        return Err(reject("tool_choice.function needs a name"));
                    };
                    Ok(Some(json!({"mode": "ANY", "allowedFunctionNames": [name]})))
                }
                Some("allowed_tools") => {
                    let auto = J::Str(Cow::Borrowed("auto"));
                    let mode = choice
                        .prop("allowed_tools")?
                        .or(&EMPTY_MAP)
                        .prop("mode")?
                        .or(&auto);
                    Ok(Some(json!({"mode": function_calling_mode(mode)?})))
                }
                _ => Err(reject(format!(
                    "tool_choice of type '{}' is not supported by Gemini",
                    kind.display()
                ))),
            }
        }
        _ => Ok(None),
    }
}

fn function_calling_mode(mode: &J) -> Result<&'static str, NativeError> {
    match mode.as_str() {
        Some("auto") => Ok("AUTO"),
        Some("none") => Ok("NONE"),
        Some("required") => Ok("ANY"),
        _ => Err(reject(format!("unknown tool_choice '{}'", mode.display()))),
    }
}
