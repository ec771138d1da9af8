//! `transform_request`: an OpenAI chat request -> an Anthropic Messages
//! request, step for step as the script does it (the same checks in the
//! same order, so that the same request gets the same refusal).

use rhai::Map;
use serde_json::{json, Map as JsonMap, Value};

use super::messages::convert_messages;
use super::rhai_value::{
    as_int, ctx_value, display, empty_map, failed, is, is_number, items, norm, or, prop, reject,
};
use super::NativeError;

/// `transform_request(body, ctx)`.
pub(super) fn transform_request(body: &Value, ctx: &Map) -> Result<Value, NativeError> {
    let n = prop(body, "n")?;
    if as_int(n).is_some_and(|n| n > 1) {
        return Err(reject(
            "Anthropic returns a single choice: n > 1 is not supported",
        ));
    }
    let converted = convert_messages(prop(body, "messages")?)?;
    let mut out = JsonMap::new();
    let model = match prop(body, "model")? {
        Value::Null => ctx_value(ctx, "model")?,
        model => norm(model),
    };
    out.insert("model".into(), model);
    out.insert("max_tokens".into(), max_tokens(body, ctx)?);
    out.insert("messages".into(), Value::Array(converted.messages));
    if !converted.system.is_empty() {
        out.insert("system".into(), Value::Array(converted.system));
    }
    let stop = prop(body, "stop")?;
    match stop {
        Value::String(_) => {
            out.insert("stop_sequences".into(), Value::Array(vec![stop.clone()]));
        }
        Value::Array(a) if !a.is_empty() => {
            out.insert("stop_sequences".into(), norm(stop));
        }
        _ => {}
    }
    let temperature = prop(body, "temperature")?;
    if !temperature.is_null() {
        out.insert("temperature".into(), clamp_temperature(temperature)?);
    }
    let top_p = prop(body, "top_p")?;
    if !top_p.is_null() {
        out.insert("top_p".into(), norm(top_p));
    }
    // `safety_identifier` is the newer name of `user`.
    let user = or(prop(body, "safety_identifier")?, prop(body, "user")?);
    if !user.is_null() {
        out.insert("metadata".into(), json!({ "user_id": display(user)? }));
    }
    let choice = prop(body, "tool_choice")?;
    let allowed = allowed_tool_names(choice)?;
    let tools = convert_tools(prop(body, "tools")?, allowed.as_deref())?;
    if !tools.is_empty() {
        out.insert("tools".into(), Value::Array(tools));
        let parallel = prop(body, "parallel_tool_calls")?;
        if let Some(choice) = convert_tool_choice(choice, parallel)? {
            out.insert("tool_choice".into(), choice);
        }
    }
    if let Some(format) = output_format(prop(body, "response_format")?)? {
        out.insert("output_config".into(), json!({ "format": format }));
    }
    if let Value::Bool(stream) = prop(body, "stream")? {
        out.insert("stream".into(), Value::Bool(*stream));
    }
    Ok(Value::Object(out))
}

/// `body.max_completion_tokens ?? body.max_tokens ?? options.max_tokens ?? 4096`.
fn max_tokens(body: &Value, ctx: &Map) -> Result<Value, NativeError> {
    let chosen = or(
        prop(body, "max_completion_tokens")?,
        prop(body, "max_tokens")?,
    );
    if !chosen.is_null() {
        return Ok(norm(chosen));
    }
    // `ctx.options ?? #{}`, then `.max_tokens`.
    let from_options = match ctx.get("options") {
        None => Value::Null,
        Some(o) if o.is_unit() => Value::Null,
        Some(o) => match o.read_lock::<Map>() {
            Some(options) => ctx_value(&options, "max_tokens")?,
            None => return Err(failed("ctx.options is not a map")),
        },
    };
    Ok(match from_options {
        Value::Null => Value::from(4096),
        v => v,
    })
}

/// OpenAI allows temperature 0–2, Anthropic 0–1.
fn clamp_temperature(t: &Value) -> Result<Value, NativeError> {
    if !is_number(t) {
        return Err(reject("temperature must be a number"));
    }
    // An i64 compares as the f64 it converts to: the same answer here.
    let x = t.as_f64().unwrap_or(0.0);
    Ok(if x > 1.0 {
        Value::from(1.0)
    } else if x < 0.0 {
        Value::from(0.0)
    } else {
        norm(t)
    })
}

