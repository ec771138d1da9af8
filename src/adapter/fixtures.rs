//! Golden fixtures, the specification every adapter is tested against,
//! built in or scripted: a folder of payloads shaped as the provider's API
//! reference shows them, named
//!
//! | file | checked |
//! |---|---|
//! | `adapter_request.openai.json` → `adapter_request.<p>.json` | the hub request becomes the provider's (expected ⊆ actual; top-level keys exactly) |
//! | `adapter_response.<p>.json` → `adapter_response.openai.json` | the provider's answer becomes the hub's (expected ⊆ actual) |
//! | `adapter_stream.<p>.sse` (or `.ndjson`) → `adapter_stream.openai.jsonl` | the provider's stream becomes these chunks (expected ⊆ actual, one per line; `"[DONE]"` as a string) |
//!
//! where `<p>` is the provider's name in the file names. Each check runs if
//! its files are there. `switchyard adapter test FILE.rhai --fixtures DIR`
//! runs them for a script author; the gateway's own tests run them for
//! every shipped adapter.

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use super::{ChunkOut, Ctx, Framing, Wire};
use crate::transform::ndjson::NdjsonParser;
use crate::transform::sse::{SseEvent, SseParser};

/// One check's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// `request`, `response` or `stream`.
    pub name: &'static str,
    /// `None`: it passed; else what differs.
    pub failure: Option<String>,
}

/// Runs every check whose files are in `dir` on `wire`, for `model` (by
/// default the request fixture's `model`). An error when `dir` holds no
/// fixture at all.
pub fn run(wire: &dyn Wire, dir: &Path, model: Option<&str>) -> Result<Vec<Check>, String> {
    let provider = provider_name(dir)?;
    let read = |file: &str| std::fs::read_to_string(dir.join(file)).ok();
    let json = |file: &str| -> Option<Result<Value, String>> {
        read(file).map(|t| serde_json::from_str(&t).map_err(|e| format!("{file}: {e}")))
    };
    let hub_request = json("adapter_request.openai.json");
    let model = model.map(str::to_string).or_else(|| {
        hub_request
            .as_ref()
            .and_then(|r| r.as_ref().ok())
            .and_then(|r| r.get("model"))
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    let ctx = |stream: bool| Ctx {
        endpoint: "chat",
        model: model.clone().unwrap_or_else(|| "model".into()),
        stream,
        include_usage: true,
        provider: provider.clone(),
        api_key: Some("fixture-key".into()),
        ..Ctx::default()
    };
    let mut checks = Vec::new();
    if let (Some(input), Some(want)) = (
        hub_request,
        json(&format!("adapter_request.{provider}.json")),
    ) {
        let failure = (|| {
            let (input, want) = (input?, want?);
            let got = wire
                .request(&input, &ctx(false))
                .map_err(|e| e.to_string())?
                .unwrap_or(input);
            subset(&got, &want, "$")?;
            let (g, w) = (keys(&got), keys(&want));
            if g != w {
                return Err(format!("top-level keys: expected {w:?}, got {g:?}"));
            }
            Ok(())
        })()
        .err();
        checks.push(Check {
            name: "request",
            failure,
        });
    }
    if let (Some(input), Some(want)) = (
        json(&format!("adapter_response.{provider}.json")),
        json("adapter_response.openai.json"),
    ) {
        let failure = (|| {
            let (input, want) = (input?, want?);
            let got = wire
                .response(input, &ctx(false))
                .map_err(|e| e.to_string())?;
            subset(&got, &want, "$")
        })()
        .err();
        checks.push(Check {
            name: "response",
            failure,
        });
    }
    let transcript = read(&format!("adapter_stream.{provider}.sse"))
        .map(|t| (t, Framing::Sse))
        .or_else(|| {
            read(&format!("adapter_stream.{provider}.ndjson")).map(|t| (t, Framing::Ndjson))
        });
    if let (Some((text, framing)), Some(want)) = (transcript, read("adapter_stream.openai.jsonl")) {
        let failure = (|| {
            let want: Vec<Value> = want
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| {
                    serde_json::from_str(l).map_err(|e| format!("adapter_stream.openai.jsonl: {e}"))
                })
                .collect::<Result<_, _>>()?;
            let got = stream(wire, &text, framing, &Arc::new(ctx(true)))?;
            subset(&Value::Array(got), &Value::Array(want), "$")
        })()
        .err();
        checks.push(Check {
            name: "stream",
            failure,
        });
    }
    if checks.is_empty() {
        return Err(format!(
            "{}: no complete fixture pair for provider `{provider}`",
            dir.display()
        ));
    }
    Ok(checks)
}

/// The provider name the fixtures in `dir` use: the `<p>` of
/// `adapter_request.<p>.json` (or of a response or stream file).
fn provider_name(dir: &Path) -> Result<String, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut names: Vec<String> = entries
        .flatten()
        .filter_map(|e| {
            let file = e.file_name().to_string_lossy().into_owned();
            let rest = ["adapter_request.", "adapter_response.", "adapter_stream."]
                .iter()
                .find_map(|p| file.strip_prefix(p))?;
            let (name, _ext) = rest.rsplit_once('.')?;
            (name != "openai").then(|| name.to_string())
        })
        .collect();
    names.sort();
    names.dedup();
    match names.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(format!(
            "{}: no adapter_request.<provider>.json (nor response or stream) fixture",
            dir.display()
        )),
        many => Err(format!(
            "{}: fixtures of several providers ({}); one folder per provider",
            dir.display(),
            many.join(", ")
        )),
    }
}

