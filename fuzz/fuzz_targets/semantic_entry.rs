//! A semantic cache entry as the fleet's Redis stream holds it
//! (`policy::semantic`'s shared form): any bytes decode to an entry or to
//! nothing, never a panic; an entry decoded re-encodes to bytes that decode
//! to the same entry.
#![no_main]
use switchyard::policy::semantic::{decode_shared, encode_shared};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((origin, entry)) = decode_shared(data) else {
        return;
    };
    let again = encode_shared(origin, &entry);
    let (origin2, entry2) = decode_shared(&again).expect("a re-encoded entry decodes");
    assert_eq!(origin, origin2);
    assert_eq!(entry.namespace, entry2.namespace);
    assert_eq!(entry.partition, entry2.partition);
    assert_eq!(entry.expires_at_ms, entry2.expires_at_ms);
    assert_eq!(entry.answer, entry2.answer);
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&entry.vector), bits(&entry2.vector));
});
