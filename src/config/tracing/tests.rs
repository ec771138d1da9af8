use std::collections::HashMap;

use super::*;

#[derive(Default)]
struct Issues(Vec<String>);

impl Report for Issues {
    fn issue(&mut self, path: &str, message: String) {
        self.0.push(format!("{path}: {message}"));
    }
    fn warn(&mut self, message: String) {
        self.0.push(format!("warning: {message}"));
    }
}

fn settle(yaml: Option<&str>, env: &[(&str, &str)]) -> (Option<TraceSettings>, Vec<String>) {
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let raw = yaml.map(|y| serde_yaml::from_str::<RawTracing>(y).unwrap());
    let mut issues = Issues::default();
    let s = tracing(raw, &|k| env.get(k).cloned(), &mut issues);
    (s, issues.0)
}

#[test]
fn off_without_a_collector() {
    assert_eq!(settle(None, &[]), (None, vec![]));
    // A section without an endpoint anywhere is worth a warning (the
    // variable may be set where the gateway is deployed), and an error
    // when tracing is asked for.
    let (s, issues) = settle(Some("service_name: gw"), &[]);
    assert!(s.is_none());
    assert!(
        issues[0].starts_with("warning: tracing is off: tracing needs a collector"),
        "{issues:?}"
    );
    let (s, issues) = settle(Some("enabled: true"), &[]);
    assert!(s.is_none());
    assert!(
        issues[0].starts_with("tracing.endpoint: tracing needs a collector"),
        "{issues:?}"
    );
}

#[test]
fn the_standard_variables_configure_it() {
    let (s, issues) = settle(
        None,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "Authorization=Bearer%20abc,x-team=a%2Cb",
            ),
            ("OTEL_SERVICE_NAME", "gateway-eu"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment=prod,service.name=ignored",
            ),
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
        ],
    );
    assert!(issues.is_empty(), "{issues:?}");
    let s = s.unwrap();
    assert_eq!(s.export.endpoint, "http://collector:4318/v1/traces");
    assert_eq!(
        s.export.headers,
        vec![
            ("authorization".to_string(), "Bearer abc".to_string()),
            ("x-team".to_string(), "a,b".to_string())
        ]
    );
    assert_eq!(
        s.export.resource,
        vec![
            ("service.name".to_string(), "gateway-eu".to_string()),
            ("deployment.environment".to_string(), "prod".to_string())
        ]
    );
    assert_eq!(
        s.sampler,
        Sampler {
            parent_based: true,
            ratio: 0.25
        }
    );
    assert_eq!(s.export.timeout, Duration::from_millis(2500));
}

#[test]
fn the_section_wins_over_the_environment() {
    let yaml = "endpoint: http://127.0.0.1:4318\nheaders: { x-team: ops }\nservice_name: mine\nsampler: always_on\ntimeout: 3s\ndelay: 100ms\nmax_queue: 10\nbatch_size: 50\ncontent_limit: 1KiB\n";
    let (s, issues) = settle(
        Some(yaml),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://elsewhere:4318"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-team=env,x-other=1"),
            ("OTEL_SERVICE_NAME", "env"),
            ("OTEL_TRACES_SAMPLER", "always_off"),
        ],
    );
    assert!(issues.is_empty(), "{issues:?}");
    let s = s.unwrap();
    assert_eq!(s.export.endpoint, "http://127.0.0.1:4318/v1/traces");
    assert_eq!(
        s.export.headers,
        vec![
            ("x-other".to_string(), "1".to_string()),
            ("x-team".to_string(), "ops".to_string())
        ]
    );
    assert_eq!(s.export.resource[0].1, "mine");
    assert_eq!(s.sampler, Sampler::named("always_on", None).unwrap());
    assert_eq!(s.export.timeout, Duration::from_secs(3));
    assert_eq!(s.export.delay, Duration::from_millis(100));
    // A batch is never larger than the queue.
    assert_eq!((s.export.max_queue, s.export.batch), (10, 10));
    assert_eq!(s.content_limit, 1024);
}

#[test]
fn a_full_traces_url_is_kept() {
    let (s, _) = settle(
        None,
        &[(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "https://otlp.example.com/custom/path",
        )],
    );
    assert_eq!(
        s.unwrap().export.endpoint,
        "https://otlp.example.com/custom/path"
    );
    let (s, _) = settle(Some("endpoint: http://c:4318/v1/traces"), &[]);
    assert_eq!(s.unwrap().export.endpoint, "http://c:4318/v1/traces");
}

#[test]
fn turned_off_by_config_or_by_the_sdk_variables() {
    let env = [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")];
    assert!(settle(Some("enabled: false"), &env).0.is_none());
    let disabled = [env[0], ("OTEL_SDK_DISABLED", "true")];
    assert!(settle(None, &disabled).0.is_none());
    let none = [env[0], ("OTEL_TRACES_EXPORTER", "none")];
    assert!(settle(None, &none).0.is_none());
}

#[test]
fn mistakes_are_named() {
    type Env<'a> = &'a [(&'a str, &'a str)];
    let cases: &[(&str, Env, &str)] = &[
        (
            "endpoint: collector:4318",
            &[],
            "tracing.endpoint: `collector:4318/v1/traces` is not an http:// or https:// URL",
        ),
        (
            "endpoint: http://c\nprotocol: grpc",
            &[],
            "tracing.protocol: protocol `grpc` is not supported",
        ),
        (
            "endpoint: http://c\nsampler: sometimes",
            &[],
            "tracing.sampler: unknown sampler `sometimes`",
        ),
        (
            "endpoint: http://c\nratio: 2",
            &[],
            "tracing.sampler: the sampling ratio must be between 0 and 1",
        ),
        (
            "endpoint: http://c\ntimeout: 0s",
            &[],
            "tracing.timeout: must be more than 0",
        ),
        (
            "endpoint: http://c\nmax_queue: 0",
            &[],
            "tracing.max_queue: must be at least 1",
        ),
        (
            "endpoint: http://c\nheaders: { \"bad name\": x }",
            &[],
            "tracing.headers.bad name: `bad name` is not a header name",
        ),
        (
            "endpoint: http://c\ncontent_limit: lots",
            &[],
            "tracing.content_limit: invalid size",
        ),
        (
            "endpoint: http://c",
            &[("OTEL_EXPORTER_OTLP_HEADERS", "novalue")],
            "tracing.headers: OTEL_EXPORTER_OTLP_HEADERS: `novalue` is not `key=value`",
        ),
        (
            "endpoint: http://c",
            &[("OTEL_TRACES_SAMPLER_ARG", "half")],
            "tracing.ratio: OTEL_TRACES_SAMPLER_ARG `half` is not a number",
        ),
        (
            "endpoint: http://c",
            &[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")],
            "tracing.protocol: protocol `http/json` is not supported",
        ),
    ];
    for (yaml, env, want) in cases {
        let (_, issues) = settle(Some(yaml), env);
        assert!(
            issues.iter().any(|i| i.starts_with(want)),
            "{yaml}: {issues:?} lacks {want}"
        );
    }
}

#[test]
fn header_values_never_show_in_debug() {
    let (s, _) = settle(
        Some("endpoint: http://c\nheaders: { authorization: Bearer s3cr3t-token }"),
        &[],
    );
    let shown = format!("{:?}", s.unwrap());
    assert!(!shown.contains("s3cr3t"), "{shown}");
    assert!(shown.contains("authorization"));
}
