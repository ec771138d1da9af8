use super::*;

#[test]
fn secret_never_prints() {
    let s = Secret::new("sk-live-123".into());
    assert_eq!(format!("{s} {s:?}"), "*** ***");
}

fn key(byte: u8) -> MasterKey {
    MasterKey([byte; 32])
}

#[test]
fn round_trip() {
    let k = key(7);
    let sealed = encrypt(&k, "sk-live-123 ünïcode").unwrap();
    assert!(sealed.starts_with("enc:v1:"));
    assert!(!sealed.contains("sk-live"));
    assert_eq!(decrypt(&k, &sealed).unwrap(), "sk-live-123 ünïcode");
    assert_eq!(decrypt(&k, &encrypt(&k, "").unwrap()).unwrap(), "");
}

#[test]
fn two_encryptions_of_one_text_differ() {
    let k = key(7);
    let a = encrypt(&k, "same").unwrap();
    let b = encrypt(&k, "same").unwrap();
    assert_ne!(a, b);
    let nonce = |v: &str| STANDARD.decode(&v[PREFIX.len()..]).unwrap()[..NONCE_LEN].to_vec();
    assert_ne!(nonce(&a), nonce(&b));
}

#[test]
fn wrong_key_is_refused() {
    let sealed = encrypt(&key(1), "secret").unwrap();
    assert_eq!(decrypt(&key(2), &sealed), Err(SecretError::Decrypt));
}

#[test]
fn every_tampered_byte_is_caught() {
    let k = key(3);
    let sealed = encrypt(&k, "secret").unwrap();
    let bytes = STANDARD.decode(&sealed[PREFIX.len()..]).unwrap();
    for i in 0..bytes.len() {
        let mut t = bytes.clone();
        t[i] ^= 0x01;
        let value = format!("{PREFIX}{}", STANDARD.encode(&t));
        assert_eq!(decrypt(&k, &value), Err(SecretError::Decrypt), "byte {i}");
    }
}

#[test]
fn truncated_values_are_refused() {
    let k = key(4);
    let sealed = encrypt(&k, "secret").unwrap();
    let bytes = STANDARD.decode(&sealed[PREFIX.len()..]).unwrap();
    let short = |n: usize| format!("{PREFIX}{}", STANDARD.encode(&bytes[..n]));
    assert_eq!(
        decrypt(&k, &short(bytes.len() - 1)),
        Err(SecretError::Decrypt)
    );
    assert_eq!(decrypt(&k, &short(27)), Err(SecretError::Truncated));
    assert_eq!(decrypt(&k, PREFIX), Err(SecretError::Truncated));
    assert_eq!(check_format(&short(10)), Err(SecretError::Truncated));
    assert_eq!(check_format(&sealed), Ok(()));
}

#[test]
fn malformed_values_are_refused() {
    let k = key(5);
    assert_eq!(decrypt(&k, "enc:v1:not*base64!"), Err(SecretError::Base64));
    assert_eq!(decrypt(&k, "plain-key"), Err(SecretError::NotEncrypted));
    assert_eq!(decrypt(&k, "enc:v2:AAAA"), Err(SecretError::NotEncrypted));
}

#[test]
fn master_keys_parse_from_base64_or_hex() {
    let b64 = key(9).to_base64();
    assert_eq!(MasterKey::parse(&b64).unwrap().0, [9; 32]);
    assert_eq!(
        MasterKey::parse(&format!(" {}\n", b64.trim_end_matches('=')))
            .unwrap()
            .0,
        [9; 32]
    );
    let hex = "ab".repeat(32);
    assert_eq!(MasterKey::parse(&hex).unwrap().0, [0xab; 32]);
    assert_eq!(MasterKey::parse(&hex.to_uppercase()).unwrap().0, [0xab; 32]);
    for bad in [
        "",
        "short",
        &"ab".repeat(31),
        &STANDARD.encode([1u8; 16]),
        &"zz".repeat(32),
    ] {
        assert_eq!(
            MasterKey::parse(bad).err(),
            Some(SecretError::BadMasterKey),
            "{bad}"
        );
    }
}

#[test]
fn generated_master_keys_work_and_differ() {
    let a = MasterKey::generate();
    let b = MasterKey::generate();
    assert_ne!(a.0, b.0);
    let parsed = MasterKey::parse(&a.to_base64()).unwrap();
    let sealed = encrypt(&a, "x").unwrap();
    assert_eq!(decrypt(&parsed, &sealed).unwrap(), "x");
}

#[test]
fn nothing_secret_is_printed() {
    let k = key(6);
    assert_eq!(format!("{k:?}"), "MasterKey(***)");
    let sealed = encrypt(&k, "sk-plain").unwrap();
    for e in [
        decrypt(&key(8), &sealed).unwrap_err(),
        SecretError::BadMasterKey,
    ] {
        let msg = e.to_string();
        assert!(
            !msg.contains("sk-plain") && !msg.contains(&k.to_base64()),
            "{msg}"
        );
    }
}
