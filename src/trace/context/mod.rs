//! W3C Trace Context: the `traceparent` a client sends is read (and its
//! `tracestate` kept, to pass on), and the one sent to a provider is
//! written. Parsed by hand: the format is four fixed-width hex fields,
//! and the gateway needs nothing else of a tracing SDK on the request path.

use std::sync::Arc;

use http::HeaderValue;
use rand::Rng;

use super::span::{SpanId, TraceId};

/// The longest `tracestate` passed on (the W3C limit is 512 characters
/// that a vendor must propagate; a longer one is dropped, not cut, so
/// that no entry arrives truncated).
const MAX_TRACESTATE: usize = 512;

/// A trace context received from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parent {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    /// The client's sampling decision (trace flag 0x01).
    pub sampled: bool,
    pub state: Option<Arc<str>>,
}

/// The client's trace context, if `traceparent` is valid; `tracestate`
/// travels with it (several headers joined, as the spec allows).
pub fn parent<'a>(
    traceparent: Option<&[u8]>,
    tracestate: impl Iterator<Item = &'a [u8]>,
) -> Option<Parent> {
    let (trace_id, span_id, flags) = parse_traceparent(traceparent?)?;
    Some(Parent {
        trace_id,
        span_id,
        sampled: flags & 1 == 1,
        state: trace_state(tracestate),
    })
}

/// `version-traceid-parentid-flags`, lowercase hex. Version `00` is exactly
/// 55 characters; a later version may be longer, with a `-` after the
/// flags, and is read as `00` (the spec's rule for forward compatibility).
/// Version `ff`, all-zero ids and uppercase hex are invalid.
pub fn parse_traceparent(v: &[u8]) -> Option<(TraceId, SpanId, u8)> {
    if v.len() < 55 || v[2] != b'-' || v[35] != b'-' || v[52] != b'-' {
        return None;
    }
    let version = hex_byte(&v[0..2])?;
    if version == 0xff || (version == 0 && v.len() != 55) || (v.len() > 55 && v[55] != b'-') {
        return None;
    }
    let mut trace = [0u8; 16];
    for (i, b) in trace.iter_mut().enumerate() {
        *b = hex_byte(&v[3 + 2 * i..5 + 2 * i])?;
    }
    let mut span = [0u8; 8];
    for (i, b) in span.iter_mut().enumerate() {
        *b = hex_byte(&v[36 + 2 * i..38 + 2 * i])?;
    }
    let flags = hex_byte(&v[53..55])?;
    if trace == [0; 16] || span == [0; 8] {
        return None;
    }
    Some((TraceId(trace), SpanId(span), flags))
}

/// The `tracestate` headers joined with `,`; none when absent, empty,
/// longer than the spec's limit, or not printable ASCII.
fn trace_state<'a>(headers: impl Iterator<Item = &'a [u8]>) -> Option<Arc<str>> {
    let mut joined = String::new();
    for h in headers {
        let h = std::str::from_utf8(h).ok()?.trim();
        if h.is_empty() {
            continue;
        }
        if !h.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return None;
        }
        if !joined.is_empty() {
            joined.push(',');
        }
        joined.push_str(h);
        if joined.len() > MAX_TRACESTATE {
            return None;
        }
    }
    (!joined.is_empty()).then(|| Arc::from(joined))
}

/// `traceparent` for a request this gateway sends as span `span`.
pub fn traceparent(trace: TraceId, span: SpanId, sampled: bool) -> HeaderValue {
    let mut out = [0u8; 55];
    out[..3].copy_from_slice(b"00-");
    write_hex(&trace.0, &mut out[3..35]);
    out[35] = b'-';
    write_hex(&span.0, &mut out[36..52]);
    out[52..].copy_from_slice(if sampled { b"-01" } else { b"-00" });
    // Hex and dashes only: always a valid header value.
    HeaderValue::from_bytes(&out).unwrap_or_else(|_| HeaderValue::from_static(""))
}

impl TraceId {
    /// A random trace id (never all zeros).
    pub fn random() -> Self {
        // One u128 drawn, not sixteen bytes one by one.
        let mut rng = rand::thread_rng();
        loop {
            let id: u128 = rng.gen();
            if id != 0 {
                return Self(id.to_be_bytes());
            }
        }
    }

    /// 32 lowercase hex digits, as logs and headers show it.
    pub fn hex(&self) -> String {
        let mut out = [0u8; 32];
        write_hex(&self.0, &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }
}

impl SpanId {
    /// A random span id (never all zeros).
    pub fn random() -> Self {
        let mut rng = rand::thread_rng();
        loop {
            let id: u64 = rng.gen();
            if id != 0 {
                return Self(id.to_be_bytes());
            }
        }
    }

    /// 16 lowercase hex digits.
    pub fn hex(&self) -> String {
        let mut out = [0u8; 16];
        write_hex(&self.0, &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// One byte from two lowercase hex digits.
fn hex_byte(two: &[u8]) -> Option<u8> {
    fn digit(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    Some(digit(two[0])? << 4 | digit(two[1])?)
}

/// Lowercase hex of `bytes` into `out` (twice as long). By hand: the
/// `hex` crate's encoder goes character by character through an iterator,
/// and this runs for every traced request.
fn write_hex(bytes: &[u8], out: &mut [u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in bytes.iter().enumerate() {
        out[2 * i] = DIGITS[usize::from(b >> 4)];
        out[2 * i + 1] = DIGITS[usize::from(b & 0xf)];
    }
}

#[cfg(test)]
mod tests;
