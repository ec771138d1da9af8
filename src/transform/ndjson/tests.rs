use super::*;

fn parse_in_pieces(text: &[u8], size: usize) -> Vec<String> {
    let mut p = NdjsonParser::new(1 << 20);
    let mut out = Vec::new();
    for piece in text.chunks(size) {
        p.feed(piece, &mut out).unwrap();
    }
    p.finish(&mut out);
    out.into_iter().map(|e| e.data).collect()
}

#[test]
fn lines_become_events_whatever_the_read_sizes() {
    let text = b"{\"a\":1}\n{\"b\":2}\r\n\n  \n{\"c\":3}";
    for size in 1..text.len() {
        assert_eq!(
            parse_in_pieces(text, size),
            [r#"{"a":1}"#, r#"{"b":2}"#, r#"{"c":3}"#],
            "pieces of {size}"
        );
    }
}

#[test]
fn oversized_lines_and_junk_are_reported() {
    let mut p = NdjsonParser::new(8);
    let mut out = Vec::new();
    assert!(p.feed(b"{\"a\":\"0123456789\"}\n", &mut out).is_err());
    let mut p = NdjsonParser::new(1024);
    p.feed(b"<html>\n", &mut out).unwrap();
    assert!(p.saw_junk());
    assert!(may_be_ndjson(b"  {\"x\""));
    assert!(!may_be_ndjson(b"data: {}"));
}
