//! The process's log output, redacted: whatever the level, no line may
//! carry a secret. The gateway's own lines never hold one, but at `debug`
//! and `trace` Pingora (and the clients of Redis and PostgreSQL) print whole
//! request heads and connection strings: client keys, the admin key,
//! provider keys, secret headers. So every formatted line passes through
//! [`Redactor`] on its way to stderr, which replaces
//!
//! - every secret the config knows (provider keys and header values, the
//!   admin key and metrics token, passwords in the Redis and PostgreSQL
//!   URLs, the master key), refreshed at each load and reload;
//! - the value of every credential-bearing header, in any of the shapes
//!   Pingora prints (`"authorization": "Bearer …"`, `x-api-key: …\r\n`),
//!   which covers client keys, unknown to the gateway but by their hash;
//! - anything shaped like a Switchyard client key (`sk-sy-…`) and a `key=`
//!   query parameter (Gemini's).
//!
//! Filtering whole targets instead would hide Pingora's useful debug lines
//! and still miss the next dependency that prints a head.

use std::io::{self, Write};
use std::sync::{Arc, LazyLock};

use aho_corasick::AhoCorasick;
use arc_swap::ArcSwap;
use regex::bytes::Regex;
use tracing_subscriber::fmt::MakeWriter;

/// What replaces a secret.
const MASK: &[u8] = b"***";

/// Secrets shorter than this are not searched for (they would match
/// ordinary text); every real key is far longer.
const MIN_SECRET: usize = 6;

/// Header names whose values are credentials, in the forms Pingora's `Debug`
/// output shows them: a map entry (`"name": "value"`) or a wire line
/// (`name: value\r\n`, escaped). The value runs to a quote, a backslash (an
/// escaped CR), a line end or a comma-free end of text.
static HEADER: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)(authorization|x-api-key|api-key|x-goog-api-key|cookie|x-switchyard-admin-key)("?\s*[:=]\s*"?)([^"\\\r\n]+)"#,
    )
    .ok()
});

/// A Switchyard client key, or a `key=` query parameter.
static SHAPES: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r#"(sk-sy-)[A-Za-z0-9]{4,}|([?&]key=)[^&\s"\\]+"#).ok());

/// The secrets to take out of log lines; swapped whole on each config load.
#[derive(Default)]
pub struct Redactor {
    secrets: Option<AhoCorasick>,
}

/// The redactor every log line goes through.
static CURRENT: LazyLock<ArcSwap<Redactor>> =
    LazyLock::new(|| ArcSwap::from_pointee(Redactor::default()));

/// Replaces the known secrets (a config was loaded or reloaded). The
/// master key, read from the environment, is always among them.
pub fn set_secrets<'a>(secrets: impl IntoIterator<Item = &'a str>) {
    let master = std::env::var("SWITCHYARD_MASTER_KEY").ok();
    let mut all: Vec<&str> = secrets.into_iter().collect();
    all.extend(master.as_deref());
    CURRENT.store(Arc::new(Redactor::new(all)));
}

impl Redactor {
    /// A redactor for `secrets` (short ones are skipped).
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Self {
        let mut list: Vec<&str> = secrets
            .into_iter()
            .map(str::trim)
            .filter(|s| s.len() >= MIN_SECRET)
            .collect();
        // Longest first, so a secret containing another is masked whole.
        list.sort_by_key(|s| std::cmp::Reverse(s.len()));
        list.dedup();
        let secrets = (!list.is_empty())
            .then(|| {
                AhoCorasick::builder()
                    .match_kind(aho_corasick::MatchKind::LeftmostLongest)
                    .build(&list)
                    .ok()
            })
            .flatten();
        Self { secrets }
    }

    /// `line` with every secret, credential header value and key-shaped
    /// text masked.
    pub fn redact(&self, line: &[u8]) -> Vec<u8> {
        let mut out = match &self.secrets {
            Some(ac) => {
                let mut out = Vec::with_capacity(line.len());
                ac.replace_all_with_bytes(line, &mut out, |_, _, dst| {
                    dst.extend_from_slice(MASK);
                    true
                });
                out
            }
            None => line.to_vec(),
        };
        if let Some(re) = HEADER.as_ref() {
            if re.is_match(&out) {
                out = re.replace_all(&out, &b"$1$2***"[..]).into_owned();
            }
        }
        if let Some(re) = SHAPES.as_ref() {
            if re.is_match(&out) {
                out = re.replace_all(&out, &b"$1$2***"[..]).into_owned();
            }
        }
        out
    }
}

/// Stderr, through the current [`Redactor`]: the `MakeWriter` of the log
/// subscriber. tracing's formatter writes each event with one `write_all`
/// of the whole line.
#[derive(Debug, Clone, Copy, Default)]
pub struct RedactedStderr;

impl<'a> MakeWriter<'a> for RedactedStderr {
    type Writer = RedactedStderr;

    fn make_writer(&'a self) -> Self::Writer {
        *self
    }
}

impl Write for RedactedStderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let clean = CURRENT.load().redact(buf);
        io::stderr().lock().write_all(&clean)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

#[cfg(test)]
mod tests;
