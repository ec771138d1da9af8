//! The reader of a provider's stream framing: server-sent events, or
//! newline-delimited JSON or AWS event-stream frames read as events of the
//! same shape.

use crate::adapter::Framing;
use crate::transform::eventstream::EventStreamParser;
use crate::transform::ndjson::NdjsonParser;
use crate::transform::sse::{EventTooLarge, SseEvent, SseParser};

/// The reader of the provider's stream framing.
pub(super) enum Parser {
    Sse(SseParser),
    Ndjson(NdjsonParser),
    EventStream(EventStreamParser),
}

impl Parser {
    pub(super) fn new(framing: Framing, max_event: usize) -> Self {
        match framing {
            Framing::Sse => Self::Sse(SseParser::new(max_event)),
            Framing::Ndjson => Self::Ndjson(NdjsonParser::new(max_event)),
            Framing::EventStream => Self::EventStream(EventStreamParser::new(max_event)),
        }
    }

    pub(super) fn feed(
        &mut self,
        bytes: &[u8],
        out: &mut Vec<SseEvent>,
    ) -> Result<(), EventTooLarge> {
        match self {
            Self::Sse(p) => p.feed(bytes, out),
            Self::Ndjson(p) => p.feed(bytes, out),
            Self::EventStream(p) => p.feed(bytes, out),
        }
    }

    pub(super) fn finish(&mut self, out: &mut Vec<SseEvent>) {
        match self {
            Self::Sse(p) => p.finish(out),
            Self::Ndjson(p) => p.finish(out),
            Self::EventStream(p) => p.finish(out),
        }
    }

    pub(super) fn saw_junk(&self) -> bool {
        match self {
            Self::Sse(p) => p.saw_junk(),
            Self::Ndjson(p) => p.saw_junk(),
            Self::EventStream(p) => p.saw_junk(),
        }
    }
}
