//! The frame decoder against AWS's published test vectors (copied from
//! aws/aws-sdk-go `private/protocol/eventstream/testdata/`, the same set as
//! awslabs/aws-c-event-stream's), and the incremental parser.

use base64::Engine as _;
use serde_json::{json, Value};

use super::*;

macro_rules! vector {
    ($kind:literal, $name:literal) => {
        (
            $name,
            include_bytes!(concat!("vectors/encoded/", $kind, "/", $name)).as_slice(),
        )
    };
}

fn positive() -> Vec<(&'static str, &'static [u8], Value)> {
    macro_rules! both {
        ($name:literal) => {{
            let (name, bytes) = vector!("positive", $name);
            let decoded = include_str!(concat!("vectors/decoded/positive/", $name));
            (name, bytes, serde_json::from_str(decoded).unwrap())
        }};
    }
    vec![
        both!("all_headers"),
        both!("empty_message"),
        both!("int32_header"),
        both!("payload_no_headers"),
        both!("payload_one_str_header"),
    ]
}

fn negative() -> Vec<(&'static str, &'static [u8])> {
    vec![
        vector!("negative", "corrupted_header_len"),
        vector!("negative", "corrupted_headers"),
        vector!("negative", "corrupted_length"),
        vector!("negative", "corrupted_payload"),
    ]
}

