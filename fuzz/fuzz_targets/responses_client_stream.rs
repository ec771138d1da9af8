//! The Responses dialect, hub → client: each line of the input a hub
//! `chat.completion.chunk` through a `StreamEncoder` (then `finish`), and
//! the first line as a whole answer through `response_from_hub`. Sequence
//! numbers count from 0, and the events written parse back, with SSE, into
//! the same names and JSON; the wire path the gateway takes (each line as
//! chunk text, straight to bytes) writes the same event sequence.
#![no_main]
use serde_json::{json, Value};
use switchyard::dialect::responses::{response_from_hub, write_event, Meta, StreamEncoder};
use switchyard::transform::sse::SseParser;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let chunks: Vec<Value> = data
        .split(|b| *b == b'\n')
        .filter_map(|line| serde_json::from_slice(line).ok())
        .collect();
    let meta = Meta {
        id: "resp_fuzz".into(),
        created_at: 0,
        model: "fuzz".into(),
        request: json!({"model": "fuzz", "input": "x"}),
    };
    if let Some(first) = chunks.first() {
        switchyard_fuzz::check_json(&response_from_hub(first, &meta));
    }
    let mut wire_enc = StreamEncoder::new(meta.clone());
    let mut enc = StreamEncoder::new(meta);
    let mut events = Vec::new();
    for c in &chunks {
        events.extend(enc.chunk(c));
    }
    events.extend(enc.finish());
    assert!(enc.response().is_some(), "no final response");
    let mut wire = Vec::new();
    for (i, (name, data)) in events.iter().enumerate() {
        switchyard_fuzz::check_json(data);
        assert_eq!(data["sequence_number"], i, "{name}");
        write_event(&mut wire, name, data);
    }
    let mut parsed = Vec::new();
    let mut p = SseParser::new(usize::MAX);
    p.feed(&wire, &mut parsed).expect("no limit");
    p.finish(&mut parsed);
    assert_eq!(parsed.len(), events.len(), "events lost on the wire");
    for (got, (name, data)) in parsed.iter().zip(&events) {
        assert_eq!(got.event, *name);
        let back: Value = serde_json::from_str(&got.data).expect("event data is JSON");
        assert_eq!(&back, data);
    }
    let mut direct = Vec::new();
    for line in data.split(|b| *b == b'\n') {
        if let Ok(text) = std::str::from_utf8(line) {
            if serde_json::from_str::<Value>(text).is_ok() {
                wire_enc.chunk_text_into(text, &mut direct);
            }
        }
    }
    wire_enc.finish_into(&mut direct);
    let mut direct_events = Vec::new();
    let mut p = SseParser::new(usize::MAX);
    p.feed(&direct, &mut direct_events).expect("no limit");
    p.finish(&mut direct_events);
    let names = |evs: &[switchyard::transform::sse::SseEvent]| -> Vec<String> {
        evs.iter().map(|e| e.event.clone()).collect()
    };
    assert_eq!(names(&direct_events), names(&parsed), "the wire path differs");
    for (i, e) in direct_events.iter().enumerate() {
        let v: Value = serde_json::from_str(&e.data).expect("wire event data is JSON");
        assert_eq!(v["sequence_number"], i);
        assert_eq!(v["type"], e.event.as_str());
    }
});