/// `response_format` -> `output_config.format` (or none).
fn output_format(format: &Value) -> Result<Option<Value>, NativeError> {
    if format.is_null() {
        return Ok(None);
    }
    if !format.is_object() {
        return Err(reject("response_format must be an object"));
    }
    let kind = prop(format, "type")?;
    match kind.as_str() {
        Some("text") => Ok(None),
        Some("json_object") => Ok(Some(json!({
            "type": "json_schema",
            "schema": { "type": "object" },
        }))),
        Some("json_schema") => {
            let spec = or(prop(format, "json_schema")?, empty_map());
            let schema = prop(spec, "schema")?;
            if schema.is_null() {
                return Err(reject(
                    "response_format.json_schema.schema is required for Anthropic",
                ));
            }
            Ok(Some(
                json!({ "type": "json_schema", "schema": norm(schema) }),
            ))
        }
        _ => Err(reject(format!(
            "response_format type '{}' is not supported by Anthropic",
            display(kind)?
        ))),
    }
}

/// OpenAI `tools[].function` -> Anthropic tools, keeping only `allowed`
/// names when given.
fn convert_tools(tools: &Value, allowed: Option<&[Value]>) -> Result<Vec<Value>, NativeError> {
    let mut out = Vec::new();
    for tool in items(tools)? {
        let kind = prop(tool, "type")?;
        if !kind.is_null() && !is(kind, "function") {
            return Err(reject(format!(
                "tools of type '{}' are not supported by Anthropic",
                display(kind)?
            )));
        }
        let f = or(prop(tool, "function")?, empty_map());
        let Value::String(name) = prop(f, "name")? else {
            return Err(reject("every tool needs a function name"));
        };
        if allowed.is_some_and(|names| !names.iter().any(|n| is(n, name))) {
            continue;
        }
        // Anthropic requires a JSON Schema object; `{}` means "no parameters".
        let mut schema = norm(or(prop(f, "parameters")?, empty_map()));
        if prop(&schema, "type")?.is_null() {
            if let Value::Object(m) = &mut schema {
                m.insert("type".into(), Value::from("object"));
            }
        }
        let mut converted = JsonMap::new();
        converted.insert("name".into(), Value::String(name.clone()));
        converted.insert("input_schema".into(), schema);
        let description = prop(f, "description")?;
        if !description.is_null() {
            converted.insert("description".into(), norm(description));
        }
        out.push(Value::Object(converted));
    }
    Ok(out)
}

/// The tool names a `{type:"allowed_tools"}` tool_choice permits, or none
/// for all.
fn allowed_tool_names(choice: &Value) -> Result<Option<Vec<Value>>, NativeError> {
    if !choice.is_object() || !is(prop(choice, "type")?, "allowed_tools") {
        return Ok(None);
    }
    let spec = or(prop(choice, "allowed_tools")?, empty_map());
    let mut names = Vec::new();
    for tool in items(prop(spec, "tools")?)? {
        let f = or(prop(tool, "function")?, tool);
        names.push(prop(f, "name")?.clone());
    }
    Ok(Some(names))
}

/// OpenAI `tool_choice` + `parallel_tool_calls` -> Anthropic `tool_choice`.
fn convert_tool_choice(choice: &Value, parallel: &Value) -> Result<Option<Value>, NativeError> {
    let mut out = match choice {
        Value::String(_) => Some(tool_choice_mode(choice)?),
        Value::Object(_) => Some(tool_choice_object(choice)?),
        _ => None,
    };
    if *parallel == Value::Bool(false) {
        let out = out.get_or_insert_with(|| json!({ "type": "auto" }));
        if !is(prop(out, "type")?, "none") {
            if let Value::Object(m) = out {
                m.insert("disable_parallel_tool_use".into(), Value::Bool(true));
            }
        }
    }
    Ok(out)
}

fn tool_choice_mode(mode: &Value) -> Result<Value, NativeError> {
    match mode.as_str() {
        Some("auto") => Ok(json!({ "type": "auto" })),
        Some("required") => Ok(json!({ "type": "any" })),
        Some("none") => Ok(json!({ "type": "none" })),
        _ => Err(reject(format!("unknown tool_choice '{}'", display(mode)?))),
    }
}

fn tool_choice_object(choice: &Value) -> Result<Value, NativeError> {
    let kind = prop(choice, "type")?;
    match kind.as_str() {
        Some("function") => {
            let f = or(prop(choice, "function")?, empty_map());
            Ok(json!({ "type": "tool", "name": norm(prop(f, "name")?) }))
        }
        // The tool list itself was already narrowed to the allowed tools.
        Some("allowed_tools") => {
            let spec = or(prop(choice, "allowed_tools")?, empty_map());
            let auto = Value::from("auto");
            tool_choice_mode(or(prop(spec, "mode")?, &auto))
        }
        _ => Err(reject(format!(
            "tool_choice of type '{}' is not supported by Anthropic",
            display(kind)?
        ))),
    }
}
