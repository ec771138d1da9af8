//! scripts/providers/gemini.rhai: a provider SSE stream through `transform_chunk` and `finish_stream`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| switchyard_fuzz::fuzz_stream("gemini", data));
