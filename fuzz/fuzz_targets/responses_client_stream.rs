//! The Responses dialect, hub → client: each line of the input a hub
//! `chat.completion.chunk` through a `StreamEncoder` (then `finish`), and
//! the first line as a whole answer through `response_from_hub`. Sequence
//! numbers count from 0, and the events written parse back, with SSE, into
//! the same names and JSON.
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
});
