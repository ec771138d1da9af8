//! Secrets: API keys and tokens, found by their known prefix, or, with no
//! prefix, by looking generated rather than written. A secret is a whole
//! token (`[A-Za-z0-9_-]`), or a JWT's three dot-joined ones.
//!
//! - OpenAI `sk-…` / `sk-proj-…`, Anthropic `sk-ant-…` (and the gateway's
//!   own `sk-sy-…`): at least 20 more characters mixing upper case, lower
//!   case and digits (so `sk-learn-tutorial-for-beginners-2024` is not one).
//! - Stripe `sk_live_`, `rk_live_`, `sk_test_`, `rk_test_` and 16+ letters or digits.
//! - AWS access key ids: `AKIA` or `ASIA` and 16 upper-case letters or digits.
//! - Google API keys: `AIza` and 35 more.
//! - GitHub `ghp_`, `gho_`, `ghs_`, `ghu_`, `ghr_` and 30+ letters or
//!   digits; `github_pat_` and 22+.
//! - Slack `xoxa-`, `xoxb-`, `xoxp-`, `xoxr-`, `xoxs-` and 10+ with a digit.
//! - JWTs: `eyJ…​.eyJ….…` (header and payload of 13+ characters each, the
//!   signature possibly empty).
//! - Any other token of 32+ characters that mixes upper case, lower case
//!   and digits, changes between those classes at least every other
//!   character, and has few letters in long same-case runs (words make
//!   such runs: `HttpConnectionPoolManagerV2Factory` is a name, not a key).
//!   About 94% of random base-62/64url tokens of 32–64 characters pass;
//!   hex digests (one case) and UUIDs (hex and dashes) never do: they are
//!   ids and checksums, not credentials. Base64 data between its `+` and
//!   `/`, and mixed-case crypto addresses, do look generated and are
//!   redacted.

use super::{at, token_end};

/// Shortest token any rule here accepts (a JWT's header alone).
pub(super) const MIN: usize = 13;
/// Shortest token the generic rule considers.
const GENERIC_MIN: usize = 32;
const STRIPE: [&[u8]; 4] = [b"sk_live_", b"rk_live_", b"sk_test_", b"rk_test_"];
const GITHUB: [&[u8]; 5] = [b"ghp_", b"gho_", b"ghs_", b"ghu_", b"ghr_"];

/// The end of the secret at the token `b[start..end]`, if it is one.
pub(super) fn at_start(b: &[u8], start: usize, end: usize) -> Option<usize> {
    let tok = b.get(start..end)?;
    if tok.len() < MIN {
        return None;
    }
    if tok.starts_with(b"eyJ") {
        if let Some(e) = jwt(b, start, end) {
            return Some(e);
        }
    }
    (prefixed(tok) || generated(tok)).then_some(end)
}

/// A JWT's end, when the token `b[start..end]` is its header.
fn jwt(b: &[u8], start: usize, end: usize) -> Option<usize> {
    if end - start < 13 || at(b, end) != b'.' {
        return None;
    }
    let payload = end + 1;
    let payload_end = token_end(b, payload);
    let ok = b.get(payload..payload_end)?.starts_with(b"eyJ")
        && payload_end - payload >= 13
        && at(b, payload_end) == b'.';
    ok.then(|| token_end(b, payload_end + 1))
}

fn prefixed(tok: &[u8]) -> bool {
    match tok.first() {
        Some(b's') => openai(tok) || stripe(tok),
        Some(b'r') => stripe(tok),
        Some(b'A') => aws(tok) || google(tok),
        Some(b'g') => github(tok),
        Some(b'x') => slack(tok),
        _ => false,
    }
}

fn openai(tok: &[u8]) -> bool {
    tok.strip_prefix(b"sk-")
        .is_some_and(|rest| rest.len() >= 20 && mixed(rest))
}

fn stripe(tok: &[u8]) -> bool {
    STRIPE.iter().any(|p| {
        tok.strip_prefix(*p)
            .is_some_and(|rest| rest.len() >= 16 && rest.iter().all(u8::is_ascii_alphanumeric))
    })
}

fn aws(tok: &[u8]) -> bool {
    tok.len() == 20
        && (tok.starts_with(b"AKIA") || tok.starts_with(b"ASIA"))
        && tok
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

fn google(tok: &[u8]) -> bool {
    tok.len() == 39 && tok.starts_with(b"AIza")
}

fn github(tok: &[u8]) -> bool {
    let classic = GITHUB.iter().any(|p| {
        tok.strip_prefix(*p)
            .is_some_and(|rest| rest.len() >= 30 && rest.iter().all(u8::is_ascii_alphanumeric))
    });
    classic
        || tok.strip_prefix(b"github_pat_").is_some_and(|rest| {
            rest.len() >= 22 && rest.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
        })
}

fn slack(tok: &[u8]) -> bool {
    match tok {
        [b'x', b'o', b'x', kind, b'-', rest @ ..] => {
            b"abprs".contains(kind) && rest.len() >= 10 && rest.iter().any(u8::is_ascii_digit)
        }
        _ => false,
    }
}

/// True when `tok` has upper case, lower case and digits.
fn mixed(tok: &[u8]) -> bool {
    tok.iter().any(u8::is_ascii_uppercase)
        && tok.iter().any(u8::is_ascii_lowercase)
        && tok.iter().any(u8::is_ascii_digit)
}

/// The generic rule (see the module's doc).
fn generated(tok: &[u8]) -> bool {
    if tok.len() < GENERIC_MIN || !mixed(tok) {
        return false;
    }
    let (changes, wordy) = shape(tok);
    changes * 2 >= tok.len() - 1 && wordy * 5 < tok.len()
}

/// Character classes: upper, lower, digit, other (`_`, `-`).
fn class(c: u8) -> u8 {
    match c {
        b'A'..=b'Z' => 0,
        b'a'..=b'z' => 1,
        b'0'..=b'9' => 2,
        _ => 3,
    }
}

/// How often the class changes between neighbours, and how wordy `tok` is:
/// for each same-case letter run of 4 or more (a capital joins the
/// lower-case run after it), its length less 3.
fn shape(tok: &[u8]) -> (usize, usize) {
    let mut changes = 0;
    let mut wordy = 0;
    let mut i = 0;
    while i < tok.len() {
        let k = class(tok.get(i).copied().unwrap_or_default());
        let end = i + tok
            .get(i..)
            .unwrap_or_default()
            .iter()
            .take_while(|&&c| class(c) == k)
            .count();
        let capital = k == 1 && i > 0 && tok.get(i - 1).is_some_and(u8::is_ascii_uppercase);
        let run = end - i + usize::from(capital);
        if k < 2 && run >= 4 {
            wordy += run - 3;
        }
        if end < tok.len() {
            changes += 1;
        }
        i = end;
    }
    (changes, wordy)
}
