//! A `multipart/form-data` request (image edits, audio transcriptions and
//! translations): read as it streams in — text fields kept, file bytes
//! [spooled](spool) — and written again for each attempt with the
//! target's model, from the spool, piece by piece. Parsing is `multer`'s;
//! the re-encoding is a few lines of RFC 7578 framing with a boundary of
//! our own, with an exact `Content-Length`.

mod spool;

use std::fmt::Write as _;

use bytes::Bytes;
use futures_util::Stream;
use serde_json::{Map, Value};

pub use spool::Spool;

use crate::error::GatewayError;

/// The largest text field (a prompt) the gateway keeps.
const MAX_TEXT_FIELD: usize = 1 << 20;

/// How many bytes of a file one piece reads from the spool.
pub const PIECE: usize = 64 << 10;

/// One field of the form.
#[derive(Debug)]
pub struct Part {
    pub name: String,
    /// Set for a file.
    pub filename: Option<String>,
    pub content_type: Option<String>,
    data: Data,
}

#[derive(Debug)]
enum Data {
    Text(String),
    /// A file's bytes at this place in the spool.
    Spooled {
        offset: u64,
        len: u64,
    },
}

/// What one piece of the re-encoded body is.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    Bytes(Bytes),
    /// File bytes in the spool.
    Spooled {
        offset: u64,
        len: u64,
    },
}

/// A multipart form, read.
#[derive(Debug)]
pub struct Form {
    parts: Vec<Part>,
    spool: std::sync::Arc<Spool>,
    boundary: String,
}

/// The boundary of a `multipart/form-data` content type; a 400 otherwise.
pub fn boundary(content_type: Option<&str>) -> Result<String, GatewayError> {
    let ct = content_type.unwrap_or("");
    multer::parse_boundary(ct).map_err(|_| {
        GatewayError::bad_request(format!(
            "this endpoint takes multipart/form-data with a boundary, not `{ct}`"
        ))
    })
}

