//! Multipart intake (`request::form`): any bytes as a form body with a
//! fixed boundary. A refusal is a 4xx (413 past the limit); a form read
//! is written again for another model, and read back by multer into the
//! same files, the model replaced.
#![no_main]
use bytes::Bytes;
use switchyard::request::form::{Form, Piece, PIECE};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let chunks: Vec<Result<Bytes, std::io::Error>> = data
            .chunks(97)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let form = match Form::read(futures_util::stream::iter(chunks), "fz", 1 << 16).await {
            Ok(f) => f,
            Err(e) => return assert!((400..500).contains(&e.status()), "{e}"),
        };
        let mut out = Vec::new();
        for piece in form.pieces("other") {
            match piece {
                Piece::Bytes(b) => out.extend_from_slice(&b),
                Piece::Spooled { mut offset, len } => {
                    let end = offset + len;
                    while offset < end {
                        let b = form.spool().read(offset, PIECE).await.expect("spool");
                        assert!(!b.is_empty());
                        offset += b.len() as u64;
                        out.extend_from_slice(&b);
                    }
                }
            }
        }
        let again = Form::read(
            futures_util::stream::iter([Ok::<_, std::io::Error>(Bytes::from(out))]),
            &switchyard::request::form::boundary(Some(&form.content_type())).expect("boundary"),
            1 << 20,
        )
        .await
        .expect("our own encoding reads back");
        // (Names are quoted on the way out, so only values and sizes compare.)
        if form.fields().get("model").is_some_and(|m| m.is_string()) {
            assert_eq!(again.fields()["model"], "other");
        }
        let sizes = |f: &Form| f.files().map(|(_, n)| n).collect::<Vec<_>>();
        assert_eq!(sizes(&again), sizes(&form));
    });
});
