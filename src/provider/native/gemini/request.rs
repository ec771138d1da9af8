//! `transform_request`: an OpenAI chat request -> a Gemini generateContent
//! body (contents, systemInstruction, tools, toolConfig, generationConfig),
//! or an embeddings request -> batchEmbedContents.

use rhai::Map;
use serde_json::{json, Map as Object, Value};

use super::answer::{to_json, EMPTY_MAP};
use super::messages::convert_messages;
use super::tools::{allowed_tool_names, function_calling_config, function_declarations};
use super::value::{reject, J};
use crate::provider::native::NativeError;

/// `transform_request(body, ctx)`.
pub(super) fn transform_request(body: &Value, ctx: &Map) -> Result<Value, NativeError> {
    let body = J::from_value(body);
    let options = ctx_j(ctx, "options")?;
    if super::answer::ctx_is(ctx, "endpoint", "embeddings") {
        return embeddings_request(&body, ctx, &options);
    }
    let options = options.or(&EMPTY_MAP);
    let converted = convert_messages(body.prop("messages")?)?;
    let mut out = Object::new();
    out.insert("contents".into(), Value::Array(converted.contents));
    if !converted.system.is_empty() {
        out.insert(
            "systemInstruction".into(),
            json!({"parts": converted.system}),
        );
    }
    let tools = body.prop("tools")?;
    let choice = body.prop("tool_choice")?;
    let allowed = allowed_tool_names(choice)?;
    let declarations = function_declarations(tools, allowed.as_deref(), options)?;
    // A tool_choice without tools means nothing.
    if !declarations.is_empty() {
        out.insert(
            "tools".into(),
            json!([{"functionDeclarations": declarations}]),
        );
        if let Some(calling) = function_calling_config(choice)? {
            out.insert(
                "toolConfig".into(),
                json!({"functionCallingConfig": calling}),
            );
        }
    }
    let generation = generation_config(&body, options)?;
    if !generation.is_empty() {
        out.insert("generationConfig".into(), Value::Object(generation));
    }
    let safety = options.prop("safety_settings")?;
    if !safety.is_null() {
        out.insert("safetySettings".into(), safety.to_value());
    }
    Ok(Value::Object(out))
}

/// `ctx.<name>` as a value the script reads.
fn ctx_j(ctx: &Map, name: &str) -> Result<J<'static>, NativeError> {
    match ctx.get(name) {
        None => Ok(J::Null),
        Some(v) => Ok(J::from_value(&to_json(v)?).into_owned()),
    }
}

/// Sampling, length, stop and output-format fields -> generationConfig.
fn generation_config(body: &J, options: &J) -> Result<Object<String, Value>, NativeError> {
    let mut g = Object::new();
    let pass = |g: &mut Object<String, Value>, from: &J, to: &str| {
        if !from.is_null() {
            g.insert(to.into(), from.to_value());
        }
    };
    let max_tokens = body
        .prop("max_completion_tokens")?
        .or(body.prop("max_tokens")?);
    pass(&mut g, max_tokens, "maxOutputTokens");
    pass(&mut g, body.prop("temperature")?, "temperature");
    pass(&mut g, body.prop("top_p")?, "topP");
    match body.prop("stop")? {
        stop @ J::Str(_) => {
            g.insert("stopSequences".into(), Value::Array(vec![stop.to_value()]));
        }
        J::Arr(items) if !items.is_empty() => {
            g.insert("stopSequences".into(), J::Arr(items.clone()).to_value());
        }
        _ => {}
    }
    pass(&mut g, body.prop("n")?, "candidateCount");
    pass(&mut g, body.prop("seed")?, "seed");
    pass(&mut g, body.prop("presence_penalty")?, "presencePenalty");
    pass(&mut g, body.prop("frequency_penalty")?, "frequencyPenalty");
    output_format(body.prop("response_format")?, &mut g)?;
    let thinking = thinking_config(body.prop("reasoning_effort")?, options)?;
    if !thinking.is_empty() {
        g.insert("thinkingConfig".into(), Value::Object(thinking));
    }
    Ok(g)
}

