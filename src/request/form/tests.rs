use super::*;

fn body(boundary: &str, file: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a \\\"b\\\".mp3\"\r\nContent-Type: audio/mpeg\r\n\r\n").as_bytes());
    b.extend_from_slice(file);
    b.extend_from_slice(format!("\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"stream\"\r\n\r\ntrue\r\n--{boundary}--\r\n").as_bytes());
    b
}

/// The body in chunks of `n` bytes, as a connection delivers it.
fn chunks(b: Vec<u8>, n: usize) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send {
    let pieces: Vec<_> = b.chunks(n).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    futures_util::stream::iter(pieces)
}

async fn encoded(form: &Form, model: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for p in form.pieces(model) {
        match p {
            Piece::Bytes(b) => out.extend_from_slice(&b),
            Piece::Spooled { mut offset, len } => {
                let end = offset + len;
                while offset < end {
                    let b = form.spool().read(offset, PIECE).await.unwrap();
                    offset += b.len() as u64;
                    out.extend_from_slice(&b);
                }
            }
        }
    }
    out
}

#[tokio::test]
async fn a_form_is_read_and_written_again_with_the_targets_model() {
    let file: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
    let form = Form::read(chunks(body("XyZ", &file), 7), "XyZ", 1 << 20)
        .await
        .unwrap();
    assert_eq!(
        form.fields(),
        serde_json::json!({"model": "whisper", "stream": true})
    );
    assert_eq!(form.files().collect::<Vec<_>>(), vec![("file", 1000)]);
    assert!(!form.spool().on_disk());
    let out = encoded(&form, "whisper-1").await;
    assert_eq!(length(&form.pieces("whisper-1")), out.len() as u64);
    // Read back by multer: the same fields, the file byte for byte.
    let ct = form.content_type();
    let b = boundary(Some(&ct)).unwrap();
    let mut again = multer::Multipart::new(chunks(out, 4096), b);
    let f = again.next_field().await.unwrap().unwrap();
    assert_eq!(f.name(), Some("file"));
    assert_eq!(f.file_name(), Some("a %22b%22.mp3"));
    assert_eq!(
        f.content_type().map(|m| m.to_string()).as_deref(),
        Some("audio/mpeg")
    );
    assert_eq!(f.bytes().await.unwrap().as_ref(), &file[..]);
    let m = again.next_field().await.unwrap().unwrap();
    assert_eq!(m.name(), Some("model"));
    assert_eq!(m.text().await.unwrap(), "whisper-1");
}

#[tokio::test]
async fn a_large_upload_waits_on_disk_and_comes_back_whole() {
    let file: Vec<u8> = (0..(spool::IN_MEMORY as u32 * 3))
        .map(|i| (i % 253) as u8)
        .collect();
    let form = Form::read(chunks(body("b", &file), 16 << 10), "b", 8 << 20)
        .await
        .unwrap();
    assert!(form.spool().on_disk());
    let out = encoded(&form, "m").await;
    let mut again = multer::Multipart::new(chunks(out, 1 << 16), form.boundary.clone());
    let f = again.next_field().await.unwrap().unwrap();
    assert_eq!(f.bytes().await.unwrap().as_ref(), &file[..]);
}

#[tokio::test]
async fn limits_and_malformed_bodies_are_client_errors() {
    let big = vec![b'a'; 5000];
    let e = Form::read(chunks(body("b", &big), 1000), "b", 4000)
        .await
        .unwrap_err();
    assert_eq!(e.status(), 413);
    let e = Form::read(chunks(b"--b\r\nnonsense".to_vec(), 3), "b", 4000)
        .await
        .unwrap_err();
    assert_eq!(e.status(), 400, "{e}");
    assert_eq!(
        boundary(Some("application/json")).unwrap_err().status(),
        400
    );
    let long = format!(
        "--b\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\n{}\r\n--b--\r\n",
        "x".repeat(MAX_TEXT_FIELD + 1)
    );
    let e = Form::read(chunks(long.into_bytes(), 1 << 16), "b", 8 << 20)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("prompt"), "{e}");
}
