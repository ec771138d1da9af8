//! An incremental server-sent-events parser (WHATWG rules: CR, LF and CRLF
//! line ends, also split across reads; `:` comments; multi-line `data`;
//! a blank line dispatches) and the writer for events we send.
//!
//! Written by hand: the SSE crates on crates.io are clients bound to an
//! HTTP stack; this one is fed the bytes Pingora reads, chunk by chunk.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` field; empty when absent.
    pub event: String,
    /// The `data:` lines joined with `\n`.
    pub data: String,
}

/// The event being assembled grew past the limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stream event larger than {0} bytes")]
pub struct EventTooLarge(pub usize);

/// Turns a byte stream into events; keeps partial lines between reads.
#[derive(Debug)]
pub struct SseParser {
    line: Vec<u8>,
    event: String,
    data: String,
    has_data: bool,
    skip_lf: bool,
    /// The first line has ended (a leading BOM is gone).
    started: bool,
    max_event: usize,
    /// A line that is no SSE field was seen (noise, not events).
    junk: bool,
}

impl SseParser {
    /// A parser that refuses events larger than `max_event` bytes.
    pub fn new(max_event: usize) -> Self {
        Self {
            line: Vec::new(),
            event: String::new(),
            data: String::new(),
            has_data: false,
            skip_lf: false,
            started: false,
            max_event,
            junk: false,
        }
    }

    /// Consumes `bytes`, appending every completed event to `out`.
    pub fn feed(&mut self, mut bytes: &[u8], out: &mut Vec<SseEvent>) -> Result<(), EventTooLarge> {
        if self.skip_lf {
            self.skip_lf = false;
            bytes = bytes.strip_prefix(b"\n").unwrap_or(bytes);
        }
        // memchr: a byte-at-a-time scan was a tenth of a relayed stream's
        // instructions (benches/instructions.sh).
        while let Some(i) = memchr::memchr2(b'\n', b'\r', bytes) {
            // Checked before copying: the buffers never grow past the limit.
            self.check(i)?;
            self.line.extend_from_slice(&bytes[..i]);
            self.end_line(out);
            if bytes[i] == b'\r' {
                match bytes.get(i + 1) {
                    Some(b'\n') => bytes = &bytes[i + 2..],
                    Some(_) => bytes = &bytes[i + 1..],
                    None => {
                        self.skip_lf = true;
                        bytes = &[];
                    }
                }
            } else {
                bytes = &bytes[i + 1..];
            }
        }
        self.check(bytes.len())?;
        self.line.extend_from_slice(bytes);
        Ok(())
    }

    /// Whether `more` bytes of the current line still fit the event limit.
    fn check(&self, more: usize) -> Result<(), EventTooLarge> {
        if self.line.len() + self.data.len() + more > self.max_event {
            return Err(EventTooLarge(self.max_event));
        }
        Ok(())
    }

    /// Whether a line that is no SSE field (`data`, `event`, `id`,
    /// `retry` or a comment) was seen: the input is not (only) events.
    pub fn saw_junk(&self) -> bool {
        self.junk
    }

    /// At end of input: dispatches an unterminated last event (leniently,
    /// as the OpenAI and Gemini SDKs do).
    pub fn finish(&mut self, out: &mut Vec<SseEvent>) {
        if !self.line.is_empty() {
            self.end_line(out);
        }
        self.end_line(out);
    }

    fn end_line(&mut self, out: &mut Vec<SseEvent>) {
        // A BOM may open the stream; stripped from the first whole line, as
        // it can arrive split across reads.
        if !self.started {
            self.started = true;
            if self.line.starts_with(b"\xEF\xBB\xBF") {
                self.line.drain(..3);
            }
        }
        if self.line.is_empty() {
            if self.has_data {
                // Sized like the last event: one allocation, no regrowth.
                let data = String::with_capacity(self.data.capacity());
                out.push(SseEvent {
                    event: std::mem::take(&mut self.event),
                    data: std::mem::replace(&mut self.data, data),
                });
            }
            self.event.clear();
            self.data.clear();
            self.has_data = false;
            return;
        }
        // The line buffer keeps its capacity from line to line.
        let line = std::mem::take(&mut self.line);
        if line[0] != b':' {
            // `from_utf8` validates ASCII a word at a time; the lossy
            // conversion walks every byte (8% of a relayed stream's
            // instructions), so it only handles the invalid case.
            match std::str::from_utf8(&line) {
                Ok(text) => self.field(text),
                Err(_) => self.field(&String::from_utf8_lossy(&line)),
            }
        }
        self.line = line;
        self.line.clear();
    }

    /// One `name: value` line of the event being assembled.
    fn field(&mut self, text: &str) {
        let (name, value) = match text.split_once(':') {
            Some((n, v)) => (n, v.strip_prefix(' ').unwrap_or(v)),
            None => (text, ""),
        };
        match name {
            "event" => {
                self.event.clear();
                self.event.push_str(value);
            }
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "id" | "retry" => {}
            _ => self.junk = true,
        }
    }
}

/// `data: <json>`: `value` serialized straight into `out` — compact JSON
/// has no newline, so one line — instead of through `Display` and a
/// `String` (a fifth of a translated stream's instructions went there).
pub fn write_json(out: &mut Vec<u8>, value: &serde_json::Value) {
    out.extend_from_slice(b"data: ");
    // Writing a `Value` into a `Vec` cannot fail: its keys are strings.
    let _ = serde_json::to_writer(&mut *out, value);
    out.extend_from_slice(b"\n\n");
}

/// Appends `data: …\n\n` (one `data:` line per line of `data`).
pub fn write_data(out: &mut Vec<u8>, data: &str) {
    for line in data.split('\n') {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests;
