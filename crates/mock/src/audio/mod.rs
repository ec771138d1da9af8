//! OpenAI audio: `POST /v1/audio/transcriptions` and
//! `/v1/audio/translations` (multipart: `file`, `model`, optional
//! `language`, `prompt`, `response_format`, `temperature`), and
//! `POST /v1/audio/speech` (`speech.rs`).
//!
//! The text says how much audio arrived: `transcribed N bytes` /
//! `translated N bytes`, `N` the size of the uploaded file. By
//! `response_format`: `json` (default) `{"text"}` (transcriptions add
//! `usage`: `{"type":"tokens", input_tokens, input_token_details:
//! {audio_tokens, text_tokens}, output_tokens, total_tokens}` with audio
//! tokens = ⌈N / 1000⌉ (at least 1), text tokens = the prompt's (0 without
//! one), output tokens = the text's, one per 4 characters);
//! `verbose_json` adds `task`, `language` (the one given, else `english`),
//! `duration` = N / 16000 seconds and one segment (transcriptions: usage
//! `{"type":"duration","seconds"}`); `text`, `srt` and `vtt` are
//! `text/plain` bodies ending in a newline.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::Response;
use bytes::Bytes;
use serde_json::{json, Value};

use super::call::Call;
use super::dialect::Dialect;
use super::form::Form;
use super::params::{multipart, Fields, Invalid};
use super::reply::prompt_tokens;
use super::state::Shared;

mod speech;

pub(crate) use speech::speech;
pub use speech::{speech_audio, SPEECH_PIECE};

/// Bytes of audio per input token.
const BYTES_PER_TOKEN: usize = 1000;
/// Bytes of audio per second, for `duration`.
const BYTES_PER_SECOND: f64 = 16_000.0;
const TEXT: &str = "text/plain; charset=utf-8";

/// Which of the two multipart endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Task {
    Transcribe,
    Translate,
}

impl Task {
    fn fields(self) -> &'static [&'static str] {
        match self {
            Task::Transcribe => &[
                "file",
                "model",
                "language",
                "prompt",
                "response_format",
                "temperature",
                "timestamp_granularities[]",
                "include[]",
                "chunking_strategy",
                "stream",
                "known_speaker_names[]",
                "known_speaker_references[]",
            ],
            Task::Translate => &["file", "model", "prompt", "response_format", "temperature"],
        }
    }

    fn formats(self) -> &'static [&'static str] {
        match self {
            Task::Transcribe => &[
                "json",
                "text",
                "srt",
                "verbose_json",
                "vtt",
                "diarized_json",
            ],
            Task::Translate => &["json", "text", "srt", "verbose_json", "vtt"],
        }
    }
}

/// `POST /v1/audio/transcriptions`.
pub(crate) async fn transcriptions(
    State(shared): State<Arc<Shared>>,
    request: Request,
) -> Result<Response, Response> {
    run(&shared, request, Task::Transcribe).await
}

/// `POST /v1/audio/translations`.
pub(crate) async fn translations(
    State(shared): State<Arc<Shared>>,
    request: Request,
) -> Result<Response, Response> {
    run(&shared, request, Task::Translate).await
}

async fn run(shared: &Arc<Shared>, request: Request, task: Task) -> Result<Response, Response> {
    let call = Call::begin(shared, request, Dialect::OpenAi).await?;
    let req = call.req();
    let form = multipart(req.form.as_ref(), req.header("content-type"));
    let order = form
        .and_then(|f| check(f, task))
        .map_err(|e| e.response())?;
    let (body, content_type) = answer(&order, task);
    Ok(call.body(body, content_type))
}

/// A checked request.
#[derive(Debug)]
struct Order<'a> {
    bytes: usize,
    format: &'a str,
    language: Option<&'a str>,
    prompt: Option<&'a str>,
}

