use std::io::Write;
use std::time::Duration;

use flate2::write::GzEncoder;
use flate2::Compression;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;

use super::{AttrValue, Collector, CollectorMode};
use switchyard_mock::{MockConfig, MockServer};

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn str_kv(key: &str, value: &str) -> KeyValue {
    kv(key, any_value::Value::StringValue(value.to_owned()))
}

fn span(n: u8, parent: Option<u8>) -> Span {
    Span {
        trace_id: vec![0xa0 | n; 16],
        span_id: vec![n; 8],
        parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
        trace_state: "k=v".to_owned(),
        name: format!("span {n}"),
        kind: span::SpanKind::Server as i32,
        start_time_unix_nano: 1_000 + u64::from(n),
        end_time_unix_nano: 2_000 + u64::from(n),
        flags: 0x301,
        attributes: vec![
            str_kv("s", "héllo"),
            kv("i", any_value::Value::IntValue(-7)),
            kv("f", any_value::Value::DoubleValue(0.5)),
            kv("b", any_value::Value::BoolValue(true)),
        ],
        events: vec![span::Event {
            time_unix_nano: 1_500,
            name: "first_token".to_owned(),
            attributes: vec![kv("n", any_value::Value::IntValue(1))],
            ..Default::default()
        }],
        status: Some(Status {
            message: "boom".to_owned(),
            code: 2,
        }),
        ..Default::default()
    }
}

/// An export of `spans` from a resource named `service`.
fn export(service: &str, spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![str_kv("service.name", service)],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "switchyard".to_owned(),
                    version: "0.1.0".to_owned(),
                    ..Default::default()
                }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

async fn post(
    base: &str,
    content_type: &str,
    body: Vec<u8>,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = client()
        .post(format!("{base}/v1/traces"))
        .header("content-type", content_type)
        .body(body);
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

async fn post_protobuf(base: &str, request: &ExportTraceServiceRequest) -> reqwest::Response {
    post(base, "application/x-protobuf", request.encode_to_vec(), &[]).await
}

#[tokio::test]
async fn protobuf_export_is_accepted_and_flattened() {
    let collector = Collector::start().await.unwrap();
    let body = export("gw", vec![span(1, None), span(2, Some(1))]);
    let res = post_protobuf(&collector.url(), &body).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "application/x-protobuf"
    );
    assert!(res.bytes().await.unwrap().is_empty());

    assert_eq!(collector.requests(), 1);
    let spans = collector.spans();
    assert_eq!(spans.len(), 2);
    let (root, child) = (&spans[0], &spans[1]);
    assert_eq!(root.trace_id, "a1".repeat(16));
    assert_eq!(root.span_id, "0101010101010101");
    assert_eq!(root.parent_span_id, None);
    assert_eq!(child.parent_span_id.as_deref(), Some("0101010101010101"));
    assert_eq!(child.trace_state, "k=v");
    assert_eq!(child.name, "span 2");
    assert_eq!(child.kind, 2);
    assert_eq!((child.start_ns, child.end_ns), (1_002, 2_002));
    assert_eq!(child.attributes["s"].as_str(), Some("héllo"));
    assert_eq!(child.attributes["i"].as_i64(), Some(-7));
    assert_eq!(child.attributes["f"].as_f64(), Some(0.5));
    assert_eq!(child.attributes["b"].as_bool(), Some(true));
    assert_eq!(child.events.len(), 1);
    assert_eq!(child.events[0].0, "first_token");
    assert_eq!(child.events[0].1["n"], AttrValue::Int(1));
    assert_eq!(
        (child.status_code, child.status_message.as_str()),
        (2, "boom")
    );
    assert_eq!(child.flags, 0x301);
    assert_eq!(child.resource["service.name"].as_str(), Some("gw"));
    assert_eq!(child.scope_name, "switchyard");
    collector.stop().await;
}

#[tokio::test]
async fn spans_accumulate_in_arrival_order() {
    let collector = Collector::start().await.unwrap();
    for n in 1..=3 {
        let res = post_protobuf(&collector.url(), &export("gw", vec![span(n, None)])).await;
        assert_eq!(res.status(), 200);
    }
    let names: Vec<String> = collector.spans().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["span 1", "span 2", "span 3"]);
    assert_eq!(collector.requests(), 3);
}

#[tokio::test]
async fn json_export_is_accepted() {
    let collector = Collector::start().await.unwrap();
    let body = serde_json::to_vec(&export("gw", vec![span(3, Some(2))])).unwrap();
    let res = post(&collector.url(), "application/json", body, &[]).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "{}");
    let spans = collector.spans();
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].trace_id, "a3".repeat(16));
    assert_eq!(spans[0].parent_span_id.as_deref(), Some("0202020202020202"));
    assert_eq!(spans[0].attributes["i"].as_i64(), Some(-7));
}

