//! Reading one request head (request line and headers) within the client
//! limits: at most `max_size` bytes, done within `timeout`. The end of the
//! head is found by hand, scanning only the new bytes of each read:
//! httparse (what Pingora uses) re-parses the whole buffer on each call,
//! which a client sending one byte at a time would turn into quadratic work.
//! Parsing itself stays Pingora's.

use std::time::Duration;

use bytes::BytesMut;
use pingora::protocols::Stream;
use tokio::io::AsyncReadExt;
use tokio::time::{timeout_at, Instant};

/// Bytes asked of the socket per read.
const READ_CHUNK: usize = 8 * 1024;

/// Header fields Pingora's parser takes (its `MAX_HEADERS`); more would be
/// its 400, where a head too large is a 431.
pub const MAX_HEADERS: usize = 256;

/// The limits on a request head.
#[derive(Debug, Clone)]
pub struct HeadLimits {
    /// Largest head, in bytes.
    pub max_size: usize,
    /// Time from a new connection (or a kept-alive one's first byte of the
    /// next request) to the end of the head.
    pub timeout: Duration,
}

/// What became of a request head.
#[derive(Debug)]
pub enum Head {
    /// The head, maybe followed by the first body bytes.
    Complete(BytesMut),
    /// The client closed the connection (or it failed) first.
    Closed,
    /// Not one byte arrived in time.
    Idle,
    /// The head began but did not end in time.
    TimedOut,
    /// The head is larger than the limit.
    TooLarge,
}

/// Reads a head from `stream`. On a new connection (`keepalive` = `None`)
/// the head timeout runs from now; on a kept-alive one the first byte may
/// take up to `keepalive`, and the timeout runs from that byte.
pub async fn read(stream: &mut Stream, limits: &HeadLimits, keepalive: Option<Duration>) -> Head {
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let mut end = HeadEnd::default();
    let mut deadline = Instant::now() + keepalive.unwrap_or(limits.timeout);
    let mut started = keepalive.is_none();
    loop {
        if buf.capacity() - buf.len() < READ_CHUNK / 4 {
            buf.reserve(READ_CHUNK);
        }
        match timeout_at(deadline, stream.read_buf(&mut buf)).await {
            Err(_) if buf.is_empty() => return Head::Idle,
            Err(_) => return Head::TimedOut,
            Ok(Ok(0) | Err(_)) => return Head::Closed,
            Ok(Ok(_)) => {}
        }
        if !started {
            started = true;
            deadline = Instant::now() + limits.timeout;
        }
        match end.find(&buf) {
            Some(n) if n <= limits.max_size => return Head::Complete(buf),
            Some(_) => return Head::TooLarge,
            None if buf.len() > limits.max_size => return Head::TooLarge,
            None => {}
        }
    }
}

/// Finds the end of an HTTP/1 head (the empty line after the headers)
/// across reads. Lines may end in CRLF or a bare LF, as httparse accepts;
/// empty lines before the request line are skipped (RFC 9112 §2.2).
#[derive(Debug, Default)]
struct HeadEnd {
    /// Where the request line starts, once known.
    start: Option<usize>,
    /// Bytes already scanned (a match never starts before this).
    scanned: usize,
}

impl HeadEnd {
    /// The length of the head within `buf` (which only grows between
    /// calls), if it is complete.
    fn find(&mut self, buf: &[u8]) -> Option<usize> {
        let start = match self.start {
            Some(s) => s,
            None => {
                let s = buf.iter().position(|b| *b != b'\r' && *b != b'\n')?;
                self.start = Some(s);
                s
            }
        };
        let from = self.scanned.max(start);
        for (i, b) in buf.iter().enumerate().skip(from) {
            if *b != b'\n' {
                continue;
            }
            match (buf.get(i + 1), buf.get(i + 2)) {
                (Some(b'\n'), _) => return Some(i + 2),
                (Some(b'\r'), Some(b'\n')) => return Some(i + 3),
                // Not yet known: look at this LF again with more bytes.
                (None, _) | (Some(b'\r'), None) => {
                    self.scanned = i;
                    return None;
                }
                _ => {}
            }
        }
        self.scanned = buf.len();
        None
    }
}

/// What is wrong with a complete head, found before Pingora parses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// More than [`MAX_HEADERS`] header fields (431).
    TooManyHeaders,
    /// An HTTP/1.1 request without a `Host` field, or with more than one
    /// (RFC 9112 §3.2: 400).
    BadHost,
}

/// Checks a complete head (`head` ends with its empty line; body bytes
/// may follow): the number of header fields, and `Host` for HTTP/1.1.
/// Malformed heads pass here and get Pingora's 400.
pub fn check(buf: &[u8]) -> Result<(), Problem> {
    let mut lines = buf
        .split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .skip_while(|l| l.is_empty());
    let Some(request_line) = lines.next() else {
        return Ok(());
    };
    let mut fields = 0;
    let mut hosts = 0;
    for line in lines.take_while(|l| !l.is_empty()) {
        fields += 1;
        if fields > MAX_HEADERS {
            return Err(Problem::TooManyHeaders);
        }
        let name = line.split(|b| *b == b':').next().unwrap_or_default();
        if name.eq_ignore_ascii_case(b"host") {
            hosts += 1;
        }
    }
    let http11 = request_line.ends_with(b"HTTP/1.1");
    if http11 && hosts != 1 {
        return Err(Problem::BadHost);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
