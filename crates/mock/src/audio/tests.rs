//! Tests of the audio endpoints: transcriptions and translations
//! (multipart, each response format) and speech (a paced binary body).

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::multipart::Form;
use serde_json::{json, Value};

use super::{speech_audio, SPEECH_PIECE};
use crate::tests::util::*;
use crate::{Fault, MockConfig, MockServer};

fn audio_form(len: usize) -> Form {
    Form::new()
        .part("file", file_part("speech.mp3", len))
        .text("model", "whisper-1")
}

async fn speak(mock: &MockServer, body: &Value) -> reqwest::Response {
    client()
        .post(format!("{}/v1/audio/speech", mock.url()))
        .json(body)
        .send()
        .await
        .unwrap()
}

fn speech_body() -> Value {
    json!({"model": "tts-1", "input": "Hello there", "voice": "alloy"})
}

#[tokio::test]
async fn transcription_says_how_many_bytes_arrived_with_token_usage() {
    let mock = start(MockConfig::default()).await;
    let form = audio_form(123_456)
        .text("language", "fr")
        .text("prompt", "names: Zoë");
    let res = post_form(&mock, "/v1/audio/transcriptions", form).await;
    assert_eq!(res.status(), 200);
    let res: Value = res.json().await.unwrap();
    assert_eq!(res["text"], "transcribed 123456 bytes");
    // ⌈123456 / 1000⌉ = 124 audio tokens; "names: Zoë" = 10 characters
    // -> 2; the text's 24 characters -> 6.
    assert_eq!(
        res["usage"],
        json!({"type": "tokens", "input_tokens": 126,
            "input_token_details": {"audio_tokens": 124, "text_tokens": 2},
            "output_tokens": 6, "total_tokens": 132})
    );
    let form = mock.last_request().unwrap().form.unwrap();
    assert_eq!(form.get("file").unwrap().len(), 123_456);
    assert_eq!(
        form.get("file").unwrap().filename.as_deref(),
        Some("speech.mp3")
    );
    assert_eq!(form.text("language"), Some("fr"));
    assert_eq!(form.text("model"), Some("whisper-1"));
}

#[tokio::test]
async fn transcription_text_formats_are_plain_text() {
    let mock = start(MockConfig::default()).await;
    let cases = [
        ("text", "transcribed 32000 bytes\n"),
        (
            "srt",
            "1\n00:00:00,000 --> 00:00:02,000\ntranscribed 32000 bytes\n",
        ),
        (
            "vtt",
            "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\ntranscribed 32000 bytes\n",
        ),
    ];
    for (format, expected) in cases {
        let form = audio_form(32_000).text("response_format", format);
        let res = post_form(&mock, "/audio/transcriptions", form).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "text/plain; charset=utf-8");
        assert_eq!(res.text().await.unwrap(), expected);
    }
}

#[tokio::test]
async fn verbose_json_has_duration_and_a_segment() {
    let mock = start(MockConfig::default()).await;
    let form = audio_form(32_000).text("response_format", "verbose_json");
    let res: Value = post_form(&mock, "/v1/audio/transcriptions", form)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(res["task"], "transcribe");
    assert_eq!(res["language"], "english");
    assert_eq!(res["duration"], 2.0);
    assert_eq!(res["segments"][0]["text"], "transcribed 32000 bytes");
    assert_eq!(res["usage"], json!({"type": "duration", "seconds": 2.0}));
}

#[tokio::test]
async fn translation_answers_text_without_usage() {
    let mock = start(MockConfig::default()).await;
    let res = post_form(&mock, "/v1/audio/translations", audio_form(777)).await;
    assert_eq!(res.status(), 200);
    let res: Value = res.json().await.unwrap();
    assert_eq!(res, json!({"text": "translated 777 bytes"}));
    let form = audio_form(1).text("language", "fr");
    let res = post_form(&mock, "/v1/audio/translations", form).await;
    let (status, body) = (res.status().as_u16(), res.json().await.unwrap());
    assert_invalid(status, &body, "language");
}