/// A stream transcript through `wire`'s translator (or passed through):
/// chunks as JSON, `[DONE]` as a string.
fn stream(
    wire: &dyn Wire,
    text: &str,
    framing: Framing,
    ctx: &Arc<Ctx>,
) -> Result<Vec<Value>, String> {
    let mut events: Vec<SseEvent> = Vec::new();
    match framing {
        Framing::Sse => {
            let mut p = SseParser::new(64 << 20);
            p.feed(text.as_bytes(), &mut events)
                .map_err(|e| e.to_string())?;
            p.finish(&mut events);
        }
        Framing::Ndjson => {
            let mut p = NdjsonParser::new(64 << 20);
            p.feed(text.as_bytes(), &mut events)
                .map_err(|e| e.to_string())?;
            p.finish(&mut events);
        }
    }
    let mut out = Vec::new();
    match wire.stream(ctx) {
        Some(mut t) => {
            for ev in &events {
                t.event(&ev.event, &ev.data, &mut out)
                    .map_err(|e| e.to_string())?;
            }
            t.finish(&mut out).map_err(|e| e.to_string())?;
        }
        None => {
            for ev in &events {
                match serde_json::from_str(&ev.data) {
                    Ok(v) => out.push(ChunkOut::Json(v)),
                    Err(_) => out.push(ChunkOut::Raw(ev.data.clone())),
                }
            }
        }
    }
    Ok(out
        .into_iter()
        .map(|c| match c {
            ChunkOut::Json(v) => v,
            ChunkOut::Raw(s) => Value::String(s),
        })
        .collect())
}

fn keys(v: &Value) -> Vec<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// `expected` ⊆ `actual`, with the path of the first difference.
pub fn subset(actual: &Value, expected: &Value, at: &str) -> Result<(), String> {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => {
            for (k, ev) in e {
                let av = a.get(k).ok_or_else(|| format!("{at}.{k}: missing"))?;
                subset(av, ev, &format!("{at}.{k}"))?;
            }
            Ok(())
        }
        (Value::Array(a), Value::Array(e)) if a.len() == e.len() => a
            .iter()
            .zip(e)
            .enumerate()
            .try_for_each(|(i, (av, ev))| subset(av, ev, &format!("{at}[{i}]"))),
        (Value::Array(a), Value::Array(e)) => {
            Err(format!("{at}: expected {} items, got {}", e.len(), a.len()))
        }
        (Value::Number(a), Value::Number(e)) if a.as_f64() == e.as_f64() => Ok(()),
        (a, e) if a == e => Ok(()),
        (a, e) => Err(format!("{at}: expected {e}, got {a}")),
    }
}

#[cfg(test)]
mod tests;
