//! What the Gemini mock checks in a request, as the real API does: known
//! field names only (Gemini answers `Unknown name "x"`), roles `user` and
//! `model`, one data field per part, no empty text, parameter schemas in
//! the OpenAPI subset, function responses right after their calls and as
//! many, and a thought signature on the current turn's first function call
//! (Gemini 3). Also decides the answer: text, a tool call or a block.

use serde_json::Value;

use crate::reply::{content_chars, Reply};

/// A check that failed: the 400 message.
type Checked<T> = Result<T, String>;

/// What a generateContent request gets.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Answer {
    Reply(Reply),
    /// `finishReason: SAFETY`, no content (a user text said `BLOCKME`).
    Blocked,
}

/// A valid generateContent request.
#[derive(Debug)]
pub(super) struct Generate {
    pub answer: Answer,
    /// Characters of text in the contents and the system instruction.
    pub prompt_chars: usize,
}

/// One text to embed.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct EmbedInput {
    pub text: String,
    pub dimensions: Option<usize>,
}

#[rustfmt::skip]
const REQUEST: &[&str] = &[
    "contents", "systemInstruction", "tools", "toolConfig", "generationConfig", "safetySettings",
    "cachedContent",
];
const CONTENT: &[&str] = &["role", "parts"];
#[rustfmt::skip]
const PART: &[&str] = &[
    "text", "inlineData", "fileData", "functionCall", "functionResponse", "executableCode",
    "codeExecutionResult", "thought", "thoughtSignature", "videoMetadata",
];
/// The `data` oneof of a part: exactly one must be set.
#[rustfmt::skip]
const PART_DATA: &[&str] = &[
    "text", "inlineData", "fileData", "functionCall", "functionResponse", "executableCode",
    "codeExecutionResult",
];
#[rustfmt::skip]
const GENERATION: &[&str] = &[
    "stopSequences", "responseMimeType", "responseSchema", "responseJsonSchema",
    "responseModalities", "candidateCount", "maxOutputTokens", "temperature", "topP", "topK",
    "seed", "presencePenalty", "frequencyPenalty", "responseLogprobs", "logprobs",
    "thinkingConfig", "mediaResolution",
];
const THINKING: &[&str] = &["includeThoughts", "thinkingBudget", "thinkingLevel"];
const TOOL: &[&str] = &[
    "functionDeclarations",
    "googleSearch",
    "codeExecution",
    "urlContext",
];
#[rustfmt::skip]
const DECLARATION: &[&str] = &[
    "name", "description", "parameters", "parametersJsonSchema", "response", "responseJsonSchema",
    "behavior",
];
/// Gemini's Schema (an OpenAPI subset): `additionalProperties`, `$schema`,
/// `$ref`… are refused.
#[rustfmt::skip]
const SCHEMA: &[&str] = &[
    "type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems",
    "properties", "required", "minProperties", "maxProperties", "minLength", "maxLength",
    "pattern", "example", "anyOf", "propertyOrdering", "default", "items", "minimum", "maximum",
];
const EMBED: &[&str] = &[
    "model",
    "content",
    "taskType",
    "title",
    "outputDimensionality",
];

fn parse(body: &[u8]) -> Checked<Value> {
    serde_json::from_slice(body).map_err(|e| format!("Invalid JSON payload received. {e}"))
}

/// `value` is an object whose keys are all in `allowed`.
fn known(value: &Value, at: &str, allowed: &[&str]) -> Checked<()> {
    let map = value
        .as_object()
        .ok_or_else(|| format!("Invalid value at '{at}': expected an object"))?;
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) if at.is_empty() => Err(format!(
            "Invalid JSON payload received. Unknown name \"{k}\": Cannot find field."
        )),
        Some(k) => Err(format!(
            "Invalid JSON payload received. Unknown name \"{k}\" at '{at}': Cannot find field."
        )),
        None => Ok(()),
    }
}

fn str_field<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