#[tokio::test]
async fn transcription_checks_its_fields() {
    let mock = start(MockConfig::default()).await;
    let cases = [
        (Form::new().text("model", "whisper-1"), "file"),
        (Form::new().part("file", file_part("a.mp3", 10)), "model"),
        (
            Form::new().text("file", "not a file").text("model", "m"),
            "file",
        ),
        (
            audio_form(10).text("response_format", "mp3"),
            "response_format",
        ),
        (audio_form(10).text("temperature", "2"), "temperature"),
        (audio_form(10).text("temperature", "warm"), "temperature"),
        (audio_form(0), "file"),
    ];
    for (form, param) in cases {
        let res = post_form(&mock, "/v1/audio/transcriptions", form).await;
        let (status, body) = (res.status().as_u16(), res.json().await.unwrap());
        assert_invalid(status, &body, param);
    }
}

#[tokio::test]
async fn speech_is_a_chunked_binary_body_of_known_bytes() {
    let mock = start(MockConfig {
        chunks: 3,
        ..MockConfig::default()
    })
    .await;
    let res = speak(&mock, &speech_body()).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "audio/mpeg");
    assert!(res.headers().get("content-length").is_none());
    assert_eq!(res.headers()["transfer-encoding"], "chunked");
    let bytes = res.bytes().await.unwrap();
    assert_eq!(bytes.len(), 3 * SPEECH_PIECE);
    assert_eq!(&bytes[..3], b"ID3");
    assert_eq!(bytes[1000], (1000 % 251) as u8);
    assert_eq!(bytes.to_vec(), speech_audio("mp3", 3));

    let mut wav = speech_body();
    wav["response_format"] = json!("wav");
    let res = speak(&mock, &wav).await;
    assert_eq!(res.headers()["content-type"], "audio/wav");
    assert!(res.bytes().await.unwrap().starts_with(b"RIFF"));
}

#[tokio::test]
async fn speech_pieces_are_paced_by_chunk_delay() {
    let mock = start(MockConfig {
        chunks: 4,
        chunk_delay: Duration::from_millis(80),
        ..MockConfig::default()
    })
    .await;
    let res = speak(&mock, &speech_body()).await;
    let mut body = res.bytes_stream();
    let first = body.next().await.unwrap().unwrap();
    let first_at = Instant::now();
    assert!(!first.is_empty() && first.len() <= SPEECH_PIECE);
    let mut total = first.len();
    while let Some(chunk) = body.next().await {
        total += chunk.unwrap().len();
    }
    assert_eq!(total, 4 * SPEECH_PIECE);
    let rest = first_at.elapsed();
    assert!(rest >= Duration::from_millis(200), "{rest:?}");
}

#[tokio::test]
async fn speech_drop_fault_cuts_the_audio_and_aborts() {
    let mock = start(MockConfig {
        chunks: 5,
        fault: Some(Fault::DropMidStream { after: 2 }),
        ..MockConfig::default()
    })
    .await;
    let (bytes, failed) = read_bytes(speak(&mock, &speech_body()).await).await;
    assert!(failed);
    assert_eq!(bytes, speech_audio("mp3", 5)[..2 * SPEECH_PIECE]);
}

#[tokio::test]
async fn speech_checks_its_fields() {
    let mock = start(MockConfig::default()).await;
    let edit = |key: &str, value: Value| {
        let mut body = speech_body();
        if value.is_null() {
            body.as_object_mut().unwrap().remove(key);
        } else {
            body[key] = value;
        }
        body
    };
    let cases = [
        (edit("voice", Value::Null), "voice"),
        (edit("input", Value::Null), "input"),
        (edit("model", Value::Null), "model"),
        (edit("input", json!("x".repeat(4097))), "input"),
        (edit("response_format", json!("ogg")), "response_format"),
        (edit("speed", json!(5)), "speed"),
        (edit("stream_format", json!("sse")), "stream_format"),
        (edit("voice", json!({"name": "x"})), "voice.id"),
    ];
    for (body, param) in cases {
        let res = speak(&mock, &body).await;
        let (status, body) = (res.status().as_u16(), res.json().await.unwrap());
        assert_invalid(status, &body, param);
    }
    let custom = edit("voice", json!({"id": "voice_123"}));
    assert_eq!(speak(&mock, &custom).await.status(), 200);
}
