use std::borrow::Cow;
use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::{self as pb, status::StatusCode};
use prost::Message;

use super::encode;
use crate::trace::span::{Attr, Event, Kind, Span, SpanId, Status, TraceId, Value};

fn span(n: u8) -> Span {
    Span {
        trace_id: TraceId([n; 16]),
        span_id: SpanId([n.wrapping_add(1); 8]),
        parent: None,
        remote_parent: false,
        trace_state: None,
        name: Cow::Borrowed("chat gpt-4o"),
        kind: Kind::Server,
        start_ns: 1_700_000_000_000_000_000,
        end_ns: 1_700_000_000_250_000_000,
        attrs: vec![],
        events: vec![],
        status: Status::Unset,
    }
}

fn decode(bytes: &[u8]) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest::decode(bytes).unwrap()
}

fn encoded(resource: &[Attr], spans: &[Span]) -> ExportTraceServiceRequest {
    let mut out = Vec::new();
    encode(resource, "switchyard", "0.1.0", spans, &mut out);
    decode(&out)
}

/// The only span of a request with one resource and one scope.
fn spans_of(req: &ExportTraceServiceRequest) -> &[pb::Span] {
    assert_eq!(req.resource_spans.len(), 1);
    assert_eq!(req.resource_spans[0].scope_spans.len(), 1);
    &req.resource_spans[0].scope_spans[0].spans
}

fn value(kv: &KeyValue) -> &Any {
    kv.value.as_ref().unwrap().value.as_ref().unwrap()
}

#[test]
fn ids_times_name_kind_round_trip() {
    let mut s = span(7);
    s.kind = Kind::Client;
    let req = encoded(&[], &[s.clone()]);
    let got = &spans_of(&req)[0];
    assert_eq!(got.trace_id, s.trace_id.0);
    assert_eq!(got.span_id, s.span_id.0);
    assert!(got.parent_span_id.is_empty());
    assert_eq!(got.trace_state, "");
    assert_eq!(got.name, "chat gpt-4o");
    assert_eq!(got.kind, pb::span::SpanKind::Client as i32);
    assert_eq!(got.start_time_unix_nano, s.start_ns);
    assert_eq!(got.end_time_unix_nano, s.end_ns);
    assert!(got.status.is_none());
    assert!(got.attributes.is_empty() && got.events.is_empty());
}

#[test]
fn every_kind_matches_otlp_span_kind() {
    for (kind, want) in [
        (Kind::Internal, pb::span::SpanKind::Internal),
        (Kind::Server, pb::span::SpanKind::Server),
        (Kind::Client, pb::span::SpanKind::Client),
    ] {
        let mut s = span(1);
        s.kind = kind;
        assert_eq!(spans_of(&encoded(&[], &[s]))[0].kind, want as i32);
    }
}

#[test]
fn parent_and_trace_state_round_trip() {
    let mut s = span(3);
    s.parent = Some(SpanId([0xab; 8]));
    s.trace_state = Some(Arc::from("vendor=a,other=b"));
    let req = encoded(&[], &[s]);
    let got = &spans_of(&req)[0];
    assert_eq!(got.parent_span_id, [0xab; 8]);
    assert_eq!(got.trace_state, "vendor=a,other=b");
}

#[test]
fn flags_say_sampled_and_whether_the_parent_is_remote() {
    let mut local = span(1);
    local.parent = Some(SpanId([2; 8]));
    let mut remote = local.clone();
    remote.remote_parent = true;
    let root = span(3);
    let req = encoded(&[], &[local, remote, root]);
    let flags: Vec<u32> = spans_of(&req).iter().map(|s| s.flags).collect();
    assert_eq!(flags, [0x101, 0x301, 0x101]);
}

#[test]
fn every_attribute_type_round_trips() {
    let mut s = span(1);
    s.attrs = vec![
        Attr::str("gen_ai.request.model", "gpt-4o"),
        Attr::str("text.unicode", "héllo, 世界 🚀"),
        Attr::str("text.empty", ""),
        Attr::int("tokens", 1234),
        Attr::int("negative", -42),
        Attr::int("min", i64::MIN),
        Attr::int("zero", 0),
        Attr::f64("temperature", 0.7),
        Attr::f64("negative_f", -1.5e300),
        Attr::bool("stream", true),
        Attr::bool("cached", false),
        Attr {
            key: Cow::Owned("owned.ключ".to_owned()),
            value: Value::Str(Cow::Owned("x".repeat(3))),
        },
    ];
    let req = encoded(&[], &[s]);
    let got = &spans_of(&req)[0].attributes;
    let pairs: Vec<(&str, &Any)> = got.iter().map(|kv| (kv.key.as_str(), value(kv))).collect();
    assert_eq!(
        pairs,
        [
            ("gen_ai.request.model", &Any::StringValue("gpt-4o".into())),
            ("text.unicode", &Any::StringValue("héllo, 世界 🚀".into())),
            ("text.empty", &Any::StringValue(String::new())),
            ("tokens", &Any::IntValue(1234)),
            ("negative", &Any::IntValue(-42)),
            ("min", &Any::IntValue(i64::MIN)),
            ("zero", &Any::IntValue(0)),
            ("temperature", &Any::DoubleValue(0.7)),
            ("negative_f", &Any::DoubleValue(-1.5e300)),
            ("stream", &Any::BoolValue(true)),
            ("cached", &Any::BoolValue(false)),
            ("owned.ключ", &Any::StringValue("xxx".into())),
        ]
    );
}

