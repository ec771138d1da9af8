//! The built-in azure-openai adapter: a provider SSE stream through its stream translation and end.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| switchyard_fuzz::fuzz_stream("azure-openai", data));
