//! OpenTelemetry traces end to end: the real gateway exports to a mock
//! OTLP/HTTP collector (which decodes with the published protobuf types),
//! and the tests read back span names, parent/child links, the client's
//! trace id, GenAI attributes, what must never be recorded, and the
//! `traceparent` each provider got. A collector that is down, refusing or
//! hanging never fails or slows a request.

use std::time::{Duration, Instant};

use crate::collector::{AttrValue, Collector, CollectorMode, ReceivedSpan};
use serde_json::{json, Value};

use crate::common::*;
use crate::policy::key_entry;

const CLIENT_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN: &str = "00f067aa0ba902b7";
const PROVIDER_KEY: &str = "sk-provider-secret-0123456789";
const CLIENT_KEY: &str = "sk-sy-test-tracetracetracetracetracetrace";
/// Prompt text that must not appear in any span unless the route opts in.
const PROMPT: &str = "the launch codes are 0000";

fn traceparent(sampled: bool) -> String {
    format!(
        "00-{CLIENT_TRACE}-{CLIENT_SPAN}-{}",
        if sampled { "01" } else { "00" }
    )
}

fn tracing_yaml(collector: &Collector, extra: &str) -> String {
    format!(
        "tracing:\n  endpoint: {}\n  delay: 50ms\n  service_name: gw-test\n{extra}",
        collector.url()
    )
}

fn body(model: &str, stream: bool) -> Value {
    json!({
        "model": model,
        "stream": stream,
        "messages": [{"role": "user", "content": PROMPT}]
    })
}

async fn post(gw: &Gateway, body: &Value, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = gw.client.post(gw.url("/v1/chat/completions")).json(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

fn find(spans: &[ReceivedSpan], kind: i32) -> Vec<&ReceivedSpan> {
    spans.iter().filter(|s| s.kind == kind).collect()
}

const SERVER: i32 = 2;
const CLIENT: i32 = 3;
const INTERNAL: i32 = 1;

fn attr<'a>(s: &'a ReceivedSpan, key: &str) -> &'a AttrValue {
    s.attributes
        .get(key)
        .unwrap_or_else(|| panic!("span `{}` has no `{key}`: {:?}", s.name, s.attributes))
}

/// Every attribute value and name of every span, for what must not be there.
fn everything(spans: &[ReceivedSpan]) -> String {
    format!("{spans:?}")
}

