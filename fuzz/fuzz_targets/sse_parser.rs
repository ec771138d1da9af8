//! The SSE parser (`transform::sse`): any bytes, fed in reads of any size.
//! Checks that the events do not depend on how the input was split into
//! reads, that they hold no more characters than bytes came in (each byte
//! yields at most one character, invalid UTF-8 one U+FFFD), and that an
//! event over the limit is refused once the limit is passed by a read.
#![no_main]
use switchyard::transform::sse::{SseEvent, SseParser};

fn parse(input: &[u8], piece: usize, max_event: usize) -> Result<Vec<SseEvent>, usize> {
    let mut p = SseParser::new(max_event);
    let mut out = Vec::new();
    for chunk in input.chunks(piece.max(1)) {
        if p.feed(chunk, &mut out).is_err() {
            return Err(out.len());
        }
    }
    p.finish(&mut out);
    Ok(out)
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&split, input)) = data.split_first() else {
        return;
    };
    let whole = parse(input, input.len(), usize::MAX).expect("no limit");
    let pieces = parse(input, usize::from(split % 17) + 1, usize::MAX).expect("no limit");
    assert_eq!(whole, pieces, "events depend on the read sizes");
    let chars: usize = whole
        .iter()
        .map(|e| e.event.chars().count() + e.data.chars().count())
        .sum();
    assert!(
        chars <= input.len(),
        "{chars} characters out of {} bytes",
        input.len()
    );
    // A small limit: every event dispatched before the refusal is within
    // the limit plus what one read can add.
    let max = usize::from(split);
    let piece = usize::from(split % 7) + 1;
    let limited = parse(input, piece, max);
    let events = match &limited {
        Ok(events) => events.as_slice(),
        Err(n) => &whole[..*n],
    };
    for e in events {
        assert!(
            e.data.len() <= 3 * (max + piece),
            "event of {} bytes passed a limit of {max}",
            e.data.len()
        );
    }
});
