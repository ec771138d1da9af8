//! Finished spans to the body of an OTLP/HTTP export (`POST /v1/traces`,
//! `content-type: application/x-protobuf`): one
//! `opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest`.
//!
//! Written by hand rather than through opentelemetry-proto's generated
//! structs: building those costs two allocations per attribute (its key and
//! its value as `String`s) for every span, about 40 attributes per request,
//! while encoding straight from our [`Span`] records costs none, and the
//! exporter's CPU is part of the ≤ 5 µs per request budget. prost supplies
//! only the wire primitives (varints, field keys).
//!
//! A nested message is preceded by its length. The small ones (an
//! attribute, an event, a status) have a `*_len` function that mirrors
//! their writer field for field; a span is written into a scratch buffer
//! ([`Scratch`]) and its bytes copied behind its length, which costs less
//! than walking its attributes twice. Fields at their proto3 default (empty string,
//! zero time, no parent, unset status) are left out, as proto3 does.
//!
//! Field numbers: opentelemetry-proto's `trace/v1/trace.proto`,
//! `common/v1/common.proto`, `resource/v1/resource.proto` and
//! `collector/trace/v1/trace_service.proto`.

use prost::encoding::{encode_key, encode_varint, encoded_len_varint, key_len, WireType};

use super::span::{Attr, Event, Span, Status, Value};

/// `Span.flags`: the W3C trace flags in the low byte; we export only
/// sampled spans.
const FLAG_SAMPLED: u32 = 0x01;
/// `Span.flags`: "whether the parent is remote is known" — always, for us.
const FLAG_HAS_IS_REMOTE: u32 = 0x100;
/// `Span.flags`: the parent is in another process (the client's).
const FLAG_IS_REMOTE: u32 = 0x200;
/// `Status.code` for an error (0 is unset, 1 ok).
const STATUS_CODE_ERROR: u64 = 2;

/// Appends to `out` one `ExportTraceServiceRequest` holding a single
/// `ResourceSpans` (`resource` as its resource's attributes) with a single
/// `ScopeSpans` (the instrumentation scope `scope_name`/`scope_version`)
/// holding `spans` in order.
///
/// `out` is appended to, never cleared: a caller reusing one buffer clears
/// it between requests. With no spans the request still holds the resource
/// and the empty scope. Never fails.
pub fn encode(
    resource: &[Attr],
    scope_name: &str,
    scope_version: &str,
    spans: &[Span],
    out: &mut Vec<u8>,
) {
    let mut scratch = Scratch::default();
    scratch.encode(resource, scope_name, scope_version, spans, out);
}

/// Buffers [`encode`] writes spans into before it knows their lengths,
/// kept by a caller that encodes batch after batch (the exporter).
#[derive(Debug, Default)]
pub struct Scratch {
    span: Vec<u8>,
    spans: Vec<u8>,
}

impl Scratch {
    /// [`encode`], reusing these buffers.
    pub fn encode(
        &mut self,
        resource: &[Attr],
        scope_name: &str,
        scope_version: &str,
        spans: &[Span],
        out: &mut Vec<u8>,
    ) {
        // Each span is written once, into `span`, and its bytes copied
        // behind its length: computing a span's length before writing it
        // walked its attributes twice, and cost more than the copy.
        self.spans.clear();
        for span in spans {
            self.span.clear();
            put_span(span, &mut self.span);
            put_header(2, self.span.len(), &mut self.spans);
            self.spans.extend_from_slice(&self.span);
        }
        // ExportTraceServiceRequest { 1: ResourceSpans {
        //   1: Resource { 1: attributes }, 2: ScopeSpans {
        //     1: InstrumentationScope { 1: name, 2: version }, 2: spans } } }
        let resource_body = attrs_len(1, resource);
        let scope_body = str_len(1, scope_name) + str_len(2, scope_version);
        let scope_spans_body = nested_len(1, scope_body) + self.spans.len();
        let resource_spans_body = nested_len(1, resource_body) + nested_len(2, scope_spans_body);
        let total = nested_len(1, resource_spans_body);
        out.reserve(total);
        let start = out.len();
        put_header(1, resource_spans_body, out);
        put_header(1, resource_body, out);
        put_attrs(1, resource, out);
        put_header(2, scope_spans_body, out);
        put_header(1, scope_body, out);
        put_str(1, scope_name, out);
        put_str(2, scope_version, out);
        out.extend_from_slice(&self.spans);
        debug_assert_eq!(out.len() - start, total, "a *_len and its writer disagree");
    }
}

