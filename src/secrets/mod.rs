//! Secrets: [`Secret`], a credential that never prints, and provider
//! secrets at rest: an `api_key` or header value in `routes.yaml` may be
//! written as `enc:v1:<base64>` and is decrypted when the config is
//! (re)loaded, with the master key from `SWITCHYARD_MASTER_KEY`.
//!
//! `v1` is AES-256-GCM with a random 96-bit nonce per value; the base64
//! (standard alphabet) holds nonce ‖ ciphertext ‖ 16-byte tag, so a wrong
//! key and a tampered value are both caught by the tag. Errors never contain
//! the plaintext or the master key.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use rand::rngs::OsRng;
use rand::RngCore;

/// A credential. `Debug` and `Display` never print it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential.
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The credential itself, for building an upstream request.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// What starts an encrypted value.
pub const PREFIX: &str = "enc:v1:";
/// The environment variable holding the master key.
pub const MASTER_KEY_VAR: &str = "SWITCHYARD_MASTER_KEY";

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Standard base64, with or without padding (people trim `=` by hand).
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a secret could not be encrypted or decrypted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// `SWITCHYARD_MASTER_KEY` is unset or empty.
    #[error("`enc:v1:` values need SWITCHYARD_MASTER_KEY (`switchyard encrypt --new-master-key` makes one)")]
    NoMasterKey,
    /// The master key is not 32 bytes as base64 or 64 hex characters.
    #[error("SWITCHYARD_MASTER_KEY must be 32 bytes given as base64 (44 characters) or 64 hex characters")]
    BadMasterKey,
    /// The value does not start with `enc:v1:`.
    #[error("not an encrypted value (expected `enc:v1:<base64>`)")]
    NotEncrypted,
    /// The part after `enc:v1:` is not base64.
    #[error("malformed `enc:v1:` value: not valid base64")]
    Base64,
    /// The value is too short to hold a nonce and a tag.
    #[error("malformed `enc:v1:` value: too short (truncated?)")]
    Truncated,
    /// The tag did not match: another master key, or a changed value.
    #[error("could not decrypt: wrong master key or corrupted value")]
    Decrypt,
    /// The decrypted bytes are not UTF-8 text.
    #[error("decrypted value is not UTF-8 text")]
    NotUtf8,
    /// The plaintext is beyond AES-GCM's limit (64 GiB).
    #[error("value too long to encrypt")]
    TooLong,
}

/// The 256-bit key every `enc:v1:` value is encrypted under. Its `Debug`
/// prints `***`.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(***)")
    }
}

impl MasterKey {
    /// Reads `SWITCHYARD_MASTER_KEY`; fails when it is unset, empty or not
    /// a valid key.
    pub fn from_env() -> Result<Self, SecretError> {
        match std::env::var(MASTER_KEY_VAR) {
            Ok(v) if v.trim().is_empty() => Err(SecretError::NoMasterKey),
            Ok(v) => Self::parse(&v),
            Err(std::env::VarError::NotPresent) => Err(SecretError::NoMasterKey),
            Err(std::env::VarError::NotUnicode(_)) => Err(SecretError::BadMasterKey),
        }
    }

    /// Parses 32 bytes given as 64 hex characters or as base64 (padding
    /// optional); surrounding whitespace is ignored.
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex_decode(text).ok_or(SecretError::BadMasterKey)?
        } else {
            LENIENT
                .decode(text)
                .map_err(|_| SecretError::BadMasterKey)?
        };
        let key: [u8; 32] = bytes.try_into().map_err(|_| SecretError::BadMasterKey)?;
        Ok(Self(key))
    }

    /// A fresh random key from the operating system's CSPRNG.
    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        OsRng.fill_bytes(&mut key);
        Self(key)
    }

    /// The key as standard base64, the form `switchyard encrypt --new-master-key` prints.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&self.0.into())
    }
}

/// Encrypts `plaintext` under `master` with a fresh random nonce:
/// `enc:v1:<base64 of nonce ‖ ciphertext ‖ tag>`. Two calls on the same text
/// give different values. Fails only beyond AES-GCM's length limit.
pub fn encrypt(master: &MasterKey, plaintext: &str) -> Result<String, SecretError> {
    let mut nonce = [0u8; NONCE_LEN];
    OsRng.fill_bytes(&mut nonce);
    let sealed = master
        .cipher()
        .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
        .map_err(|_| SecretError::TooLong)?;
    let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(format!("{PREFIX}{}", STANDARD.encode(out)))
}

/// True when `value` is meant to be decrypted (starts with `enc:v1:`).
pub fn is_encrypted(value: &str) -> bool {
    value.starts_with(PREFIX)
}

/// Checks what can be checked without the master key: the prefix, the
/// base64 and the length.
pub fn check_format(value: &str) -> Result<(), SecretError> {
    unpack(value).map(drop)
}

/// Decrypts an `enc:v1:` value; fails on a malformed value, a wrong master
/// key or any changed byte.
pub fn decrypt(master: &MasterKey, value: &str) -> Result<String, SecretError> {
    let bytes = unpack(value)?;
    let (nonce, sealed) = bytes.split_at(NONCE_LEN);
    let plain = master
        .cipher()
        .decrypt(Nonce::from_slice(nonce), sealed)
        .map_err(|_| SecretError::Decrypt)?;
    String::from_utf8(plain).map_err(|_| SecretError::NotUtf8)
}

/// The nonce ‖ ciphertext ‖ tag bytes of `value`.
fn unpack(value: &str) -> Result<Vec<u8>, SecretError> {
    let b64 = value
        .strip_prefix(PREFIX)
        .ok_or(SecretError::NotEncrypted)?;
    let bytes = LENIENT
        .decode(b64.trim())
        .map_err(|_| SecretError::Base64)?;
    if bytes.len() < NONCE_LEN + TAG_LEN {
        return Err(SecretError::Truncated);
    }
    Ok(bytes)
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests;
