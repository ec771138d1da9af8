//! `guardrails:` — at the top (every model request) and in a route (its
//! requests, after the global ones) — from raw YAML to [`Guardrails`]. An
//! entry is a built-in guardrail (`pii`, `deny-list`, `max-tokens`) or a
//! script (`scripts/guardrails/<name>.rhai`), each with its `options:`, or
//! a `moderation:` target (a provider of the config that speaks the OpenAI
//! format).
//!
//! ```yaml
//! guardrails:
//!   - builtin: pii                 # name defaults to the built-in's or script's
//!     options: { answers: true }
//!   - name: moderation
//!     moderation: { provider: openai, model: omni-moderation-latest, timeout: 2s }
//!     on_error: open               # closed (default): refuse when it fails
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;
use rhai::Engine;
use serde::Deserialize;

use super::policy::Report;
use super::raw::{OneOrMany, Scalar};
use super::validate::shown;
use super::values;
use crate::adapter::script::convert::to_dynamic;
use crate::guard::moderation::{Mode, Moderation, VERDICT_INSTRUCTIONS};
use crate::guard::script::GuardScript;
use crate::guard::{Check, Guardrail, Guardrails, OnError};
use crate::provider::Provider;

/// One entry of `guardrails:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGuardrail {
    /// Names it in metrics, logs, the ledger and errors (default: the
    /// script's name, or `moderation`).
    pub name: Option<String>,
    /// `pii`, `deny-list` or `max-tokens`.
    pub builtin: Option<String>,
    /// `scripts/guardrails/<script>.rhai`.
    pub script: Option<String>,
    /// The built-in's options, or the script's `ctx.options`.
    pub options: Option<serde_yaml::Value>,
    pub moderation: Option<RawModeration>,
    /// `closed` (default: refuse when the guardrail fails) or `open`.
    pub on_error: Option<String>,
    /// False: skipped.
    pub enabled: Option<bool>,
}

/// `moderation:` of a guardrail.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModeration {
    /// A provider of this config (OpenAI format).
    pub provider: String,
    /// Default `omni-moderation-latest` (`moderations`); required for `verdict`.
    pub model: Option<String>,
    /// `moderations` (default) or `verdict`.
    pub mode: Option<String>,
    /// The call's time budget (default 2s).
    pub timeout: Option<Scalar>,
    /// Only these categories block (`moderations`; default: any flag).
    pub categories: Option<OneOrMany>,
    /// The verdict model's instructions (its system message).
    pub instructions: Option<String>,
}

/// What guardrails are resolved against.
pub struct Env<'a> {
    /// The config's folder: script paths are shown relative to it.
    pub base: PathBuf,
    /// `scripts/guardrails/`.
    pub dir: PathBuf,
    pub engine: Arc<Engine>,
    pub timeout: Duration,
    pub providers: &'a IndexMap<String, Arc<Provider>>,
    /// Name and text of every script compiled (part of the config version).
    pub texts: Vec<(String, String)>,
}

/// The guardrails of `raw` (at `at`: `guardrails` or `routes[i].guardrails`).
pub fn guardrails(
    at: &str,
    raw: Vec<RawGuardrail>,
    env: &mut Env<'_>,
    r: &mut dyn Report,
) -> Guardrails {
    let mut names = std::collections::HashSet::new();
    let mut out = Vec::new();
    for (i, g) in raw.into_iter().enumerate() {
        let at = format!("{at}[{i}]");
        if g.enabled == Some(false) {
            continue;
        }
        let Some(guardrail) = guardrail(&at, g, env, r) else {
            continue;
        };
        if !names.insert(guardrail.name.clone()) {
            r.issue(
                &format!("{at}.name"),
                format!(
                    "two guardrails are named `{}`: give one a `name:`",
                    guardrail.name
                ),
            );
        }
        out.push(Arc::new(guardrail));
    }
    Guardrails::new(out)
}