#[tokio::test]
async fn a_request_continues_the_clients_trace_through_every_attempt() {
    let collector = Collector::start().await.unwrap();
    let failing = MockServer::start(MockConfig {
        fault: Some(Fault::Status {
            code: 503,
            retry_after: None,
        }),
        ..Default::default()
    })
    .await
    .unwrap();
    let good = MockServer::start(MockConfig {
        api_key: Some(PROVIDER_KEY.into()),
        ..Default::default()
    })
    .await
    .unwrap();
    let yaml = format!(
        "{}auth:\n  keys:\n{}{}providers:\n{}{}routes:\n  - name: smart\n    match: {{ model: m }}\n    retry: {{ backoff: 0s }}\n    targets: [{{ provider: down, model: up-1 }}, {{ provider: up, model: up-2 }}]\n",
        tracing_yaml(&collector, ""),
        key_entry("team-a", CLIENT_KEY, ""),
        admin_yaml(),
        provider("down", "openai", &failing, Some("k")),
        provider("up", "openai", &good, Some(PROVIDER_KEY)),
    );
    let gw = Gateway::start(&yaml).await;
    let state = "vendor=abc,other=1";
    let auth = format!("Bearer {CLIENT_KEY}");
    let tp = traceparent(true);
    let r = post(
        &gw,
        &body("m", false),
        &[
            ("traceparent", &tp),
            ("tracestate", state),
            ("authorization", &auth),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-switchyard-trace-id"), CLIENT_TRACE);
    let request_id = header(&r, "x-request-id");

    let spans = collector.wait_for_spans(3, Duration::from_secs(10)).await;
    assert_eq!(spans.len(), 3, "{spans:#?}");
    assert!(spans.iter().all(|s| s.trace_id == CLIENT_TRACE));
    assert!(spans.iter().all(|s| s.trace_state == state));
    assert!(spans
        .iter()
        .all(|s| s.resource.get("service.name").and_then(|v| v.as_str()) == Some("gw-test")));
    assert!(spans.iter().all(|s| s.scope_name == "switchyard"));

    let request = find(&spans, SERVER)[0];
    assert_eq!(request.name, "chat m");
    assert_eq!(request.parent_span_id.as_deref(), Some(CLIENT_SPAN));
    // Sampled, with a remote parent.
    assert_eq!(request.flags, 0x301);
    assert_eq!(
        attr(request, "gen_ai.operation.name").as_str(),
        Some("chat")
    );
    assert_eq!(attr(request, "gen_ai.request.model").as_str(), Some("m"));
    assert_eq!(
        attr(request, "gen_ai.response.model").as_str(),
        Some("up-2")
    );
    assert_eq!(attr(request, "switchyard.route").as_str(), Some("smart"));
    assert_eq!(
        attr(request, "switchyard.strategy").as_str(),
        Some("ordered")
    );
    assert_eq!(attr(request, "switchyard.key").as_str(), Some("team-a"));
    assert_eq!(attr(request, "switchyard.provider").as_str(), Some("up"));
    assert_eq!(
        attr(request, "switchyard.request_id").as_str(),
        Some(request_id.as_str())
    );
    assert_eq!(
        attr(request, "http.response.status_code").as_i64(),
        Some(200)
    );
    assert!(attr(request, "gen_ai.usage.input_tokens").as_i64().unwrap() > 0);
    assert!(
        attr(request, "gen_ai.usage.output_tokens")
            .as_i64()
            .unwrap()
            > 0
    );
    assert_eq!(
        attr(request, "switchyard.attempts").as_str(),
        Some("down:503,up:200")
    );
    assert_eq!(request.status_code, 0);

    let mut attempts = find(&spans, CLIENT);
    attempts.sort_by_key(|s| s.start_ns);
    assert_eq!(attempts.len(), 2);
    for a in &attempts {
        assert_eq!(a.parent_span_id.as_deref(), Some(request.span_id.as_str()));
        assert_eq!(a.flags, 0x101, "a local parent");
        assert_eq!(attr(a, "gen_ai.system").as_str(), Some("openai"));
        assert_eq!(attr(a, "server.address").as_str(), Some("127.0.0.1"));
        assert!(a.start_ns >= request.start_ns && a.end_ns <= request.end_ns);
    }
    let (first, second) = (attempts[0], attempts[1]);
    assert_eq!(first.name, "chat up-1");
    assert_eq!(attr(first, "switchyard.provider").as_str(), Some("down"));
    assert_eq!(attr(first, "http.response.status_code").as_i64(), Some(503));
    assert_eq!(attr(first, "error.type").as_str(), Some("503"));
    assert_eq!(
        attr(first, "switchyard.attempt.failover").as_bool(),
        Some(false)
    );
    assert_eq!(first.status_code, 2, "an error");
    assert_eq!(second.name, "chat up-2");
    assert_eq!(attr(second, "gen_ai.request.model").as_str(), Some("up-2"));
    assert_eq!(
        attr(second, "http.response.status_code").as_i64(),
        Some(200)
    );
    assert_eq!(
        attr(second, "switchyard.attempt.failover").as_bool(),
        Some(true)
    );
    assert!(
        attr(second, "switchyard.time_to_first_byte_ms")
            .as_f64()
            .unwrap()
            > 0.0
    );
    assert_eq!(second.status_code, 0);

    // Each provider got the trace, with its attempt's span as the parent.
    for (mock, span) in [(&failing, first), (&good, second)] {
        let sent = mock.last_request().unwrap();
        assert_eq!(
            sent.header("traceparent"),
            Some(format!("00-{CLIENT_TRACE}-{}-01", span.span_id).as_str())
        );
        assert_eq!(sent.header("tracestate"), Some(state));
    }

    // No secret and no prompt text, by default.
    let all = everything(&spans);
    for secret in [PROVIDER_KEY, CLIENT_KEY, PROMPT] {
        assert!(!all.contains(secret), "`{secret}` is in a span");
    }

    // The access log line and the ledger row carry the trace id too.
    assert!(
        eventually(Duration::from_secs(5), || async {
            gw.logs()
                .lines()
                .any(|l| l.contains(&request_id) && l.contains(CLIENT_TRACE))
        })
        .await,
        "no access log line with the trace id"
    );
    let db = gw
        .config_path()
        .parent()
        .unwrap()
        .join("switchyard-usage.db");
    let found = eventually(Duration::from_secs(5), || async {
        let Ok(conn) = rusqlite::Connection::open(&db) else {
            return false;
        };
        conn.query_row(
            "SELECT trace_id FROM switchyard_usage WHERE request_id = ?1",
            [&request_id],
            |r| r.get::<_, Option<String>>(0),
        )
        .ok()
        .flatten()
        .as_deref()
            == Some(CLIENT_TRACE)
    })
    .await;
    assert!(found, "no ledger row with the trace id");
}

#[tokio::test]
async fn a_stream_has_a_span_of_its_own_and_still_streams() {
    let collector = Collector::start().await.unwrap();
    let mock = MockServer::start(MockConfig {
        chunks: 8,
        chunk_delay: Duration::from_millis(60),
        ..Default::default()
    })
    .await
    .unwrap();
    let yaml = format!(
        "{}providers:\n{}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: p, model: up }}]\n",
        tracing_yaml(&collector, ""),
        provider("p", "openai", &mock, Some(PROVIDER_KEY)),
    );
    let gw = Gateway::start(&yaml).await;
    let r = post(&gw, &body("m", true), &[]).await;
    assert_eq!(r.status(), 200);
    let trace = header(&r, "x-switchyard-trace-id");
    assert_eq!(trace.len(), 32);
    let events = read_sse(r).await;
    assert_eq!(stream_text(&events), mock_text(8));
    // Tracing holds nothing back: the first chunk came long before the last.
    let held = events.last().unwrap().at - events[0].at;
    assert!(
        held >= Duration::from_millis(300),
        "first chunk only {held:?} before the last"
    );

    let spans = collector.wait_for_spans(3, Duration::from_secs(10)).await;
    assert!(spans.iter().all(|s| s.trace_id == trace));
    let request = find(&spans, SERVER)[0];
    assert_eq!(request.parent_span_id, None, "a new trace");
    assert_eq!(request.flags, 0x101);
    assert_eq!(attr(request, "switchyard.stream").as_bool(), Some(true));
    assert!(attr(request, "switchyard.time_to_first_token_ms")
        .as_f64()
        .is_some());
    let attempt = find(&spans, CLIENT)[0];
    let stream = find(&spans, INTERNAL)[0];
    assert_eq!(stream.name, "stream up");
    assert_eq!(
        stream.parent_span_id.as_deref(),
        Some(attempt.span_id.as_str())
    );
    assert_eq!(
        attr(stream, "switchyard.stream.end").as_str(),
        Some("complete")
    );
    // 8 deltas, a finish chunk, a usage chunk, [DONE].
    assert!(attr(stream, "switchyard.stream.events").as_i64().unwrap() >= 10);
    // It lasted as long as the chunks took.
    assert!(stream.end_ns - stream.start_ns >= 400_000_000);
    assert!(!everything(&spans).contains(PROMPT));
}

#[tokio::test]
async fn a_stream_cut_short_is_an_error_in_its_span() {
    let collector = Collector::start().await.unwrap();
    let mock = MockServer::start(MockConfig {
        chunks: 6,
        fault: Some(Fault::DropMidStream { after: 2 }),
        ..Default::default()
    })
    .await
    .unwrap();
    let yaml = format!(
        "{}providers:\n{}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: p }}]\n",
        tracing_yaml(&collector, ""),
        provider("p", "openai", &mock, None),
    );
    let gw = Gateway::start(&yaml).await;
    let r = post(&gw, &body("m", true), &[]).await;
    let _ = read_sse(r).await;
    let spans = collector.wait_for_spans(3, Duration::from_secs(10)).await;
    let stream = find(&spans, INTERNAL)[0];
    assert_eq!(stream.status_code, 2);
    assert_eq!(
        attr(stream, "switchyard.stream.end").as_str(),
        Some("stream_interrupted")
    );
    let request = find(&spans, SERVER)[0];
    assert_eq!(request.status_code, 2);
    assert_eq!(
        attr(request, "error.type").as_str(),
        Some("stream_interrupted")
    );
}

#[tokio::test]
async fn a_route_that_captures_content_records_it_within_the_cap() {
    let collector = Collector::start().await.unwrap();
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let yaml = format!(
        "{}providers:\n{}routes:\n  - match: {{ model: open }}\n    capture_content: true\n    targets: [{{ provider: p }}]\n  - match: {{ model: closed }}\n    targets: [{{ provider: p }}]\n",
        tracing_yaml(&collector, "  content_limit: 200\n"),
        provider("p", "openai", &mock, None),
    );
    let gw = Gateway::start(&yaml).await;
    let long = format!("{PROMPT} {}", "blah ".repeat(200));
    for stream in [false, true] {
        let mut b = body("open", stream);
        b["messages"][0]["content"] = json!(long);
        let r = post(&gw, &b, &[]).await;
        assert_eq!(r.status(), 200);
        let _ = r.bytes().await;
    }
    let r = post(&gw, &body("closed", false), &[]).await;
    assert_eq!(r.status(), 200);
    let spans = collector.wait_for_spans(8, Duration::from_secs(10)).await;
    let requests = find(&spans, SERVER);
    assert_eq!(requests.len(), 3);
    for r in requests {
        let model = attr(r, "gen_ai.request.model").as_str().unwrap();
        if model == "closed" {
            assert!(!r.attributes.contains_key("gen_ai.input.messages"));
            assert!(!r.attributes.contains_key("gen_ai.output.messages"));
            continue;
        }
        let input = attr(r, "gen_ai.input.messages").as_str().unwrap();
        assert!(input.contains(PROMPT), "{input}");
        assert!(
            input.len() <= 200 + "…".len() && input.ends_with('…'),
            "{input}"
        );
        let output = attr(r, "gen_ai.output.messages").as_str().unwrap();
        assert!(output.contains("tok0"), "{output}");
    }
}

#[tokio::test]
async fn sampling_follows_the_client_and_the_ratio() {
    let collector = Collector::start().await.unwrap();
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    // New traces are never kept here; a client's sampled one is.
    let yaml = format!(
        "{}providers:\n{}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: p }}]\n",
        tracing_yaml(&collector, "  sampler: parentbased_always_off\n"),
        provider("p", "openai", &mock, None),
    );
    let gw = Gateway::start(&yaml).await;
    let r = post(&gw, &body("m", false), &[]).await;
    assert_eq!(r.status(), 200);
    let unsampled = header(&r, "x-switchyard-trace-id");
    assert_eq!(
        unsampled.len(),
        32,
        "an unsampled request still has its trace id"
    );
    // The provider is told the trace is not sampled.
    let sent = mock.last_request().unwrap();
    let tp = sent.header("traceparent").unwrap().to_string();
    assert!(
        tp.starts_with(&format!("00-{unsampled}-")) && tp.ends_with("-00"),
        "{tp}"
    );
    let not_sampled = traceparent(false);
    let r = post(&gw, &body("m", false), &[("traceparent", &not_sampled)]).await;
    assert_eq!(header(&r, "x-switchyard-trace-id"), CLIENT_TRACE);
    let sampled = traceparent(true);
    let r = post(&gw, &body("m", false), &[("traceparent", &sampled)]).await;
    assert_eq!(r.status(), 200);
    // A malformed traceparent starts a new trace.
    let r = post(&gw, &body("m", false), &[("traceparent", "00-xyz-01")]).await;
    assert_eq!(r.status(), 200);
    assert_ne!(header(&r, "x-switchyard-trace-id"), CLIENT_TRACE);

    let spans = collector.wait_for_spans(2, Duration::from_secs(10)).await;
    // Let anything else that would come arrive.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let spans = if spans.len() == 2 {
        collector.spans()
    } else {
        spans
    };
    assert_eq!(
        spans.len(),
        2,
        "only the client's sampled trace: {spans:#?}"
    );
    assert!(spans.iter().all(|s| s.trace_id == CLIENT_TRACE));
}

#[tokio::test]
async fn the_standard_variables_configure_tracing() {
    let collector = Collector::start().await.unwrap();
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let yaml = format!(
        "providers:\n{}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: p }}]\n",
        provider("p", "openai", &mock, None),
    );
    let token = "collector-token-abcdef123456";
    let headers = format!("authorization=Bearer%20{token},x-tenant=blue");
    let gw = Gateway::start_with_env(
        &yaml,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.url()),
            ("OTEL_EXPORTER_OTLP_HEADERS", &headers),
            ("OTEL_SERVICE_NAME", "from-env"),
            ("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=ci"),
            ("OTEL_TRACES_SAMPLER", "always_on"),
            ("OTEL_BSP_SCHEDULE_DELAY", "50"),
        ],
    )
    .await;
    let r = post(&gw, &body("m", false), &[]).await;
    assert_eq!(r.status(), 200);
    let spans = collector.wait_for_spans(2, Duration::from_secs(10)).await;
    assert_eq!(spans.len(), 2);
    let s = &spans[0];
    assert_eq!(
        s.resource.get("service.name").and_then(|v| v.as_str()),
        Some("from-env")
    );
    assert_eq!(
        s.resource
            .get("deployment.environment")
            .and_then(|v| v.as_str()),
        Some("ci")
    );
    let sent = &collector.headers()[0];
    let get = |n: &str| sent.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    assert_eq!(
        get("authorization"),
        Some(format!("Bearer {token}").as_str())
    );
    assert_eq!(get("x-tenant"), Some("blue"));
    assert_eq!(get("content-type"), Some("application/x-protobuf"));
    // The collector's token is a secret: not in the logs, not in metrics.
    assert!(!gw.logs().contains(token));
    assert!(!gw.metrics().await.contains(token));
}