#[test]
fn events_round_trip() {
    let mut s = span(1);
    s.events = vec![
        Event {
            name: "first_token",
            time_ns: 1_700_000_000_100_000_000,
            attrs: vec![],
        },
        Event {
            name: "retry",
            time_ns: 1_700_000_000_200_000_000,
            attrs: vec![Attr::int("attempt", 2), Attr::str("reason", "429")],
        },
    ];
    let req = encoded(&[], &[s]);
    let events = &spans_of(&req)[0].events;
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].name, "first_token");
    assert_eq!(events[0].time_unix_nano, 1_700_000_000_100_000_000);
    assert!(events[0].attributes.is_empty());
    assert_eq!(events[1].name, "retry");
    assert_eq!(events[1].time_unix_nano, 1_700_000_000_200_000_000);
    assert_eq!(events[1].attributes[0].key, "attempt");
    assert_eq!(value(&events[1].attributes[0]), &Any::IntValue(2));
    assert_eq!(
        value(&events[1].attributes[1]),
        &Any::StringValue("429".into())
    );
}

#[test]
fn error_status_round_trips_with_its_message() {
    let mut s = span(1);
    s.status = Status::Error(Cow::Borrowed("upstream timeout"));
    let mut quiet = span(2);
    quiet.status = Status::Error(Cow::Borrowed(""));
    let req = encoded(&[], &[s, quiet]);
    let spans = spans_of(&req);
    let status = spans[0].status.as_ref().unwrap();
    assert_eq!(status.code, StatusCode::Error as i32);
    assert_eq!(status.message, "upstream timeout");
    let status = spans[1].status.as_ref().unwrap();
    assert_eq!(status.code, StatusCode::Error as i32);
    assert_eq!(status.message, "");
}

#[test]
fn resource_and_scope_round_trip() {
    let resource = [
        Attr::str("service.name", "switchyard"),
        Attr::str("service.instance.id", "gw-1"),
        Attr::int("process.pid", 4242),
    ];
    let req = encoded(&resource, &[span(1)]);
    let rs = &req.resource_spans[0];
    let attrs = &rs.resource.as_ref().unwrap().attributes;
    assert_eq!(attrs.len(), 3);
    assert_eq!(attrs[0].key, "service.name");
    assert_eq!(value(&attrs[0]), &Any::StringValue("switchyard".into()));
    assert_eq!(value(&attrs[2]), &Any::IntValue(4242));
    assert_eq!(rs.schema_url, "");
    let scope = rs.scope_spans[0].scope.as_ref().unwrap();
    assert_eq!(scope.name, "switchyard");
    assert_eq!(scope.version, "0.1.0");
}

#[test]
fn several_spans_keep_their_order() {
    let spans: Vec<Span> = (1..=5).map(span).collect();
    let req = encoded(&[], &spans);
    let ids: Vec<&[u8]> = spans_of(&req).iter().map(|s| &s.trace_id[..]).collect();
    let want: Vec<&[u8]> = spans.iter().map(|s| &s.trace_id.0[..]).collect();
    assert_eq!(ids, want);
}

#[test]
fn no_spans_still_makes_a_valid_request() {
    let req = encoded(&[Attr::str("service.name", "switchyard")], &[]);
    assert!(spans_of(&req).is_empty());
    let scope = req.resource_spans[0].scope_spans[0].scope.as_ref().unwrap();
    assert_eq!(scope.name, "switchyard");
}

#[test]
fn encode_appends_a_second_complete_message() {
    let mut out = vec![0xff, 0xee];
    encode(&[], "s", "1", &[span(1)], &mut out);
    let first = out.len();
    encode(&[], "s", "1", &[span(2), span(3)], &mut out);
    assert_eq!(&out[..2], [0xff, 0xee]);
    let one = decode(&out[2..first]);
    assert_eq!(spans_of(&one).len(), 1);
    let two = decode(&out[first..]);
    assert_eq!(spans_of(&two).len(), 2);
    assert_eq!(spans_of(&two)[1].trace_id, [3; 16]);
}

#[test]
fn encoding_is_as_long_as_prosts() {
    let mut s = span(9);
    s.parent = Some(SpanId([4; 8]));
    s.remote_parent = true;
    s.trace_state = Some(Arc::from("a=b"));
    s.attrs = vec![
        Attr::str("k", "v"),
        Attr::int("n", -1),
        Attr::bool("b", false),
    ];
    s.events = vec![Event {
        name: "e",
        time_ns: 5,
        attrs: vec![Attr::f64("x", 2.5)],
    }];
    s.status = Status::Error(Cow::Borrowed("boom"));
    let mut out = Vec::new();
    encode(
        &[Attr::str("service.name", "sy")],
        "sc",
        "v",
        &[s],
        &mut out,
    );
    // prost leaves out the same defaults (it writes `flags` before `name`,
    // in the .proto's order, where we follow field numbers: both are valid).
    assert_eq!(decode(&out).encoded_len(), out.len());
}

#[test]
fn a_100_kb_string_round_trips() {
    let long = "é".repeat(50_000) + "end";
    let mut s = span(1);
    s.attrs = vec![Attr::str("gen_ai.prompt", long.clone())];
    s.status = Status::Error(Cow::Owned(long.clone()));
    let req = encoded(&[], &[s]);
    let got = &spans_of(&req)[0];
    assert_eq!(value(&got.attributes[0]), &Any::StringValue(long.clone()));
    assert_eq!(got.status.as_ref().unwrap().message, long);
}

#[test]
fn reused_buffer_does_not_grow_in_steady_state() {
    let spans: Vec<Span> = (1..=3).map(span).collect();
    let mut out = Vec::new();
    encode(&[], "s", "1", &spans, &mut out);
    let capacity = out.capacity();
    for _ in 0..10 {
        out.clear();
        encode(&[], "s", "1", &spans, &mut out);
        assert_eq!(out.capacity(), capacity);
    }
}