/// `Span.flags` for `span`: sampled, and whether its parent is remote.
fn flags(span: &Span) -> u32 {
    let remote = if span.remote_parent {
        FLAG_IS_REMOTE
    } else {
        0
    };
    FLAG_SAMPLED | FLAG_HAS_IS_REMOTE | remote
}

/// Writes a `Span`'s body.
fn put_span(span: &Span, out: &mut Vec<u8>) {
    let trace_state = span.trace_state.as_deref().unwrap_or("");
    let parent = span.parent.as_ref().map_or(&[][..], |p| &p.0[..]);
    put_bytes(1, &span.trace_id.0, out);
    put_bytes(2, &span.span_id.0, out);
    put_str(3, trace_state, out);
    put_bytes(4, parent, out);
    put_str(5, &span.name, out);
    put_varint(6, span.kind as u64, out);
    put_fixed64(7, span.start_ns, out);
    put_fixed64(8, span.end_ns, out);
    put_attrs(9, &span.attrs, out);
    for event in &span.events {
        put_header(11, event_len(event), out);
        put_event(event, out);
    }
    if let Some(len) = status_len(&span.status) {
        put_header(15, len, out);
        put_status(&span.status, out);
    }
    encode_key(16, WireType::ThirtyTwoBit, out);
    out.extend_from_slice(&flags(span).to_le_bytes());
}

/// The length of a `Span.Event`'s body.
fn event_len(event: &Event) -> usize {
    fixed64_len(1, event.time_ns) + str_len(2, event.name) + attrs_len(3, &event.attrs)
}

/// Writes a `Span.Event`'s body; mirrors [`event_len`].
fn put_event(event: &Event, out: &mut Vec<u8>) {
    put_fixed64(1, event.time_ns, out);
    put_str(2, event.name, out);
    put_attrs(3, &event.attrs, out);
}

/// The length of a `Status`'s body, or `None` when it is left out (unset).
fn status_len(status: &Status) -> Option<usize> {
    match status {
        Status::Unset => None,
        Status::Error(message) => Some(str_len(2, message) + varint_len(3, STATUS_CODE_ERROR)),
    }
}

/// Writes a `Status`'s body; mirrors [`status_len`].
fn put_status(status: &Status, out: &mut Vec<u8>) {
    match status {
        Status::Unset => {}
        Status::Error(message) => {
            put_str(2, message, out);
            put_varint(3, STATUS_CODE_ERROR, out);
        }
    }
}

/// The length of `attrs` as repeated `KeyValue` field `tag`.
fn attrs_len(tag: u32, attrs: &[Attr]) -> usize {
    attrs
        .iter()
        .map(|a| nested_len(tag, key_value_len(a)))
        .sum()
}

/// Writes `attrs` as repeated `KeyValue` field `tag`; mirrors [`attrs_len`].
fn put_attrs(tag: u32, attrs: &[Attr], out: &mut Vec<u8>) {
    for attr in attrs {
        let value = any_value_len(&attr.value);
        put_header(tag, str_len(1, &attr.key) + nested_len(2, value), out);
        put_str(1, &attr.key, out);
        put_header(2, value, out);
        put_any_value(&attr.value, out);
    }
}

/// The length of a `KeyValue`'s body: its key, and its value (an
/// `AnyValue`, always present).
fn key_value_len(attr: &Attr) -> usize {
    str_len(1, &attr.key) + nested_len(2, any_value_len(&attr.value))
}

