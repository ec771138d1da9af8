use super::*;

fn whole(text: &[u8]) -> Option<usize> {
    HeadEnd::default().find(text)
}

#[test]
fn finds_the_end_of_crlf_and_bare_lf_heads() {
    assert_eq!(whole(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nbody"), Some(27));
    assert_eq!(whole(b"GET / HTTP/1.1\nHost: x\n\nbody"), Some(24));
    assert_eq!(whole(b"GET / HTTP/1.1\r\nHost: x\r\n"), None);
    assert_eq!(whole(b"\r\n\r\nGET / HTTP/1.1\r\n\r\n"), Some(22));
    assert_eq!(whole(b"\r\n\r\n"), None, "only empty lines: no head yet");
}

#[test]
fn http11_needs_exactly_one_host() {
    assert_eq!(check(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"), Ok(()));
    assert_eq!(check(b"GET / HTTP/1.1\r\nhOsT: a\r\n\r\nbody"), Ok(()));
    assert_eq!(
        check(b"GET / HTTP/1.1\r\nX: y\r\n\r\n"),
        Err(Problem::BadHost)
    );
    assert_eq!(
        check(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
        Err(Problem::BadHost)
    );
    // A Host-like name is not Host; HTTP/1.0 needs none.
    assert_eq!(
        check(b"GET / HTTP/1.1\r\nHostname: a\r\n\r\n"),
        Err(Problem::BadHost)
    );
    assert_eq!(check(b"GET / HTTP/1.0\r\n\r\n"), Ok(()));
    assert_eq!(check(b"\r\nGET / HTTP/1.1\nHost: a\n\n"), Ok(()));
}

#[test]
fn more_than_256_fields_are_too_many() {
    let head = |n: usize| {
        let mut h = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
        for i in 1..n {
            h.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        h.extend_from_slice(b"\r\n");
        h
    };
    assert_eq!(check(&head(MAX_HEADERS)), Ok(()));
    assert_eq!(check(&head(MAX_HEADERS + 1)), Err(Problem::TooManyHeaders));
}

#[test]
fn finds_the_end_across_reads_of_one_byte() {
    let text = b"POST /v1/chat HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}";
    let mut end = HeadEnd::default();
    let mut found = None;
    for n in 1..=text.len() {
        if let Some(e) = end.find(&text[..n]) {
            found = Some((n, e));
            break;
        }
    }
    assert_eq!(found, Some((text.len() - 2, text.len() - 2)));
}
