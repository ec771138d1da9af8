//! The PII detectors (`guard::pii`), hand-written scanners over text of
//! any bytes: findings lie inside the text, on char boundaries, in order
//! and apart; redacting leaves no finding's text behind; and a stream cut
//! into the pieces the input's own bytes choose redacts exactly as the
//! whole text does.
#![no_main]
use switchyard::guard::pii::{find, redact, Kinds, StreamRedactor};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&cuts, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let found = find(&text, Kinds::ALL);
    let mut end = 0;
    for f in &found {
        assert!(f.start >= end && f.start < f.end && f.end <= text.len());
        assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
        end = f.end;
    }
    let whole = redact(&text, Kinds::ALL);
    assert!(found.is_empty() == matches!(whole, std::borrow::Cow::Borrowed(_)));
    // Pieces of 1 to 16 chars, sized by the first byte's bits.
    let mut r = StreamRedactor::new(Kinds::ALL);
    let mut streamed = String::new();
    let chars: Vec<char> = text.chars().collect();
    let mut at = 0;
    let mut step = 0u32;
    while at < chars.len() {
        let n = 1 + ((cuts.rotate_left(step) as usize) % 16);
        let piece: String = chars[at..(at + n).min(chars.len())].iter().collect();
        streamed.push_str(&r.push(&piece));
        at += n;
        step += 3;
    }
    streamed.push_str(&r.finish());
    if text.len() < 1024 {
        assert_eq!(streamed, whole, "streamed in pieces, redacted otherwise");
    }
});
