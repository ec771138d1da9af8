//! A provider's `quota:`: the header names it announces its own quota in,
//! when neither family's, and how long a bare 429 benches.

use super::{positive, Ctx};
use crate::config::raw::{RawQuota, RawQuotaNames};
use crate::upstream::quota::{Names, Rules};

/// `quota:` of provider `name` (the defaults when it has none).
pub(super) fn rules(name: &str, raw: Option<&RawQuota>, cx: &mut Ctx) -> Rules {
    let mut rules = Rules::default();
    let Some(raw) = raw else {
        return rules;
    };
    let at = format!("providers.{name}.quota");
    rules.requests = raw
        .headers
        .requests
        .as_ref()
        .and_then(|n| names(&format!("{at}.headers.requests"), n, cx));
    rules.tokens = raw
        .headers
        .tokens
        .as_ref()
        .and_then(|n| names(&format!("{at}.headers.tokens"), n, cx));
    if let Some(v) = &raw.refusal_bench {
        if let Some(d) = positive(&format!("{at}.refusal_bench"), v, cx) {
            rules.refusal_bench = d;
        }
    }
    rules
}

/// One window's header names, lowercased (as `HeaderMap` keeps them).
fn names(at: &str, raw: &RawQuotaNames, cx: &mut Ctx) -> Option<Names> {
    let mut header = |field: &str, v: &str| {
        if http::HeaderName::from_bytes(v.as_bytes()).is_ok() {
            Some(v.to_ascii_lowercase())
        } else {
            cx.issue(
                &format!("{at}.{field}"),
                format!("`{v}` is not a header name"),
            );
            None
        }
    };
    let limit = match &raw.limit {
        Some(l) => Some(header("limit", l)?),
        None => None,
    };
    let remaining = header("remaining", &raw.remaining);
    let reset = header("reset", &raw.reset);
    Some(Names {
        limit,
        remaining: remaining?,
        reset: reset?,
    })
}
