//! `tracing:` — where spans are exported (OTLP over HTTP), how traces are
//! sampled, and what a span may hold. OpenTelemetry's standard variables
//! (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_HEADERS`,
//! `OTEL_SERVICE_NAME`, `OTEL_TRACES_SAMPLER(_ARG)`, …) fill what the
//! section leaves out; the section wins where both say something. With
//! neither an endpoint in the section nor in the environment, tracing is
//! off and costs nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::policy::{expand, Report};
use super::raw::Scalar;
use super::values;
use crate::trace::sampler::Sampler;
use crate::trace::{ExportSettings, TraceSettings};

/// The default cap on captured prompt and completion text, per span.
pub const DEFAULT_CONTENT_LIMIT: usize = 4096;

/// `tracing:` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTracing {
    /// `false` turns tracing off, whatever the environment says.
    pub enabled: Option<bool>,
    /// The collector's OTLP/HTTP address (`http://collector:4318`);
    /// `/v1/traces` is added unless the path already ends with it.
    pub endpoint: Option<String>,
    /// Only `http/protobuf`.
    pub protocol: Option<String>,
    /// Headers sent with every export (`${VAR}` expanded), e.g. a token.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub service_name: Option<String>,
    /// More resource attributes (`deployment.environment: prod`).
    #[serde(default)]
    pub resource: BTreeMap<String, String>,
    /// An `OTEL_TRACES_SAMPLER` name (default `parentbased_always_on`).
    pub sampler: Option<String>,
    /// The `traceidratio` samplers' ratio, 0 to 1.
    pub ratio: Option<f64>,
    /// How long one export may take (default 10s).
    pub timeout: Option<Scalar>,
    /// Spans waiting for export at most; more are dropped and counted
    /// (default 2048).
    pub max_queue: Option<usize>,
    /// Spans per export at most (default 512).
    pub batch_size: Option<usize>,
    /// Longest a span waits before its batch is sent (default 1s).
    pub delay: Option<Scalar>,
    /// The most prompt and completion text a span holds, on routes with
    /// `capture_content: true` (default 4KiB).
    pub content_limit: Option<Scalar>,
}

/// Validates `tracing:`, with `env` for the OpenTelemetry variables.
pub fn tracing(
    raw: Option<RawTracing>,
    env: &dyn Fn(&str) -> Option<String>,
    r: &mut dyn Report,
) -> Option<TraceSettings> {
    let env = |k: &str| env(k).filter(|v| !v.trim().is_empty());
    let section = raw.is_some();
    let raw = raw.unwrap_or_default();
    if raw.enabled == Some(false) {
        return None;
    }
    if !section
        && (env("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
            || env("OTEL_TRACES_EXPORTER").is_some_and(|v| v.trim() == "none"))
    {
        return None;
    }
    let endpoint = match (&raw.endpoint, env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")) {
        (Some(e), _) => expand("tracing.endpoint", e, r).map(|e| traces_url(&e)),
        // The signal's own variable is used as it is; the general one is a base.
        (None, Some(e)) => Some(e.trim().to_string()),
        (None, None) => env("OTEL_EXPORTER_OTLP_ENDPOINT").map(|e| traces_url(e.trim())),
    };
    let Some(endpoint) = endpoint else {
        let why = "tracing needs a collector: `endpoint:` (e.g. http://127.0.0.1:4318) or OTEL_EXPORTER_OTLP_ENDPOINT";
        if raw.enabled == Some(true) || raw.endpoint.is_some() {
            r.issue("tracing.endpoint", why.into());
        } else if section {
            // Perhaps the variable is set where it is deployed, not here.
            r.warn(format!("tracing is off: {why}"));
        }
        return None;
    };
    match url::Url::parse(&endpoint) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
        _ => {
            r.issue(
                "tracing.endpoint",
                format!("`{endpoint}` is not an http:// or https:// URL"),
            );
            return None;
        }
    }
    let protocol = raw
        .protocol
        .clone()
        .or_else(|| env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"))
        .or_else(|| env("OTEL_EXPORTER_OTLP_PROTOCOL"));
    if let Some(p) = protocol.as_deref().map(str::trim) {
        if p != "http/protobuf" {
            r.issue(
                "tracing.protocol",
                format!(
                    "protocol `{p}` is not supported: only http/protobuf (a collector's port 4318)"
                ),
            );
        }
    }
    let mut headers = BTreeMap::new();
    for var in [
        "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    ] {
        if let Some(list) = env(var) {
            match parse_header_list(&list) {
                Ok(pairs) => {
                    headers.extend(pairs.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)))
                }
                Err(e) => r.issue("tracing.headers", format!("{var}: {e}")),
            }
        }
    }
    for (name, value) in &raw.headers {
        let at = format!("tracing.headers.{name}");
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            r.issue(&at, format!("`{name}` is not a header name"));
            continue;
        }
        if let Some(v) = expand(&at, value, r) {
            headers.insert(name.to_ascii_lowercase(), v);
        }
    }
    let mut resource: Vec<(String, String)> = Vec::new();
    if let Some(list) = env("OTEL_RESOURCE_ATTRIBUTES") {
        match parse_header_list(&list) {
            Ok(pairs) => resource.extend(pairs),
            Err(e) => r.issue("tracing.resource", format!("OTEL_RESOURCE_ATTRIBUTES: {e}")),
        }
    }
    for (k, v) in raw.resource {
        resource.retain(|(key, _)| *key != k);
        resource.push((k, v));
    }
    let service = raw
        .service_name
        .or_else(|| env("OTEL_SERVICE_NAME"))
        .or_else(|| {
            resource
                .iter()
                .find(|(k, _)| k == "service.name")
                .map(|(_, v)| v.clone())
        })
        .unwrap_or_else(|| "switchyard".into());
    resource.retain(|(k, _)| k != "service.name");
    resource.insert(0, ("service.name".into(), service));
    let sampler = sampler(&raw.sampler, raw.ratio, &env, r);
    let timeout = match (&raw.timeout, env("OTEL_EXPORTER_OTLP_TIMEOUT")) {
        (Some(v), _) => duration("tracing.timeout", v, r),
        // The variable is in milliseconds.
        (None, Some(ms)) => match ms.trim().parse::<u64>() {
            Ok(ms) if ms > 0 => Some(Duration::from_millis(ms)),
            _ => {
                r.issue(
                    "tracing.timeout",
                    format!("OTEL_EXPORTER_OTLP_TIMEOUT `{ms}` is not a number of milliseconds"),
                );
                None
            }
        },
        (None, None) => None,
    };
    let delay = match (&raw.delay, env("OTEL_BSP_SCHEDULE_DELAY")) {
        (Some(v), _) => duration("tracing.delay", v, r),
        (None, Some(ms)) => ms.trim().parse::<u64>().ok().map(Duration::from_millis),
        (None, None) => None,
    };
    let count = |at: &str, v: Option<usize>, var: &str, default: usize, r: &mut dyn Report| {
        let v = v.or_else(|| env(var).and_then(|s| s.trim().parse().ok()));
        match v {
            Some(0) => {
                r.issue(at, "must be at least 1".into());
                default
            }
            Some(n) => n,
            None => default,
        }
    };
    let max_queue = count(
        "tracing.max_queue",
        raw.max_queue,
        "OTEL_BSP_MAX_QUEUE_SIZE",
        2048,
        r,
    );
    let batch = count(
        "tracing.batch_size",
        raw.batch_size,
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
        512,
        r,
    )
    .min(max_queue);
    let content_limit = match &raw.content_limit {
        Some(v) => match values::size(v) {
            Ok(n) => n,
            Err(e) => {
                r.issue("tracing.content_limit", e);
                DEFAULT_CONTENT_LIMIT
            }
        },
        None => DEFAULT_CONTENT_LIMIT,
    };
    Some(TraceSettings {
        export: ExportSettings {
            endpoint,
            headers: headers.into_iter().collect(),
            resource,
            timeout: timeout.unwrap_or(Duration::from_secs(10)),
            max_queue,
            batch,
            delay: delay.unwrap_or(Duration::from_secs(1)),
        },
        sampler,
        content_limit,
    })
}

