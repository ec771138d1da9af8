//! `POST /v1/audio/speech`: JSON `{model, input, voice, response_format,
//! speed, instructions}` → the audio as a chunked binary body (no
//! `content-length`) of `chunks` pieces of [`SPEECH_PIECE`] bytes, paced by
//! `chunk_delay`, so a test can see the gateway relay it without buffering.
//! The bytes are [`speech_audio`]; the content type follows the format
//! (`mp3` → `audio/mpeg`, `opus` → `audio/opus`, `aac`, `flac`, `wav`,
//! `pcm` → `audio/<format>`).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::Response;
use bytes::Bytes;
use serde_json::Value;

use crate::call::Call;
use crate::dialect::Dialect;
use crate::params::{json_object, Invalid, Obj};
use crate::state::Shared;

/// Bytes in each piece of a speech body.
pub const SPEECH_PIECE: usize = 4096;
/// Most characters of `input`.
const MAX_INPUT: usize = 4096;
const FORMATS: &[&str] = &["mp3", "opus", "aac", "flac", "wav", "pcm"];
const FIELDS: &[&str] = &[
    "model",
    "input",
    "voice",
    "response_format",
    "speed",
    "instructions",
    "stream_format",
];

/// The audio the mock answers for `format` with `chunks` pieces:
/// `chunks * SPEECH_PIECE` bytes where byte `k` is `k % 251`, except for
/// the format's magic at the start (`ID3` for mp3, `OggS` for opus,
/// `FF F1` for aac, `fLaC` for flac, `RIFF` for wav, none for pcm).
pub fn speech_audio(format: &str, chunks: usize) -> Vec<u8> {
    let mut bytes: Vec<u8> = (0..chunks * SPEECH_PIECE)
        .map(|k| (k % 251) as u8)
        .collect();
    let magic: &[u8] = match format {
        "mp3" => b"ID3",
        "opus" => b"OggS",
        "aac" => &[0xFF, 0xF1],
        "flac" => b"fLaC",
        "wav" => b"RIFF",
        _ => b"",
    };
    for (byte, m) in bytes.iter_mut().zip(magic) {
        *byte = *m;
    }
    bytes
}

/// `POST /v1/audio/speech`.
pub(crate) async fn speech(
    State(shared): State<Arc<Shared>>,
    request: Request,
) -> Result<Response, Response> {
    let call = Call::begin(&shared, request, Dialect::OpenAi).await?;
    let body = json_object(&call.req().body).map_err(|e| e.response())?;
    let format = check(&Obj::new(&body, "")).map_err(|e| e.response())?;
    let audio = Bytes::from(speech_audio(format, call.chunks()));
    let pieces = (0..audio.len())
        .step_by(SPEECH_PIECE)
        .map(|at| audio.slice(at..audio.len().min(at + SPEECH_PIECE)))
        .collect();
    Ok(call.pieces(pieces, content_type(format)))
}

/// Checks the body; returns the audio format.
fn check<'a>(body: &Obj<'a>) -> Result<&'a str, Invalid> {
    body.only(FIELDS)?;
    body.required_str("model")?;
    let input = body.required_str("input")?;
    if input.chars().count() > MAX_INPUT {
        let message = format!("Invalid 'input': string too long. Expected a string with maximum length {MAX_INPUT}, but got a string with length {} instead.", input.chars().count());
        return Err(Invalid::new(message, "input", "string_above_max_length"));
    }
    match body.get("voice") {
        None => return Err(Invalid::missing("voice")),
        Some(Value::String(_)) => {
            body.required_str("voice")?;
        }
        Some(Value::Object(voice)) => {
            Obj::new(voice, "voice").required_str("id")?;
        }
        Some(other) => {
            return Err(Invalid::wrong_type("voice", "a string or an object", other));
        }
    }
    body.num("speed", 0.25, 4.0)?;
    body.str("instructions")?;
    if body.choice("stream_format", &["sse", "audio"])? == Some("sse") {
        let message = "stream_format 'sse' is not supported by the mock";
        return Err(Invalid::new(
            message,
            "stream_format",
            "unsupported_parameter",
        ));
    }
    Ok(body.choice("response_format", FORMATS)?.unwrap_or("mp3"))
}

fn content_type(format: &str) -> &'static str {
    match format {
        "opus" => "audio/opus",
        "aac" => "audio/aac",
        "flac" => "audio/flac",
        "wav" => "audio/wav",
        "pcm" => "audio/pcm",
        _ => "audio/mpeg",
    }
}