/// The length of an `AnyValue`'s body. Its `value` is a oneof, so the set
/// member is written even at its default (`""`, `0`, `false`).
fn any_value_len(value: &Value) -> usize {
    match value {
        Value::Str(s) => nested_len(1, s.len()),
        Value::Bool(_) => key_len(2) + 1,
        // int64: negative numbers take ten bytes, two's complement.
        Value::Int(i) => key_len(3) + encoded_len_varint(*i as u64),
        Value::F64(_) => key_len(4) + 8,
    }
}

/// Writes an `AnyValue`'s body; mirrors [`any_value_len`].
fn put_any_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Str(s) => put_bytes_or_str(1, s.as_bytes(), out),
        Value::Bool(b) => {
            put_key(2, WireType::Varint, out);
            out.push(u8::from(*b));
        }
        Value::Int(i) => {
            put_key(3, WireType::Varint, out);
            encode_varint(*i as u64, out);
        }
        Value::F64(f) => {
            put_key(4, WireType::SixtyFourBit, out);
            out.extend_from_slice(&f.to_le_bytes());
        }
    }
}

/// The length of a length-delimited field `tag` whose body is `len` bytes.
fn nested_len(tag: u32, len: usize) -> usize {
    key_len(tag) + encoded_len_varint(len as u64) + len
}

/// Writes the key and length of a length-delimited field; its `len`-byte
/// body follows.
fn put_header(tag: u32, len: usize, out: &mut Vec<u8>) {
    put_key(tag, WireType::LengthDelimited, out);
    if len < 0x80 {
        out.push(len as u8);
    } else {
        encode_varint(len as u64, out);
    }
}

/// A field's key: one byte for the field numbers used here (below 16).
fn put_key(tag: u32, wire_type: WireType, out: &mut Vec<u8>) {
    if tag < 16 {
        out.push(((tag << 3) | wire_type as u32) as u8);
    } else {
        encode_key(tag, wire_type, out);
    }
}

/// The length of a `string` field, left out when empty.
fn str_len(tag: u32, s: &str) -> usize {
    bytes_len(tag, s.as_bytes())
}

/// Writes a `string` field unless it is empty; mirrors [`str_len`].
fn put_str(tag: u32, s: &str, out: &mut Vec<u8>) {
    put_bytes(tag, s.as_bytes(), out);
}

/// The length of a `bytes` field, left out when empty.
fn bytes_len(tag: u32, b: &[u8]) -> usize {
    if b.is_empty() {
        0
    } else {
        nested_len(tag, b.len())
    }
}

/// Writes a `bytes` field unless it is empty; mirrors [`bytes_len`].
fn put_bytes(tag: u32, b: &[u8], out: &mut Vec<u8>) {
    if !b.is_empty() {
        put_bytes_or_str(tag, b, out);
    }
}

/// Writes a length-delimited field, even when empty (a oneof member).
fn put_bytes_or_str(tag: u32, b: &[u8], out: &mut Vec<u8>) {
    put_header(tag, b.len(), out);
    out.extend_from_slice(b);
}

/// The length of a varint field (an enum), left out when zero.
fn varint_len(tag: u32, v: u64) -> usize {
    if v == 0 {
        0
    } else {
        key_len(tag) + encoded_len_varint(v)
    }
}

/// Writes a varint field unless it is zero; mirrors [`varint_len`].
fn put_varint(tag: u32, v: u64, out: &mut Vec<u8>) {
    if v != 0 {
        put_key(tag, WireType::Varint, out);
        encode_varint(v, out);
    }
}

/// The length of a `fixed64` field, left out when zero.
fn fixed64_len(tag: u32, v: u64) -> usize {
    if v == 0 {
        0
    } else {
        key_len(tag) + 8
    }
}

/// Writes a `fixed64` field unless it is zero; mirrors [`fixed64_len`].
fn put_fixed64(tag: u32, v: u64, out: &mut Vec<u8>) {
    if v != 0 {
        put_key(tag, WireType::SixtyFourBit, out);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

#[cfg(test)]
mod tests;
