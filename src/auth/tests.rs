use super::*;

#[test]
fn keys_are_prefixed_base62_of_fixed_length() {
    let k = generate_key();
    let body = k.strip_prefix("sk-sy-").unwrap();
    assert_eq!(body.len(), 43, "{k}");
    assert!(body.bytes().all(|b| b.is_ascii_alphanumeric()), "{k}");
    assert_ne!(generate_key(), k);
}

#[test]
fn base62_covers_all_256_bits() {
    assert_eq!(base62([0; 32]), "0".repeat(43));
    let mut one = [0u8; 32];
    one[31] = 61;
    assert_eq!(base62(one), format!("{}z", "0".repeat(42)));
    one[31] = 62;
    assert_eq!(base62(one), format!("{}10", "0".repeat(41)));
    // 2^256 - 1 still fits in 43 digits (62^43 > 2^256).
    let max = base62([0xff; 32]);
    assert_eq!(max.len(), 43);
    assert_ne!(&max[..1], "0");
}

#[test]
fn hashes_are_sha256_hex() {
    assert_eq!(
        hash_key("abc"),
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn verify_accepts_only_the_hashed_key() {
    let k = generate_key();
    let h = hash_key(&k);
    assert!(verify(&k, &h));
    assert!(verify(&k, &h.to_uppercase().replace("SHA256:", "sha256:")));
    assert!(!verify(&generate_key(), &h));
    assert!(!verify(&format!("{k} "), &h));
    assert!(!verify(&k, &h[..h.len() - 1]));
    assert!(!verify(&k, h.trim_start_matches("sha256:")));
    assert!(!verify(&k, "sha256:zz"));
    assert!(!verify(&k, ""));
}
