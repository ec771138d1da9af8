//! The built-in bedrock adapter: a Converse answer through its response translation.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| switchyard_fuzz::fuzz_response("bedrock", data));