fn guardrail(
    at: &str,
    g: RawGuardrail,
    env: &mut Env<'_>,
    r: &mut dyn Report,
) -> Option<Guardrail> {
    let on_error = match g.on_error.as_deref() {
        None | Some("closed") => OnError::Closed,
        Some("open") => OnError::Open,
        Some(other) => {
            r.issue(
                &format!("{at}.on_error"),
                format!("unknown value `{other}` (expected closed or open)"),
            );
            OnError::Closed
        }
    };
    let kinds = [
        g.builtin.is_some(),
        g.script.is_some(),
        g.moderation.is_some(),
    ];
    if kinds.iter().filter(|k| **k).count() != 1 {
        r.issue(
            at,
            "a guardrail is one of `builtin: <name>` (pii, deny-list, max-tokens), `script: <name>` (scripts/guardrails/<name>.rhai) or `moderation:`".into(),
        );
        return None;
    }
    let (name, check, what) = match (g.builtin, g.script, g.moderation) {
        (Some(b), _, _) => {
            let (check, what) = builtin_check(at, &b, g.options, r)?;
            (g.name.unwrap_or(b), check, what)
        }
        (_, Some(s), _) => {
            let (check, what) = script_check(at, &s, g.options, env, r)?;
            (g.name.unwrap_or(s), check, what)
        }
        (_, _, None) => return None,
        (_, _, Some(m)) => {
            if g.options.is_some() {
                r.issue(
                    &format!("{at}.options"),
                    "`options` are a script's; a moderation guardrail is set in `moderation:`"
                        .into(),
                );
            }
            let m = moderation(&format!("{at}.moderation"), m, env, r)?;
            let what = format!(
                "moderation\0{}\0{}\0{:?}\0{:?}\0{:?}",
                m.provider.name, m.model, m.mode, m.timeout, m.categories
            );
            let check = Check::Moderation(m);
            (g.name.unwrap_or_else(|| "moderation".into()), check, what)
        }
    };
    if !valid_name(&name) {
        r.issue(
            &format!("{at}.name"),
            "guardrail names may use letters, digits, `-`, `_` and `.` only".into(),
        );
    }
    let fingerprint = fingerprint(&[&name, &what, &format!("{on_error:?}")]);
    Some(Guardrail {
        name,
        on_error,
        check,
        fingerprint,
    })
}

/// The first 8 bytes of the SHA-256 of `parts`.
fn fingerprint(parts: &[&str]) -> u64 {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    let d = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&d[..8]);
    u64::from_le_bytes(first)
}

/// A built-in guardrail with its options checked.
fn builtin_check(
    at: &str,
    name: &str,
    options: Option<serde_yaml::Value>,
    r: &mut dyn Report,
) -> Option<(Check, String)> {
    let options = match options.map(serde_json::to_value).transpose() {
        Ok(v) => v.unwrap_or(serde_json::Value::Null),
        Err(e) => {
            r.issue(&format!("{at}.options"), format!("not JSON-like: {e}"));
            return None;
        }
    };
    match crate::guard::builtin::build(name, &options) {
        None => {
            r.issue(
                &format!("{at}.builtin"),
                format!(
                    "no built-in guardrail `{name}` (built in: {}; others are scripts: `script: <name>`)",
                    crate::guard::builtin::NAMES.join(", ")
                ),
            );
            None
        }
        Some(Err(e)) => {
            r.issue(&format!("{at}.options"), e);
            None
        }
        Some(Ok(b)) => Some((Check::Builtin(b), format!("builtin\0{name}\0{options}"))),
    }
}

