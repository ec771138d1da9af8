//! Response-side transforms: server-sent events in and out,
//! newline-delimited JSON in, and AWS's binary event-stream framing in.

pub mod eventstream;
pub mod ndjson;
pub mod peek;
pub mod sse;
