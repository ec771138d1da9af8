//! The built-in anthropic adapter: a provider answer through its response translation.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| switchyard_fuzz::fuzz_response("anthropic", data));
