//! A finished span as the gateway records it: built once, when its request
//! (or attempt, or stream) ends, from facts the request path keeps anyway,
//! then handed to the exporter. Attribute keys are static where the
//! conventions fix them, so a span costs one allocation per text value.

use std::borrow::Cow;

/// A 16-byte trace id (W3C Trace Context); never all zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceId(pub [u8; 16]);

/// An 8-byte span id; never all zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpanId(pub [u8; 8]);

/// OpenTelemetry's span kinds (the values of OTLP's `Span.SpanKind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Internal = 1,
    Server = 2,
    Client = 3,
}

/// An attribute's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(Cow<'static, str>),
    Int(i64),
    F64(f64),
    Bool(bool),
}

/// One attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct Attr {
    pub key: Cow<'static, str>,
    pub value: Value,
}

impl Attr {
    pub fn str(key: &'static str, v: impl Into<Cow<'static, str>>) -> Self {
        Self {
            key: Cow::Borrowed(key),
            value: Value::Str(v.into()),
        }
    }

    pub fn int(key: &'static str, v: i64) -> Self {
        Self {
            key: Cow::Borrowed(key),
            value: Value::Int(v),
        }
    }

    pub fn f64(key: &'static str, v: f64) -> Self {
        Self {
            key: Cow::Borrowed(key),
            value: Value::F64(v),
        }
    }

    pub fn bool(key: &'static str, v: bool) -> Self {
        Self {
            key: Cow::Borrowed(key),
            value: Value::Bool(v),
        }
    }
}

/// A span's status (OTLP's `Status`): unset, or an error with its message.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Status {
    #[default]
    Unset,
    Error(Cow<'static, str>),
}

/// Something that happened at one moment of a span (OTLP's `Span.Event`).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub name: &'static str,
    pub time_ns: u64,
    pub attrs: Vec<Attr>,
}

/// A finished span.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    /// The parent span, in this process or (`remote_parent`) the client's.
    pub parent: Option<SpanId>,
    pub remote_parent: bool,
    /// The W3C `tracestate` the client sent, passed on as it came.
    pub trace_state: Option<std::sync::Arc<str>>,
    pub name: Cow<'static, str>,
    pub kind: Kind,
    /// Unix times, in nanoseconds.
    pub start_ns: u64,
    pub end_ns: u64,
    pub attrs: Vec<Attr>,
    pub events: Vec<Event>,
    pub status: Status,
}
