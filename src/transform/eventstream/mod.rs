//! An incremental reader of AWS's binary event-stream framing
//! (`application/vnd.amazon.eventstream`), the stream framing of Amazon
//! Bedrock's ConverseStream. Each message becomes an [`SseEvent`], so that
//! the relay and the adapters treat every framing alike:
//!
//! - `:message-type: event` → the `:event-type` header as the event name,
//!   the payload (UTF-8) as its data;
//! - `:message-type: exception` → `exception:<:exception-type>` with the
//!   payload as data (e.g. `exception:throttlingException`);
//! - `:message-type: error` → `error` with
//!   `{"code": <:error-code>, "message": <:error-message>}` as data.
//!
//! A message (a frame): total length (u32 BE), headers length (u32 BE), a
//! CRC32 of those 8 bytes, the headers, the payload, and a CRC32 of
//! everything before it. Frames may be split across reads in any way. A bad
//! checksum, a malformed header, a length under 16 or a payload that is not
//! UTF-8 marks the stream as junk and ends the reading: there is no way to
//! find the next frame once one is wrong.
//!
//! Written by hand: a frame decoder over the bytes Pingora reads, feeding
//! our [`SseEvent`] with the gateway's event-size limit. The
//! `aws-smithy-eventstream` crate would bring the smithy runtime types for
//! this one job.

use super::sse::{EventTooLarge, SseEvent};

/// The bytes a frame spends on framing: the 12-byte prelude and the
/// trailing 4-byte message CRC.
const FRAMING: usize = 16;
/// Total length, headers length, prelude CRC.
const PRELUDE: usize = 12;

/// One header's value, by its wire type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderValue<'a> {
    /// Types 0 (true) and 1 (false).
    Bool(bool),
    /// Type 2, a signed byte.
    Byte(i8),
    /// Type 3.
    Int16(i16),
    /// Type 4.
    Int32(i32),
    /// Type 5.
    Int64(i64),
    /// Type 6, length-prefixed (u16) bytes.
    Bytes(&'a [u8]),
    /// Type 7, length-prefixed (u16) UTF-8 text.
    String(&'a str),
    /// Type 8, milliseconds since the epoch.
    Timestamp(i64),
    /// Type 9, 16 bytes.
    Uuid([u8; 16]),
}

/// One header of a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header<'a> {
    pub name: &'a str,
    pub value: HeaderValue<'a>,
}

/// One decoded frame, borrowing from the bytes it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame<'a> {
    pub headers: Vec<Header<'a>>,
    pub payload: &'a [u8],
}

impl<'a> Frame<'a> {
    /// The value of the string header `name`, if there is one.
    pub fn header_str(&self, name: &str) -> Option<&'a str> {
        self.headers.iter().find_map(|h| match h.value {
            HeaderValue::String(s) if h.name == name => Some(s),
            _ => None,
        })
    }
}

/// Why a frame could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Fewer bytes than the frame's total length (or than its prelude).
    #[error("the frame is cut short")]
    Short,
    /// More bytes than the frame's total length.
    #[error("bytes after the end of the frame")]
    Trailing,
    /// The total length is under 16, or the headers do not fit in it.
    #[error("the frame's lengths are impossible")]
    Length,
    /// The prelude's checksum does not match.
    #[error("prelude checksum mismatch")]
    PreludeCrc,
    /// The message's checksum does not match.
    #[error("message checksum mismatch")]
    MessageCrc,
    /// A header is cut short, of an unknown type, or a name or string
    /// value is not UTF-8.
    #[error("malformed header")]
    Header,
}

/// The total length a prelude announces, once its checksum is checked.
fn prelude(bytes: &[u8]) -> Result<(usize, usize), FrameError> {
    let (Some(total), Some(headers), Some(crc)) = (be32(bytes, 0), be32(bytes, 4), be32(bytes, 8))
    else {
        return Err(FrameError::Short);
    };
    if crc32fast::hash(bytes.get(..8).unwrap_or_default()) != crc {
        return Err(FrameError::PreludeCrc);
    }
    let (total, headers) = (total as usize, headers as usize);
    if total < FRAMING || headers > total - FRAMING {
        return Err(FrameError::Length);
    }
    Ok((total, headers))
}

/// Decodes `bytes`, exactly one frame: checks both checksums and reads
/// the headers. Fails on anything else (see [`FrameError`]).
pub fn decode_frame(bytes: &[u8]) -> Result<Frame<'_>, FrameError> {
    let (total, headers_len) = prelude(bytes)?;
    match bytes.len().cmp(&total) {
        std::cmp::Ordering::Less => return Err(FrameError::Short),
        std::cmp::Ordering::Greater => return Err(FrameError::Trailing),
        std::cmp::Ordering::Equal => {}
    }
    let body_end = total - 4;
    let crc = be32(bytes, body_end).ok_or(FrameError::Short)?;
    if crc32fast::hash(bytes.get(..body_end).unwrap_or_default()) != crc {
        return Err(FrameError::MessageCrc);
    }
    let headers_end = PRELUDE + headers_len;
    let headers = read_headers(bytes.get(PRELUDE..headers_end).unwrap_or_default())?;
    let payload = bytes.get(headers_end..body_end).unwrap_or_default();
    Ok(Frame { headers, payload })
}

