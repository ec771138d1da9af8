//! The built-in anthropic adapter: a hub (OpenAI) request through its request head and body.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| switchyard_fuzz::fuzz_request("anthropic", data));