#[tokio::test]
async fn gzipped_export_is_accepted() {
    let collector = Collector::start().await.unwrap();
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    gz.write_all(&export("gw", vec![span(1, None)]).encode_to_vec())
        .unwrap();
    let body = gz.finish().unwrap();
    let extra = [("content-encoding", "gzip")];
    let res = post(&collector.url(), "application/x-protobuf", body, &extra).await;
    assert_eq!(res.status(), 200);
    assert_eq!(collector.spans().len(), 1);
}

#[tokio::test]
async fn garbage_body_is_400_and_keeps_nothing() {
    let collector = Collector::start().await.unwrap();
    let garbage = vec![0xff, 0xff, 0xff, 0x0a, 0x01];
    let res = post(&collector.url(), "application/x-protobuf", garbage, &[]).await;
    assert_eq!(res.status(), 400);
    let res = post(&collector.url(), "application/json", b"{nope".to_vec(), &[]).await;
    assert_eq!(res.status(), 400);
    assert_eq!(collector.requests(), 2);
    assert!(collector.spans().is_empty());
}

#[tokio::test]
async fn unknown_content_type_or_encoding_is_415() {
    let collector = Collector::start().await.unwrap();
    let body = export("gw", vec![span(1, None)]).encode_to_vec();
    let res = post(&collector.url(), "text/plain", body.clone(), &[]).await;
    assert_eq!(res.status(), 415);
    let extra = [("content-encoding", "br")];
    let res = post(&collector.url(), "application/x-protobuf", body, &extra).await;
    assert_eq!(res.status(), 415);
    assert!(collector.spans().is_empty());
}

#[tokio::test]
async fn headers_of_each_export_are_kept() {
    let collector = Collector::start().await.unwrap();
    let body = export("gw", vec![]).encode_to_vec();
    let extra = [("X-Api-Key", "secret"), ("x-tenant", "t1")];
    post(&collector.url(), "application/x-protobuf", body, &extra).await;
    let headers = collector.headers();
    assert_eq!(headers.len(), 1);
    let has = |name: &str, value: &str| headers[0].iter().any(|(n, v)| n == name && v == value);
    assert!(has("x-api-key", "secret"));
    assert!(has("x-tenant", "t1"));
    assert!(has("content-type", "application/x-protobuf"));
}

#[tokio::test]
async fn fail_mode_answers_its_status_and_keeps_nothing() {
    let collector = Collector::start().await.unwrap();
    collector.set_mode(CollectorMode::Fail(503));
    let res = post_protobuf(&collector.url(), &export("gw", vec![span(1, None)])).await;
    assert_eq!(res.status(), 503);
    assert!(collector.spans().is_empty());
    assert_eq!(collector.requests(), 1);

    collector.set_mode(CollectorMode::Accept);
    let res = post_protobuf(&collector.url(), &export("gw", vec![span(2, None)])).await;
    assert_eq!(res.status(), 200);
    assert_eq!(collector.spans().len(), 1);
}

#[tokio::test]
async fn hang_mode_never_answers_until_stopped() {
    let collector = Collector::start().await.unwrap();
    collector.set_mode(CollectorMode::Hang);
    let url = format!("{}/v1/traces", collector.url());
    let body = export("gw", vec![span(1, None)]).encode_to_vec();
    let pending = tokio::spawn(async move {
        client()
            .post(url)
            .header("content-type", "application/x-protobuf")
            .body(body)
            .send()
            .await
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while collector.requests() == 0 {
        assert!(tokio::time::Instant::now() < deadline, "no request arrived");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!pending.is_finished(), "a hanging collector answered");
    assert!(collector.spans().is_empty());

    let stopped = tokio::time::Instant::now();
    collector.stop().await;
    assert!(stopped.elapsed() < Duration::from_secs(2));
    let answer = tokio::time::timeout(Duration::from_secs(5), pending)
        .await
        .unwrap()
        .unwrap();
    assert!(answer.map_or(true, |res| res.status() != 200));
}

#[tokio::test]
async fn wait_for_spans_returns_once_enough_arrived_or_at_the_timeout() {
    let collector = Collector::start().await.unwrap();
    let none = collector.wait_for_spans(1, Duration::from_millis(50)).await;
    assert!(none.is_empty());

    let url = collector.url();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        post_protobuf(&url, &export("gw", vec![span(1, None), span(2, None)])).await;
    });
    let spans = collector.wait_for_spans(2, Duration::from_secs(5)).await;
    assert_eq!(spans.len(), 2);
}

#[tokio::test]
async fn mock_server_answers_exports_as_a_collector() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let res = post_protobuf(
        &mock.url(),
        &export("gw", vec![span(1, None), span(2, None)]),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert!(res.bytes().await.unwrap().is_empty());
    assert_eq!(mock.otlp_exports(), 1);
    assert_eq!(mock.hits(), 0);
    mock.stop().await;
}
