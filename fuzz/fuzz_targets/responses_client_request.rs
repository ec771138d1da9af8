//! The Responses dialect, client → hub (`dialect::responses`): `parse`,
//! then `to_hub` and `to_native`, on any JSON, with the request's own input
//! as its history too (a conversation's second turn). A refusal is a 4xx;
//! a hub request serializes and routes like a chat request.
#![no_main]
use serde_json::Value;
use switchyard::dialect::responses::parse;
use switchyard::request::{parse_value, Endpoint};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let req = match parse(body) {
        Ok(r) => r,
        Err(e) => return assert!((400..500).contains(&e.status()), "parse: {e}"),
    };
    switchyard_fuzz::check_json(&req.to_native(&req.input));
    for history in [&[][..], &req.input[..]] {
        match req.to_hub(history) {
            Ok(hub) => {
                switchyard_fuzz::check_json(&hub);
                if let Err(e) = parse_value(Endpoint::Chat, hub) {
                    assert!((400..500).contains(&e.status()), "hub request: {e}");
                }
            }
            Err(e) => assert!((400..500).contains(&e.status()), "to_hub: {e}"),
        }
    }
});
