//! Where the ledger is kept: a SQLite file or a PostgreSQL URL, parsed from
//! the config's string. A PostgreSQL password stays inside the target: the
//! label, `Debug` and every error message built from a target leave it out.

use std::fmt;
use std::path::{Path, PathBuf};

/// The ledger's database.
#[derive(Clone, PartialEq, Eq)]
pub enum LedgerTarget {
    /// A SQLite file (created with its parent folder when missing).
    Sqlite(PathBuf),
    /// A `postgres://` or `postgresql://` URL, password included.
    Postgres(String),
}

impl LedgerTarget {
    /// Parses `sqlite:PATH` (also `sqlite://PATH`), a bare path, or a
    /// `postgres://…` / `postgresql://…` URL. Relative SQLite paths are taken
    /// from `base_dir` (the config file's folder). Fails on an empty path, an
    /// unparsable URL or another scheme.
    pub fn parse(s: &str, base_dir: &Path) -> Result<Self, String> {
        let s = s.trim();
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            let url = url::Url::parse(s).map_err(|e| {
                format!("invalid PostgreSQL URL {}: {e}", redact(s, &password_of(s)))
            })?;
            if url.path().trim_start_matches('/').is_empty() {
                return Err(format!(
                    "PostgreSQL URL {} names no database (postgres://user@host:5432/db)",
                    postgres_label(s)
                ));
            }
            return Ok(Self::Postgres(s.to_string()));
        }
        let path = match s.strip_prefix("sqlite:") {
            Some(rest) => rest.strip_prefix("//").unwrap_or(rest),
            None if s.contains("://") => {
                let scheme = s.split("://").next().unwrap_or_default();
                return Err(format!(
                    "unsupported ledger scheme `{scheme}` (expected sqlite:PATH, a path, or postgres://…)"
                ));
            }
            None => s,
        };
        if path.is_empty() {
            return Err("empty ledger path (expected sqlite:PATH, a path, or postgres://…)".into());
        }
        Ok(Self::Sqlite(base_dir.join(path)))
    }

    /// `sqlite:/path/usage.db` or `postgres://host:port/db`: never a password
    /// (nor the user name, which is half of a credential).
    pub fn label(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite:{}", path.display()),
            Self::Postgres(url) => postgres_label(url),
        }
    }

    /// `message` with this target's password (as written and URL-decoded)
    /// replaced by `***`: for errors from drivers that may echo their input.
    pub(crate) fn redact(&self, message: &str) -> String {
        match self {
            Self::Sqlite(_) => message.to_string(),
            Self::Postgres(url) => redact(message, &password_of(url)),
        }
    }
}

impl fmt::Debug for LedgerTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LedgerTarget({})", self.label())
    }
}

fn postgres_label(url: &str) -> String {
    let Ok(parsed) = url::Url::parse(url) else {
        return "postgres://(unparsable URL)".to_string();
    };
    let host = parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .unwrap_or("localhost");
    let port = parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
    format!("postgres://{host}{port}{}", parsed.path())
}

/// The password of a URL, both as written and percent-decoded (a driver may
/// print either); empty strings are left out.
fn password_of(url: &str) -> Vec<String> {
    let raw = match url.split_once("://").map(|(_, rest)| rest) {
        Some(rest) => {
            let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
            match authority.rsplit_once('@') {
                Some((userinfo, _)) => userinfo.split_once(':').map(|(_, p)| p.to_string()),
                None => None,
            }
        }
        None => None,
    };
    let mut out = Vec::new();
    if let Some(raw) = raw.filter(|p| !p.is_empty()) {
        let decoded = percent_decode(&raw);
        if !decoded.is_empty() && decoded != raw {
            out.push(decoded);
        }
        out.push(raw);
    }
    // Longest first, so a password containing another is replaced whole.
    out.sort_by_key(|p| std::cmp::Reverse(p.len()));
    out
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn redact(message: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .fold(message.to_string(), |m, s| m.replace(s.as_str(), "***"))
}

#[cfg(test)]
mod tests;
