//! The Anthropic Messages dialect, client → hub (`dialect::anthropic`):
//! `request_to_hub` and `count_tokens` on any JSON. A refusal is a 4xx; a
//! hub request serializes and routes like a chat request.
#![no_main]
use serde_json::Value;
use switchyard::dialect::anthropic::{count_tokens, request_to_hub, strip_extensions};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    match count_tokens(&body) {
        Ok(v) => switchyard_fuzz::check_json(&v),
        Err(e) => assert!((400..500).contains(&e.status()), "count_tokens: {e}"),
    }
    match request_to_hub(body) {
        Ok(mut hub) => {
            switchyard_fuzz::check_json(&hub);
            assert!(
                hub.get("messages").is_some_and(Value::is_array),
                "no messages: {hub}"
            );
            strip_extensions(&mut hub);
            switchyard_fuzz::check_json(&hub);
        }
        Err(e) => assert!((400..500).contains(&e.status()), "request_to_hub: {e}"),
    }
});
