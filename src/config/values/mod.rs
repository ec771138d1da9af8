//! Scalar values of `routes.yaml`: durations (`30s`, `250ms`), sizes
//! (`10MiB`) and `${VAR}` / `${VAR:-default}` interpolation from the
//! environment. Written by hand: each is a few lines, and the crates that do
//! it (humantime, bytesize, shellexpand) parse many forms we do not want to
//! promise.

use std::time::Duration;

use super::raw::Scalar;

/// Parses `250ms`, `30s`, `5m`, `1h` or a bare number of seconds.
pub fn duration(v: &Scalar) -> Result<Duration, String> {
    let text = match v {
        Scalar::Int(n) => return Ok(Duration::from_secs(*n)),
        Scalar::Float(f) if f.is_finite() && *f >= 0.0 => return Ok(Duration::from_secs_f64(*f)),
        Scalar::Float(f) => return Err(format!("invalid duration {f}")),
        Scalar::Text(t) => t.trim(),
    };
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (num, unit) = text.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("invalid duration `{text}` (expected e.g. 250ms, 30s, 5m)"))?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        "d" => n * 86400.0,
        other => {
            return Err(format!(
                "unknown duration unit `{other}` in `{text}` (use ms, s, m, h or d)"
            ))
        }
    };
    Ok(Duration::from_secs_f64(secs))
}

/// Parses `10MiB`, `512KiB`, `1GB`, `64kb` or a bare number of bytes.
pub fn size(v: &Scalar) -> Result<usize, String> {
    let text = match v {
        Scalar::Int(n) => return usize::try_from(*n).map_err(|_| format!("size {n} is too large")),
        Scalar::Float(f) => return Err(format!("invalid size {f} (use whole bytes or a unit)")),
        Scalar::Text(t) => t.trim(),
    };
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (num, unit) = text.split_at(split);
    let n: usize = num
        .parse()
        .map_err(|_| format!("invalid size `{text}` (expected e.g. 10MiB)"))?;
    let mult: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "kib" | "k" => 1024,
        "mb" => 1000 * 1000,
        "mib" | "m" => 1024 * 1024,
        "gb" => 1000 * 1000 * 1000,
        "gib" | "g" => 1024 * 1024 * 1024,
        other => {
            return Err(format!(
                "unknown size unit `{other}` in `{text}` (use KiB, MiB, GiB)"
            ))
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("size `{text}` is too large"))
}

/// Why a value could not be interpolated.
#[derive(Debug, Clone, PartialEq)]
pub enum Interpolation {
    /// `${NAME}` is not set (and has no default).
    Unset(String),
    /// A `${` without its `}`.
    Malformed(String),
}

/// Expands `${VAR}` and `${VAR:-default}` with `lookup`. `$$` is a literal `$`.
pub fn interpolate(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, Interpolation> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('{') {
            let end = inner
                .find('}')
                .ok_or_else(|| Interpolation::Malformed(text.to_string()))?;
            let expr = &inner[..end];
            let (name, default) = match expr.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (expr, None),
            };
            match lookup(name).filter(|v| !v.is_empty()) {
                Some(v) => out.push_str(&v),
                None => match default {
                    Some(d) => out.push_str(d),
                    None => return Err(Interpolation::Unset(name.to_string())),
                },
            }
            rest = &inner[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Interpolates from the process environment.
pub fn interpolate_env(text: &str) -> Result<String, Interpolation> {
    interpolate(text, |name| std::env::var(name).ok())
}

#[cfg(test)]
mod tests;