fn parts_of(content: &Value) -> &[Value] {
    content
        .get("parts")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn count(content: &Value, kind: &str) -> usize {
    parts_of(content)
        .iter()
        .filter(|p| p.get(kind).is_some())
        .count()
}

/// Checks a generateContent body and picks the answer (`chunks` text deltas).
pub(super) fn generate(body: &[u8], chunks: usize) -> Checked<Generate> {
    let body = parse(body)?;
    known(&body, "", REQUEST)?;
    let contents = body
        .get("contents")
        .and_then(Value::as_array)
        .filter(|c| !c.is_empty())
        .ok_or("* GenerateContentRequest.contents: contents is not specified")?;
    for (i, c) in contents.iter().enumerate() {
        content(c, &format!("contents[{i}]"))?;
    }
    let system = body.get("systemInstruction");
    if let Some(system) = system {
        system_instruction(system)?;
    }
    if let Some(config) = body.get("generationConfig") {
        known(config, "generation_config", GENERATION)?;
        if let Some(thinking) = config.get("thinkingConfig") {
            known(thinking, "generation_config.thinking_config", THINKING)?;
        }
    }
    let declared = tools(body.get("tools"))?;
    let calling = tool_config(body.get("toolConfig"))?;
    function_turns(contents)?;
    thought_signatures(contents)?;
    let chars_of = |c: &Value| c.get("parts").map_or(0, content_chars);
    let system_chars = system.map_or(0, chars_of);
    let chars: usize = contents.iter().map(chars_of).sum();
    let answer = if blocked(contents) {
        Answer::Blocked
    } else {
        Answer::Reply(Reply::choose(
            tool_to_call(&declared, &calling, contents),
            chunks,
        ))
    };
    Ok(Generate {
        answer,
        prompt_chars: chars + system_chars,
    })
}

fn content(c: &Value, at: &str) -> Checked<()> {
    known(c, at, CONTENT)?;
    match str_field(c, "role") {
        None | Some("user" | "model") => {}
        Some(role) => {
            return Err(format!(
                "Please use a valid role: user, model. (got \"{role}\" at {at})"
            ))
        }
    }
    let parts = c.get("parts").and_then(Value::as_array);
    let parts = parts.filter(|p| !p.is_empty()).ok_or_else(|| {
        format!("* GenerateContentRequest.{at}.parts: contents.parts must not be empty.")
    })?;
    for (i, p) in parts.iter().enumerate() {
        part(p, &format!("{at}.parts[{i}]"))?;
    }
    Ok(())
}

fn part(p: &Value, at: &str) -> Checked<()> {
    known(p, at, PART)?;
    let data: Vec<&str> = PART_DATA
        .iter()
        .copied()
        .filter(|k| p.get(k).is_some())
        .collect();
    let [kind] = data.as_slice() else {
        return Err(format!(
            "* GenerateContentRequest.{at}.data: required oneof field 'data' must have one initialized field"
        ));
    };
    let value = &p[*kind];
    let here = format!("{at}.{kind}");
    match *kind {
        "text" if value.as_str().is_none_or(str::is_empty) => Err(
            "Unable to submit request because it has an empty text parameter. Add a value to the parameter and try again."
                .into(),
        ),
        "inlineData" => required(value, &here, &["mimeType", "data"], &["mimeType", "data"]),
        "fileData" => required(value, &here, &["mimeType", "fileUri"], &["fileUri"]),
        "functionCall" => {
            required(value, &here, &["id", "name", "args"], &["name"])?;
            object_if_present(value, "args", &here)
        }
        "functionResponse" => {
            let allowed = ["id", "name", "response", "willContinue", "scheduling", "parts"];
            required(value, &here, &allowed, &["name"])?;
            object_if_present(value, "response", &here)?;
            value
                .get("response")
                .map(|_| ())
                .ok_or_else(|| format!("* GenerateContentRequest.{here}.response: is required"))
        }
        _ => Ok(()),
    }
}

/// Known keys only, and the `needed` ones present as strings.
fn required(value: &Value, at: &str, allowed: &[&str], needed: &[&str]) -> Checked<()> {
    known(value, at, allowed)?;
    match needed.iter().find(|k| str_field(value, k).is_none()) {
        Some(k) => Err(format!("* GenerateContentRequest.{at}.{k}: is required")),
        None => Ok(()),
    }
}

fn object_if_present(value: &Value, key: &str, at: &str) -> Checked<()> {
    match value.get(key) {
        Some(v) if !v.is_object() => Err(format!(
            "Invalid value at '{at}.{key}' (type.googleapis.com/google.protobuf.Struct), {v}"
        )),
        _ => Ok(()),
    }
}

fn system_instruction(system: &Value) -> Checked<()> {
    known(system, "system_instruction", CONTENT)?;
    let text_only = parts_of(system)
        .iter()
        .all(|p| known(p, "system_instruction.parts", &["text"]).is_ok());
    if parts_of(system).is_empty() || !text_only {
        return Err("system_instruction must hold text parts".into());
    }
    Ok(())
}

/// Checks the tools; the declared function names, in order.
fn tools(tools: Option<&Value>) -> Checked<Vec<String>> {
    let Some(tools) = tools else {
        return Ok(Vec::new());
    };
    let tools = tools
        .as_array()
        .ok_or("Invalid value at 'tools': expected a list")?;
    let mut names = Vec::new();
    for (i, tool) in tools.iter().enumerate() {
        known(tool, &format!("tools[{i}]"), TOOL)?;
        let declarations = tool.get("functionDeclarations").and_then(Value::as_array);
        for (j, d) in declarations.into_iter().flatten().enumerate() {
            let at = format!("tools[{i}].function_declarations[{j}]");
            known(d, &at, DECLARATION)?;
            let name = str_field(d, "name").filter(|n| valid_name(n)).ok_or_else(|| {
                format!("* GenerateContentRequest.{at}.name: Invalid function name. Must start with a letter or an underscore. Must be a-z, A-Z, 0-9, or contain underscores, dots, colons and dashes, with a maximum length of 64.")
            })?;
            if d.get("parameters").is_some() && d.get("parametersJsonSchema").is_some() {
                return Err(format!("* GenerateContentRequest.{at}: parameters and parameters_json_schema are mutually exclusive"));
            }
            if let Some(schema) = d.get("parameters") {
                self::schema(schema, &format!("{at}.parameters"))?;
            }
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

fn valid_name(name: &str) -> bool {
    let first_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let rest_ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_.:-".contains(c));
    first_ok && rest_ok && name.len() <= 64
}

/// A `parameters` schema: Schema keys only, an OBJECT has properties.
fn schema(s: &Value, at: &str) -> Checked<()> {
    known(s, at, SCHEMA)?;
    let properties = s.get("properties").and_then(Value::as_object);
    let is_object = str_field(s, "type").is_some_and(|t| t.eq_ignore_ascii_case("object"));
    if is_object && properties.is_none_or(|p| p.is_empty()) {
        return Err(format!(
            "* GenerateContentRequest.{at}.properties: should be non-empty for OBJECT type"
        ));
    }
    for (name, sub) in properties.into_iter().flatten() {
        schema(sub, &format!("{at}.properties[{name}]"))?;
    }
    if let Some(items) = s.get("items") {
        schema(items, &format!("{at}.items"))?;
    }
    let any_of = s.get("anyOf").and_then(Value::as_array);
    for (i, sub) in any_of.into_iter().flatten().enumerate() {
        schema(sub, &format!("{at}.any_of[{i}]"))?;
    }
    Ok(())
}

/// Checks toolConfig; its calling config (or Null).
fn tool_config(config: Option<&Value>) -> Checked<Value> {
    let Some(config) = config else {
        return Ok(Value::Null);
    };
    known(config, "tool_config", &["functionCallingConfig"])?;
    let Some(calling) = config.get("functionCallingConfig") else {
        return Ok(Value::Null);
    };
    let at = "tool_config.function_calling_config";
    known(calling, at, &["mode", "allowedFunctionNames"])?;
    let mode = str_field(calling, "mode").unwrap_or("AUTO");
    if !["AUTO", "ANY", "NONE", "VALIDATED"].contains(&mode) {
        return Err(format!("Invalid value at '{at}.mode', \"{mode}\""));
    }
    if calling.get("allowedFunctionNames").is_some() && !["ANY", "VALIDATED"].contains(&mode) {
        return Err("* GenerateContentRequest.tool_config.function_calling_config.allowed_function_names: only allowed when mode is ANY".into());
    }
    Ok(calling.clone())
}

/// A model content with function calls is followed (if anything follows)
/// by a user content with as many function responses; function responses
/// only follow function calls.
fn function_turns(contents: &[Value]) -> Checked<()> {
    for (i, c) in contents.iter().enumerate() {
        let responses = count(c, "functionResponse");
        let previous_calls = i
            .checked_sub(1)
            .and_then(|p| contents.get(p))
            .map_or(0, |p| count(p, "functionCall"));
        if responses > 0 && previous_calls == 0 {
            return Err("Please ensure that function response turn comes immediately after a function call turn.".into());
        }
        if previous_calls > 0 && responses != previous_calls {
            return Err("Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.".into());
        }
    }
    Ok(())
}

/// The current turn (after the last user content with something other than
/// function responses): each model content's first function call needs
/// its thought signature back.
fn thought_signatures(contents: &[Value]) -> Checked<()> {
    let is_user_turn = |c: &&Value| {
        str_field(c, "role") != Some("model")
            && parts_of(c)
                .iter()
                .any(|p| p.get("functionResponse").is_none())
    };
    let start = contents.iter().rposition(|c| is_user_turn(&c)).unwrap_or(0);
    for (i, c) in contents.iter().enumerate().skip(start) {
        let first_call = parts_of(c).iter().find(|p| p.get("functionCall").is_some());
        let Some(part) = first_call else { continue };
        if part.get("thoughtSignature").is_none() {
            let name = part
                .pointer("/functionCall/name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            return Err(format!(
                "Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call `default_api:{name}` , position {}. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details.",
                i + 1
            ));
        }
    }
    Ok(())
}

/// A user text says `BLOCKME`.
fn blocked(contents: &[Value]) -> bool {
    contents
        .iter()
        .filter(|c| str_field(c, "role") != Some("model"))
        .flat_map(parts_of)
        .filter_map(|p| str_field(p, "text"))
        .any(|t| t.contains("BLOCKME"))
}

/// The function to call: the first allowed (or declared) one, unless the
/// mode is NONE or the last content already answers a call.
fn tool_to_call(declared: &[String], calling: &Value, contents: &[Value]) -> Option<String> {
    if str_field(calling, "mode") == Some("NONE") {
        return None;
    }
    if contents
        .last()
        .is_some_and(|c| count(c, "functionResponse") > 0)
    {
        return None;
    }
    let allowed = calling
        .pointer("/allowedFunctionNames/0")
        .and_then(Value::as_str);
    allowed
        .map(str::to_owned)
        .or_else(|| declared.first().cloned())
}

/// Checks a batchEmbedContents (`batch`) or embedContent body for `model`.
pub(super) fn embed(body: &[u8], model: &str, batch: bool) -> Checked<Vec<EmbedInput>> {
    let body = parse(body)?;
    if !batch {
        return Ok(vec![embed_request(&body, "", None)?]);
    }
    known(&body, "", &["requests"])?;
    let requests = body
        .get("requests")
        .and_then(Value::as_array)
        .filter(|r| !r.is_empty())
        .ok_or("* BatchEmbedContentsRequest.requests: requests is not specified")?;
    requests
        .iter()
        .enumerate()
        .map(|(i, r)| embed_request(r, &format!("requests[{i}]"), Some(model)))
        .collect()
}

/// One EmbedContentRequest; in a batch its `model` must be `models/<model>`.
fn embed_request(r: &Value, at: &str, model: Option<&str>) -> Checked<EmbedInput> {
    known(r, at, EMBED)?;
    if let Some(model) = model {
        let expected = format!("models/{model}");
        if str_field(r, "model") != Some(expected.as_str()) {
            return Err(format!(
                "* BatchEmbedContentsRequest.{at}.model: the model must be {expected}"
            ));
        }
    }
    let content = r
        .get("content")
        .ok_or_else(|| format!("* EmbedContentRequest.{at}.content: content is not specified"))?;
    known(content, &format!("{at}.content"), CONTENT)?;
    let texts: Vec<&str> = parts_of(content)
        .iter()
        .map(|p| str_field(p, "text").filter(|t| !t.is_empty()))
        .collect::<Option<_>>()
        .filter(|t: &Vec<&str>| !t.is_empty())
        .ok_or_else(|| format!("* EmbedContentRequest.{at}.content: text parts are required"))?;
    let dimensions = r.get("outputDimensionality").map(|d| {
        d.as_u64()
            .and_then(|d| usize::try_from(d).ok())
            .filter(|d| *d > 0)
            .ok_or_else(|| format!("Invalid value at '{at}.output_dimensionality', {d}"))
    });
    Ok(EmbedInput {
        text: texts.concat(),
        dimensions: dimensions.transpose()?,
    })
}
