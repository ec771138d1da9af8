//! A client's W3C trace context (`trace::context`): `traceparent` and
//! `tracestate` headers of any bytes. What parses writes back as a
//! `traceparent` that parses to the same ids; a kept `tracestate` is
//! printable and within the spec's 512 characters.
#![no_main]
use switchyard::trace::context::{parent, parse_traceparent, traceparent};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let (tp, ts) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    if let Some((trace, span, flags)) = parse_traceparent(tp) {
        assert_ne!(trace.0, [0; 16]);
        assert_ne!(span.0, [0; 8]);
        let written = traceparent(trace, span, flags & 1 == 1);
        let again = parse_traceparent(written.as_bytes()).expect("our own traceparent parses");
        assert_eq!((again.0, again.1, again.2 & 1), (trace, span, flags & 1));
    }
    if let Some(p) = parent(Some(tp), ts.split(|&b| b == b'\n')) {
        if let Some(state) = p.state {
            assert!(state.len() <= 512);
            assert!(state.bytes().all(|b| (0x20..0x7f).contains(&b)));
        }
    }
});