/// The sampler: the section's, else `OTEL_TRACES_SAMPLER(_ARG)`, else
/// OpenTelemetry's default.
fn sampler(
    name: &Option<String>,
    ratio: Option<f64>,
    env: &dyn Fn(&str) -> Option<String>,
    r: &mut dyn Report,
) -> Sampler {
    let name = match name {
        Some(n) => Some(n.trim().to_string()),
        None => env("OTEL_TRACES_SAMPLER"),
    };
    let arg = match ratio {
        Some(r) => Some(r),
        None => match env("OTEL_TRACES_SAMPLER_ARG") {
            Some(a) => match a.trim().parse::<f64>() {
                Ok(v) => Some(v),
                Err(_) => {
                    r.issue(
                        "tracing.ratio",
                        format!("OTEL_TRACES_SAMPLER_ARG `{a}` is not a number"),
                    );
                    None
                }
            },
            None => None,
        },
    };
    // A ratio alone means a ratio sampler that follows the client.
    let name = name.or_else(|| arg.map(|_| "parentbased_traceidratio".to_string()));
    match name {
        None => Sampler::DEFAULT,
        Some(n) => Sampler::named(&n, arg).unwrap_or_else(|e| {
            r.issue("tracing.sampler", e);
            Sampler::DEFAULT
        }),
    }
}

/// `base` with `/v1/traces`, unless it ends with it already.
fn traces_url(base: &str) -> String {
    let base = base.trim();
    if base.trim_end_matches('/').ends_with("/v1/traces") {
        base.to_string()
    } else {
        format!("{}/v1/traces", base.trim_end_matches('/'))
    }
}

/// `k1=v1,k2=v2` (W3C Baggage form, values percent-decoded), as the
/// `OTEL_EXPORTER_OTLP_HEADERS` and `OTEL_RESOURCE_ATTRIBUTES` variables
/// are written.
pub fn parse_header_list(list: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let Some((k, v)) = item.split_once('=') else {
            return Err(format!("`{item}` is not `key=value`"));
        };
        let k = k.trim();
        if k.is_empty() {
            return Err(format!("`{item}` has no key"));
        }
        let v =
            url::form_urlencoded::parse(format!("v={}", v.trim().replace('+', "%2B")).as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
        out.push((k.to_string(), v));
    }
    Ok(out)
}

fn duration(at: &str, v: &Scalar, r: &mut dyn Report) -> Option<Duration> {
    match values::duration(v) {
        Ok(d) if d.is_zero() => {
            r.issue(at, "must be more than 0".into());
            None
        }
        Ok(d) => Some(d),
        Err(e) => {
            r.issue(at, e);
            None
        }
    }
}

#[cfg(test)]
mod tests;
