//! Phone and card numbers. A number is read as one span of digit groups
//! joined by a single space, dash or dot (or nothing after a `(…)` group),
//! maybe led by `+`; then its windows of groups are tried, widest first, as
//! a card, then as a phone. A group that runs into a letter, or that goes on
//! as `,5`, `:30` or `/12`, belongs to something else and ends the span.
//!
//! - Card: 13–19 digits, no `+` or parentheses, one group or groups of 4
//!   (the last 1–4) or 4-6-5 / 4-6-4, one kind of separator, a first digit
//!   of 2–6 (the payment networks' major industry identifiers) and a valid
//!   Luhn check digit.
//! - Phone, international: `+`, then 7–15 digits; one group of at least 8
//!   digits, or a country code of 1–3 digits (not starting with 0) followed
//!   by groups of at most 10 digits, the last at least 2 (`+1` needs exactly
//!   ten more). The `00` dialling prefix is not read as `+`: `0011 2233 4455
//!   6677` is more often a serial number than a call to Australia.
//! - Phone, North American: `415-555-0100`, `415.555.0100`, `415 555 0100`,
//!   `(415) 555-0100`, maybe led by `1`; area and exchange start with 2–9.
//! - Phone, national with a trunk `0`: `020 7946 0958`, `(020) 7946 0958`,
//!   `01 23 45 67 89`: 10–11 digits, one kind of separator.
//!
//! So a lone digit run is never a phone (it may be an id or a timestamp),
//! nor are dates, times, versions, IP addresses, decimals or ranges; a
//! seven-digit `555-0100` without its area code is not read either (it
//! looks like a range such as `100-2000`).

use super::{at, before, is_word, run_end, Found, Kind};

/// Most groups read in one span (a longer list of numbers ends there).
const MAX_GROUPS: usize = 16;
/// Most groups in one finding (a card has at most 5, a phone rarely 7).
const MAX_WINDOW: usize = 8;

/// One group of digits.
#[derive(Debug, Clone, Copy, Default)]
struct Group {
    /// Its first byte (the `(` of a parenthesized group).
    start: usize,
    /// Just past its last digit or its `)`.
    end: usize,
    digits: usize,
    paren: bool,
    /// The separator before it: ` `, `-`, `.`, or 0 (the first group, or
    /// one right after a `)`).
    sep: u8,
    /// Its first two digits (0 for a missing second).
    lead: [u8; 2],
}

/// True when a number may start at `i` (a digit, `+` or `(`): not inside
/// a word, nor after `1,`, `1.`, `10:` or `12/` (the rest of a number).
pub(super) fn starts(b: &[u8], i: usize) -> bool {
    let p = before(b, i);
    if is_word(p) {
        return false;
    }
    let c = at(b, i);
    if c == b'+' {
        return at(b, i + 1).is_ascii_digit();
    }
    if matches!(p, b',' | b'.' | b':' | b'/') && before(b, i.saturating_sub(1)).is_ascii_digit() {
        return false;
    }
    c.is_ascii_digit() || (c == b'(' && at(b, i + 1).is_ascii_digit())
}

/// Reads the span at `start`, records its cards and phones; returns where
/// the span ends and whether anything was found.
pub(super) fn scan(b: &[u8], start: usize, out: &mut Vec<Found>) -> (usize, bool) {
    if let Some(end) = lone(b, start) {
        return (end, false);
    }
    let mut all = [Group::default(); MAX_GROUPS];
    let (plus, n) = read(b, start, &mut all);
    let groups = all.get(..n).unwrap_or_default();
    let end = groups.last().map_or(start + 1, |g| g.end);
    let mut hit = false;
    let mut s = 0;
    while let Some(first) = groups.get(s) {
        match widest(b, groups, s, plus && s == 0) {
            Some((e, kind)) => {
                let from = if s == 0 { start } else { first.start };
                let to = groups.get(e - 1).map_or(end, |g| g.end);
                out.push(Found {
                    kind,
                    start: from,
                    end: to,
                });
                hit = true;
                s = e;
            }
            None => s += 1,
        }
    }
    (end, hit)
}

