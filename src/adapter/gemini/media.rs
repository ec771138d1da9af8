//! A user message's media parts -> Gemini `inlineData` and `fileData`
//! parts. Base64 payloads are borrowed from the hub request, not copied.

use std::borrow::Cow;

use serde_json::Value;

use super::hub::{get, shown};
use super::wire::{Blob, FileData, Part};
use crate::adapter::AdapterError;

/// `image_url` (`{url, detail?}` or a bare URL): a data URL is inlined, an
/// http(s) URL becomes fileData with the type its extension tells.
pub(super) fn image_part(image: &Value) -> Result<Part<'_>, AdapterError> {
    let url = match image {
        Value::Object(_) => get(image, "url"),
        other => other,
    };
    let Some(url) = url.as_str() else {
        return Err(AdapterError::rejected("image_url needs a url"));
    };
    if url.starts_with("data:") {
        return inline(url);
    }
    let scheme: String = url.chars().take(8).collect::<String>().to_lowercase();
    if !scheme.starts_with("https://") && !scheme.starts_with("http://") {
        return Err(AdapterError::rejected(
            "image_url must be an http(s) URL or a base64 data URL",
        ));
    }
    Ok(Part {
        file_data: Some(FileData {
            mime_type: Some(Cow::Borrowed(image_type(url)?)),
            file_uri: Cow::Borrowed(url),
        }),
        ..Part::default()
    })
}

/// The image MIME type a URL's file extension tells (query and fragment
/// ignored); 400 when it tells none.
fn image_type(url: &str) -> Result<&'static str, AdapterError> {
    let path = url.split(['?', '#']).next().unwrap_or("");
    let name = path.rsplit('/').next().unwrap_or("");
    let ext = name
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_lowercase())
        .unwrap_or_default();
    Ok(match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "heic" => "image/heic",
        "heif" => "image/heif",
        _ => {
            return Err(AdapterError::rejected(format!(
                "cannot tell the image type of '{url}' from its extension (png, jpg, jpeg, gif, webp, heic, heif); send it as a base64 data URL"
            )))
        }
    })
}

/// `input_audio` `{data, format}` -> inlineData.
pub(super) fn audio_part(audio: &Value) -> Result<Part<'_>, AdapterError> {
    let Some(data) = get(audio, "data").as_str() else {
        return Err(AdapterError::rejected("input_audio needs base64 data"));
    };
    let format = get(audio, "format");
    let mime_type = match format.as_str() {
        Some("wav") => "audio/wav",
        Some("mp3") => "audio/mp3",
        _ => {
            return Err(AdapterError::rejected(format!(
                "unsupported input_audio format '{}'",
                shown(format)
            )))
        }
    };
    Ok(blob(Cow::Borrowed(mime_type), data))
}

/// `file` with base64 `file_data` -> inlineData (file ids mean nothing to Gemini).
pub(super) fn file_part(file: &Value) -> Result<Part<'_>, AdapterError> {
    match get(file, "file_data").as_str() {
        Some(data) if data.starts_with("data:") => inline(data),
        _ => Err(AdapterError::rejected(
            "file parts need file_data as a base64 data URL (file ids are not supported)",
        )),
    }
}

/// A base64 data URL -> inlineData.
fn inline(url: &str) -> Result<Part<'_>, AdapterError> {
    let (mime_type, data) = parse_data_url(url)?;
    Ok(blob(Cow::Owned(mime_type), data))
}

fn blob<'a>(mime_type: Cow<'a, str>, data: &'a str) -> Part<'a> {
    Part {
        inline_data: Some(Blob {
            mime_type,
            data: Cow::Borrowed(data),
        }),
        ..Part::default()
    }
}

/// "data:image/png;base64,AAAA" -> ("image/png", "AAAA"); the media type
/// lowercased.
fn parse_data_url(url: &str) -> Result<(String, &str), AdapterError> {
    let Some((head, data)) = url.split_once(',') else {
        return Err(AdapterError::rejected("malformed data URL"));
    };
    let header = head.get(5..).unwrap_or("").to_lowercase();
    if !header.ends_with(";base64") {
        return Err(AdapterError::rejected("data URLs must be base64-encoded"));
    }
    let mime_type = header.split(';').next().unwrap_or("");
    if mime_type.is_empty() {
        return Err(AdapterError::rejected("the data URL has no media type"));
    }
    Ok((mime_type.to_string(), data))
}