fn check(form: &Form, task: Task) -> Result<Order<'_>, Invalid> {
    if let Some(part) = form
        .parts
        .iter()
        .find(|p| !task.fields().contains(&p.name.as_str()))
    {
        return Err(Invalid::unknown(&part.name));
    }
    let file = form.get("file").ok_or_else(|| Invalid::missing("file"))?;
    if !file.is_file() {
        let message = "Invalid type for 'file': expected a file, but got a text field instead.";
        return Err(Invalid::new(message, "file", "invalid_type"));
    }
    if file.is_empty() {
        let message = "Audio file might be corrupted or unsupported";
        return Err(Invalid::new(message, "file", "invalid_value"));
    }
    let fields = Fields(form);
    fields.required_str("model")?;
    let format = fields.choice("response_format", task.formats())?;
    fields.num("temperature", 0.0, 1.0)?;
    if fields.str("stream")? == Some("true") {
        let message = "stream is not supported by the mock";
        return Err(Invalid::new(message, "stream", "unsupported_parameter"));
    }
    Ok(Order {
        bytes: file.len(),
        format: format.unwrap_or("json"),
        language: fields.str("language")?,
        prompt: fields.str("prompt")?,
    })
}

/// The body and its content type.
fn answer(order: &Order, task: Task) -> (Bytes, &'static str) {
    let text = match task {
        Task::Transcribe => format!("transcribed {} bytes", order.bytes),
        Task::Translate => format!("translated {} bytes", order.bytes),
    };
    let seconds = order.bytes as f64 / BYTES_PER_SECOND;
    let plain = match order.format {
        "text" => format!("{text}\n"),
        "srt" => format!("1\n00:00:00,000 --> {}\n{text}\n", srt_time(seconds)),
        "vtt" => format!("WEBVTT\n\n00:00:00.000 --> {}\n{text}\n", vtt_time(seconds)),
        _ => {
            return (
                Bytes::from(json_answer(order, task, &text).to_string()),
                "application/json",
            )
        }
    };
    (Bytes::from(plain), TEXT)
}

fn json_answer(order: &Order, task: Task, text: &str) -> Value {
    let seconds = order.bytes as f64 / BYTES_PER_SECOND;
    let mut answer = json!({"text": text});
    if order.format == "verbose_json" {
        let task_name = match task {
            Task::Transcribe => "transcribe",
            Task::Translate => "translate",
        };
        answer["task"] = task_name.into();
        answer["language"] = order.language.unwrap_or("english").into();
        answer["duration"] = seconds.into();
        answer["segments"] = json!([{"id": 0, "seek": 0, "start": 0.0, "end": seconds,
            "text": text, "tokens": [], "temperature": 0.0, "avg_logprob": 0.0,
            "compression_ratio": 1.0, "no_speech_prob": 0.0}]);
    }
    if task == Task::Transcribe {
        answer["usage"] = if order.format == "verbose_json" {
            json!({"type": "duration", "seconds": seconds})
        } else {
            token_usage(order, text)
        };
    }
    answer
}

fn token_usage(order: &Order, text: &str) -> Value {
    let audio = order.bytes.div_ceil(BYTES_PER_TOKEN).max(1);
    let prompt = order.prompt.map_or(0, |p| prompt_tokens(p.chars().count()));
    let output = prompt_tokens(text.chars().count());
    json!({
        "type": "tokens",
        "input_tokens": audio + prompt,
        "input_token_details": {"audio_tokens": audio, "text_tokens": prompt},
        "output_tokens": output,
        "total_tokens": audio + prompt + output,
    })
}

/// `HH:MM:SS,mmm`.
fn srt_time(seconds: f64) -> String {
    vtt_time(seconds).replace('.', ",")
}

/// `HH:MM:SS.mmm`.
fn vtt_time(seconds: f64) -> String {
    let millis = (seconds * 1000.0).round() as u64;
    let (h, m, s, ms) = (
        millis / 3_600_000,
        millis / 60_000 % 60,
        millis / 1000 % 60,
        millis % 1000,
    );
    format!("{h:02}:{m:02}:{s:02}.{ms:03}")
}

#[cfg(test)]
mod tests;
