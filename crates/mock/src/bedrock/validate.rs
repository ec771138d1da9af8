//! Strict checks of a Converse body, as Bedrock makes them: unknown fields,
//! roles, content blocks, inference and tool configuration, structured
//! output. `Err` is the `ValidationException` message.

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::reply::{content_chars, prompt_tokens};

const TOP_LEVEL: &[&str] = &[
    "messages",
    "system",
    "inferenceConfig",
    "toolConfig",
    "guardrailConfig",
    "additionalModelRequestFields",
    "additionalModelResponseFieldPaths",
    "promptVariables",
    "requestMetadata",
    "performanceConfig",
    "outputConfig",
];
const INFERENCE: &[&str] = &["maxTokens", "temperature", "topP", "stopSequences"];
const IMAGE_FORMATS: &[&str] = &["png", "jpeg", "gif", "webp"];

/// What the mock needs of a valid Converse request.
#[derive(Debug)]
pub(crate) struct Converse {
    /// Prompt size in tokens (system and message text).
    pub input_tokens: usize,
    /// The tool to call: offered, and the last message answers none.
    pub tool: Option<String>,
    /// The JSON schema of `outputConfig.textFormat`, parsed.
    pub schema: Option<Value>,
}

/// Validates a Converse body.
pub(crate) fn converse(body: &[u8]) -> Result<Converse, String> {
    let body: Value = serde_json::from_slice(body).map_err(|e| {
        format!("Malformed input request: {e}, please reformat your input and try again.")
    })?;
    let obj = body
        .as_object()
        .ok_or("Malformed input request: expected a JSON object, please reformat your input and try again.")?;
    only(obj, TOP_LEVEL, "")?;
    let messages = match obj.get("messages") {
        Some(Value::Array(m)) if !m.is_empty() => m,
        Some(Value::Array(_)) => {
            return Err(constraint(
                "messages",
                "Member must have length greater than or equal to 1",
            ))
        }
        _ => return Err(constraint("messages", "Member must not be null")),
    };
    let uses_tools = check_messages(messages)?;
    let system = match obj.get("system") {
        None => 0,
        Some(system) => check_system(system)?,
    };
    if let Some(config) = obj.get("inferenceConfig") {
        check_inference(config)?;
    }
    let tools = match obj.get("toolConfig") {
        Some(config) => Some(check_tool_config(config)?),
        None if uses_tools => {
            return Err("The toolConfig field must be defined when using toolUse and toolResult content blocks.".into())
        }
        None => None,
    };
    if let Some(extra) = obj.get("additionalModelRequestFields") {
        if !extra.is_object() {
            return Err(constraint(
                "additionalModelRequestFields",
                "Member must be an object",
            ));
        }
    }
    let schema = obj.get("outputConfig").map(check_output).transpose()?;
    let chars: usize = messages
        .iter()
        .filter_map(|m| m.get("content"))
        .map(content_chars)
        .sum();
    let answered = messages.last().is_some_and(|m| has_block(m, "toolResult"));
    Ok(Converse {
        input_tokens: prompt_tokens(system + chars),
        tool: tools.flatten().filter(|_| !answered),
        schema,
    })
}

/// `1 validation error detected: Value at '<at>' failed to satisfy
/// constraint: <what>`.
fn constraint(at: &str, what: &str) -> String {
    format!("1 validation error detected: Value at '{at}' failed to satisfy constraint: {what}")
}

/// Refuses keys of `obj` not in `allowed`.
fn only(obj: &Map<String, Value>, allowed: &[&str], at: &str) -> Result<(), String> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(key) => Err(format!(
            "Malformed input request: extraneous key [{at}{key}] is not permitted, please reformat your input and try again."
        )),
        None => Ok(()),
    }
}

fn object<'a>(value: &'a Value, at: &str) -> Result<&'a Map<String, Value>, String> {
    value
        .as_object()
        .ok_or_else(|| constraint(at, "Member must be an object"))
}

fn string<'a>(obj: &'a Map<String, Value>, key: &str, at: &str) -> Result<&'a str, String> {
    match obj.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(Value::String(_)) => Err(constraint(
            &format!("{at}.{key}"),
            "Member must have length greater than or equal to 1",
        )),
        _ => Err(constraint(
            &format!("{at}.{key}"),
            "Member must not be null",
        )),
    }
}

/// The one member of a union such as a content block.
fn member<'a>(value: &'a Value, at: &str) -> Result<(&'a str, &'a Value), String> {
    let obj = object(value, at)?;
    let mut members = obj.iter();
    match (members.next(), members.next()) {
        (Some((name, inner)), None) => Ok((name, inner)),
        _ => Err(format!(
            "Malformed input request: {at} must set exactly one member, please reformat your input and try again."
        )),
    }
}

