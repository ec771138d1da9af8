//! The built-in anthropic adapter: a provider SSE stream through its stream translation and end.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| switchyard_fuzz::fuzz_stream("anthropic", data));
