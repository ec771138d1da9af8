//! Spans as a test reads them: one flat [`ReceivedSpan`] per span of an
//! export, ids in hex, attributes in maps, with its resource and scope.

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::Span;

/// An attribute's value.
#[derive(Clone, Debug, PartialEq)]
pub enum AttrValue {
    Str(String),
    Int(i64),
    F64(f64),
    Bool(bool),
    /// An array, key-value list, bytes or missing value (none of which the
    /// gateway sends), as its `Debug` text.
    Other(String),
}

impl AttrValue {
    /// The text, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            AttrValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The number, if this is an integer.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            AttrValue::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The number, if this is a double.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            AttrValue::F64(f) => Some(*f),
            _ => None,
        }
    }

    /// The flag, if this is a boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            AttrValue::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

/// Attributes by key (a repeated key keeps its last value).
pub type Attributes = BTreeMap<String, AttrValue>;

/// One span a [`super::Collector`] accepted.
#[derive(Clone, Debug, PartialEq)]
pub struct ReceivedSpan {
    /// 32 lowercase hex digits.
    pub trace_id: String,
    /// 16 lowercase hex digits.
    pub span_id: String,
    /// 16 lowercase hex digits; `None` for a root span.
    pub parent_span_id: Option<String>,
    /// The W3C `tracestate`, empty if none.
    pub trace_state: String,
    pub name: String,
    /// OTLP's `SpanKind`: 1 internal, 2 server, 3 client.
    pub kind: i32,
    pub start_ns: u64,
    pub end_ns: u64,
    pub attributes: Attributes,
    /// Each event's name and attributes, in order.
    pub events: Vec<(String, Attributes)>,
    /// OTLP's `StatusCode`: 0 unset, 1 ok, 2 error.
    pub status_code: i32,
    pub status_message: String,
    /// Trace flags (low byte) and the `has_is_remote`/`is_remote` bits
    /// (0x100, 0x200).
    pub flags: u32,
    /// The attributes of the span's resource.
    pub resource: Attributes,
    /// The name of the span's instrumentation scope.
    pub scope_name: String,
}

/// The spans of `request`, in the order they came.
pub(crate) fn flatten(request: ExportTraceServiceRequest) -> Vec<ReceivedSpan> {
    let mut out = Vec::new();
    for rs in request.resource_spans {
        let resource = rs
            .resource
            .map(|r| attributes(r.attributes))
            .unwrap_or_default();
        for ss in rs.scope_spans {
            let scope_name = ss.scope.map(|s| s.name).unwrap_or_default();
            out.extend(
                ss.spans
                    .into_iter()
                    .map(|span| received(span, &resource, &scope_name)),
            );
        }
    }
    out
}

fn received(span: Span, resource: &Attributes, scope_name: &str) -> ReceivedSpan {
    let status = span.status.unwrap_or_default();
    ReceivedSpan {
        trace_id: hex(&span.trace_id),
        span_id: hex(&span.span_id),
        parent_span_id: (!span.parent_span_id.is_empty()).then(|| hex(&span.parent_span_id)),
        trace_state: span.trace_state,
        name: span.name,
        kind: span.kind,
        start_ns: span.start_time_unix_nano,
        end_ns: span.end_time_unix_nano,
        attributes: attributes(span.attributes),
        events: span
            .events
            .into_iter()
            .map(|e| (e.name, attributes(e.attributes)))
            .collect(),
        status_code: status.code,
        status_message: status.message,
        flags: span.flags,
        resource: resource.clone(),
        scope_name: scope_name.to_owned(),
    }
}

fn attributes(kvs: Vec<KeyValue>) -> Attributes {
    kvs.into_iter()
        .map(|kv| {
            let value = match kv.value.and_then(|v| v.value) {
                Some(Value::StringValue(s)) => AttrValue::Str(s),
                Some(Value::IntValue(i)) => AttrValue::Int(i),
                Some(Value::DoubleValue(f)) => AttrValue::F64(f),
                Some(Value::BoolValue(b)) => AttrValue::Bool(b),
                other => AttrValue::Other(format!("{other:?}")),
            };
            (kv.key, value)
        })
        .collect()
}

/// Lowercase hex, as ids are written in W3C headers and OTLP/JSON.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}