#[tokio::test]
async fn a_hedge_that_lost_still_has_its_span() {
    let collector = Collector::start().await.unwrap();
    let slow = MockServer::start(MockConfig {
        latency: Duration::from_millis(800),
        ..Default::default()
    })
    .await
    .unwrap();
    let fast = MockServer::start(MockConfig::default()).await.unwrap();
    let yaml = format!(
        "{}providers:\n{}{}routes:\n  - match: {{ model: m }}\n    hedge: {{ after: 50ms }}\n    targets: [{{ provider: slow }}, {{ provider: fast }}]\n",
        tracing_yaml(&collector, ""),
        provider("slow", "openai", &slow, None),
        provider("fast", "openai", &fast, None),
    );
    let gw = Gateway::start(&yaml).await;
    let r = post(&gw, &body("m", false), &[]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-switchyard-provider"), "fast");
    let spans = collector.wait_for_spans(3, Duration::from_secs(10)).await;
    let attempts = find(&spans, CLIENT);
    assert_eq!(attempts.len(), 2, "{spans:#?}");
    let lost = attempts
        .iter()
        .find(|s| attr(s, "switchyard.provider").as_str() == Some("slow"))
        .unwrap();
    assert_eq!(attr(lost, "error.type").as_str(), Some("cancelled"));
    let won = attempts
        .iter()
        .find(|s| attr(s, "switchyard.provider").as_str() == Some("fast"))
        .unwrap();
    assert_eq!(attr(won, "switchyard.attempt.hedge").as_bool(), Some(true));
    assert_eq!(
        attr(won, "switchyard.attempt.failover").as_bool(),
        Some(false)
    );
}

#[tokio::test]
async fn a_collector_down_refusing_or_hanging_costs_requests_nothing() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let collector = Collector::start().await.unwrap();
    let closed_port = free_port();
    for (mode, endpoint) in [
        (None, format!("http://127.0.0.1:{closed_port}")),
        (Some(CollectorMode::Fail(503)), collector.url()),
        (Some(CollectorMode::Hang), collector.url()),
    ] {
        if let Some(m) = mode {
            collector.set_mode(m);
        }
        // A long export timeout: a request that waited on the collector
        // would take it.
        let yaml = format!(
            "tracing:\n  endpoint: {endpoint}\n  delay: 10ms\n  timeout: 30s\n  max_queue: 6\n  batch_size: 3\nproviders:\n{}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: p }}]\n",
            provider("p", "openai", &mock, None),
        );
        let gw = Gateway::start(&yaml).await;
        let began = Instant::now();
        for stream in [false, true].into_iter().cycle().take(40) {
            let r = post(&gw, &body("m", stream), &[]).await;
            assert_eq!(r.status(), 200, "{mode:?}");
            let text = r.text().await.unwrap();
            assert!(text.contains("tok0"), "{mode:?}: {text}");
        }
        assert!(
            began.elapsed() < Duration::from_secs(20),
            "{mode:?}: 40 requests took {:?}",
            began.elapsed()
        );
        // The spans that could not go are counted.
        let metrics = gw.metrics().await;
        let dropped = |reason: &str| {
            metrics
                .lines()
                .find(|l| {
                    l.starts_with(&format!(
                        "gateway_trace_spans_dropped_total{{reason=\"{reason}\"}}"
                    ))
                })
                .and_then(|l| l.rsplit(' ').next())
                .and_then(|n| n.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        let lost = dropped("export_failed") + dropped("queue_full");
        assert!(lost > 0.0, "{mode:?}: no dropped spans counted\n{metrics}");
        if mode == Some(CollectorMode::Hang) {
            // One export hangs; the queue fills behind it.
            assert!(dropped("queue_full") > 0.0, "{metrics}");
        }
    }
    assert!(collector.spans().is_empty());
}

#[tokio::test]
async fn spans_still_queued_go_out_at_shutdown() {
    let collector = Collector::start().await.unwrap();
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    // Nothing would be sent for a minute but for the shutdown.
    let yaml = format!(
        "tracing:\n  endpoint: {}\n  delay: 60s\nproviders:\n{}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: p }}]\n",
        collector.url(),
        provider("p", "openai", &mock, None),
    );
    let mut gw = Gateway::start(&yaml).await;
    for _ in 0..3 {
        assert_eq!(post(&gw, &body("m", false), &[]).await.status(), 200);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(collector.spans().is_empty(), "exported before the delay");
    gw.signal("TERM");
    assert_eq!(gw.wait_exit(Duration::from_secs(15)).await, Some(0));
    assert_eq!(collector.spans().len(), 6, "{:#?}", collector.spans());
}

#[tokio::test]
async fn a_reload_sends_spans_to_the_new_collector() {
    let first = Collector::start().await.unwrap();
    let second = Collector::start().await.unwrap();
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let yaml = |c: &Collector| {
        format!(
            "tracing:\n  endpoint: {}\n  delay: 20ms\nproviders:\n{}routes:\n  - match: {{ model: m }}\n    targets: [{{ provider: p }}]\n",
            c.url(),
            provider("p", "openai", &mock, None),
        )
    };
    let gw = Gateway::start(&yaml(&first)).await;
    let a = post(&gw, &body("m", false), &[]).await;
    let a = header(&a, "x-switchyard-trace-id");
    let old = gw.version().await;
    gw.write_config(&yaml(&second));
    assert!(gw.wait_for_new_version(&old, Duration::from_secs(10)).await);
    let b = post(&gw, &body("m", false), &[]).await;
    let b = header(&b, "x-switchyard-trace-id");
    let to_first = first.wait_for_spans(2, Duration::from_secs(10)).await;
    let to_second = second.wait_for_spans(2, Duration::from_secs(10)).await;
    assert!(to_first.iter().all(|s| s.trace_id == a) && to_first.len() == 2);
    assert!(to_second.iter().all(|s| s.trace_id == b) && to_second.len() == 2);
}
