//! A model request's path: read and check the body, resolve the route, then
//! try its targets in order until one answers. Failover happens only before
//! the first byte goes to the client; after that, errors travel in-band.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use pingora::connectors::http::Connector;
use pingora_proxy::Session;
use rhai::{Dynamic, Map};
use serde_json::Value;

use super::ctx::{RequestCtx, Usage};
use super::request::{self, ClientRequest, Dialect, Endpoint};
use super::respond::{write_body, write_error};
use super::stream::{self, ClientFormat};
use crate::config::Config;
use crate::dialect::anthropic;
use crate::error::{redact, GatewayError};
use crate::metrics::metrics;
use crate::provider::{Provider, ScriptError};
use crate::routing::Target;
use crate::upstream::call::{self, CallError, Incoming, Outgoing};
use crate::upstream::PeerTimeouts;

/// Largest upstream error or non-streaming body the gateway reads.
const MAX_UPSTREAM_BODY: usize = 64 * 1024 * 1024;

/// Serves a chat or embeddings request end to end, for a client speaking
/// `dialect`.
pub async fn handle(
    session: &mut Session,
    ctx: &mut RequestCtx,
    cfg: &Arc<Config>,
    connector: &Connector,
    endpoint: Endpoint,
    dialect: Dialect,
) -> pingora::Result<()> {
    ctx.endpoint = match dialect {
        Dialect::OpenAi => endpoint.name(),
        Dialect::Anthropic => "messages",
    };
    ctx.dialect = dialect;
    let req = match read(session, cfg, endpoint, dialect).await {
        Ok(r) => r,
        Err(e) => return write_error(session, ctx, &e).await,
    };
    ctx.stream = req.stream;
    let Some(route) = cfg.routes.resolve(&req.model) else {
        ctx.model = Some("unknown".into());
        return write_error(session, ctx, &GatewayError::UnknownModel(req.model)).await;
    };
    ctx.route = Some(route.name.clone());
    let mut attempt = Attempt {
        cfg,
        connector,
        req,
        deadline: ctx.started + cfg.settings.request_timeout,
    };
    let mut failures: Vec<GatewayError> = Vec::new();
    for target in &route.targets {
        match attempt.run(session, ctx, target).await {
            Outcome::Done(result) => return result,
            Outcome::Failed(e) => {
                let last = e.clone();
                failures.push(e);
                if !last.is_retryable() {
                    break;
                }
            }
        }
    }
    let err = most_telling(failures).unwrap_or_else(|| {
        GatewayError::NoUsableProvider(format!("route `{}` has no targets", route.name))
    });
    write_error(session, ctx, &err).await
}

async fn read(
    session: &mut Session,
    cfg: &Config,
    endpoint: Endpoint,
    dialect: Dialect,
) -> Result<ClientRequest, GatewayError> {
    let bytes = request::read_body(session, cfg.settings.max_body_size).await?;
    match dialect {
        Dialect::OpenAi => request::parse(endpoint, &bytes),
        Dialect::Anthropic => {
            let hub = anthropic::request_to_hub(request::json(&bytes)?)?;
            request::parse_value(endpoint, hub)
        }
    }
}

/// `POST /v1/messages/count_tokens`: an estimate, answered locally.
pub async fn count_tokens(
    session: &mut Session,
    ctx: &mut RequestCtx,
    cfg: &Config,
) -> pingora::Result<()> {
    ctx.dialect = Dialect::Anthropic;
    let counted = request::read_body(session, cfg.settings.max_body_size)
        .await
        .and_then(|b| request::json(&b))
        .and_then(|v| anthropic::count_tokens(&v));
    match counted {
        Ok(v) => super::respond::write_json(session, ctx, 200, &v).await,
        Err(e) => write_error(session, ctx, &e).await,
    }
}

/// The highest-ranked failure; among equals, the last one.
fn most_telling(failures: Vec<GatewayError>) -> Option<GatewayError> {
    failures.into_iter().max_by_key(GatewayError::rank)
}

enum Outcome {
    /// The client got an answer (or the response could not be written).
    Done(pingora::Result<()>),
    /// Nothing was sent to the client; the next target may be tried.
    Failed(GatewayError),
}

/// State shared by the attempts of one request.
struct Attempt<'a> {
    cfg: &'a Config,
    connector: &'a Connector,
    req: ClientRequest,
    deadline: Instant,
}

