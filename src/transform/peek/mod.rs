//! One pass over an OpenAI-format stream event that is forwarded as it
//! came: checks that it is one JSON object (RFC 8259) and reads the three
//! things the relay must know — a usage that is there, an in-band error,
//! a choice that finished — without building anything.
//!
//! Written by hand: serde_json can only validate through its visitor
//! machinery (a `Deserialize` of `IgnoredAny` or of a peek struct), which
//! cost ~6,600 instructions per 245-byte event — three quarters of what a
//! relayed stream added over a bare proxy (`benches/instructions.sh`,
//! callgrind); no crate validates JSON and reports keys at fixed depths in
//! one tree-less scan. This one is a few instructions per byte. Its verdict
//! is checked against serde_json's in the unit tests and the
//! `event_peek` fuzz target.

/// What an event carries that matters to the relay. A key written twice
/// counts if either of its values would (serde_json keeps the last): the
/// relay then parses the event fully, which is never wrong.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Peek {
    /// A top-level `usage` that is not `null`: the final usage chunk.
    pub usage: bool,
    /// A top-level `error` that is not `null`: an in-band error.
    pub error: bool,
    /// An element of the top-level `choices` array has a `finish_reason`
    /// that is not `null`.
    pub finished: bool,
    /// A key of the top-level object, or of a choice, is written with
    /// escapes: the flags above may miss it, so the caller should parse
    /// the event fully.
    pub escaped_keys: bool,
}

/// Nesting deeper than this is refused, as serde_json refuses it (its
/// recursion limit of 128 admits 127 levels).
const MAX_DEPTH: usize = 127;

/// Where a value sits, for the keys the peek looks for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum At {
    Elsewhere,
    /// The top-level object's value.
    Top,
    /// The top-level `choices` array.
    Choices,
    /// An element of `choices`.
    Choice,
}

/// Validates `json` as one JSON object, surrounded by whitespace at most,
/// and peeks at it; `None` if it is anything else.
pub fn event(json: &[u8]) -> Option<Peek> {
    let mut s = Scanner {
        b: json,
        i: 0,
        peek: Peek::default(),
        depth: 0,
    };
    s.ws();
    if s.b.get(s.i) != Some(&b'{') {
        return None;
    }
    s.value(At::Top)?;
    s.ws();
    (s.i == s.b.len()).then_some(s.peek)
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
    peek: Peek,
    depth: usize,
}

