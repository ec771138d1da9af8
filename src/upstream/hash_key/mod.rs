//! The key a `consistent-hash` provider hashes to pick a backend, so that a
//! conversation sticks to one backend (and its provider-side prompt cache).

use http::HeaderMap;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Session headers that clients and coding agents already send, in the
/// order they are looked for.
const SESSION_HEADERS: &[&str] = &[
    "x-session-id",
    "x-claude-code-session-id",
    "session_id",
    "session-id",
    "x-conversation-id",
    "conversation_id",
];

/// What identifies a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum HashKey {
    /// A known session header, else the conversation's first messages.
    #[default]
    Session,
    /// A named request header.
    Header(String),
    /// The `user` field (or `metadata.user_id`, `safety_identifier`).
    User,
    /// The client's API key (hashed).
    ClientKey,
    /// A hash of the conversation's first messages.
    Conversation,
}

impl HashKey {
    /// Parses `session`, `header:<name>`, `user`, `client-key`, `conversation`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "session" => Ok(Self::Session),
            "user" => Ok(Self::User),
            "client-key" => Ok(Self::ClientKey),
            "conversation" => Ok(Self::Conversation),
            other => match other.strip_prefix("header:") {
                Some(name) if http::HeaderName::from_bytes(name.as_bytes()).is_ok() => {
                    Ok(Self::Header(name.to_ascii_lowercase()))
                }
                _ => Err(format!(
                    "unknown hash key `{other}` (expected session, header:<name>, user, client-key or conversation)"
                )),
            },
        }
    }

    /// The key for a request with `headers` and OpenAI-format `body`.
    pub fn extract(&self, headers: &HeaderMap, body: &Value) -> Vec<u8> {
        let header = |name: &str| {
            headers
                .get(name)
                .map(|v| v.as_bytes().to_vec())
                .filter(|v| !v.is_empty())
        };
        let found = match self {
            Self::Session => SESSION_HEADERS.iter().find_map(|h| header(h)),
            Self::Header(name) => header(name),
            Self::User => ["/user", "/safety_identifier", "/metadata/user_id"]
                .iter()
                .find_map(|p| body.pointer(p).and_then(Value::as_str))
                .map(|s| s.as_bytes().to_vec()),
            Self::ClientKey => header("authorization")
                .or_else(|| header("x-api-key"))
                .map(|k| Sha256::digest(&k).to_vec()),
            Self::Conversation => None,
        };
        found.unwrap_or_else(|| conversation(body))
    }
}

/// A hash of the first two messages: stable while a conversation grows.
fn conversation(body: &Value) -> Vec<u8> {
    let mut h = Sha256::new();
    if let Some(messages) = body.get("messages").and_then(Value::as_array) {
        for m in messages.iter().take(2) {
            h.update(m.to_string().as_bytes());
        }
    }
    h.finalize().to_vec()
}

#[cfg(test)]
mod tests;
