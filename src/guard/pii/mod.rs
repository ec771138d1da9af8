//! Personal data and secrets in a prompt or a streamed answer: found and
//! replaced by a placeholder (`[EMAIL]`, `[CARD]`, …) for the shipped
//! PII-redaction guardrail.
//!
//! It runs on every request of a route that uses it and on every streamed
//! chunk, so it is a hand-written scanner rather than a set of regexes: one
//! forward pass over the bytes that jumps from token to token (a token is a
//! run of `[A-Za-z0-9_-]`; number groups and IBAN groups may span single
//! spaces), and a `memchr` pass over the `@`s for e-mail addresses. Only
//! ASCII can be part of a finding, so a finding's ends are always char
//! boundaries. The rules for each kind are in its module; they favour
//! precision: a false alarm in ordinary prose or code is as bad as a miss.
//!
//! Every rule decides from the finding itself and at most two bytes around
//! it; [`StreamRedactor`] relies on that to cut a stream where nothing can
//! cross.

mod email;
mod iban;
mod number;
mod secret;
mod stream;

use std::borrow::Cow;

pub use stream::StreamRedactor;

/// A kind of personal data or secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An e-mail address.
    Email,
    /// A phone number, international or in a common national form.
    Phone,
    /// A payment card number (Luhn-valid).
    Card,
    /// An international bank account number (mod-97-valid).
    Iban,
    /// An API key, access token or other credential-shaped string.
    Secret,
}

impl Kind {
    /// Every kind, in a fixed order.
    pub const ALL: [Kind; 5] = [
        Kind::Email,
        Kind::Phone,
        Kind::Card,
        Kind::Iban,
        Kind::Secret,
    ];

    /// `email`, `phone`, `card`, `iban`, `secret` (config and script names).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Email => "email",
            Kind::Phone => "phone",
            Kind::Card => "card",
            Kind::Iban => "iban",
            Kind::Secret => "secret",
        }
    }

    /// The placeholder written instead: `[EMAIL]`, `[PHONE]`, `[CARD]`, `[IBAN]`, `[SECRET]`.
    pub fn placeholder(self) -> &'static str {
        match self {
            Kind::Email => "[EMAIL]",
            Kind::Phone => "[PHONE]",
            Kind::Card => "[CARD]",
            Kind::Iban => "[IBAN]",
            Kind::Secret => "[SECRET]",
        }
    }

    /// The kind named `name` (exactly as [`Kind::name`] writes it).
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of kinds (a bit set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kinds(u8);

impl Kinds {
    /// Every kind.
    pub const ALL: Kinds = Kinds(0b1_1111);
    /// No kind: nothing is found.
    pub const NONE: Kinds = Kinds(0);

    /// This set and `k`.
    pub fn with(self, k: Kind) -> Kinds {
        Kinds(self.0 | k.bit())
    }

    /// True when `k` is in the set.
    pub fn contains(self, k: Kind) -> bool {
        self.0 & k.bit() != 0
    }

    /// True for [`Kinds::NONE`].
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// One finding: its kind and byte range in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// What was found.
    pub kind: Kind,
    /// Byte offset of its first byte.
    pub start: usize,
    /// Byte offset just past its last byte.
    pub end: usize,
}

/// Every finding of `kinds` in `text`, in order, not overlapping.
///
/// `kinds` only filters: text is classified the same whatever is asked for
/// (a Luhn-valid card number is a card, never a phone, even when only
/// phones are asked for). Where candidates overlap, the one that starts
/// first wins, then the longer.
pub fn find(text: &str, kinds: Kinds) -> Vec<Found> {
    if kinds.is_empty() {
        return Vec::new();
    }
    let b = text.as_bytes();
    let mut found = Vec::new();
    scan(b, &mut found);
    let emails = email::find(b);
    if !emails.is_empty() {
        found = merge(found, emails);
    }
    found.retain(|f| kinds.contains(f.kind));
    found
}

/// `text` with each finding replaced by its kind's placeholder; borrowed when nothing was found.
pub fn redact(text: &str, kinds: Kinds) -> Cow<'_, str> {
    let found = find(text, kinds);
    if found.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for f in &found {
        out.push_str(text.get(last..f.start).unwrap_or_default());
        out.push_str(f.kind.placeholder());
        last = f.end;
    }
    out.push_str(text.get(last..).unwrap_or_default());
    Cow::Owned(out)
}

/// The token pass: numbers, IBANs and secrets, in order of their start.
fn scan(b: &[u8], out: &mut Vec<Found>) {
    let mut i = 0;
    while i < b.len() {
        let c = at(b, i);
        if is_token(c) {
            let end = token_end(b, i);
            i = token(b, i, end, out).max(end);
        } else if (c == b'+' || c == b'(') && number::starts(b, i) {
            i = number::scan(b, i, out).0.max(i + 1);
        } else {
            i += 1;
        }
    }
}

/// Findings that start at the token `b[start..end]`; where to go on from.
fn token(b: &[u8], start: usize, end: usize, out: &mut Vec<Found>) -> usize {
    let c = at(b, start);
    let mut next = end;
    if c.is_ascii_digit() && number::starts(b, start) {
        let (span_end, hit) = number::scan(b, start, out);
        if hit {
            return span_end;
        }
        next = next.max(span_end);
    }
    let len = end - start;
    if c.is_ascii_alphabetic() && (len == 4 || len >= iban::MIN) {
        if let Some(e) = iban::at_start(b, start) {
            out.push(Found {
                kind: Kind::Iban,
                start,
                end: e,
            });
            return e;
        }
    }
    if len < secret::MIN {
        return next;
    }
    if let Some(e) = secret::at_start(b, start, end) {
        out.push(Found {
            kind: Kind::Secret,
            start,
            end: e,
        });
        return e;
    }
    next
}

/// Both lists of findings as one, in order, overlaps resolved (first start, then longest wins).
fn merge(mut a: Vec<Found>, b: Vec<Found>) -> Vec<Found> {
    a.extend(b);
    a.sort_unstable_by(|x, y| x.start.cmp(&y.start).then(y.end.cmp(&x.end)));
    let mut last_end = 0;
    a.retain(|f| {
        let keep = f.start >= last_end;
        if keep {
            last_end = f.end;
        }
        keep
    });
    a
}

/// The byte at `i`, or 0 past the end (which every rule treats as a boundary).
fn at(b: &[u8], i: usize) -> u8 {
    b.get(i).copied().unwrap_or(0)
}

/// The byte before `i`, or 0 at the start.
fn before(b: &[u8], i: usize) -> u8 {
    i.checked_sub(1).map_or(0, |j| at(b, j))
}

/// Which bytes are token bytes: a table, as the scan asks for every byte.
static TOKEN: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        t[i] = c.is_ascii_alphanumeric() || c == b'_' || c == b'-';
        i += 1;
    }
    t
};

/// A byte of a token: `[A-Za-z0-9_-]`.
fn is_token(c: u8) -> bool {
    TOKEN.get(usize::from(c)).copied().unwrap_or(false)
}

/// A byte of a word: `[A-Za-z0-9_]` (a finding may not touch one).
fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// The end of the token starting at `start`.
fn token_end(b: &[u8], start: usize) -> usize {
    run_end(b, start, is_token)
}

/// The end of the run of bytes matching `f` from `start`.
fn run_end(b: &[u8], start: usize, f: impl Fn(u8) -> bool) -> usize {
    let rest = b.get(start..).unwrap_or_default();
    start + rest.iter().position(|&c| !f(c)).unwrap_or(rest.len())
}

#[cfg(test)]
mod tests;
