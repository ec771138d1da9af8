//! A user message's media parts -> Gemini inlineData and fileData parts
//! (`image_part`, `audio_part`, `file_part` and `parse_data_url` in the
//! script).

use serde_json::{json, Value};

use super::answer::EMPTY_MAP;
use super::value::{reject, J};
use crate::provider::native::NativeError;

/// `image_url`: a data URL is inlined, an http(s) URL becomes fileData.
pub(super) fn image_part(image: &J) -> Result<Value, NativeError> {
    let url = match image {
        J::Obj(_) => image.prop("url")?,
        other => other,
    };
    let J::Str(url) = url else {
        return Err(reject("image_url needs a url"));
    };
    if url.starts_with("data:") {
        let (mime_type, data) = parse_data_url(url)?;
        return Ok(json!({"inlineData": {"mimeType": mime_type, "data": data}}));
    }
    let scheme: String = url.chars().take(8).collect::<String>().to_lowercase();
    if !scheme.starts_with("https://") && !scheme.starts_with("http://") {
        return Err(reject(
            "image_url must be an http(s) URL or a base64 data URL",
        ));
    }
    Ok(json!({"fileData": {"mimeType": image_type(url)?, "fileUri": url}}))
}

/// The image MIME type told by a URL's file extension.
fn image_type(url: &str) -> Result<&'static str, NativeError> {
    let path = url.split('?').next().unwrap_or("");
    let path = path.split('#').next().unwrap_or("");
    let name = path.split('/').next_back().unwrap_or("");
    let ext = match name.rsplit_once('.') {
        Some((_, ext)) => ext.to_lowercase(),
        None => String::new(),
    };
    Ok(match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "heic" => "image/heic",
        "heif" => "image/heif",
        _ => {
            return Err(reject(format!(
                "cannot tell the image type of '{url}' from its extension (png, jpg, jpeg, gif, webp, heic, heif); send it as a base64 data URL"
            )))
        }
    })
}

/// `input_audio` {data, format} -> inlineData.
pub(super) fn audio_part(audio: &J) -> Result<Value, NativeError> {
    let audio = audio.or(&EMPTY_MAP);
    let data = audio.prop("data")?;
    if data.as_str().is_none() {
        return Err(reject("input_audio needs base64 data"));
    }
    let format = audio.prop("format")?;
    let mime_type = match format.as_str() {
        Some("wav") => "audio/wav",
        Some("mp3") => "audio/mp3",
        _ => {
            return Err(reject(format!(
                "unsupported input_audio format '{}'",
                format.display()
            )))
        }
    };
    Ok(json!({"inlineData": {"mimeType": mime_type, "data": data.to_value()}}))
}

/// `file` with base64 `file_data` -> inlineData.
pub(super) fn file_part(file: &J) -> Result<Value, NativeError> {
    let data = file.or(&EMPTY_MAP).prop("file_data")?;
    let data = match data {
        J::Str(d) if d.starts_with("data:") => d,
        _ => {
            return Err(reject(
                "file parts need file_data as a base64 data URL (file ids are not supported)",
            ))
        }
    };
    let (mime_type, data) = parse_data_url(data)?;
    Ok(json!({"inlineData": {"mimeType": mime_type, "data": data}}))
}

/// "data:image/png;base64,AAAA" -> ("image/png", "AAAA").
fn parse_data_url(url: &str) -> Result<(String, &str), NativeError> {
    let Some(comma) = url.find(',') else {
        return Err(reject("malformed data URL"));
    };
    let header = url.get(5..comma).unwrap_or("").to_lowercase();
    if !header.ends_with(";base64") {
        return Err(reject("data URLs must be base64-encoded"));
    }
    let mime_type = header.split(';').next().unwrap_or("").to_string();
    if mime_type.is_empty() {
        return Err(reject("the data URL has no media type"));
    }
    Ok((mime_type, url.get(comma + 1..).unwrap_or("")))
}
