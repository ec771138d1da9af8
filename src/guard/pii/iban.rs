//! IBANs: two letters (the country), two check digits and up to 30 letters
//! or digits, either in one token or grouped in fours by single spaces (the
//! last group 1–4), in either case. Valid when 15–34 characters long and
//! the ISO 7064 mod-97 of the rearranged number is 1, so a random
//! look-alike passes about once in 97.

use super::{at, is_word, run_end};

/// Shortest IBAN, in characters.
pub(super) const MIN: usize = 15;
const MAX: usize = 34;
/// Groups after the first that a grouped IBAN can have (30 characters).
const GROUPS: usize = 8;

/// The end of the IBAN starting at `start` (a token start), if there is one.
pub(super) fn at_start(b: &[u8], start: usize) -> Option<usize> {
    if !is_head(b.get(start..start + 4)?) {
        return None;
    }
    match at(b, start + 4) {
        c if c.is_ascii_alphanumeric() => compact(b, start),
        b' ' => grouped(b, start),
        _ => None,
    }
}

/// True when `word` may open an IBAN: a country code and check digits.
pub(super) fn is_head(word: &[u8]) -> bool {
    matches!(word, [c, k, d, e]
        if c.is_ascii_alphabetic() && k.is_ascii_alphabetic() && d.is_ascii_digit() && e.is_ascii_digit())
}

fn compact(b: &[u8], start: usize) -> Option<usize> {
    let end = run_end(b, start, |c| c.is_ascii_alphanumeric());
    let ok = !is_word(at(b, end)) && (MIN..=MAX).contains(&(end - start));
    (ok && valid(b.get(start..end)?)).then_some(end)
}

fn grouped(b: &[u8], start: usize) -> Option<usize> {
    let mut ends = [(0usize, 0usize); GROUPS];
    let mut n = 0;
    let mut pos = start + 4;
    let mut len = 4;
    while let Some(slot) = ends.get_mut(n) {
        if at(b, pos) != b' ' {
            break;
        }
        let end = run_end(b, pos + 1, |c| c.is_ascii_alphanumeric());
        let size = end - (pos + 1);
        if size == 0 || size > 4 || at(b, end) == b'_' {
            break;
        }
        len += size;
        *slot = (end, len);
        n += 1;
        pos = end;
        if size < 4 {
            break;
        }
    }
    let found = ends.get(..n).unwrap_or_default();
    found.iter().rev().find_map(|&(end, len)| {
        let ok = (MIN..=MAX).contains(&len) && valid(b.get(start..end)?);
        ok.then_some(end)
    })
}

/// The mod-97 check: the first four characters moved to the end, letters
/// read as 10–35, the whole as one number; spaces are skipped.
fn valid(text: &[u8]) -> bool {
    let chars = text.iter().filter(|c| c.is_ascii_alphanumeric());
    let rearranged = chars.clone().skip(4).chain(chars.take(4));
    let mut r: u32 = 0;
    for &c in rearranged {
        r = if c.is_ascii_digit() {
            (r * 10 + u32::from(c - b'0')) % 97
        } else {
            (r * 100 + u32::from(c.to_ascii_uppercase() - b'A') + 10) % 97
        };
    }
    r == 1
}
