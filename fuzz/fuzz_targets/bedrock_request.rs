//! The built-in bedrock adapter: a hub request through its request head and Converse body.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| switchyard_fuzz::fuzz_request("bedrock", data));
