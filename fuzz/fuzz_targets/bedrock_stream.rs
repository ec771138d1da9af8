//! The built-in bedrock adapter: a ConverseStream body (AWS event-stream frames) through the
//! frame reader, its stream translation and end.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| switchyard_fuzz::fuzz_stream("bedrock", data));