/// `response_format` -> the generationConfig fields it sets.
fn output_format(format: &J, g: &mut Object<String, Value>) -> Result<(), NativeError> {
    if format.is_null() {
        return Ok(());
    }
    if !matches!(format, J::Obj(_)) {
        return Err(reject("response_format must be an object"));
    }
    let kind = format.prop("type")?;
    match kind.as_str() {
        Some("text") => {}
        Some("json_object") => {
            g.insert("responseMimeType".into(), "application/json".into());
        }
        Some("json_schema") => {
            let schema = format.prop("json_schema")?.or(&EMPTY_MAP).prop("schema")?;
            g.insert("responseMimeType".into(), "application/json".into());
            if !schema.is_null() {
                g.insert("responseJsonSchema".into(), schema.to_value());
            }
        }
        _ => {
            return Err(reject(format!(
                "response_format type '{}' is not supported by Gemini",
                kind.display()
            )))
        }
    }
    Ok(())
}

/// `reasoning_effort` -> a thinking budget; `include_thoughts` asks for
/// thought summaries.
fn thinking_config(effort: &J, options: &J) -> Result<Object<String, Value>, NativeError> {
    let mut t = Object::new();
    if !effort.is_null() {
        let budget = match effort.as_str() {
            Some("none") => 0,
            Some("minimal" | "low") => 1024,
            Some("medium") => 8192,
            Some("high") => 24576,
            _ => {
                return Err(reject(format!(
                    "unknown reasoning_effort '{}'",
                    effort.display()
                )))
            }
        };
        t.insert("thinkingBudget".into(), Value::from(budget));
    }
    if matches!(options.prop("include_thoughts")?, J::Bool(true)) {
        t.insert("includeThoughts".into(), Value::Bool(true));
    }
    Ok(t)
}

/// OpenAI embeddings request -> batchEmbedContents, one request per input.
fn embeddings_request(body: &J, ctx: &Map, options: &J) -> Result<Value, NativeError> {
    let format = body.prop("encoding_format")?;
    if !format.is_null() && !format.is_str("float") && !format.is_str("base64") {
        return Err(reject(format!(
            "encoding_format must be 'float' or 'base64', not '{}'",
            format.display()
        )));
    }
    let mut template = Object::new();
    let mut model = String::from("models/");
    model.push_str(&model_id(&ctx_j(ctx, "model")?)?);
    template.insert("model".into(), Value::String(model));
    let dimensions = body.prop("dimensions")?;
    if !dimensions.is_null() {
        template.insert("outputDimensionality".into(), dimensions.to_value());
    }
    let task_type = options.or(&EMPTY_MAP).prop("task_type")?;
    if !task_type.is_null() {
        template.insert("taskType".into(), task_type.to_value());
    }
    let inputs = embedding_inputs(body.prop("input")?)?;
    let mut requests = Vec::with_capacity(inputs.len());
    for text in inputs {
        let mut request = template.clone();
        request.insert("content".into(), json!({"parts": [{"text": text}]}));
        requests.push(Value::Object(request));
    }
    Ok(json!({"requests": requests}))
}

/// `input` as a list of strings; token ids have no Gemini equivalent.
fn embedding_inputs<'j>(input: &'j J) -> Result<Vec<&'j str>, NativeError> {
    if let J::Str(s) = input {
        return Ok(vec![s]);
    }
    let items = match input {
        J::Arr(items) if !items.is_empty() => items,
        _ => {
            return Err(reject(
                "input must be a string or a non-empty array of strings",
            ))
        }
    };
    items
        .iter()
        .map(|item| {
            item.as_str()
                .ok_or_else(|| reject("Gemini embeds text only: token-id inputs are not supported"))
        })
        .collect()
}

/// "gemini-2.5-flash" or "models/gemini-2.5-flash" -> "gemini-2.5-flash";
/// anything but letters, digits, `-`, `.` and `_` is refused.
fn model_id(model: &J) -> Result<String, NativeError> {
    let text = model.display();
    let id = text.strip_prefix("models/").unwrap_or(&text);
    if id.is_empty() {
        return Err(reject("the model name is empty"));
    }
    let plain = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_';
    if !id.chars().all(plain) {
        return Err(reject(format!("'{text}' is not a valid Gemini model name")));
    }
    Ok(id.to_string())
}
