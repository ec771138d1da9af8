//! Response-side transforms: server-sent events in and out.

pub mod sse;
