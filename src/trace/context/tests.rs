use super::*;

const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[test]
fn parses_the_specs_example() {
    let (t, s, f) = parse_traceparent(VALID.as_bytes()).unwrap();
    assert_eq!(t.hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(s.hex(), "00f067aa0ba902b7");
    assert_eq!(f, 1);
}

#[test]
fn writes_what_it_reads() {
    let (t, s, _) = parse_traceparent(VALID.as_bytes()).unwrap();
    assert_eq!(traceparent(t, s, true).to_str().unwrap(), VALID);
    assert!(traceparent(t, s, false).to_str().unwrap().ends_with("-00"));
}

#[test]
fn refuses_what_the_spec_calls_invalid() {
    for bad in [
        "",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        // uppercase
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        // all-zero ids
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        // version ff, and version 00 with more after it
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
        // a later version followed by something not after a dash
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
        "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
    ] {
        assert!(parse_traceparent(bad.as_bytes()).is_none(), "{bad}");
    }
}

#[test]
fn a_later_version_is_read_as_00() {
    let v = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-what-comes-later";
    let (_, _, f) = parse_traceparent(v.as_bytes()).unwrap();
    assert_eq!(f, 0);
}

#[test]
fn tracestate_is_joined_and_bounded() {
    let p = parent(
        Some(VALID.as_bytes()),
        [b"a=1".as_slice(), b" b=2 ".as_slice()].into_iter(),
    )
    .unwrap();
    assert!(p.sampled);
    assert_eq!(p.state.as_deref(), Some("a=1,b=2"));
    let long = format!("k={}", "x".repeat(600));
    let p = parent(Some(VALID.as_bytes()), [long.as_bytes()].into_iter()).unwrap();
    assert_eq!(p.state, None);
    let p = parent(Some(VALID.as_bytes()), [b"a=\xff".as_slice()].into_iter()).unwrap();
    assert_eq!(p.state, None);
    assert!(parent(None, [b"a=1".as_slice()].into_iter()).is_none());
}

#[test]
fn random_ids_differ() {
    assert_ne!(TraceId::random(), TraceId::random());
    assert_ne!(SpanId::random(), SpanId::random());
}