impl Attempt<'_> {
    async fn run(
        &mut self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        target: &Target,
    ) -> Outcome {
        let provider = &target.provider;
        if let Some(reason) = &provider.disabled {
            ctx.attempts.push(format!("{}:disabled", provider.name));
            return Outcome::Failed(GatewayError::NoUsableProvider(format!(
                "provider `{}` is disabled: {reason}",
                provider.name
            )));
        }
        if let Some(missing) = self.req.needs().into_iter().find(|n| !provider.supports(n)) {
            ctx.attempts.push(format!("{}:unsupported", provider.name));
            return Outcome::Failed(GatewayError::Unsupported(format!(
                "provider `{}` does not support {}",
                provider.name,
                describe(missing)
            )));
        }
        let model = target.model_for(&self.req.model).to_string();
        let script_ctx = self.script_ctx(provider, &model);
        let outgoing = match self.outgoing(provider, &model, &script_ctx) {
            Ok(o) => o,
            Err(e) => return self.failed(ctx, provider, "script", e),
        };
        let sent = tokio::select! {
            biased;
            r = call::send(self.connector, &provider.upstream, &outgoing, self.timeouts()) => Some(r),
            _ = client_gone(session) => None,
        };
        let Some(sent) = sent else {
            ctx.attempts
                .push(format!("{}:client_closed", provider.name));
            ctx.error = Some("client_closed");
            ctx.status = 499;
            return Outcome::Done(Ok(()));
        };
        let mut incoming = match sent {
            Ok(i) => i,
            Err(e) => {
                let err = call_error(e, provider);
                return self.failed(ctx, provider, outcome_label(&err), err);
            }
        };
        let status = incoming.status();
        if !(200..300).contains(&status) {
            let err = self.upstream_error(&mut incoming, provider).await;
            return self.failed(ctx, provider, &status.to_string(), err);
        }
        ctx.provider = Some(provider.name.clone());
        ctx.model = Some(model_label(target, &model));
        if self.req.stream {
            ctx.attempts.push(format!("{}:{status}", provider.name));
            metrics()
                .upstream_attempts
                .with_label_values(&[&provider.name, "ok"])
                .inc();
            let relay = stream::Relay {
                adapter: &provider.adapter,
                script_ctx: &script_ctx,
                include_usage: self.req.include_usage,
                idle_timeout: self.cfg.settings.idle_timeout,
                max_event: self.cfg.settings.max_body_size.max(1 << 20),
                secrets: provider.secrets(),
            };
            let format = match ctx.dialect {
                Dialect::OpenAi => ClientFormat::OpenAi,
                Dialect::Anthropic => ClientFormat::Anthropic(self.req.model.clone()),
            };
            return Outcome::Done(
                relay
                    .run(session, ctx, incoming, self.connector, format)
                    .await,
            );
        }
        match self.complete(&mut incoming, provider, &script_ctx).await {
            Ok((body, usage)) => {
                let body = match ctx.dialect {
                    Dialect::OpenAi => body,
                    Dialect::Anthropic => self.to_anthropic(&body),
                };
                ctx.attempts.push(format!("{}:{status}", provider.name));
                metrics()
                    .upstream_attempts
                    .with_label_values(&[&provider.name, "ok"])
                    .inc();
                ctx.usage = usage;
                incoming.release(self.connector).await;
                Outcome::Done(write_body(session, ctx, 200, "application/json", &[], body).await)
            }
            Err(e) => self.failed(ctx, provider, outcome_label(&e), e),
        }
    }

    fn failed(
        &self,
        ctx: &mut RequestCtx,
        provider: &Provider,
        outcome: &str,
        err: GatewayError,
    ) -> Outcome {
        ctx.attempts.push(format!("{}:{outcome}", provider.name));
        metrics()
            .upstream_attempts
            .with_label_values(&[&provider.name, outcome_label(&err)])
            .inc();
        tracing::warn!(
            request_id = %ctx.request_id,
            provider = %provider.name,
            attempt = ctx.attempts.len(),
            error = %err,
            "attempt failed"
        );
        Outcome::Failed(err)
    }

    fn timeouts(&self) -> PeerTimeouts {
        let s = &self.cfg.settings;
        let mut read = s.first_byte_timeout;
        if !self.req.stream {
            read = read.min(self.deadline.saturating_duration_since(Instant::now()));
        }
        PeerTimeouts {
            connect: s.connect_timeout,
            read: read.max(Duration::from_millis(1)),
            write: s.idle_timeout,
        }
    }

    /// `ctx` as adapter scripts see it.
    fn script_ctx(&self, provider: &Provider, model: &str) -> Map {
        let mut m = Map::new();
        m.insert("endpoint".into(), Dynamic::from(self.req.endpoint.name()));
        m.insert("model".into(), Dynamic::from(model.to_string()));
        m.insert("stream".into(), Dynamic::from(self.req.stream));
        m.insert(
            "include_usage".into(),
            Dynamic::from(self.req.include_usage),
        );
        m.insert("provider".into(), Dynamic::from(provider.name.clone()));
        let key = provider.api_key.as_ref().map(|k| k.expose().to_string());
        m.insert(
            "api_key".into(),
            key.map(Dynamic::from).unwrap_or(Dynamic::UNIT),
        );
        m.insert(
            "options".into(),
            Dynamic::from_map(provider.options.clone()),
        );
        // Request facts that response transforms need.
        let encoding = self.req.body.get("encoding_format").and_then(Value::as_str);
        m.insert(
            "encoding_format".into(),
            encoding
                .map(|e| Dynamic::from(e.to_string()))
                .unwrap_or(Dynamic::UNIT),
        );
        m
    }

    /// Builds the provider's request with its adapter.
    fn outgoing(
        &mut self,
        provider: &Provider,
        model: &str,
        script_ctx: &Map,
    ) -> Result<Outgoing, GatewayError> {
        let adapter = &provider.adapter;
        let script_err = |e: ScriptError| script_error(e, provider);
        let plan = adapter.request(script_ctx).map_err(script_err)?;
        // The hub body: the client's request with the target's model, and
        // usage always requested on streams so that it can be accounted.
        if let Some(obj) = self.req.body.as_object_mut() {
            obj.insert("model".into(), Value::String(model.to_string()));
            if self.req.stream && self.req.endpoint == Endpoint::Chat {
                let opts = obj
                    .entry("stream_options")
                    .or_insert_with(|| Value::Object(Default::default()));
                if let Some(o) = opts.as_object_mut() {
                    o.insert("include_usage".into(), Value::Bool(true));
                }
            }
        }
        let body = match adapter
            .transform_request(&self.req.body, script_ctx)
            .map_err(script_err)?
        {
            Some(v) => serde_json::to_vec(&v),
            None => serde_json::to_vec(&self.req.body),
        }
        .map_err(|e| GatewayError::Internal(format!("request serialization failed: {e}")))?;
        let mut headers = plan.headers;
        for (k, v) in &provider.headers {
            headers.retain(|(name, _)| !name.eq_ignore_ascii_case(k));
            headers.push((k.clone(), v.clone()));
        }
        Ok(Outgoing {
            method: plan.method,
            target: provider.upstream.target(&plan.path),
            headers,
            body: Bytes::from(body),
        })
    }

    /// An OpenAI response body re-encoded for an Anthropic-format client.
    fn to_anthropic(&self, body: &Bytes) -> Bytes {
        let hub: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let out = anthropic::response_from_hub(&hub, &self.req.model);
        Bytes::from(serde_json::to_vec(&out).unwrap_or_default())
    }

    /// Reads a 2xx non-streaming response and translates it to OpenAI format.
    async fn complete(
        &self,
        incoming: &mut Incoming,
        provider: &Provider,
        script_ctx: &Map,
    ) -> Result<(Bytes, Option<Usage>), GatewayError> {
        incoming.set_idle_timeout(self.cfg.settings.idle_timeout);
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        let raw = tokio::time::timeout(remaining, incoming.read_all(MAX_UPSTREAM_BODY))
            .await
            .map_err(|_| {
                GatewayError::UpstreamTimeout(format!(
                    "provider `{}` did not finish in time",
                    provider.name
                ))
            })?
            .map_err(|e| call_error(e, provider))?;
        let adapter = &provider.adapter;
        let text = trim_leading_whitespace(&raw);
        let parsed: Value = serde_json::from_slice(text).map_err(|e| {
            GatewayError::BadGateway(format!(
                "provider `{}` returned a body that is not JSON: {e}",
                provider.name
            ))
        })?;
        if !adapter.translates_response() {
            let usage = parsed.get("usage").and_then(Usage::from_json);
            if parsed.get("error").is_some_and(|e| !e.is_null()) {
                return Err(upstream_error_from(502, &parsed, None, provider));
            }
            return Ok((raw.slice_ref(text), usage));
        }
        let out = adapter
            .transform_response(parsed, script_ctx)
            .map_err(|e| script_error(e, provider))?;
        let usage = out.get("usage").and_then(Usage::from_json);
        let bytes = serde_json::to_vec(&out).map_err(|e| GatewayError::Internal(e.to_string()))?;
        Ok((Bytes::from(bytes), usage))
    }

    /// Reads an error response and maps it to a [`GatewayError`].
    async fn upstream_error(&self, incoming: &mut Incoming, provider: &Provider) -> GatewayError {
        let status = incoming.status();
        let retry_after = incoming.header_str("retry-after").map(str::to_string);
        incoming.set_idle_timeout(self.cfg.settings.idle_timeout);
        let body = tokio::time::timeout(Duration::from_secs(10), incoming.read_all(1 << 20))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        upstream_error_from(status, &parsed, retry_after, provider)
    }
}