impl<'a> Scanner<'a> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    /// A value at `at`; returns whether it was `null`.
    fn value(&mut self, at: At) -> Option<bool> {
        match *self.b.get(self.i)? {
            b'{' => self.object(at).map(|()| false),
            b'[' => self.array(at).map(|()| false),
            b'"' => self.string().map(|_| false),
            b't' => self.literal(b"true").map(|()| false),
            b'f' => self.literal(b"false").map(|()| false),
            b'n' => self.literal(b"null").map(|()| true),
            b'-' | b'0'..=b'9' => self.number().map(|()| false),
            _ => None,
        }
    }

    /// Steps into the object or array opening at `self.i`; `Some(true)`
    /// when it is empty (`close` follows at once, consumed).
    fn open(&mut self, close: u8) -> Option<bool> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        self.i += 1;
        self.ws();
        Some(self.close(close))
    }

    /// After a member: `,` (consumed; `Some(false)`, another follows) or
    /// `close` (consumed; `Some(true)`, the container ends); else `None`.
    fn next(&mut self, close: u8) -> Option<bool> {
        self.ws();
        match *self.b.get(self.i)? {
            b',' => {
                self.i += 1;
                self.ws();
                Some(false)
            }
            c if c == close => Some(self.close(close)),
            _ => None,
        }
    }

    /// Consumes `close` if it is next, leaving the container.
    fn close(&mut self, close: u8) -> bool {
        let closes = self.b.get(self.i) == Some(&close);
        if closes {
            self.i += 1;
            self.depth -= 1;
        }
        closes
    }

    /// `{` at `self.i`; `at` is where the object itself sits.
    fn object(&mut self, at: At) -> Option<()> {
        if self.open(b'}')? {
            return Some(());
        }
        loop {
            if self.b.get(self.i) != Some(&b'"') {
                return None;
            }
            let (key, escaped) = self.string()?;
            self.ws();
            if self.b.get(self.i) != Some(&b':') {
                return None;
            }
            self.i += 1;
            self.ws();
            let watched = matches!(at, At::Top | At::Choice);
            if watched && escaped {
                self.peek.escaped_keys = true;
            }
            let inner = match (at, key) {
                (At::Top, b"choices") => At::Choices,
                _ => At::Elsewhere,
            };
            let null = self.value(inner)?;
            match (at, key) {
                (At::Top, b"usage") => self.peek.usage |= !null,
                (At::Top, b"error") => self.peek.error |= !null,
                (At::Choice, b"finish_reason") => self.peek.finished |= !null,
                _ => {}
            }
            if self.next(b'}')? {
                return Some(());
            }
        }
    }

    fn array(&mut self, at: At) -> Option<()> {
        if self.open(b']')? {
            return Some(());
        }
        let inner = if at == At::Choices {
            At::Choice
        } else {
            At::Elsewhere
        };
        loop {
            // A choice is an object; anything else in `choices` is only checked.
            let at = if self.b.get(self.i) == Some(&b'{') {
                inner
            } else {
                At::Elsewhere
            };
            self.value(at)?;
            if self.next(b']')? {
                return Some(());
            }
        }
    }

    /// `"` at `self.i`; returns the string's raw bytes, between the quotes,
    /// and whether it holds an escape.
    fn string(&mut self) -> Option<(&'a [u8], bool)> {
        let all: &'a [u8] = self.b;
        let start = self.i + 1;
        let mut i = start;
        let mut escaped = false;
        loop {
            i += plain_run(all.get(i..)?);
            match *all.get(i)? {
                b'"' => {
                    self.i = i + 1;
                    return Some((all.get(start..i)?, escaped));
                }
                b'\\' => {
                    escaped = true;
                    i += 1;
                    match *all.get(i)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 1,
                        b'u' => {
                            let hex = all.get(i + 1..i + 5)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return None;
                            }
                            i += 5;
                        }
                        _ => return None,
                    }
                }
                // A control character, not allowed raw in a JSON string.
                _ => return None,
            }
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        if self.b.get(self.i..self.i + word.len())? == word {
            self.i += word.len();
            Some(())
        } else {
            None
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while self.b.get(self.i).is_some_and(u8::is_ascii_digit) {
            self.i += 1;
        }
        self.i - start
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    fn number(&mut self) -> Option<()> {
        if self.b.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        match self.b.get(self.i)? {
            b'0' => self.i += 1,
            b'1'..=b'9' => {
                self.digits();
            }
            _ => return None,
        }
        if self.b.get(self.i) == Some(&b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return None;
            }
        }
        if let Some(b'e' | b'E') = self.b.get(self.i) {
            self.i += 1;
            if let Some(b'+' | b'-') = self.b.get(self.i) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return None;
            }
        }
        Some(())
    }
}

/// How many bytes of `b` come before the first that ends a plain run of
/// a string: a quote, a backslash or a control character. Eight bytes at
/// a time (the bit tricks of "Bit Twiddling Hacks", as serde_json's own
/// string scan does): a byte-at-a-time loop was the scan's main cost.
fn plain_run(b: &[u8]) -> usize {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    const QUOTE: u64 = u64::from_ne_bytes([b'"'; 8]);
    const BACKSLASH: u64 = u64::from_ne_bytes([b'\\'; 8]);
    const SPACE: u64 = u64::from_ne_bytes([0x20; 8]);
    let mut i = 0;
    while let Some(word) = b.get(i..i + 8) {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        let v = u64::from_le_bytes(bytes);
        // The high bit of each byte that is zero after the xor, or below
        // 0x20; exact for the first such byte, which is the one we need.
        let quote = v ^ QUOTE;
        let backslash = v ^ BACKSLASH;
        let found = (quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash)
            | (v.wrapping_sub(SPACE) & !v);
        let found = found & HIGH;
        if found != 0 {
            return i + (found.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        if c == b'"' || c == b'\\' || c < 0x20 {
            break;
        }
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests;
