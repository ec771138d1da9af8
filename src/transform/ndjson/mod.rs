//! An incremental newline-delimited JSON reader: the stream framing of
//! providers such as Ollama (`application/x-ndjson`), one JSON object per
//! line. Each non-blank line becomes an [`SseEvent`] with an empty name and
//! the line as its data, so that the relay and the adapters treat both
//! framings alike. Lines may end in LF or CRLF and be split across reads.
//!
//! Written by hand: a line splitter over the bytes Pingora reads, with the
//! same event-size limit as the SSE parser; no crate does just this.

use super::sse::{EventTooLarge, SseEvent};

/// Turns a byte stream into one event per line.
#[derive(Debug)]
pub struct NdjsonParser {
    line: Vec<u8>,
    max_event: usize,
    /// A line that is not valid UTF-8, or not a JSON object, was seen.
    junk: bool,
}

impl NdjsonParser {
    /// A parser that refuses lines longer than `max_event` bytes.
    pub fn new(max_event: usize) -> Self {
        Self {
            line: Vec::new(),
            max_event,
            junk: false,
        }
    }

    /// Consumes `bytes`, appending an event for every completed line.
    pub fn feed(&mut self, mut bytes: &[u8], out: &mut Vec<SseEvent>) -> Result<(), EventTooLarge> {
        while let Some(i) = memchr::memchr(b'\n', bytes) {
            if self.line.len() + i > self.max_event {
                return Err(EventTooLarge(self.max_event));
            }
            self.line.extend_from_slice(&bytes[..i]);
            self.dispatch(out);
            bytes = &bytes[i + 1..];
        }
        if self.line.len() + bytes.len() > self.max_event {
            return Err(EventTooLarge(self.max_event));
        }
        self.line.extend_from_slice(bytes);
        Ok(())
    }

    /// The stream ended: a last line without its newline still counts.
    pub fn finish(&mut self, out: &mut Vec<SseEvent>) {
        self.dispatch(out);
    }

    /// Whether a line was not a JSON object (noise, not NDJSON).
    pub fn saw_junk(&self) -> bool {
        self.junk
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        let line = self.line.strip_suffix(b"\r").unwrap_or(&self.line);
        let trimmed = line.trim_ascii();
        if !trimmed.is_empty() {
            match std::str::from_utf8(trimmed) {
                Ok(text) => {
                    if !(text.starts_with('{') && text.ends_with('}')) {
                        self.junk = true;
                    }
                    out.push(SseEvent {
                        event: String::new(),
                        data: text.to_string(),
                    });
                }
                Err(_) => self.junk = true,
            }
        }
        self.line.clear();
    }
}

/// Whether `first` (a body's first bytes) can start NDJSON: after
/// whitespace, a JSON object.
pub fn may_be_ndjson(first: &[u8]) -> bool {
    match first.iter().find(|b| !b.is_ascii_whitespace()) {
        None => true,
        Some(b) => *b == b'{',
    }
}

#[cfg(test)]
mod tests;
