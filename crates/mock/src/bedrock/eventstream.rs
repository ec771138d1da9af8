//! AWS event-stream framing (`application/vnd.amazon.eventstream`), as
//! `converse-stream` sends it: a prelude (total length, headers length,
//! CRC32 of those 8 bytes), string headers (type 7), the JSON payload, and
//! a CRC32 of everything before it. All integers big-endian.

use bytes::Bytes;
use serde_json::{Map, Value};

/// Header value type 7: a string with a 2-byte length.
const STRING: u8 = 7;
/// Prelude (12 bytes) plus the message CRC (4 bytes).
const OVERHEAD: usize = 16;
/// What Bedrock's `"p"` padding field is cut from.
const PADDING: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// One frame with `headers` (name, string value) and `payload`.
pub(crate) fn encode(headers: &[(&str, &str)], payload: &[u8]) -> Bytes {
    let head = encode_headers(headers);
    let total = OVERHEAD + head.len() + payload.len();
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&be32(total));
    out.extend_from_slice(&be32(head.len()));
    let prelude_crc = crc32fast::hash(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    out.extend_from_slice(&head);
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    Bytes::from(out)
}

/// An `event` frame of type `event_type` whose JSON payload is `fields`
/// plus the `"p"` padding (its length varies with `seq`).
pub(crate) fn event(event_type: &str, fields: Value, seq: usize) -> Bytes {
    let mut map = match fields {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    let len = 1 + seq * 7 % PADDING.len();
    map.insert("p".into(), PADDING.get(..len).unwrap_or(PADDING).into());
    let payload = Value::Object(map).to_string();
    encode(&event_headers(event_type), payload.as_bytes())
}

/// An `exception` frame, as Bedrock ends a stream that failed after the
/// 200: `:exception-type: <kind>`, payload `{"message": …}`.
pub(crate) fn exception(kind: &str, message: &str) -> Bytes {
    let payload = serde_json::json!({ "message": message }).to_string();
    let headers = [
        (":exception-type", kind),
        (":content-type", "application/json"),
        (":message-type", "exception"),
    ];
    encode(&headers, payload.as_bytes())
}

/// A well-framed `contentBlockDelta` event whose payload is cut JSON.
pub(crate) fn malformed() -> Bytes {
    let payload = br#"{"contentBlockIndex":0,"delta":{"text":"#;
    encode(&event_headers("contentBlockDelta"), payload)
}

/// One `contentBlockDelta` event of about `bytes` bytes, in pieces: the
/// text is `pad` (pieces of `x`), the CRC computed over the pieces.
pub(crate) fn huge_event(bytes: usize, pad: impl Fn(usize) -> Vec<Bytes>) -> Vec<Bytes> {
    let headers = encode_headers(&event_headers("contentBlockDelta"));
    let open: &[u8] = br#"{"contentBlockIndex":0,"delta":{"text":""#;
    let close: &[u8] = br#""}}"#;
    let fixed = OVERHEAD + headers.len() + open.len() + close.len();
    let padding = pad(bytes.saturating_sub(fixed));
    let pad_len: usize = padding.iter().map(Bytes::len).sum();
    let total = fixed + pad_len;
    let mut head = Vec::with_capacity(12 + headers.len() + open.len());
    head.extend_from_slice(&be32(total));
    head.extend_from_slice(&be32(headers.len()));
    let prelude_crc = crc32fast::hash(&head);
    head.extend_from_slice(&prelude_crc.to_be_bytes());
    head.extend_from_slice(&headers);
    head.extend_from_slice(open);
    let mut crc = crc32fast::Hasher::new();
    crc.update(&head);
    padding.iter().for_each(|p| crc.update(p));
    crc.update(close);
    let mut tail = close.to_vec();
    tail.extend_from_slice(&crc.finalize().to_be_bytes());
    std::iter::once(Bytes::from(head))
        .chain(padding)
        .chain(std::iter::once(Bytes::from(tail)))
        .collect()
}

fn event_headers(event_type: &str) -> [(&str, &str); 3] {
    [
        (":event-type", event_type),
        (":content-type", "application/json"),
        (":message-type", "event"),
    ]
}

fn encode_headers(headers: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in headers {
        // Names and values here are short constants.
        out.push(u8::try_from(name.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(name.as_bytes());
        out.push(STRING);
        out.extend_from_slice(&u16::try_from(value.len()).unwrap_or(u16::MAX).to_be_bytes());
        out.extend_from_slice(value.as_bytes());
    }
    out
}

fn be32(n: usize) -> [u8; 4] {
    u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes()
}