/// The end of a number too short to be anything and not followed by
/// another group (`2024`, `42`): most numbers in prose, skipped quickly.
fn lone(b: &[u8], start: usize) -> Option<usize> {
    let g = group_at(b, start, 0).filter(|g| !g.paren && g.digits < 13)?;
    let more = matches!(at(b, g.end), b' ' | b'-' | b'.') && opens(b, g.end + 1);
    (!more).then_some(g.end)
}

/// Fills `groups` with the span's groups; returns whether it is led by `+`
/// and how many groups it has.
fn read(b: &[u8], start: usize, groups: &mut [Group; MAX_GROUPS]) -> (bool, usize) {
    let plus = at(b, start) == b'+';
    let mut i = start + usize::from(plus);
    let mut sep = 0;
    let mut n = 0;
    while let Some(slot) = groups.get_mut(n) {
        let Some(g) = group_at(b, i, sep) else { break };
        if !g.paren && is_word(at(b, g.end)) {
            break;
        }
        *slot = g;
        n += 1;
        let c = at(b, g.end);
        if g.paren && c.is_ascii_digit() {
            (sep, i) = (0, g.end);
        } else if matches!(c, b' ' | b'-' | b'.') && opens(b, g.end + 1) {
            (sep, i) = (c, g.end + 1);
        } else {
            break;
        }
    }
    let last_end = n.checked_sub(1).and_then(|l| groups.get(l)).map(|g| g.end);
    if let Some(e) = last_end {
        if matches!(at(b, e), b',' | b':' | b'/') && at(b, e + 1).is_ascii_digit() {
            n -= 1;
        }
    }
    (plus, n)
}

/// True when a group starts at `i`.
fn opens(b: &[u8], i: usize) -> bool {
    let c = at(b, i);
    c.is_ascii_digit() || (c == b'(' && at(b, i + 1).is_ascii_digit())
}

/// The group at `i` (digits, or 1–5 digits in parentheses).
fn group_at(b: &[u8], i: usize, sep: u8) -> Option<Group> {
    let paren = at(b, i) == b'(';
    let d0 = i + usize::from(paren);
    let d1 = run_end(b, d0, |c| c.is_ascii_digit());
    let digits = d1 - d0;
    if digits == 0 || (paren && (digits > 5 || at(b, d1) != b')')) {
        return None;
    }
    let second = if digits > 1 { at(b, d0 + 1) } else { 0 };
    Some(Group {
        start: i,
        end: d1 + usize::from(paren),
        digits,
        paren,
        sep,
        lead: [at(b, d0), second],
    })
}

/// The widest window of groups from `s` that is a card or a phone: its end
/// (exclusive, in groups) and kind.
fn widest(b: &[u8], groups: &[Group], s: usize, plus: bool) -> Option<(usize, Kind)> {
    let top = (s + MAX_WINDOW).min(groups.len());
    (s + 1..=top).rev().find_map(|e| {
        let w = groups.get(s..e)?;
        classify(b, w, plus).map(|k| (e, k))
    })
}

fn classify(b: &[u8], w: &[Group], plus: bool) -> Option<Kind> {
    let digits = w.iter().map(|g| g.digits).sum();
    if !plus && card(b, w, digits) {
        Some(Kind::Card)
    } else if phone(w, digits, plus) {
        Some(Kind::Phone)
    } else {
        None
    }
}

fn card(b: &[u8], w: &[Group], digits: usize) -> bool {
    (13..=19).contains(&digits)
        && w.iter().all(|g| !g.paren)
        && w.first().is_some_and(|g| matches!(g.lead[0], b'2'..=b'6'))
        && one_separator(w.get(1..).unwrap_or_default(), b" -")
        && card_groups(w)
        && luhn(b, w)
}

