//! Response-side transforms: server-sent events in and out, and
//! newline-delimited JSON in.

pub mod ndjson;
pub mod peek;
pub mod sse;
