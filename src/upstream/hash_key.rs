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
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn session_header_then_conversation() {
        let mut headers = HeaderMap::new();
        let body = json!({"messages": [{"role": "user", "content": "a"}]});
        let by_conversation = HashKey::Session.extract(&headers, &body);
        let mut longer = body.clone();
        longer["messages"].as_array_mut().unwrap().extend([
            json!({"role": "assistant", "content": "b"}),
            json!({"role": "user", "content": "c"}),
        ]);
        let first_two =
            json!({"messages": [longer["messages"][0].clone(), longer["messages"][1].clone()]});
        assert_eq!(
            HashKey::Session.extract(&headers, &longer),
            HashKey::Session.extract(&headers, &first_two)
        );
        headers.insert("x-claude-code-session-id", "s1".parse().unwrap());
        assert_eq!(HashKey::Session.extract(&headers, &body), b"s1");
        assert_ne!(HashKey::Session.extract(&headers, &body), by_conversation);
    }

    #[test]
    fn parse_and_other_keys() {
        assert_eq!(
            HashKey::parse("header:X-Tenant"),
            Ok(HashKey::Header("x-tenant".into()))
        );
        assert!(HashKey::parse("nope").is_err());
        let body = json!({"user": "u1", "messages": []});
        assert_eq!(HashKey::User.extract(&HeaderMap::new(), &body), b"u1");
        let mut h = HeaderMap::new();
        h.insert("authorization", "Bearer k".parse().unwrap());
        assert_eq!(HashKey::ClientKey.extract(&h, &body).len(), 32);
    }
}
