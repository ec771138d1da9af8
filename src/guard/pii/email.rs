//! E-mail addresses, found from their `@`: a dot-atom local part of
//! letters, digits and `. _ % + -` (up to 64; RFC 5322 allows more, such as
//! `/`, `=` and `'`, but next to an address in prose or code those are a
//! path, a query string or a quote), and a domain of two or more labels
//! whose last is 2+ letters. Not addresses: `git@github.com:owner/repo`
//! (an SSH remote) and `icon@2x.png` (a high-resolution asset's name).

use memchr::memchr_iter;

use super::{at, before, is_word, Found, Kind};

const LOCAL_MAX: usize = 64;
const DOMAIN_MAX: usize = 253;
const LABEL_MAX: usize = 63;

/// Every address in `b`, in order, not overlapping.
pub(super) fn find(b: &[u8]) -> Vec<Found> {
    let mut out = Vec::new();
    let mut floor = 0;
    for a in memchr_iter(b'@', b) {
        if a < floor {
            continue;
        }
        if let Some((start, end)) = around(b, a, floor) {
            out.push(Found {
                kind: Kind::Email,
                start,
                end,
            });
            floor = end;
        }
    }
    out
}

/// The address around the `@` at `a`, not reaching back before `floor`.
fn around(b: &[u8], a: usize, floor: usize) -> Option<(usize, usize)> {
    let start = local_start(b, a, floor)?;
    let end = domain_end(b, a + 1)?;
    Some((start, end))
}

fn is_local(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-')
}

/// Where the local part before `a` starts: back over local characters, not
/// past a `..`, then on to its first letter, digit or `_`.
fn local_start(b: &[u8], a: usize, floor: usize) -> Option<usize> {
    if before(b, a) == b'.' {
        return None;
    }
    let mut s = a;
    while s > floor && is_local(before(b, s)) {
        if before(b, s) == b'.' && at(b, s) == b'.' {
            break;
        }
        s -= 1;
    }
    while s < a && !is_word(at(b, s)) {
        s += 1;
    }
    (s < a && a - s <= LOCAL_MAX).then_some(s)
}

/// Where the domain starting at `d` ends, if it is a valid one.
fn domain_end(b: &[u8], d: usize) -> Option<usize> {
    let mut end = d;
    while end - d <= DOMAIN_MAX
        && (at(b, end).is_ascii_alphanumeric() || matches!(at(b, end), b'.' | b'-'))
    {
        if at(b, end) == b'.' && at(b, end + 1) == b'.' {
            break;
        }
        end += 1;
    }
    while end > d && matches!(before(b, end), b'.' | b'-') {
        end -= 1;
    }
    let domain = b.get(d..end)?;
    let ok = domain.len() <= DOMAIN_MAX
        && labels_ok(domain)
        && at(b, end) != b'_'
        && !ssh_remote(b, end)
        && !asset_name(domain);
    ok.then_some(end)
}

/// Two or more labels of 1–63 letters, digits or inner dashes; the last all letters, 2+.
fn labels_ok(domain: &[u8]) -> bool {
    let mut count = 0;
    let mut last: &[u8] = &[];
    for label in domain.split(|&c| c == b'.') {
        let dashed = label.first() == Some(&b'-') || label.last() == Some(&b'-');
        if label.is_empty() || label.len() > LABEL_MAX || dashed {
            return false;
        }
        count += 1;
        last = label;
    }
    count >= 2 && last.len() >= 2 && last.iter().all(u8::is_ascii_alphabetic)
}

/// `host:path` right after the domain: an SSH or SCP remote.
fn ssh_remote(b: &[u8], end: usize) -> bool {
    at(b, end) == b':' && {
        let c = at(b, end + 1);
        c.is_ascii_alphanumeric() || matches!(c, b'/' | b'~')
    }
}

/// `2x.png`: the `@2x` of a high-resolution image's file name.
fn asset_name(domain: &[u8]) -> bool {
    matches!(domain, [d, b'x', b'.', ..] if d.is_ascii_digit())
}
