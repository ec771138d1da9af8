//! `multipart/form-data` bodies (images edits, audio, file uploads): parsed
//! with `multer` when the request is recorded, so that the endpoints and the
//! tests read the same fields ([`crate::RecordedRequest::form`]).

use std::convert::Infallible;

use bytes::Bytes;
use futures_util::stream;

/// A `multipart/form-data` body as the mock parsed it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Form {
    /// The parts in the order they arrived (text fields and files alike).
    pub parts: Vec<FormPart>,
    /// Why parsing stopped early (a missing boundary, a body cut short…);
    /// `parts` then holds the parts read before. The endpoints answer 400.
    pub error: Option<String>,
}

/// One part of a [`Form`]: a text field or a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormPart {
    /// The `name` of its `content-disposition`, e.g. `prompt` or `image[]`.
    pub name: String,
    /// The `filename`, present for files (possibly empty).
    pub filename: Option<String>,
    /// The part's own `content-type`, if it has one.
    pub content_type: Option<String>,
    /// The raw bytes of the part.
    pub data: Bytes,
}

impl FormPart {
    /// Whether the part was sent as a file (it has a `filename`).
    pub fn is_file(&self) -> bool {
        self.filename.is_some()
    }

    /// The data as UTF-8 text, or `None` if it is not.
    pub fn text(&self) -> Option<&str> {
        std::str::from_utf8(&self.data).ok()
    }

    /// Size of the data in bytes.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the data is empty.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

impl Form {
    /// The first part named `name`.
    pub fn get(&self, name: &str) -> Option<&FormPart> {
        self.parts.iter().find(|p| p.name == name)
    }

    /// Every part named `name`, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a FormPart> + 'a {
        self.parts.iter().filter(move |p| p.name == name)
    }

    /// The text of the first part named `name` (`None` if absent or not
    /// UTF-8).
    pub fn text(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(FormPart::text)
    }

    /// The parts that are files.
    pub fn files(&self) -> impl Iterator<Item = &FormPart> {
        self.parts.iter().filter(|p| p.is_file())
    }
}

/// Whether `content_type` announces a `multipart/form-data` body.
pub(crate) fn is_multipart(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|t| {
        t.split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("multipart/form-data"))
    })
}

/// Parses `body` if `content_type` is `multipart/form-data`; `None`
/// for any other body.
pub(crate) async fn parse(content_type: Option<&str>, body: &Bytes) -> Option<Form> {
    let content_type = content_type.filter(|t| is_multipart(Some(t)))?;
    let boundary = match multer::parse_boundary(content_type) {
        Ok(boundary) => boundary,
        Err(e) => {
            return Some(Form {
                parts: Vec::new(),
                error: Some(e.to_string()),
            })
        }
    };
    let body = body.clone();
    let chunks = stream::once(async move { Ok::<_, Infallible>(body) });
    let mut multipart = multer::Multipart::new(chunks, boundary);
    let mut form = Form::default();
    loop {
        match read_part(&mut multipart).await {
            Ok(Some(part)) => form.parts.push(part),
            Ok(None) => return Some(form),
            Err(e) => {
                form.error = Some(e.to_string());
                return Some(form);
            }
        }
    }
}

async fn read_part(multipart: &mut multer::Multipart<'_>) -> multer::Result<Option<FormPart>> {
    let Some(field) = multipart.next_field().await? else {
        return Ok(None);
    };
    let name = field.name().unwrap_or_default().to_owned();
    let filename = field.file_name().map(str::to_owned);
    let content_type = field.content_type().map(ToString::to_string);
    let data = field.bytes().await?;
    Ok(Some(FormPart {
        name,
        filename,
        content_type,
        data,
    }))
}

#[cfg(test)]
mod tests;