/// Roles alternate from `user`; every block is valid. `Ok(true)` if a
/// block is a `toolUse` or `toolResult`.
fn check_messages(messages: &[Value]) -> Result<bool, String> {
    let mut uses_tools = false;
    let mut previous = None;
    for (i, message) in messages.iter().enumerate() {
        let at = format!("messages.{}.member", i + 1);
        let obj = object(message, &at)?;
        only(obj, &["role", "content"], "")?;
        let role = obj.get("role").and_then(Value::as_str);
        if !matches!(role, Some("user" | "assistant")) {
            return Err(constraint(
                &format!("{at}.role"),
                "Member must satisfy enum value set: [user, assistant]",
            ));
        }
        if i == 0 && role != Some("user") {
            return Err("A conversation must start with a user message. Try again with a conversation that starts with a user message.".into());
        }
        if previous == role {
            return Err("A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.".into());
        }
        previous = role;
        let blocks = match obj.get("content") {
            Some(Value::Array(blocks)) if !blocks.is_empty() => blocks,
            _ => {
                return Err(constraint(
                    &format!("{at}.content"),
                    "Member must not be null",
                ))
            }
        };
        for (j, block) in blocks.iter().enumerate() {
            let kind = check_block(block, &format!("{at}.content.{}.member", j + 1))?;
            uses_tools |= matches!(kind, "toolUse" | "toolResult");
        }
    }
    Ok(uses_tools)
}

/// One content block; returns its kind.
fn check_block<'a>(block: &'a Value, at: &str) -> Result<&'a str, String> {
    let (kind, inner) = member(block, at)?;
    let at = format!("{at}.{kind}");
    match kind {
        "text" if inner.is_string() => {}
        "text" => return Err(constraint(&at, "Member must be a string")),
        "image" => check_image(inner, &at)?,
        "toolUse" => {
            let obj = object(inner, &at)?;
            only(obj, &["toolUseId", "name", "input"], "")?;
            string(obj, "toolUseId", &at)?;
            string(obj, "name", &at)?;
            if !obj.get("input").is_some_and(Value::is_object) {
                return Err(constraint(&format!("{at}.input"), "Member must be an object"));
            }
        }
        "toolResult" => check_tool_result(inner, &at)?,
        "reasoningContent" => {
            let (part, _) = member(inner, &at)?;
            if !matches!(part, "reasoningText" | "redactedContent") {
                return Err(constraint(&at, "Member must be reasoningText or redactedContent"));
            }
        }
        "cachePoint" => {
            let obj = object(inner, &at)?;
            if obj.get("type").and_then(Value::as_str) != Some("default") {
                return Err(constraint(&format!("{at}.type"), "Member must satisfy enum value set: [default]"));
            }
        }
        _ => {
            return Err(format!(
                "Malformed input request: unknown content block type [{kind}], please reformat your input and try again."
            ))
        }
    }
    Ok(kind)
}

fn check_image(image: &Value, at: &str) -> Result<(), String> {
    let obj = object(image, at)?;
    only(obj, &["format", "source"], "")?;
    let format = string(obj, "format", at)?;
    if !IMAGE_FORMATS.contains(&format) {
        return Err(constraint(
            &format!("{at}.format"),
            "Member must satisfy enum value set: [png, jpeg, gif, webp]",
        ));
    }
    let source = object(
        obj.get("source").unwrap_or(&Value::Null),
        &format!("{at}.source"),
    )?;
    let bytes = string(source, "bytes", &format!("{at}.source"))?;
    base64::engine::general_purpose::STANDARD
        .decode(bytes)
        .map_err(|_| format!("Invalid base64 in {at}.source.bytes"))?;
    Ok(())
}

fn check_tool_result(result: &Value, at: &str) -> Result<(), String> {
    let obj = object(result, at)?;
    only(obj, &["toolUseId", "content", "status"], "")?;
    string(obj, "toolUseId", at)?;
    let Some(Value::Array(content)) = obj.get("content") else {
        return Err(constraint(
            &format!("{at}.content"),
            "Member must not be null",
        ));
    };
    for (i, part) in content.iter().enumerate() {
        let part_at = format!("{at}.content.{}.member", i + 1);
        match member(part, &part_at)? {
            ("text", Value::String(_)) | ("json", _) => {}
            ("image", image) => check_image(image, &format!("{part_at}.image"))?,
            (kind, _) => {
                return Err(constraint(
                    &format!("{part_at}.{kind}"),
                    "Member must be text, json or image",
                ))
            }
        }
    }
    match obj.get("status").map(Value::as_str) {
        None | Some(Some("success" | "error")) => Ok(()),
        Some(_) => Err(constraint(
            &format!("{at}.status"),
            "Member must satisfy enum value set: [success, error]",
        )),
    }
}

/// `system`: blocks `{text}`, `{cachePoint}` or `{guardContent}`; returns
/// the characters of text.
fn check_system(system: &Value) -> Result<usize, String> {
    let Value::Array(blocks) = system else {
        return Err(constraint("system", "Member must be a list"));
    };
    for (i, block) in blocks.iter().enumerate() {
        let at = format!("system.{}.member", i + 1);
        match member(block, &at)? {
            ("text", Value::String(_)) | ("cachePoint" | "guardContent", _) => {}
            (kind, _) => {
                return Err(constraint(
                    &format!("{at}.{kind}"),
                    "Member must be text, cachePoint or guardContent",
                ))
            }
        }
    }
    Ok(content_chars(system))
}

