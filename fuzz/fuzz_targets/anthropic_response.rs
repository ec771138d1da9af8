//! scripts/providers/anthropic.rhai: a provider answer through `transform_response`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| switchyard_fuzz::fuzz_response("anthropic", data));
