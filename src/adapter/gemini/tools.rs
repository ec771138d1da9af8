//! OpenAI `tools` and `tool_choice` -> Gemini functionDeclarations (JSON
//! Schemas narrowed to Gemini's OpenAPI subset, or sent whole as
//! `parametersJsonSchema`) and the toolConfig.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::Value;

use super::hub::{array, get, opt_str, shown};
use super::wire::{CallingMode, FunctionCallingConfig, FunctionDeclaration, Schema, SchemaNode};
use super::Ctx;
use crate::adapter::AdapterError;

/// How deep schemas may nest inside a tool's parameters (the root is level
/// 0). The Rhai script stopped at about this depth (its call depth); a
/// deeper schema is refused.
pub(super) const MAX_SCHEMA_DEPTH: usize = 64;

/// The formats Gemini knows; others are dropped.
const FORMATS: [&str; 6] = ["enum", "date-time", "int32", "int64", "float", "double"];

/// The tool names a `{type: "allowed_tools"}` tool_choice permits, or
/// `None` for all.
pub(super) fn allowed_tool_names(choice: &Value) -> Result<Option<Vec<&str>>, AdapterError> {
    if get(choice, "type").as_str() != Some("allowed_tools") {
        return Ok(None);
    }
    let tools = get(allowed_tools(choice)?, "tools");
    let mut names = Vec::new();
    for tool in array(tools, "tool_choice.allowed_tools.tools")? {
        // `{type: "function", function: {name}}`, or a bare `{name}`.
        let function = match (tool, get(tool, "function")) {
            (Value::Object(_), Value::Null) => tool,
            (Value::Object(_), function @ Value::Object(_)) => function,
            _ => {
                return Err(AdapterError::rejected(
                    "tool_choice.allowed_tools.tools must hold tool objects",
                ))
            }
        };
        names.extend(get(function, "name").as_str());
    }
    Ok(Some(names))
}

/// OpenAI `tools` -> functionDeclarations, keeping only `allowed` names when
/// given. Refuses custom tools, tools without a name and schemas nested
/// deeper than [`MAX_SCHEMA_DEPTH`].
pub(super) fn function_declarations<'a>(
    tools: &'a Value,
    allowed: Option<&[&str]>,
    ctx: &Ctx,
) -> Result<Vec<FunctionDeclaration<'a>>, AdapterError> {
    let whole_schemas = ctx.option_str("tool_schema") == Some("json_schema");
    let mut out = Vec::new();
    for tool in array(tools, "tools")? {
        let kind = get(tool, "type");
        if !kind.is_null() && kind.as_str() != Some("function") {
            return Err(AdapterError::rejected(format!(
                "tools of type '{}' are not supported by Gemini",
                shown(kind)
            )));
        }
        let f = get(tool, "function");
        let Some(name) = get(f, "name").as_str() else {
            return Err(AdapterError::rejected("every tool needs a function name"));
        };
        if allowed.is_some_and(|allowed| !allowed.contains(&name)) {
            continue;
        }
        let mut declaration = FunctionDeclaration {
            name: Cow::Borrowed(name),
            description: opt_str(get(f, "description"), "a tool's description")?.map(Cow::Borrowed),
            parameters: None,
            parameters_json_schema: None,
        };
        let schema = get(f, "parameters");
        if schema.as_object().is_some_and(|s| !s.is_empty()) {
            if whole_schemas || uses_ref(schema) {
                declaration.parameters_json_schema = Some(Cow::Borrowed(schema));
            } else if let SchemaNode::Schema(parameters) = gemini_schema(schema, 0, name)? {
                // Gemini refuses an OBJECT schema without properties: "no
                // parameters" is no field.
                let object = parameters
                    .kind
                    .as_deref()
                    .is_some_and(|k| k.eq_ignore_ascii_case("object"));
                if !object
                    || parameters
                        .properties
                        .as_ref()
                        .is_some_and(|p| !p.is_empty())
                {
                    declaration.parameters = Some(*parameters);
                }
            }
        }
        out.push(declaration);
    }
    Ok(out)
}

/// Whether a schema has a `$ref` key (or a `"$ref"` string) anywhere: Gemini's
/// OpenAPI subset has no references, so it goes whole.
fn uses_ref(schema: &Value) -> bool {
    let mut stack = vec![schema];
    while let Some(v) = stack.pop() {
        match v {
            Value::String(s) if s == "$ref" => return true,
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => {
                if map.contains_key("$ref") {
                    return true;
                }
                stack.extend(map.values());
            }
            _ => {}
        }
    }
    false
}