impl Form {
    /// Reads a form from `body` (the request's chunks) within `limit`
    /// bytes (413 past it).
    pub async fn read<S, E>(body: S, boundary: &str, limit: usize) -> Result<Self, GatewayError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let limits = multer::Constraints::new()
            .size_limit(multer::SizeLimit::new().whole_stream(limit as u64));
        let mut multipart = multer::Multipart::with_constraints(body, boundary, limits);
        let mut parts = Vec::new();
        let mut spool = Spool::default();
        let too_large = || GatewayError::PayloadTooLarge { limit };
        let failed = |e: multer::Error| match e {
            multer::Error::StreamSizeExceeded { .. } => too_large(),
            other => GatewayError::bad_request(format!("the multipart body is malformed: {other}")),
        };
        while let Some(mut field) = multipart.next_field().await.map_err(failed)? {
            let name = field.name().unwrap_or_default().to_string();
            let filename = field.file_name().map(str::to_string);
            let content_type = field.content_type().map(ToString::to_string);
            let data = if filename.is_some() {
                let mut start = None;
                let mut len = 0;
                while let Some(chunk) = field.chunk().await.map_err(failed)? {
                    len += chunk.len() as u64;
                    let at = spool.append(chunk).await.map_err(|e| {
                        GatewayError::Internal(format!("could not hold the upload: {e}"))
                    })?;
                    start.get_or_insert(at);
                }
                Data::Spooled {
                    offset: start.unwrap_or(spool.len()),
                    len,
                }
            } else {
                let mut text = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(failed)? {
                    if text.len() + chunk.len() > MAX_TEXT_FIELD {
                        return Err(GatewayError::BadRequest {
                            message: format!(
                                "the form field `{name}` is longer than {MAX_TEXT_FIELD} bytes"
                            ),
                            param: Some(name),
                        });
                    }
                    text.extend_from_slice(&chunk);
                }
                let text = String::from_utf8(text).map_err(|_| GatewayError::BadRequest {
                    message: format!("the form field `{name}` is not UTF-8 text"),
                    param: Some(name.clone()),
                })?;
                Data::Text(text)
            };
            parts.push(Part {
                name,
                filename,
                content_type,
                data,
            });
        }
        let boundary = format!("switchyard-{:032x}", rand::random::<u128>());
        Ok(Self {
            parts,
            spool: std::sync::Arc::new(spool),
            boundary,
        })
    }

    /// The text fields as a JSON object (what routing and policy read):
    /// `stream` as a boolean, numbers stay text.
    pub fn fields(&self) -> Value {
        let mut obj = Map::new();
        for part in &self.parts {
            if let Data::Text(text) = &part.data {
                let value = match (part.name.as_str(), text.as_str()) {
                    ("stream", "true") => Value::Bool(true),
                    ("stream", "false") => Value::Bool(false),
                    _ => Value::String(text.clone()),
                };
                obj.insert(part.name.clone(), value);
            }
        }
        Value::Object(obj)
    }

    /// The files, by field name, with their sizes.
    pub fn files(&self) -> impl Iterator<Item = (&str, u64)> {
        self.parts.iter().filter_map(|p| match p.data {
            Data::Spooled { len, .. } => Some((p.name.as_str(), len)),
            Data::Text(_) => None,
        })
    }

    /// The spool holding the files.
    pub fn spool(&self) -> &std::sync::Arc<Spool> {
        &self.spool
    }

    /// The `Content-Type` of the re-encoded body.
    pub fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    /// The body for a provider, `model` in place of the client's: its
    /// pieces in order (their lengths sum to the `Content-Length`).
    pub fn pieces(&self, model: &str) -> Vec<Piece> {
        let mut out = Vec::with_capacity(self.parts.len() * 2 + 1);
        let mut head = String::new();
        for part in &self.parts {
            let _ = write!(
                head,
                "--{}\r\nContent-Disposition: form-data; name=\"{}\"",
                self.boundary,
                quoted(&part.name)
            );
            if let Some(f) = &part.filename {
                let _ = write!(head, "; filename=\"{}\"", quoted(f));
            }
            head.push_str("\r\n");
            if let Some(ct) = &part.content_type {
                let _ = write!(head, "Content-Type: {}\r\n", ct.replace(['\r', '\n'], ""));
            }
            head.push_str("\r\n");
            match &part.data {
                Data::Text(_) if part.name == "model" => head.push_str(model),
                Data::Text(t) => head.push_str(t),
                Data::Spooled { offset, len } => {
                    out.push(Piece::Bytes(Bytes::from(std::mem::take(&mut head))));
                    out.push(Piece::Spooled {
                        offset: *offset,
                        len: *len,
                    });
                }
            }
            head.push_str("\r\n");
        }
        let _ = write!(head, "--{}--\r\n", self.boundary);
        out.push(Piece::Bytes(Bytes::from(head)));
        out
    }
}

/// Reads a whole body into a spool, within `limit` bytes (413 past it).
pub async fn spool_body<S, E>(body: S, limit: usize) -> Result<Spool, GatewayError>
where
    S: Stream<Item = Result<Bytes, E>> + Send,
    E: std::fmt::Display,
{
    use futures_util::StreamExt;
    let mut spool = Spool::default();
    let mut body = std::pin::pin!(body);
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| {
            GatewayError::bad_request(format!("could not read the request body: {e}"))
        })?;
        if spool.len() + chunk.len() as u64 > limit as u64 {
            return Err(GatewayError::PayloadTooLarge { limit });
        }
        spool
            .append(chunk)
            .await
            .map_err(|e| GatewayError::Internal(format!("could not hold the upload: {e}")))?;
    }
    Ok(spool)
}

/// The total length of `pieces`.
pub fn length(pieces: &[Piece]) -> u64 {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Bytes(b) => b.len() as u64,
            Piece::Spooled { len, .. } => *len,
        })
        .sum()
}

/// A name in a quoted header parameter (RFC 7578 §4.2: quotes and line
/// breaks percent-encoded, as browsers do).
fn quoted(name: &str) -> String {
    name.replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

#[cfg(test)]
mod tests;