fn b64(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

/// A header as the test vectors write it: `{name, type, value}`, strings
/// and byte values base64-encoded.
fn header_json(h: &Header) -> Value {
    let (kind, value) = match &h.value {
        HeaderValue::Bool(true) => (0, json!(true)),
        HeaderValue::Bool(false) => (1, json!(false)),
        HeaderValue::Byte(b) => (2, json!(b)),
        HeaderValue::Int16(n) => (3, json!(n)),
        HeaderValue::Int32(n) => (4, json!(n)),
        HeaderValue::Int64(n) => (5, json!(n)),
        HeaderValue::Bytes(b) => (
            6,
            json!(base64::engine::general_purpose::STANDARD.encode(b)),
        ),
        HeaderValue::String(s) => (
            7,
            json!(base64::engine::general_purpose::STANDARD.encode(s)),
        ),
        HeaderValue::Timestamp(t) => (8, json!(t)),
        HeaderValue::Uuid(u) => (
            9,
            json!(base64::engine::general_purpose::STANDARD.encode(u)),
        ),
    };
    json!({"name": h.name, "type": kind, "value": value})
}

#[test]
fn every_positive_vector_decodes_to_its_headers_and_payload() {
    for (name, bytes, want) in positive() {
        let frame = decode_frame(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(bytes.len() as u64, want["total_length"], "{name}");
        let headers: Vec<Value> = frame.headers.iter().map(header_json).collect();
        assert_eq!(Value::Array(headers), want["headers"], "{name}");
        assert_eq!(
            frame.payload,
            b64(want["payload"].as_str().unwrap()),
            "{name}"
        );
        let crc = |v: &Value| v.as_i64().unwrap() as u32; // written signed or not
        assert_eq!(
            crc32fast::hash(&bytes[..8]),
            crc(&want["prelude_crc"]),
            "{name}"
        );
        let end = bytes.len() - 4;
        assert_eq!(
            crc32fast::hash(&bytes[..end]),
            crc(&want["message_crc"]),
            "{name}"
        );
    }
}

#[test]
fn every_negative_vector_is_refused() {
    let expected = [
        ("corrupted_header_len", FrameError::PreludeCrc),
        ("corrupted_headers", FrameError::MessageCrc),
        ("corrupted_length", FrameError::PreludeCrc),
        ("corrupted_payload", FrameError::MessageCrc),
    ];
    for ((name, bytes), (want_name, want)) in negative().into_iter().zip(expected) {
        assert_eq!(name, want_name);
        assert_eq!(decode_frame(bytes), Err(want), "{name}");
        let mut p = EventStreamParser::new(1 << 20);
        let mut out = Vec::new();
        p.feed(bytes, &mut out).unwrap();
        p.finish(&mut out);
        assert!(out.is_empty() && p.saw_junk(), "{name}");
    }
}

/// A header value to encode.
enum V<'a> {
    Str(&'a str),
    I32(i32),
}

/// One frame with `headers` and `payload`, checksums and all.
fn frame(headers: &[(&str, V)], payload: &[u8]) -> Vec<u8> {
    let mut h = Vec::new();
    for (name, value) in headers {
        h.push(name.len() as u8);
        h.extend_from_slice(name.as_bytes());
        match value {
            V::Str(s) => {
                h.push(7);
                h.extend_from_slice(&(s.len() as u16).to_be_bytes());
                h.extend_from_slice(s.as_bytes());
            }
            V::I32(n) => {
                h.push(4);
                h.extend_from_slice(&n.to_be_bytes());
            }
        }
    }
    let total = 16 + h.len() + payload.len();
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.extend_from_slice(&(h.len() as u32).to_be_bytes());
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

fn event_frame(kind: &str, payload: &str) -> Vec<u8> {
    frame(
        &[
            (":event-type", V::Str(kind)),
            (":content-type", V::Str("application/json")),
            (":message-type", V::Str("event")),
        ],
        payload.as_bytes(),
    )
}

fn parse_in_pieces(bytes: &[u8], size: usize) -> (Vec<SseEvent>, bool) {
    let mut p = EventStreamParser::new(1 << 20);
    let mut out = Vec::new();
    for piece in bytes.chunks(size) {
        p.feed(piece, &mut out).unwrap();
    }
    p.finish(&mut out);
    (out, p.saw_junk())
}

fn ev(event: &str, data: &str) -> SseEvent {
    SseEvent {
        event: event.into(),
        data: data.into(),
    }
}

#[test]
fn frames_decode_whatever_the_read_sizes() {
    let mut bytes = event_frame("messageStart", r#"{"role":"assistant"}"#);
    bytes.extend(event_frame(
        "contentBlockDelta",
        r#"{"delta":{"text":"Hi"}}"#,
    ));
    bytes.extend(event_frame("messageStop", r#"{"stopReason":"end_turn"}"#));
    let want = [
        ev("messageStart", r#"{"role":"assistant"}"#),
        ev("contentBlockDelta", r#"{"delta":{"text":"Hi"}}"#),
        ev("messageStop", r#"{"stopReason":"end_turn"}"#),
    ];
    for size in 1..=bytes.len() {
        let (got, junk) = parse_in_pieces(&bytes, size);
        assert_eq!(got, want, "pieces of {size}");
        assert!(!junk);
    }
}

#[test]
fn two_frames_in_one_read_are_two_events() {
    let mut bytes = event_frame("a", "{}");
    bytes.extend(event_frame("b", "[]"));
    let (got, _) = parse_in_pieces(&bytes, bytes.len());
    assert_eq!(got, [ev("a", "{}"), ev("b", "[]")]);
}

#[test]
fn exceptions_and_errors_are_named_events() {
    let exception = frame(
        &[
            (":exception-type", V::Str("throttlingException")),
            (":content-type", V::Str("application/json")),
            (":message-type", V::Str("exception")),
        ],
        br#"{"message":"slow down"}"#,
    );
    let error = frame(
        &[
            (":message-type", V::Str("error")),
            (":error-code", V::Str("InternalFailure")),
            (":error-message", V::Str("it broke")),
        ],
        b"",
    );
    let (got, junk) = parse_in_pieces(&[exception, error].concat(), 7);
    assert!(!junk);
    assert_eq!(
        got[0],
        ev(
            "exception:throttlingException",
            r#"{"message":"slow down"}"#
        )
    );
    assert_eq!(got[1].event, "error");
    let data: Value = serde_json::from_str(&got[1].data).unwrap();
    assert_eq!(
        data,
        json!({"code": "InternalFailure", "message": "it broke"})
    );
}

#[test]
fn a_frame_over_the_limit_is_too_large() {
    let bytes = event_frame("big", &"x".repeat(100));
    let headers_and_payload = bytes.len() - 16;
    let mut p = EventStreamParser::new(headers_and_payload);
    let mut out = Vec::new();
    assert!(p.feed(&bytes, &mut out).is_ok(), "exactly the limit fits");
    assert_eq!(out.len(), 1);
    let mut p = EventStreamParser::new(headers_and_payload - 1);
    // Refused from its prelude, before the rest arrives.
    assert_eq!(
        p.feed(&bytes[..12], &mut out),
        Err(EventTooLarge(headers_and_payload - 1))
    );
}

#[test]
fn a_bad_frame_makes_the_rest_junk() {
    let good = event_frame("a", "{}");
    let mut bad = event_frame("b", "{}");
    let last = bad.len() - 1;
    bad[last] ^= 1;
    let (got, junk) = parse_in_pieces(&[good.clone(), bad, good.clone()].concat(), 5);
    assert_eq!(got, [ev("a", "{}")]);
    assert!(junk);
    // Not UTF-8.
    let (got, junk) = parse_in_pieces(&event_frame_bytes(b"\xff\xfe"), 64);
    assert!(got.is_empty() && junk);
    // A length under 16 with a valid prelude checksum.
    let mut short = Vec::new();
    short.extend_from_slice(&8u32.to_be_bytes());
    short.extend_from_slice(&0u32.to_be_bytes());
    let crc = crc32fast::hash(&short);
    short.extend_from_slice(&crc.to_be_bytes());
    assert_eq!(decode_frame(&short), Err(FrameError::Length));
    let (got, junk) = parse_in_pieces(&[short, good].concat(), 64);
    assert!(got.is_empty() && junk);
}

fn event_frame_bytes(payload: &[u8]) -> Vec<u8> {
    frame(
        &[
            (":message-type", V::Str("event")),
            (":event-type", V::Str("x")),
        ],
        payload,
    )
}

#[test]
fn malformed_headers_are_refused() {
    // A header of an unknown type (10), checksums right.
    let mut h = vec![1, b'a', 10];
    h.extend_from_slice(b"zz");
    let total = 16 + h.len();
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&(total as u32).to_be_bytes());
    bytes.extend_from_slice(&(h.len() as u32).to_be_bytes());
    let crc = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&crc.to_be_bytes());
    bytes.extend_from_slice(&h);
    let crc = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&crc.to_be_bytes());
    assert_eq!(decode_frame(&bytes), Err(FrameError::Header));
    // A string header whose length runs past the headers.
    let ok = frame(&[("n", V::I32(7))], b"");
    assert_eq!(
        decode_frame(&ok).unwrap().headers[0].value,
        HeaderValue::Int32(7)
    );
    assert_eq!(decode_frame(&ok[..ok.len() - 1]), Err(FrameError::Short));
}

#[test]
fn a_frame_cut_short_at_the_end_is_no_event_and_no_junk() {
    let bytes = event_frame("a", "{}");
    let (got, junk) = parse_in_pieces(&bytes[..bytes.len() - 3], 4);
    assert!(got.is_empty() && !junk);
    assert!(may_be_eventstream(&bytes[..5]));
    assert!(may_be_eventstream(&bytes));
    assert!(!may_be_eventstream(b"data: {\"a\":1}\n\n"));
}
