//! A streamed answer redacted as it arrives. What has come is redacted up
//! to the last point no finding can cross, and the rest is held for the
//! next piece: `push` for every piece, then `finish`, write exactly what
//! [`redact`] writes for the whole text.
//!
//! Such a point follows a byte that no rule reads (a newline, most
//! punctuation, any non-ASCII char), or a space after which nothing can
//! go on: not after a digit or a number's `)` (phone and card groups span
//! spaces) nor after a group of an IBAN being written. Ordinary prose
//! therefore streams through holding at most its last word.
//!
//! The tail held is at most [`HOLD_MAX`] bytes. A run with no such point
//! that grows longer (a 2 KB token, a long list of numbers) is let go in
//! parts of at least half that, each redacted on its own: a long secret
//! then comes out as several `[SECRET]`s, but a finding across such a cut
//! may be missed.

use super::{before, redact, Kinds};

/// The most bytes held back: above the longest e-mail address (254), IBAN
/// (42 with spaces) and API key (about 200), and a typical JWT.
pub const HOLD_MAX: usize = 1024;

/// Redacts a text that arrives in pieces (a streamed answer) without holding
/// more than the tail that could still be the start of a finding.
#[derive(Debug, Clone)]
pub struct StreamRedactor {
    kinds: Kinds,
    /// Received and not yet written.
    carry: String,
}

impl StreamRedactor {
    /// A redactor of `kinds`.
    pub fn new(kinds: Kinds) -> Self {
        StreamRedactor {
            kinds,
            carry: String::new(),
        }
    }

    /// The redacted text that can be emitted now; keeps back a bounded tail.
    pub fn push(&mut self, piece: &str) -> String {
        if self.kinds.is_empty() {
            return piece.to_string();
        }
        self.carry.push_str(piece);
        let at = cut(&self.carry);
        self.emit(at)
    }

    /// The rest, redacted (the stream ended).
    pub fn finish(&mut self) -> String {
        self.emit(self.carry.len())
    }

    /// Bytes held back now.
    pub fn held(&self) -> usize {
        self.carry.len()
    }

    /// Redacts and drops the first `at` bytes held.
    fn emit(&mut self, at: usize) -> String {
        let Some(head) = self.carry.get(..at) else {
            return String::new();
        };
        let out = redact(head, self.kinds).into_owned();
        self.carry.drain(..at);
        out
    }
}

/// Where `text` may be cut: the last point no finding crosses, or, if that
/// would hold more than [`HOLD_MAX`], where half of that is held (so what is
/// let go is long enough to be judged: a long token is still a secret).
fn cut(text: &str) -> usize {
    let b = text.as_bytes();
    let floor = b.len().saturating_sub(HOLD_MAX);
    let safe = (floor.max(1)..=b.len())
        .rev()
        .find(|&i| text.is_char_boundary(i) && safe_after(b, i - 1));
    match safe {
        Some(i) => i,
        None if floor == 0 => 0,
        None => (b.len().saturating_sub(HOLD_MAX / 2)..b.len())
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(b.len()),
    }
}

/// True when the text may be cut just after the byte at `i`.
fn safe_after(b: &[u8], i: usize) -> bool {
    let c = b.get(i).copied().unwrap_or_default();
    if c == b' ' {
        space_ends(b, i)
    } else {
        !read_by_rules(c)
    }
}

/// Bytes a finding may contain or a rule may look at around one (every
/// other byte, non-ASCII ones included, ends whatever is before it).
fn read_by_rules(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            b' ' | b'_' | b'-' | b'.' | b'@' | b'+' | b'%' | b'(' | b')' | b',' | b':' | b'/'
        )
}

/// True when nothing before the space at `sp` can go on after it: it does
/// not follow a digit or a number's `)`, nor a group of an IBAN.
fn space_ends(b: &[u8], sp: usize) -> bool {
    let last = before(b, sp);
    let number = last.is_ascii_digit() || (last == b')' && before(b, sp - 1).is_ascii_digit());
    !number && !in_iban(b, sp)
}

/// True when the word before the space at `sp` is four letters or digits in
/// a chain of such words, one space apart, that starts with an IBAN's head.
fn in_iban(b: &[u8], mut sp: usize) -> bool {
    loop {
        let Some(start) = sp.checked_sub(4) else {
            return false;
        };
        let word = b.get(start..sp).unwrap_or_default();
        let gap = before(b, start);
        if !word.iter().all(u8::is_ascii_alphanumeric) || gap.is_ascii_alphanumeric() {
            return false;
        }
        if super::iban::is_head(word) {
            return true;
        }
        if gap != b' ' {
            return false;
        }
        sp = start - 1;
    }
}
