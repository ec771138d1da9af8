//! A provider's `aws:` / `gcp:` blocks → its [`Auth`], the region its
//! base URL's `{region}` stands for, and the options its adapter reads
//! (`project`, `location` for Vertex).
//!
//! A `bedrock` or `vertex` provider without an `api_key` (a Bedrock API
//! key, a Google access token) gets the default credentials chain even
//! without a block; any other adapter gets one only when it has a block.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::expand::Unresolved;
use super::Ctx;
use crate::cloud::aws::{self, Env, ProcessEnv};
use crate::cloud::google::{KeyFile, Tokens};
use crate::cloud::Auth;
use crate::config::raw::{RawAws, RawGcp, RawProvider};

/// What the blocks validated into.
#[derive(Default)]
pub struct Cloud {
    pub auth: Option<Arc<Auth>>,
    /// What `{region}` in the base URL stands for.
    pub region: Option<String>,
    /// Options the adapter reads, added unless the entry sets them.
    pub options: Vec<(&'static str, String)>,
    /// Why the provider cannot be used (no credentials found).
    pub disabled: Option<String>,
}

/// Validates the cloud blocks of provider `name` (adapter `adapter`).
pub fn cloud(name: &str, adapter: &str, p: &RawProvider, cx: &mut Ctx) -> Cloud {
    let at = |f: &str| format!("providers.{name}.{f}");
    let keyed = p.api_key.is_some() || p.backends.iter().any(|b| b.api_key.is_some());
    match (&p.aws, &p.gcp) {
        (Some(_), Some(_)) => {
            cx.issue(
                &format!("providers.{name}"),
                "`aws:` and `gcp:` exclude each other",
            );
            Cloud::default()
        }
        (Some(raw), None) => {
            if keyed {
                cx.issue(
                    &at("aws"),
                    "`api_key` (a Bedrock API key) and `aws:` credentials exclude each other; keep one",
                );
            }
            aws_block(name, raw, cx)
        }
        (None, Some(raw)) => {
            if keyed {
                cx.issue(
                    &at("gcp"),
                    "`api_key` (an access token) and `gcp:` credentials exclude each other; keep one",
                );
            }
            gcp_block(name, p, raw, &ProcessEnv, cx)
        }
        (None, None) if !keyed && adapter == "bedrock" => aws_block(name, &RawAws::default(), cx),
        (None, None) if !keyed && adapter == "vertex" => {
            gcp_block(name, p, &RawGcp::default(), &ProcessEnv, cx)
        }
        // An API key: the region and project still come from the
        // environment's usual places.
        (None, None) if adapter == "bedrock" => Cloud {
            region: Some(aws_region(None, &ProcessEnv)),
            ..Cloud::default()
        },
        (None, None) if adapter == "vertex" => {
            let region = option(p, "location").unwrap_or_else(|| location(None, &ProcessEnv));
            let mut c = Cloud {
                region: Some(region.clone()),
                options: vec![("location", region)],
                ..Cloud::default()
            };
            project(&mut c, p, None, &ProcessEnv, "");
            c
        }
        (None, None) => Cloud::default(),
    }
}

/// A setting's value, `${VAR}`-expanded (secrets: decrypted too); an unset
/// variable leaves it out.
fn value(
    field: &str,
    v: Option<&String>,
    secret: bool,
    cx: &mut Ctx,
) -> Result<Option<String>, String> {
    let Some(v) = v else { return Ok(None) };
    let expanded = if secret {
        cx.expand_secret(v)
    } else {
        cx.expand(v)
    };
    match expanded {
        Ok(s) if s.is_empty() => Ok(None),
        Ok(s) => Ok(Some(s)),
        Err(Unresolved::Unset(var)) => {
            Err(format!("environment variable {var} is not set ({field})"))
        }
        Err(Unresolved::Invalid(m)) => {
            cx.issue(field, m);
            Ok(None)
        }
    }
}

/// A path relative to the config's folder.
fn path(cx: &Ctx, p: String) -> PathBuf {
    let p = PathBuf::from(p);
    if p.is_relative() {
        cx.source
            .path
            .parent()
            .map_or(p.clone(), |dir| dir.join(&p))
    } else {
        p
    }
}

fn aws_block(name: &str, raw: &RawAws, cx: &mut Ctx) -> Cloud {
    let at = |f: &str| format!("providers.{name}.aws.{f}");
    let read = |field: &str, v: Option<&String>, secret: bool, cx: &mut Ctx| {
        value(&at(field), v, secret, cx)
    };
    let fields = (|| {
        Ok::<_, String>(aws::Settings {
            region: read("region", raw.region.as_ref(), false, cx)?,
            service: read("service", raw.service.as_ref(), false, cx)?,
            access_key_id: read("access_key_id", raw.access_key_id.as_ref(), true, cx)?,
            secret_access_key: read(
                "secret_access_key",
                raw.secret_access_key.as_ref(),
                true,
                cx,
            )?,
            session_token: read("session_token", raw.session_token.as_ref(), true, cx)?,
            profile: read("profile", raw.profile.as_ref(), false, cx)?,
            credentials_file: read("credentials_file", raw.credentials_file.as_ref(), false, cx)?
                .map(|p| path(cx, p)),
        })
    })();
    let settings = match fields {
        Ok(s) => s,
        Err(reason) => {
            return Cloud {
                disabled: Some(reason),
                ..Cloud::default()
            }
        }
    };
    match aws::Signer::new(&settings, &ProcessEnv) {
        Ok(signer) => Cloud {
            region: Some(signer.region().to_string()),
            auth: Some(Arc::new(Auth::Aws(signer))),
            ..Cloud::default()
        },
        Err(reason) if reason.starts_with("aws:") => {
            cx.issue(&format!("providers.{name}.aws"), reason);
            Cloud::default()
        }
        Err(reason) => Cloud {
            region: Some(aws_region(settings.region, &ProcessEnv)),
            disabled: Some(reason),
            ..Cloud::default()
        },
    }
}

/// The AWS region when no credentials tell: configured, else
/// `AWS_REGION` / `AWS_DEFAULT_REGION`, else `us-east-1`.
fn aws_region(configured: Option<String>, env: &dyn Env) -> String {
    configured
        .or_else(|| env.var("AWS_REGION"))
        .or_else(|| env.var("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|| "us-east-1".into())
}

/// `options.<name>` of the entry, when it is a string.
fn option(p: &RawProvider, name: &str) -> Option<String> {
    p.options
        .as_ref()
        .and_then(|o| o.get(name))
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

/// The Vertex project: `options.project`, else `named` (the `gcp:` block's
/// or the key file's), else `GOOGLE_CLOUD_PROJECT`; none disables the
/// provider (`note` says what else was looked at).
fn project(out: &mut Cloud, p: &RawProvider, named: Option<String>, env: &dyn Env, note: &str) {
    if option(p, "project").is_some() {
        return;
    }
    match named.or_else(|| env.var("GOOGLE_CLOUD_PROJECT")) {
        Some(project) => out.options.push(("project", project)),
        None => {
            out.disabled = Some(format!(
                "no Google Cloud project: set gcp.project or GOOGLE_CLOUD_PROJECT{note}"
            ))
        }
    }
}

/// The Vertex location: configured, else `GOOGLE_CLOUD_LOCATION`, else
/// `global` (which serves Gemini and Claude alike).
fn location(configured: Option<String>, env: &dyn Env) -> String {
    configured
        .or_else(|| env.var("GOOGLE_CLOUD_LOCATION"))
        .unwrap_or_else(|| "global".into())
}

fn gcp_block(name: &str, p: &RawProvider, raw: &RawGcp, env: &dyn Env, cx: &mut Ctx) -> Cloud {
    let at = |f: &str| format!("providers.{name}.gcp.{f}");
    let fields = (|| {
        Ok::<_, String>((
            value(&at("project"), raw.project.as_ref(), false, cx)?,
            value(&at("region"), raw.region.as_ref(), false, cx)?,
            value(
                &at("credentials_file"),
                raw.credentials_file.as_ref(),
                false,
                cx,
            )?,
        ))
    })();
    let (named, region, file) = match fields {
        Ok(f) => f,
        Err(reason) => {
            return Cloud {
                disabled: Some(reason),
                ..Cloud::default()
            }
        }
    };
    let region = location(region.or_else(|| option(p, "location")), env);
    let mut out = Cloud {
        region: Some(region.clone()),
        options: vec![("location", region)],
        ..Cloud::default()
    };
    let configured = file.map(|f| path(cx, f));
    let located = match KeyFile::locate(configured.as_deref(), env) {
        Ok(p) => p,
        Err(reason) => {
            out.disabled = Some(reason);
            return out;
        }
    };
    let key = match KeyFile::read(&located) {
        Ok(k) => k,
        Err(e) if configured.is_some() || located.exists() => {
            cx.issue(&at("credentials_file"), e);
            return out;
        }
        Err(e) => {
            out.disabled = Some(e);
            return out;
        }
    };
    let named = named.or_else(|| key.project.clone());
    let note = format!(" ({} names none)", shown(&located));
    project(&mut out, p, named, env, &note);
    match key.into_grant() {
        Ok(grant) => out.auth = Some(Arc::new(Auth::Google(Tokens::shared(grant)))),
        Err(e) => cx.issue(&at("credentials_file"), format!("{}: {e}", shown(&located))),
    }
    out
}

fn shown(p: &Path) -> String {
    p.display().to_string()
}
