//! `GET /dashboard`: a live page of the gateway's traffic, latency, spend
//! and backends. The page and its assets are compiled in and hold no data,
//! so they are served without the admin key; the page itself reads the key
//! (from the URL fragment, which browsers never send, or a password field
//! kept in sessionStorage) and polls `/admin/stats` with it.

/// One compiled-in file.
pub struct Asset {
    pub content_type: &'static str,
    pub body: &'static [u8],
}

/// Headers on every dashboard response: scripts, styles and requests from
/// this origin only, no framing, no type sniffing.
pub const HEADERS: &[(&str, &str)] = &[
    (
        "content-security-policy",
        "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
];

/// The asset served at `path`, if it is one of the dashboard's.
pub fn asset(path: &str) -> Option<Asset> {
    let (content_type, body): (&str, &[u8]) = match path {
        "/dashboard" | "/dashboard/" | "/dashboard/index.html" => {
            ("text/html; charset=utf-8", include_bytes!("index.html"))
        }
        "/dashboard/app.js" => ("text/javascript; charset=utf-8", include_bytes!("app.js")),
        "/dashboard/style.css" => ("text/css; charset=utf-8", include_bytes!("style.css")),
        "/dashboard/favicon.svg" => ("image/svg+xml", include_bytes!("favicon.svg")),
        _ => return None,
    };
    Some(Asset { content_type, body })
}

#[cfg(test)]
mod tests;
