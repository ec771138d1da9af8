//! The stream-event peek (`transform::peek`): any bytes. Its verdict — one
//! JSON object or not — must be serde_json's (whose `Value` parser also
//! refuses nesting past 127 levels), and its flags must not miss what a
//! parsed `Value` shows: a top-level `usage` or `error` that is not null, a
//! choice whose `finish_reason` is not null. (With a key written twice the
//! peek sees both values where `Value` keeps the last: it may then report
//! more, which costs the relay a full parse, never a missed usage.)
#![no_main]
use serde_json::Value;
use switchyard::transform::peek;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let got = peek::event(data);
    let Ok(text) = std::str::from_utf8(data) else {
        // The relay peeks only at valid UTF-8 (an event's data is a `str`).
        return;
    };
    let value = serde_json::from_str::<Value>(text);
    match (&got, &value) {
        (Some(p), Ok(v)) => {
            let obj = v.as_object().expect("the peek accepted something that is not an object");
            if !p.escaped_keys {
                let set = |k: &str| obj.get(k).is_some_and(|v| !v.is_null());
                assert!(p.usage || !set("usage"), "missed a usage");
                assert!(p.error || !set("error"), "missed an error");
                let finished = obj.get("choices").and_then(Value::as_array).is_some_and(|c| {
                    c.iter().any(|c| c.get("finish_reason").is_some_and(|f| !f.is_null()))
                });
                assert!(p.finished || !finished, "missed a finish_reason");
            }
        }
        (None, Ok(v)) => assert!(!v.is_object(), "the peek refused an object serde_json reads"),
        // serde_json validates it but cannot make a `Value` of it: a number
        // out of f64's range. The peek forwards such events.
        (Some(_), Err(_)) => assert!(
            serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok(),
            "the peek accepted what serde_json refuses"
        ),
        (None, Err(_)) => {}
    }
});
