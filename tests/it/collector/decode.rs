//! An OTLP/HTTP trace export's body to an `ExportTraceServiceRequest`, and
//! the answer to a good one, as an OpenTelemetry Collector does it:
//! protobuf or JSON (`content-type`), optionally gzipped
//! (`content-encoding`).

use std::io::Read;

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use flate2::read::GzDecoder;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;

/// Largest export body read, before and after decompression.
const MAX_BODY: usize = 64 * 1024 * 1024;

/// How an export was encoded; its answer uses the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Protobuf,
    Json,
}

/// Reads and decodes an export. Fails with 415 for a content type other
/// than protobuf or JSON or a content encoding other than gzip, and with
/// 400 for a body that cannot be read, unzipped or decoded.
pub(crate) async fn read(request: Request) -> Result<(ExportTraceServiceRequest, Format), Refusal> {
    let (parts, body) = request.into_parts();
    let format = format(&parts.headers)?;
    let gzip = gzipped(&parts.headers)?;
    let body = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, format!("unreadable body: {e}")))?;
    let body = if gzip { gunzip(&body)? } else { body.to_vec() };
    let request = match format {
        Format::Protobuf => ExportTraceServiceRequest::decode(&body[..])
            .map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, format!("bad protobuf: {e}")))?,
        Format::Json => serde_json::from_slice(&body)
            .map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, format!("bad OTLP/JSON: {e}")))?,
    };
    Ok((request, format))
}

/// 200 with an empty `ExportTraceServiceResponse` (full success).
pub(crate) fn accepted(format: Format) -> Response {
    match format {
        Format::Protobuf => (
            [(CONTENT_TYPE, "application/x-protobuf")],
            ExportTraceServiceResponse::default().encode_to_vec(),
        )
            .into_response(),
        Format::Json => ([(CONTENT_TYPE, "application/json")], "{}").into_response(),
    }
}

/// An export not taken: its status, and a text body saying why.
#[derive(Debug)]
pub(crate) struct Refusal {
    status: StatusCode,
    message: String,
}

impl Refusal {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        let message = message.into();
        Self { status, message }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = Response::new(Body::from(self.message));
        *response.status_mut() = self.status;
        response
    }
}

fn format(headers: &HeaderMap) -> Result<Format, Refusal> {
    let value = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = value.split(';').next().unwrap_or("").trim();
    if mime.eq_ignore_ascii_case("application/x-protobuf") {
        Ok(Format::Protobuf)
    } else if mime.eq_ignore_ascii_case("application/json") {
        Ok(Format::Json)
    } else {
        Err(Refusal::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("unsupported content-type {value:?}"),
        ))
    }
}

fn gzipped(headers: &HeaderMap) -> Result<bool, Refusal> {
    match headers.get(CONTENT_ENCODING).map(|v| v.to_str()) {
        None => Ok(false),
        Some(Ok(v)) if v.eq_ignore_ascii_case("identity") => Ok(false),
        Some(Ok(v)) if v.eq_ignore_ascii_case("gzip") => Ok(true),
        Some(v) => Err(Refusal::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("unsupported content-encoding {v:?}"),
        )),
    }
}

fn gunzip(body: &[u8]) -> Result<Vec<u8>, Refusal> {
    let mut out = Vec::new();
    GzDecoder::new(body)
        .take(MAX_BODY as u64)
        .read_to_end(&mut out)
        .map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, format!("bad gzip body: {e}")))?;
    Ok(out)
}
