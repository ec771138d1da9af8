//! Answers written straight to a connection Pingora never saw (over the
//! connection limit, a head too large or too slow), then a graceful close.

use std::time::Duration;

use pingora::protocols::Stream;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout;

use crate::error::GatewayError;

/// Time allowed to write an answer.
const WRITE_TIME: Duration = Duration::from_secs(1);
/// After answering, how long and how much of what the client still sends
/// is read and dropped before closing.
const LINGER_TIME: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 1024 * 1024;

/// Writes `err` as an OpenAI-style JSON error with `connection: close`,
/// then closes the connection.
pub async fn reject(mut stream: Stream, err: &GatewayError) {
    let answer = response(err);
    let written = timeout(WRITE_TIME, async {
        stream.write_all(&answer).await?;
        stream.flush().await?;
        stream.shutdown().await
    })
    .await;
    if matches!(written, Ok(Ok(()))) {
        linger(&mut stream).await;
    }
}

/// The whole HTTP/1.1 response for `err`.
fn response(err: &GatewayError) -> Vec<u8> {
    let body = serde_json::to_vec(&err.body()).unwrap_or_default();
    let status = err.status();
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    let mut head = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    if let Some(r) = err.retry_after() {
        head.push_str(&format!("retry-after: {r}\r\n"));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(&body);
    out
}

/// Reads and drops what the client is still sending: closing a socket with
/// unread bytes resets it, and the client could lose the answer.
async fn linger(stream: &mut Stream) {
    let mut scratch = vec![0u8; 8 * 1024];
    let mut left = LINGER_BYTES;
    let _ = timeout(LINGER_TIME, async {
        while left > 0 {
            match stream.read(&mut scratch).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests;
