//! The event-stream frame reader (`transform::eventstream`): any bytes, fed
//! in reads of any size. Checks that the events — and where a frame too
//! large for the limit stops them — do not depend on how the input was
//! split into reads, and that no event's payload is larger than the limit.
#![no_main]
use switchyard::transform::eventstream::EventStreamParser;
use switchyard::transform::sse::SseEvent;

fn parse(input: &[u8], piece: usize, max_event: usize) -> Result<(Vec<SseEvent>, bool), usize> {
    let mut p = EventStreamParser::new(max_event);
    let mut out = Vec::new();
    for chunk in input.chunks(piece.max(1)) {
        if p.feed(chunk, &mut out).is_err() {
            return Err(out.len());
        }
    }
    p.finish(&mut out);
    Ok((out, p.saw_junk()))
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&split, input)) = data.split_first() else {
        return;
    };
    // A frame may declare any length (up to 4 GiB): over the limit, the
    // stream stops with an error, after the same events however it is read.
    let whole = parse(input, input.len(), 1 << 24);
    let pieces = parse(input, usize::from(split % 17) + 1, 1 << 24);
    assert_eq!(whole, pieces, "events depend on the read sizes");
    let max = usize::from(split) * 4;
    if let Ok((events, _)) = parse(input, input.len(), max) {
        for e in events {
            assert!(e.data.len() <= max + 64, "a {}-byte payload passed a limit of {max}", e.data.len());
        }
    }
});