/// A script guardrail: its file, compiled, and its
/// options checked by its `check` hook; with what decides what it does
/// (the script's text and its options).
fn script_check(
    at: &str,
    name: &str,
    options: Option<serde_yaml::Value>,
    env: &mut Env<'_>,
    r: &mut dyn Report,
) -> Option<(Check, String)> {
    if !valid_name(name) {
        r.issue(
            &format!("{at}.script"),
            "script names may use letters, digits, `-`, `_` and `.` only".into(),
        );
        return None;
    }
    let path = env.dir.join(format!("{name}.rhai"));
    let label = shown(&path, &env.base);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            let hint = match crate::guard::builtin::NAMES.contains(&name) {
                true => format!(" (`{name}` is built in: `builtin: {name}`)"),
                false => String::new(),
            };
            r.issue(
                &format!("{at}.script"),
                format!(
                    "cannot read guardrail script {}: {e}{hint}",
                    label.display()
                ),
            );
            return None;
        }
    };
    let options = match options.map(serde_json::to_value).transpose() {
        Ok(v) => v.unwrap_or_else(|| serde_json::json!({})),
        Err(e) => {
            r.issue(&format!("{at}.options"), format!("not JSON-like: {e}"));
            return None;
        }
    };
    if !options.is_object() {
        r.issue(&format!("{at}.options"), "must be a mapping".into());
        return None;
    }
    let what = format!("script\0{text}\0{options}");
    let options = to_dynamic(options).into_shared();
    match GuardScript::compile(&label, &text, env.engine.clone(), env.timeout, &options) {
        Ok(s) => {
            env.texts.push((format!("guardrails/{name}"), text));
            let check = Check::Script {
                script: Arc::new(s),
                options,
            };
            Some((check, what))
        }
        Err(e) => {
            r.issue(&format!("{at}.script"), e.to_string());
            None
        }
    }
}

fn moderation(at: &str, m: RawModeration, env: &Env<'_>, r: &mut dyn Report) -> Option<Moderation> {
    let Some(provider) = env.providers.get(&m.provider) else {
        r.issue(
            &format!("{at}.provider"),
            format!(
                "unknown provider `{}` (defined: {})",
                m.provider,
                env.providers.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        );
        return None;
    };
    if provider.adapter.name() != "openai" {
        r.issue(
            &format!("{at}.provider"),
            format!(
                "provider `{}` speaks `{}`: a moderation target must speak the OpenAI format",
                m.provider,
                provider.adapter.name()
            ),
        );
        return None;
    }
    let mode = match m.mode.as_deref() {
        None | Some("moderations") => {
            if m.instructions.is_some() {
                r.issue(
                    &format!("{at}.instructions"),
                    "`instructions` are for `mode: verdict`".into(),
                );
            }
            Mode::Moderations
        }
        Some("verdict") => {
            if m.model.is_none() {
                r.issue(
                    &format!("{at}.model"),
                    "`mode: verdict` needs the chat model to ask".into(),
                );
            }
            if m.categories.is_some() {
                r.issue(
                    &format!("{at}.categories"),
                    "`categories` are for `mode: moderations`".into(),
                );
            }
            Mode::Verdict {
                instructions: m
                    .instructions
                    .unwrap_or_else(|| VERDICT_INSTRUCTIONS.to_string()),
            }
        }
        Some(other) => {
            r.issue(
                &format!("{at}.mode"),
                format!("unknown mode `{other}` (expected moderations or verdict)"),
            );
            return None;
        }
    };
    let timeout = match &m.timeout {
        None => Duration::from_secs(2),
        Some(v) => match values::duration(v) {
            Ok(d) if d.is_zero() => {
                r.issue(&format!("{at}.timeout"), "must be more than 0".into());
                Duration::from_secs(2)
            }
            Ok(d) => d,
            Err(e) => {
                r.issue(&format!("{at}.timeout"), e);
                Duration::from_secs(2)
            }
        },
    };
    Some(Moderation {
        provider: provider.clone(),
        model: m
            .model
            .unwrap_or_else(|| "omni-moderation-latest".to_string()),
        mode,
        timeout,
        categories: m.categories.map(|c| c.to_vec()).unwrap_or_default(),
    })
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests;