/// A JSON Schema -> Gemini's OpenAPI-subset Schema: the keywords Gemini
/// knows are kept (sub-schemas converted too), `["t", "null"]` types become
/// `t` + nullable, `const` a one-value enum, `oneOf` an anyOf; the rest
/// (additionalProperties, $schema, strict, default, examples…) is dropped,
/// since Gemini answers 400 to unknown names. Not an object: as it is.
fn gemini_schema<'a>(
    schema: &'a Value,
    depth: usize,
    tool: &str,
) -> Result<SchemaNode<'a>, AdapterError> {
    if depth >= MAX_SCHEMA_DEPTH {
        return Err(AdapterError::rejected(format!(
            "the parameters schema of tool '{tool}' nests deeper than {MAX_SCHEMA_DEPTH} levels"
        )));
    }
    let Value::Object(map) = schema else {
        return Ok(SchemaNode::Other(Cow::Borrowed(schema)));
    };
    let pass = |key: &str| map.get(key).filter(|v| !v.is_null()).map(Cow::Borrowed);
    let mut out = Schema {
        nullable: pass("nullable"),
        title: pass("title"),
        description: pass("description"),
        required: pass("required"),
        min_items: pass("minItems"),
        max_items: pass("maxItems"),
        minimum: pass("minimum"),
        maximum: pass("maximum"),
        min_length: pass("minLength"),
        max_length: pass("maxLength"),
        pattern: pass("pattern"),
        min_properties: pass("minProperties"),
        max_properties: pass("maxProperties"),
        property_ordering: pass("propertyOrdering"),
        example: pass("example"),
        ..Schema::default()
    };
    schema_type(get(schema, "type"), &mut out)?;
    out.enumeration = match (pass("enum"), map.get("const")) {
        (Some(values), _) => Some(values),
        (None, Some(value)) => Some(Cow::Owned(Value::Array(vec![value.clone()]))),
        (None, None) => None,
    };
    out.format = map
        .get("format")
        .and_then(Value::as_str)
        .filter(|f| FORMATS.contains(f))
        .map(Cow::Borrowed);
    match get(schema, "properties") {
        Value::Null if map.contains_key("properties") => out.properties = Some(BTreeMap::new()),
        Value::Null => {}
        Value::Object(properties) => {
            let mut converted = BTreeMap::new();
            for (name, sub) in properties {
                converted.insert(
                    Cow::Borrowed(name.as_str()),
                    gemini_schema(sub, depth + 1, tool)?,
                );
            }
            out.properties = Some(converted);
        }
        _ => {
            return Err(AdapterError::rejected(
                "a schema's properties must be an object",
            ))
        }
    }
    if let Some(items) = map.get("items").filter(|v| !v.is_null()) {
        out.items = Some(gemini_schema(items, depth + 1, tool)?);
    }
    let any_of = match get(schema, "oneOf") {
        Value::Null => get(schema, "anyOf"),
        one_of => one_of,
    };
    match any_of {
        Value::Null => {}
        Value::Array(items) => {
            out.any_of = Some(
                items
                    .iter()
                    .map(|s| gemini_schema(s, depth + 1, tool))
                    .collect::<Result<_, _>>()?,
            );
        }
        _ => {
            return Err(AdapterError::rejected(
                "a schema's anyOf and oneOf must be arrays",
            ))
        }
    }
    Ok(SchemaNode::Schema(Box::new(out)))
}

/// JSON Schema `type` (a name or a list of names) -> `type` (+ `nullable`).
fn schema_type<'a>(kind: &'a Value, out: &mut Schema<'a>) -> Result<(), AdapterError> {
    let refuse =
        || AdapterError::rejected("a schema's type must be a string or an array of strings");
    match kind {
        Value::Null => {}
        Value::String(name) => out.kind = Some(Cow::Borrowed(name)),
        Value::Array(names) => {
            let mut types = names.iter().filter(|t| t.as_str() != Some("null"));
            if let Some(first) = types.next() {
                out.kind = Some(Cow::Borrowed(first.as_str().ok_or_else(refuse)?));
            }
            if names.iter().any(|t| t.as_str() == Some("null")) {
                out.nullable = Some(Cow::Owned(Value::Bool(true)));
            }
        }
        _ => return Err(refuse()),
    }
    Ok(())
}

/// OpenAI `tool_choice` -> functionCallingConfig (`None`: Gemini's default).
pub(super) fn function_calling_config(
    choice: &Value,
) -> Result<Option<FunctionCallingConfig<'_>>, AdapterError> {
    let config = |mode| FunctionCallingConfig {
        mode,
        allowed_function_names: None,
    };
    match choice {
        Value::String(_) => Ok(Some(config(calling_mode(choice)?))),
        Value::Object(_) => {
            let kind = get(choice, "type");
            match kind.as_str() {
                Some("function") => {
                    let Some(name) = get(get(choice, "function"), "name").as_str() else {
                        return Err(AdapterError::rejected("tool_choice.function needs a name"));
                    };
                    Ok(Some(FunctionCallingConfig {
                        mode: CallingMode::Any,
                        allowed_function_names: Some(vec![Cow::Borrowed(name)]),
                    }))
                }
                // The declarations were already narrowed to the allowed tools.
                Some("allowed_tools") => {
                    let mode = match get(allowed_tools(choice)?, "mode") {
                        Value::Null => CallingMode::Auto,
                        mode => calling_mode(mode)?,
                    };
                    Ok(Some(config(mode)))
                }
                _ => Err(AdapterError::rejected(format!(
                    "tool_choice of type '{}' is not supported by Gemini",
                    shown(kind)
                ))),
            }
        }
        _ => Ok(None),
    }
}

/// `tool_choice.allowed_tools`, an object when present.
fn allowed_tools(choice: &Value) -> Result<&Value, AdapterError> {
    match get(choice, "allowed_tools") {
        spec @ (Value::Null | Value::Object(_)) => Ok(spec),
        _ => Err(AdapterError::rejected(
            "tool_choice.allowed_tools must be an object",
        )),
    }
}

fn calling_mode(mode: &Value) -> Result<CallingMode, AdapterError> {
    match mode.as_str() {
        Some("auto") => Ok(CallingMode::Auto),
        Some("none") => Ok(CallingMode::None),
        Some("required") => Ok(CallingMode::Any),
        _ => Err(AdapterError::rejected(format!(
            "unknown tool_choice '{}'",
            shown(mode)
        ))),
    }
}