/// Big-endian u32 at `at`.
fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    let b: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
    Some(u32::from_be_bytes(b))
}

/// A cursor over a frame's header bytes.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], FrameError> {
        if self.0.len() < n {
            return Err(FrameError::Header);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], FrameError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn text(&mut self, n: usize) -> Result<&'a str, FrameError> {
        std::str::from_utf8(self.take(n)?).map_err(|_| FrameError::Header)
    }

    /// A u16-length-prefixed value.
    fn sized(&mut self) -> Result<&'a [u8], FrameError> {
        let n = u16::from_be_bytes(self.array()?);
        self.take(n.into())
    }
}

/// All the headers in `bytes`.
fn read_headers(bytes: &[u8]) -> Result<Vec<Header<'_>>, FrameError> {
    let mut r = Reader(bytes);
    let mut headers = Vec::new();
    while !r.0.is_empty() {
        let [name_len] = r.array()?;
        let name = r.text(name_len.into())?;
        let [kind] = r.array()?;
        let value = match kind {
            0 => HeaderValue::Bool(true),
            1 => HeaderValue::Bool(false),
            2 => HeaderValue::Byte(i8::from_be_bytes(r.array()?)),
            3 => HeaderValue::Int16(i16::from_be_bytes(r.array()?)),
            4 => HeaderValue::Int32(i32::from_be_bytes(r.array()?)),
            5 => HeaderValue::Int64(i64::from_be_bytes(r.array()?)),
            6 => HeaderValue::Bytes(r.sized()?),
            7 => HeaderValue::String(
                std::str::from_utf8(r.sized()?).map_err(|_| FrameError::Header)?,
            ),
            8 => HeaderValue::Timestamp(i64::from_be_bytes(r.array()?)),
            9 => HeaderValue::Uuid(r.array()?),
            _ => return Err(FrameError::Header),
        };
        headers.push(Header { name, value });
    }
    Ok(headers)
}

/// Turns an event-stream byte stream into one event per message.
#[derive(Debug)]
pub struct EventStreamParser {
    /// Bytes of frames not complete yet.
    buf: Vec<u8>,
    max_event: usize,
    /// A frame was wrong: everything after it is ignored.
    junk: bool,
}

impl EventStreamParser {
    /// A parser that refuses frames whose payload and headers exceed
    /// `max_event` bytes.
    pub fn new(max_event: usize) -> Self {
        Self {
            buf: Vec::new(),
            max_event,
            junk: false,
        }
    }

    /// Consumes `bytes`, appending an event for every completed frame.
    /// Fails when a frame announces more than the limit.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<SseEvent>) -> Result<(), EventTooLarge> {
        if self.junk {
            return Ok(());
        }
        self.buf.extend_from_slice(bytes);
        let mut start = 0;
        while let Some(rest) = self.buf.get(start..) {
            if rest.len() < PRELUDE {
                break;
            }
            let total = match prelude(rest) {
                Ok((total, _)) => total,
                Err(_) => {
                    self.junk = true;
                    break;
                }
            };
            if total > self.max_event.saturating_add(FRAMING) {
                self.buf.clear();
                return Err(EventTooLarge(self.max_event));
            }
            let Some(frame) = rest.get(..total) else {
                break; // the rest of the frame is in a later read
            };
            match decode_frame(frame).ok().and_then(|f| to_event(&f)) {
                Some(event) => out.push(event),
                None => {
                    self.junk = true;
                    break;
                }
            }
            start += total;
        }
        if self.junk {
            self.buf = Vec::new();
        } else {
            self.buf.drain(..start);
        }
        Ok(())
    }

    /// The stream ended. A frame cut short yields nothing: the relay
    /// reports the truncation.
    pub fn finish(&mut self, _out: &mut Vec<SseEvent>) {
        self.buf.clear();
    }

    /// Whether a frame was wrong (noise, not an event stream).
    pub fn saw_junk(&self) -> bool {
        self.junk
    }
}

/// A frame as an event (see the module doc); `None` when its payload is not
/// UTF-8.
fn to_event(frame: &Frame) -> Option<SseEvent> {
    let data = std::str::from_utf8(frame.payload).ok()?;
    let header = |name| frame.header_str(name).unwrap_or_default();
    let event = match frame.header_str(":message-type") {
        Some("exception") => format!("exception:{}", header(":exception-type")),
        Some("error") => {
            let error = serde_json::json!({
                "code": header(":error-code"),
                "message": header(":error-message"),
            });
            return Some(SseEvent {
                event: "error".into(),
                data: error.to_string(),
            });
        }
        Some("event") | None => header(":event-type").to_string(),
        Some(other) => other.to_string(),
    };
    Some(SseEvent {
        event,
        data: data.to_string(),
    })
}

/// Whether `first` (a body's first bytes) can start an event stream: fewer
/// than a prelude, or a prelude whose checksum holds.
pub fn may_be_eventstream(first: &[u8]) -> bool {
    first.len() < PRELUDE || prelude(first).is_ok()
}

#[cfg(test)]
mod tests;
