//! Virtual keys for clients: `sk-sy-…` keys the gateway hands out, of which
//! `routes.yaml` stores only a hash (`auth: keys: [{ name, key_hash }]`).
//!
//! The hash is a plain SHA-256, on purpose. Slow password hashes (bcrypt,
//! scrypt, Argon2) exist to make guessing low-entropy secrets expensive; a
//! virtual key is 256 random bits, so there is nothing to guess: a leaked
//! hash cannot be brute-forced, salted or not. A slow KDF would only add
//! milliseconds of CPU to every request, since each request presents its key.
//! The comparison is constant-time anyway, so that timing says nothing about
//! a stored hash.

use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What every virtual key starts with.
pub const KEY_PREFIX: &str = "sk-sy-";
/// What every stored key hash starts with.
pub const HASH_PREFIX: &str = "sha256:";

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Base-62 digits needed for 256 bits (62^43 > 2^256).
const KEY_DIGITS: usize = 43;

/// A fresh virtual key: `sk-sy-` and 256 bits from the operating system's
/// CSPRNG written as 43 base-62 digits.
pub fn generate_key() -> String {
    let mut bits = [0u8; 32];
    OsRng.fill_bytes(&mut bits);
    format!("{KEY_PREFIX}{}", base62(bits))
}

/// The form `routes.yaml` stores: `sha256:` and the hex digest of `key`.
pub fn hash_key(key: &str) -> String {
    // Runs on every authenticated request: hex by table, not by `write!`
    // (whose formatting machinery cost twice the SHA-256 itself).
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(HASH_PREFIX.len() + 64);
    out.push_str(HASH_PREFIX);
    for b in Sha256::digest(key.as_bytes()) {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
}

/// True when `presented` hashes to `hash` (`sha256:<hex>`, either case);
/// false for a malformed `hash`. The digests are compared in constant time.
pub fn verify(presented: &str, hash: &str) -> bool {
    let Some(stored) = hash.strip_prefix(HASH_PREFIX).and_then(hex32) else {
        return false;
    };
    let digest = Sha256::digest(presented.as_bytes());
    bool::from(digest.as_slice().ct_eq(&stored))
}

/// `n` as exactly [`KEY_DIGITS`] base-62 digits, most significant first.
fn base62(mut n: [u8; 32]) -> String {
    let mut digits = [0u8; KEY_DIGITS];
    for slot in digits.iter_mut().rev() {
        // Long division of the big-endian number by 62.
        let mut rem = 0u32;
        for byte in n.iter_mut() {
            let cur = (rem << 8) | u32::from(*byte);
            *byte = (cur / 62) as u8;
            rem = cur % 62;
        }
        *slot = BASE62[rem as usize];
    }
    digits.iter().map(|&d| char::from(d)).collect()
}

/// 64 hex characters as 32 bytes.
fn hex32(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests;