/// True when every group has the same separator, one of `allowed`.
fn one_separator(groups: &[Group], allowed: &[u8]) -> bool {
    let Some(first) = groups.first() else {
        return true;
    };
    allowed.contains(&first.sep) && groups.iter().all(|g| g.sep == first.sep)
}

/// One group, fours (the last 1–4), or Amex/Diners' 4-6-5 and 4-6-4.
fn card_groups(w: &[Group]) -> bool {
    let Some((last, init)) = w.split_last() else {
        return false;
    };
    let lens = |n: &[usize]| w.len() == n.len() && w.iter().zip(n).all(|(g, &l)| g.digits == l);
    init.is_empty()
        || (init.iter().all(|g| g.digits == 4) && (1..=4).contains(&last.digits))
        || lens(&[4, 6, 5])
        || lens(&[4, 6, 4])
}

/// The Luhn check over the window's digits.
fn luhn(b: &[u8], w: &[Group]) -> bool {
    let (Some(first), Some(last)) = (w.first(), w.last()) else {
        return false;
    };
    let digits = b.get(first.start..last.end).unwrap_or_default();
    let mut sum = 0;
    let mut double = false;
    for &c in digits.iter().rev().filter(|c| c.is_ascii_digit()) {
        let mut d = u32::from(c - b'0');
        if double {
            d = if d > 4 { d * 2 - 9 } else { d * 2 };
        }
        sum += d;
        double = !double;
    }
    sum % 10 == 0
}

fn phone(w: &[Group], digits: usize, plus: bool) -> bool {
    let Some((first, rest)) = w.split_first() else {
        return false;
    };
    if plus {
        if rest.is_empty() {
            return (8..=15).contains(&digits) && first.lead[0] != b'0';
        }
        return !first.paren
            && (1..=3).contains(&first.digits)
            && first.lead[0] != b'0'
            && international(rest, digits, first.lead == [b'1', 0]);
    }
    north_american(w) || trunk(first, rest, digits)
}

/// After a country code: `digits` in all, groups of at most 10, the last
/// at least 2; ten digits after `+1`.
fn international(rest: &[Group], digits: usize, plus_one: bool) -> bool {
    let national: usize = rest.iter().map(|g| g.digits).sum();
    (7..=15).contains(&digits)
        && rest.iter().all(|g| g.digits <= 10)
        && rest.last().is_some_and(|g| g.digits >= 2)
        && (!plus_one || national == 10)
}

fn north_american(w: &[Group]) -> bool {
    let w = match w {
        [one, rest @ ..] if rest.len() == 3 && !one.paren && one.lead == [b'1', 0] => rest,
        _ => w,
    };
    let [area, exchange, line] = w else {
        return false;
    };
    area.digits == 3
        && exchange.digits == 3
        && line.digits == 4
        && !exchange.paren
        && !line.paren
        && matches!(area.lead[0], b'2'..=b'9')
        && matches!(exchange.lead[0], b'2'..=b'9')
        && matches!(line.sep, b' ' | b'-' | b'.')
        && if area.paren {
            matches!(exchange.sep, 0 | b' ')
        } else {
            exchange.sep == line.sep
        }
}

fn trunk(first: &Group, rest: &[Group], digits: usize) -> bool {
    let after_paren = if first.paren {
        let (head, tail) = rest.split_first().map_or((0, rest), |(h, t)| (h.sep, t));
        if !matches!(head, 0 | b' ') {
            return false;
        }
        tail
    } else {
        rest
    };
    first.lead[0] == b'0'
        && first.lead[1] != b'0'
        && (2..=5).contains(&first.digits)
        && (10..=11).contains(&digits)
        && !rest.is_empty()
        && rest.iter().all(|g| !g.paren && (2..=8).contains(&g.digits))
        && one_separator(after_paren, b" -.")
}
