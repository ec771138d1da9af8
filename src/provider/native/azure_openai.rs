//! The twin of `scripts/providers/azure-openai.rhai`: its stream hooks,
//! which drop Azure's filter-only events (the script's other hooks are
//! `request(ctx)`, memoised, and `capabilities()`).

use rhai::Map;
use serde_json::Value;

use super::{Native, NativeError, StreamTranslator};
use crate::provider::ChunkOut;

pub static NATIVE: Native = Native {
    name: "azure-openai",
    source: include_str!("../../../scripts/providers/azure-openai.rhai"),
    transform_request: None,
    transform_response: None,
    stream: Some(start),
};

fn start() -> Box<dyn StreamTranslator> {
    Box::new(Stream::default())
}

#[derive(Default)]
struct Stream {
    /// A kept choice carried a `finish_reason`.
    saw_finish: bool,
}

/// A property as the script reads it: absent and `null` are both `()`.
fn present<'a>(map: &'a serde_json::Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key).filter(|v| !v.is_null())
}

impl StreamTranslator for Stream {
    fn event(
        &mut self,
        _event: &str,
        data: &str,
        _ctx: &Map,
        out: &mut Vec<ChunkOut>,
    ) -> Result<(), NativeError> {
        let mut data = match serde_json::from_str::<Value>(data) {
            Ok(Value::Object(map)) => map,
            Ok(Value::String(text)) => return done_or_fail(&text, out),
            Ok(_) | Err(_) => return done_or_fail(data, out),
        };
        if present(&data, "error").is_some() {
            out.push(ChunkOut::Json(Value::Object(data)));
            return Ok(());
        }
        let (kept, dropped) = match present(&data, "choices") {
            None => (Vec::new(), false),
            Some(Value::Array(choices)) => {
                let total = choices.len();
                let kept: Vec<Value> = choices
                    .iter()
                    .filter(|c| c.as_object().is_some_and(|c| present(c, "delta").is_some()))
                    .cloned()
                    .collect();
                let dropped = kept.len() != total;
                (kept, dropped)
            }
            // Rhai's map `filter` hands the closure keys, so nothing is
            // kept; the script then fails on `some` when there is a usage.
            Some(Value::Object(_)) if present(&data, "usage").is_none() => return Ok(()),
            Some(other) => {
                return Err(NativeError::Failed(format!(
                    "`choices` must be an array, not {}",
                    type_name(other)
                )))
            }
        };
        if kept.is_empty() && present(&data, "usage").is_none() {
            // Only filter annotations (the first event, or asynchronous filtering).
            return Ok(());
        }
        if kept
            .iter()
            .any(|c| c.get("finish_reason").is_some_and(|f| !f.is_null()))
        {
            self.saw_finish = true;
        }
        if dropped {
            data.insert("choices".to_string(), Value::Array(kept));
        }
        out.push(ChunkOut::Json(Value::Object(data)));
        Ok(())
    }

    fn finish(&mut self, _ctx: &Map, out: &mut Vec<ChunkOut>) -> Result<(), NativeError> {
        if self.saw_finish {
            out.push(ChunkOut::Raw("[DONE]".to_string()));
        }
        Ok(())
    }
}

/// An event that is not a JSON object: `[DONE]`, or an error no client
/// could read.
fn done_or_fail(text: &str, out: &mut Vec<ChunkOut>) -> Result<(), NativeError> {
    let text = text.trim();
    if text == "[DONE]" {
        out.push(ChunkOut::Raw("[DONE]".to_string()));
        return Ok(());
    }
    let head: String = text.chars().take(200).collect();
    Err(NativeError::Failed(format!(
        "Azure OpenAI sent a stream event that is not JSON: {head}"
    )))
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "()",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "map",
    }
}

#[cfg(test)]
mod tests {
    use crate::provider::differential::Differential;
    use rhai::Map;

    /// Events a stream from Azure may carry, and hostile variants: each
    /// goes through the script and the twin, which must agree.
    const EVENTS: &[&str] = &[
        r#"{"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0}]}"#,
        r#"{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hi"},"content_filter_results":{}}]}"#,
        r#"{"choices":[{"index":0,"content_filter_offsets":{},"finish_reason":null}],"id":""}"#,
        r#"{"id":"c1","choices":[{"index":0,"delta":{"content":"a"}},{"index":1,"content_filter_results":{}}]}"#,
        r#"{"id":"c1","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}"#,
        r#"{"id":"c1","choices":[{"index":0,"delta":null}],"usage":null}"#,
        r#"{"id":"c1","choices":null,"usage":{"prompt_tokens":1}}"#,
        r#"{"id":"c1","choices":[1,"x",null,{"delta":{}}]}"#,
        r#"{"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
        r#"{"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":null}]}"#,
        r#"{"id":"c1","choices":"x"}"#,
        r#"{"id":"c1","choices":7}"#,
        r#"{"id":"c1","choices":{"a":1}}"#,
        r#"{"id":"c1","choices":[{"delta":{"content":"big","n":1.5e300,"m":-9007199254740993,"u":18446744073709551615}}]}"#,
        r#"{"error":{"message":"filtered","code":"content_filter"}}"#,
        r#"{"error":null,"choices":[{"delta":{"content":"x"}}]}"#,
        r#"{}"#,
        "[DONE]",
        "  [DONE]  ",
        r#""[DONE]""#,
        "<html>busy</html>",
        "",
        "null",
        "5",
        "[1,2]",
        "1e400",
    ];

    fn ctx() -> Map {
        Map::new()
    }

    #[test]
    fn azure_twin_is_used() {
        assert_eq!(
            Differential::shipped("azure-openai").native(),
            Some("azure-openai")
        );
    }

    #[test]
    fn every_event_alone_agrees_with_the_script() {
        let d = Differential::shipped("azure-openai");
        for data in EVENTS {
            let mut state = d.stream_state();
            let _ = d.transform_chunk(&mut state, "", data, &ctx());
            let _ = d.finish_stream(&mut state, &ctx());
        }
    }

    #[test]
    fn every_pair_of_events_agrees_with_the_script() {
        let d = Differential::shipped("azure-openai");
        for first in EVENTS {
            for second in EVENTS {
                let mut state = d.stream_state();
                let _ = d.transform_chunk(&mut state, "", first, &ctx());
                let _ = d.transform_chunk(&mut state, "", second, &ctx());
                let _ = d.finish_stream(&mut state, &ctx());
            }
        }
    }
}
