//! Tests of multipart parsing on hand-written bodies.

use bytes::Bytes;

use super::{is_multipart, parse};

const TYPE: &str = "multipart/form-data; boundary=XyZ";

fn body(parts: &[&str]) -> Bytes {
    let mut text = String::new();
    for part in parts {
        text.push_str("--XyZ\r\n");
        text.push_str(part);
        text.push_str("\r\n");
    }
    text.push_str("--XyZ--\r\n");
    Bytes::from(text)
}

#[test]
fn recognises_multipart_content_types() {
    assert!(is_multipart(Some(TYPE)));
    assert!(is_multipart(Some("Multipart/Form-Data;boundary=a")));
    assert!(!is_multipart(Some("application/json")));
    assert!(!is_multipart(None));
}

#[tokio::test]
async fn parses_text_fields_and_files_in_order() {
    let body = body(&[
        "Content-Disposition: form-data; name=\"prompt\"\r\n\r\nadd a hat",
        "Content-Disposition: form-data; name=\"image[]\"; filename=\"a b.png\"\r\nContent-Type: image/png\r\n\r\n\u{1}\u{2}\u{3}",
        "Content-Disposition: form-data; name=\"empty\"; filename=\"\"\r\n\r\n",
    ]);
    let form = parse(Some(TYPE), &body).await.unwrap();
    assert_eq!(form.error, None);
    assert_eq!(form.parts.len(), 3);
    assert_eq!(form.text("prompt"), Some("add a hat"));
    assert!(!form.get("prompt").unwrap().is_file());
    let image = form.get("image[]").unwrap();
    assert_eq!(image.filename.as_deref(), Some("a b.png"));
    assert_eq!(image.content_type.as_deref(), Some("image/png"));
    assert_eq!(&image.data[..], b"\x01\x02\x03");
    let empty = form.get("empty").unwrap();
    assert!(empty.is_file() && empty.is_empty());
    assert_eq!(form.files().count(), 2);
}

#[tokio::test]
async fn other_bodies_have_no_form_and_broken_ones_an_error() {
    let json = Bytes::from_static(b"{}");
    assert_eq!(parse(Some("application/json"), &json).await, None);
    assert_eq!(parse(None, &json).await, None);

    let no_boundary = parse(Some("multipart/form-data"), &json).await.unwrap();
    assert!(no_boundary.error.is_some());

    let full = body(&["Content-Disposition: form-data; name=\"a\"\r\n\r\n1"]);
    let cut = full.slice(..full.len() - 12);
    let form = parse(Some(TYPE), &cut).await.unwrap();
    assert!(form.error.is_some(), "{form:?}");
}
