//! Streams that fail: in-band hub errors and the caller's own.

use serde_json::json;

use super::response::meta;
use super::stream::{chunk, data, names};
use super::*;

#[test]
fn an_error_mid_stream_fails_the_response_and_ends_it() {
    let mut encoder = StreamEncoder::new(meta(json!({})));
    let mut events = encoder.chunk(&chunk(json!({"content": "Hel"}), None));
    events.extend(encoder.error("upstream reset", "upstream_error"));
    check_invariants_open(&events);
    let tail: Vec<_> = events.iter().rev().take(2).rev().collect();
    assert_eq!(
        tail[0].1,
        json!({"type": "error", "sequence_number": 5, "code": "upstream_error",
               "message": "upstream reset", "param": null})
    );
    let failed = &tail[1].1["response"];
    assert_eq!(tail[1].0, "response.failed");
    assert_eq!(failed["status"], "failed");
    assert_eq!(
        failed["error"],
        json!({"code": "server_error", "message": "upstream reset"})
    );
    assert_eq!(failed["output"][0]["status"], "incomplete");
    assert_eq!(failed["output"][0]["content"][0]["text"], "Hel");
    assert_eq!(encoder.response(), Some(failed));
    assert!(encoder.finish().is_empty());
    assert!(encoder
        .chunk(&chunk(json!({"content": "lo"}), None))
        .is_empty());
}

/// Sequence numbers of a stream that may end with open items.
fn check_invariants_open(events: &[Event]) {
    for (i, (name, data)) in events.iter().enumerate() {
        assert_eq!(data["type"], *name);
        assert_eq!(data["sequence_number"], i);
    }
}

#[test]
fn an_error_before_anything_still_starts_the_response() {
    let mut encoder = StreamEncoder::new(meta(json!({})));
    let events = encoder.error("Rate limited", "rate_limit_exceeded");
    assert_eq!(
        names(&events),
        [
            "response.created",
            "response.in_progress",
            "error",
            "response.failed"
        ]
    );
    assert_eq!(
        events[3].1["response"]["error"]["code"],
        "rate_limit_exceeded"
    );
}

#[test]
fn an_in_band_hub_error_chunk_becomes_an_error_event() {
    let mut encoder = StreamEncoder::new(meta(json!({})));
    let mut events = encoder.chunk(&chunk(json!({"content": "a"}), None));
    events.extend(
        encoder.chunk(&json!({"error": {"message": "overloaded", "type": "server_error"}})),
    );
    let error = data(&events, "error");
    assert_eq!(error[0]["message"], "overloaded");
    assert_eq!(error[0]["code"], "server_error");
    assert_eq!(events.last().unwrap().0, "response.failed");
}

#[test]
fn errors_write_the_same_events_on_the_wire() {
    let first = chunk(json!({"content": "Hel"}), None);
    let in_band = json!({"error": {"message": "overloaded", "type": "server_error"}});
    let mut encoder = StreamEncoder::new(meta(json!({})));
    let mut events = encoder.chunk(&first);
    events.extend(encoder.error("upstream reset", "upstream_error"));
    let mut wire_encoder = StreamEncoder::new(meta(json!({})));
    let mut wire = Vec::new();
    wire_encoder.chunk_text_into(&first.to_string(), &mut wire);
    wire_encoder.error_into("upstream reset", "upstream_error", &mut wire);
    wire_encoder.finish_into(&mut wire);
    super::stream::assert_same_on_wire(&events, &wire);
    let (mut got, mut want) = (
        wire_encoder.response().cloned(),
        encoder.response().cloned(),
    );
    got.iter_mut().for_each(super::stream::without_ids);
    want.iter_mut().for_each(super::stream::without_ids);
    assert_eq!(got, want);

    let mut encoder = StreamEncoder::new(meta(json!({})));
    let events = encoder.chunk(&in_band);
    let mut wire_encoder = StreamEncoder::new(meta(json!({})));
    let mut wire = Vec::new();
    wire_encoder.chunk_text_into(&in_band.to_string(), &mut wire);
    super::stream::assert_same_on_wire(&events, &wire);
}
