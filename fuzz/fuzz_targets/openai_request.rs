//! scripts/providers/openai.rhai: a hub (OpenAI) request through `request` and `transform_request`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| switchyard_fuzz::fuzz_request("openai", data));
