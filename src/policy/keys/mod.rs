//! Who is calling: the client's virtual key from `Authorization: Bearer`
//! (or `x-api-key` on the Anthropic-format endpoint), looked up by its
//! hash, and what that key may use.

use std::sync::Arc;

use http::HeaderMap;

use crate::config::policy::{Auth, VirtualKey};
use crate::error::GatewayError;
use crate::request::Dialect;
use crate::routing::Route;

/// The caller's key: `Ok(None)` when auth is off.
pub fn authenticate(
    auth: &Auth,
    headers: &HeaderMap,
    dialect: Dialect,
) -> Result<Option<Arc<VirtualKey>>, GatewayError> {
    if !auth.enabled {
        return Ok(None);
    }
    let Some(presented) = presented_key(headers, dialect) else {
        return Err(GatewayError::Unauthorized(
            "You didn't provide an API key. Send your Switchyard key as `Authorization: Bearer <key>`."
                .into(),
        ));
    };
    // A map lookup by hash: the secret itself is never compared, and the
    // hash of a wrong key reveals nothing about the right one.
    let hash = crate::auth::hash_key(presented);
    let Some(key) = auth.by_hash.get(&hash) else {
        return Err(GatewayError::Unauthorized(format!(
            "Incorrect API key provided: {}. Ask the gateway's operator for a key.",
            masked(presented)
        )));
    };
    if !key.enabled {
        return Err(GatewayError::Forbidden {
            message: format!("The API key `{}` is disabled.", key.name),
            code: "key_disabled",
        });
    }
    Ok(Some(key.clone()))
}

/// The key the client sent, if any.
fn presented_key(headers: &HeaderMap, dialect: Dialect) -> Option<&str> {
    let bearer = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then_some(rest.trim())
        })
        .filter(|k| !k.is_empty());
    let api_key = || {
        headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|k| !k.is_empty())
    };
    match dialect {
        Dialect::Anthropic => api_key().or(bearer),
        Dialect::OpenAi | Dialect::Responses => bearer,
    }
}

/// `sk-sy-ab…yz`, as OpenAI shows a wrong key: enough to recognise it,
/// not enough to use it.
fn masked(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() < 12 {
        return "***".into();
    }
    let head: String = chars[..6].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}***{tail}")
}

/// Checks that `key` may use `route` and at least one of its targets
/// (which ones is decided per target when candidates are listed).
pub fn check_route(
    key: Option<&VirtualKey>,
    route: &Route,
    requested: &str,
) -> Result<(), GatewayError> {
    let Some(key) = key else {
        return Ok(());
    };
    if !key.allows_route(&route.name) {
        return Err(GatewayError::Forbidden {
            message: format!(
                "The API key `{}` may not use route `{}` (model `{requested}`).",
                key.name, route.name
            ),
            code: "route_not_allowed",
        });
    }
    let any = route
        .targets
        .iter()
        .any(|t| key.allows_model(&t.provider.name, t.model_for(requested)));
    if !any {
        return Err(GatewayError::Forbidden {
            message: format!(
                "The API key `{}` may not use any model of route `{}` (model `{requested}`).",
                key.name, route.name
            ),
            code: "model_not_allowed",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