/// Maps an upstream error body (OpenAI, Anthropic, Gemini or FastAPI
/// shaped) to a [`GatewayError`], keeping the provider's message without
/// its secrets.
fn upstream_error_from(
    status: u16,
    body: &Value,
    retry_after: Option<String>,
    provider: &Provider,
) -> GatewayError {
    let err = body.get("error").unwrap_or(body);
    let message = err
        .get("message")
        .or_else(|| body.get("detail"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("provider `{}` answered HTTP {status}", provider.name));
    // OpenAI: `code`; Gemini: `status` (its `code` repeats the HTTP status);
    // Anthropic: `type`.
    let text = |k: &str| err.get(k).and_then(Value::as_str).map(str::to_string);
    let code = text("code")
        .or_else(|| text("status"))
        .or_else(|| text("type"));
    let status = match status {
        // Anthropic's 529 "overloaded" is a 503 to OpenAI clients.
        529 => 503,
        // Gemini answers a bad key with 400 API_KEY_INVALID.
        400 if body.to_string().contains("API_KEY_INVALID") => 401,
        s => s,
    };
    GatewayError::Upstream {
        status,
        message: redact(
            &format!("{}: {message}", provider.name),
            &provider.secrets(),
        ),
        code,
        retry_after,
    }
}

fn call_error(e: CallError, provider: &Provider) -> GatewayError {
    let message = format!("provider `{}`: {e}", provider.name);
    match e {
        CallError::Timeout { .. } => GatewayError::UpstreamTimeout(message),
        CallError::Connect(_) | CallError::Io(_) => GatewayError::BadGateway(message),
    }
}

fn script_error(e: ScriptError, provider: &Provider) -> GatewayError {
    let secrets = provider.secrets();
    match e {
        ScriptError::Rejected { status, message } => GatewayError::Rejected {
            status,
            message: redact(&message, &secrets),
        },
        other => {
            metrics()
                .script_errors
                .with_label_values(&[provider.adapter.name()])
                .inc();
            tracing::error!(provider = %provider.name, error = %redact(&other.to_string(), &secrets), "adapter script failed");
            GatewayError::BadGateway(redact(&other.to_string(), &secrets))
        }
    }
}

/// A capability in words, for error messages.
fn describe(capability: &str) -> &'static str {
    match capability {
        "embeddings" => "embeddings",
        "tools" => "tools (function calling)",
        "vision" => "images in messages",
        "json" => "JSON output (response_format)",
        "stream" => "streaming",
        _ => "this kind of request",
    }
}

fn outcome_label(e: &GatewayError) -> &'static str {
    match e {
        GatewayError::UpstreamTimeout(_) => "timeout",
        GatewayError::BadGateway(_) => "error",
        GatewayError::Upstream { .. } => "status",
        _ => "rejected",
    }
}

/// A model name safe as a metric label: configured names only, so that
/// names a client invents cannot grow the label set.
fn model_label(target: &Target, model: &str) -> String {
    if target.configured || target.provider.models.contains_key(model) {
        model.to_string()
    } else {
        "other".to_string()
    }
}

/// Some servers send blank lines before a JSON body while they wait.
fn trim_leading_whitespace(b: &Bytes) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    &b[start..]
}

/// Resolves when the client has closed its connection.
pub(crate) async fn client_gone(session: &mut Session) {
    loop {
        match session.as_downstream_mut().read_body_or_idle(true).await {
            Err(_) => return,
            // Pipelined bytes: not a disconnect; stop watching.
            Ok(_) => std::future::pending::<()>().await,
        }
    }
}