fn check_inference(config: &Value) -> Result<(), String> {
    let obj = object(config, "inferenceConfig")?;
    only(obj, INFERENCE, "inferenceConfig.")?;
    if let Some(max) = obj.get("maxTokens") {
        if !matches!(max.as_u64(), Some(1..)) {
            return Err(constraint(
                "inferenceConfig.maxTokens",
                "Member must have value greater than or equal to 1",
            ));
        }
    }
    for key in ["temperature", "topP"] {
        if let Some(v) = obj.get(key) {
            if !v.as_f64().is_some_and(|x| (0.0..=1.0).contains(&x)) {
                return Err(constraint(
                    &format!("inferenceConfig.{key}"),
                    "Member must have value between 0 and 1",
                ));
            }
        }
    }
    if let Some(stops) = obj.get("stopSequences") {
        let ok = stops
            .as_array()
            .is_some_and(|s| s.len() <= 2500 && s.iter().all(Value::is_string));
        if !ok {
            return Err(constraint(
                "inferenceConfig.stopSequences",
                "Member must be a list of strings",
            ));
        }
    }
    Ok(())
}

/// `toolConfig`; returns the tool to call (the chosen one, else the first).
fn check_tool_config(config: &Value) -> Result<Option<String>, String> {
    let obj = object(config, "toolConfig")?;
    only(obj, &["tools", "toolChoice"], "toolConfig.")?;
    let tools = match obj.get("tools") {
        Some(Value::Array(tools)) if !tools.is_empty() => tools,
        _ => {
            return Err(constraint(
                "toolConfig.tools",
                "Member must have length greater than or equal to 1",
            ))
        }
    };
    let mut names = Vec::new();
    for (i, tool) in tools.iter().enumerate() {
        let at = format!("toolConfig.tools.{}.member", i + 1);
        match member(tool, &at)? {
            ("toolSpec", spec) => names.push(check_tool_spec(spec, &format!("{at}.toolSpec"))?),
            ("cachePoint", _) => {}
            (kind, _) => {
                return Err(constraint(
                    &format!("{at}.{kind}"),
                    "Member must be toolSpec or cachePoint",
                ))
            }
        }
    }
    let chosen = match obj.get("toolChoice") {
        None => None,
        Some(choice) => match member(choice, "toolConfig.toolChoice")? {
            ("auto" | "any", Value::Object(_)) => None,
            ("tool", Value::Object(tool)) => {
                let name = string(tool, "name", "toolConfig.toolChoice.tool")?;
                if !names.iter().any(|n| n == name) {
                    return Err(format!(
                        "The tool {name} in toolChoice is not among the tools in toolConfig."
                    ));
                }
                Some(name.to_owned())
            }
            (kind, _) => {
                return Err(constraint(
                    &format!("toolConfig.toolChoice.{kind}"),
                    "Member must be auto, any or tool",
                ))
            }
        },
    };
    Ok(chosen.or_else(|| names.into_iter().next()))
}

fn check_tool_spec(spec: &Value, at: &str) -> Result<String, String> {
    let obj = object(spec, at)?;
    only(obj, &["name", "description", "inputSchema"], "")?;
    let name = string(obj, "name", at)?;
    let schema = obj.get("inputSchema").and_then(Value::as_object);
    if !schema
        .and_then(|s| s.get("json"))
        .is_some_and(Value::is_object)
    {
        return Err(constraint(
            &format!("{at}.inputSchema.json"),
            "Member must not be null",
        ));
    }
    Ok(name.to_owned())
}

/// `outputConfig.textFormat`: a JSON schema given as a string.
fn check_output(config: &Value) -> Result<Value, String> {
    let obj = object(config, "outputConfig")?;
    only(obj, &["textFormat"], "outputConfig.")?;
    let format = object(
        obj.get("textFormat").unwrap_or(&Value::Null),
        "outputConfig.textFormat",
    )?;
    only(format, &["type", "structure"], "outputConfig.textFormat.")?;
    if format.get("type").and_then(Value::as_str) != Some("json_schema") {
        return Err(constraint(
            "outputConfig.textFormat.type",
            "Member must satisfy enum value set: [json_schema]",
        ));
    }
    let at = "outputConfig.textFormat.structure.jsonSchema";
    let json_schema = format
        .get("structure")
        .and_then(|s| s.get("jsonSchema"))
        .ok_or_else(|| constraint(at, "Member must not be null"))?;
    let json_schema = object(json_schema, at)?;
    only(json_schema, &["schema", "name", "description"], "")?;
    let schema = string(json_schema, "schema", at)?;
    serde_json::from_str(schema)
        .map_err(|e| format!("The JSON schema in {at}.schema is not valid JSON: {e}"))
}

fn has_block(message: &Value, kind: &str) -> bool {
    message
        .get("content")
        .and_then(Value::as_array)
        .is_some_and(|blocks| blocks.iter().any(|b| b.get(kind).is_some()))
}
