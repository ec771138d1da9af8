use super::*;

#[test]
fn event_streams_are_recognised_from_their_first_bytes() {
    for ok in [
        &b"data: {}\n\n"[..],
        b"\xEF\xBB\xBFdata:{}",
        b"\n\nevent: message_start\n",
        b": keep-alive\n\n",
        b"id: 7\n",
        b"retry: 100\n",
        b"da",
        b"data\n\n",
        b"  \r\n",
    ] {
        assert!(may_be_sse(ok), "{:?}", String::from_utf8_lossy(ok));
    }
    for bad in [
        &b"<!DOCTYPE html>"[..],
        b"{\"id\":1}",
        b"\x89\xfe\x01binary",
        b"database: x\n",
        b"hello\n\n",
    ] {
        assert!(!may_be_sse(bad), "{:?}", String::from_utf8_lossy(bad));
    }
}

#[test]
fn a_stream_start_that_is_not_events_names_the_content_type() {
    let html = check_stream_start(
        "p",
        Some("text/html; charset=utf-8"),
        Some(b"<html>"),
        Framing::Sse,
    );
    let msg = html.unwrap_err().to_string();
    assert!(msg.contains("`text/html; charset=utf-8`"), "{msg}");
    let noise = check_stream_start(
        "p",
        Some("text/event-stream"),
        Some(b"\x00\x01"),
        Framing::Sse,
    );
    assert!(noise
        .unwrap_err()
        .to_string()
        .contains("not server-sent events"));
    // Lenient when the body is events, whatever the header says.
    assert!(
        check_stream_start("p", Some("text/plain"), Some(b"data: {}\n\n"), Framing::Sse).is_ok()
    );
    assert!(check_stream_start("p", None, None, Framing::Sse).is_ok());
}

#[test]
fn a_body_that_is_not_json_names_a_non_json_content_type() {
    let e = serde_json::from_str::<serde_json::Value>("<html>").unwrap_err();
    let msg = not_json("p", Some("text/html"), &e).to_string();
    assert!(msg.contains("`text/html` body that is not JSON"), "{msg}");
    let msg = not_json("p", Some("application/json"), &e).to_string();
    assert!(msg.contains("returned a body that is not JSON"), "{msg}");
}
