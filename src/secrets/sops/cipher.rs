//! One encrypted value: `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`.
//!
//! AES-256-GCM under the file's data key with a 32-byte IV (SOPS's nonce size, not GCM's usual 12),
//! the value's key path as additional data (`a:b:` for `a: {b: …}`), base64 with padding, the
//! 16-byte tag apart from the data. The type says how SOPS turns the plaintext back into a YAML
//! value. The empty string is never encrypted.

use aes_gcm::aead::consts::U32;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::aes::Aes256;
use aes_gcm::{AesGcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

/// AES-GCM with SOPS's 32-byte nonce.
type Aes256Gcm32 = AesGcm<Aes256, U32>;

pub const KEY_LEN: usize = 32;
const IV_LEN: usize = 32;
const TAG_LEN: usize = 16;

pub type DataKey = [u8; KEY_LEN];

/// The parts of an `ENC[…]` string.
#[derive(Debug)]
pub struct Sealed {
    data: Vec<u8>,
    iv: Vec<u8>,
    tag: Vec<u8>,
    pub kind: String,
}

/// Why a value could not be opened. Never carries the value.
#[derive(Debug, PartialEq, Eq)]
pub enum OpenError {
    /// Not of the `ENC[AES256_GCM,…]` form at all.
    NotSealed,
    /// The tag does not verify: another key, another path, or a changed value.
    Tampered,
}

pub fn new_data_key() -> DataKey {
    let mut key = [0u8; KEY_LEN];
    rand::fill(&mut key);
    key
}

/// Seals `plain` with a fresh random IV.
pub fn seal(plain: &[u8], kind: &str, key: &DataKey, aad: &str) -> String {
    let mut iv = [0u8; IV_LEN];
    rand::fill(&mut iv);
    seal_with_iv(plain, kind, key, aad, &iv)
}

fn seal_with_iv(plain: &[u8], kind: &str, key: &DataKey, aad: &str, iv: &[u8; IV_LEN]) -> String {
    let cipher = Aes256Gcm32::new(key.into());
    let out = cipher
        .encrypt(Nonce::<U32>::from_slice(iv), Payload { msg: plain, aad: aad.as_bytes() })
        .expect("AES-GCM cannot fail on a value this small");
    let (data, tag) = out.split_at(out.len() - TAG_LEN);
    format!(
        "ENC[AES256_GCM,data:{},iv:{},tag:{},type:{kind}]",
        BASE64.encode(data),
        BASE64.encode(iv),
        BASE64.encode(tag)
    )
}

/// Splits an `ENC[…]` string into its parts (SOPS's own pattern:
/// `^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]`).
pub fn parse(text: &str) -> Result<Sealed, OpenError> {
    let rest = text.strip_prefix("ENC[AES256_GCM,data:").ok_or(OpenError::NotSealed)?;
    let (data, rest) = rest.split_once(",iv:").ok_or(OpenError::NotSealed)?;
    let (iv, rest) = rest.split_once(",tag:").ok_or(OpenError::NotSealed)?;
    let (tag, rest) = rest.split_once(",type:").ok_or(OpenError::NotSealed)?;
    let kind = rest.strip_suffix(']').ok_or(OpenError::NotSealed)?;
    let decode = |s: &str| BASE64.decode(s).map_err(|_| OpenError::NotSealed);
    let sealed = Sealed { data: decode(data)?, iv: decode(iv)?, tag: decode(tag)?, kind: kind.to_string() };
    if sealed.iv.len() != IV_LEN || sealed.tag.len() != TAG_LEN || kind.is_empty() {
        return Err(OpenError::NotSealed);
    }
    Ok(sealed)
}

/// Opens a sealed value; the bytes are the plaintext as SOPS stored it (see `Sealed::kind`).
pub fn open(sealed: &Sealed, key: &DataKey, aad: &str) -> Result<Vec<u8>, OpenError> {
    let cipher = Aes256Gcm32::new(key.into());
    let mut msg = sealed.data.clone();
    msg.extend_from_slice(&sealed.tag);
    cipher
        .decrypt(Nonce::<U32>::from_slice(&sealed.iv), Payload { msg: &msg, aad: aad.as_bytes() })
        .map_err(|_| OpenError::Tampered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_then_open_round_trips_and_binds_the_path() {
        let key = new_data_key();
        let text = seal(b"hello", "str", &key, "a:b:");
        assert!(text.starts_with("ENC[AES256_GCM,data:") && text.ends_with(",type:str]"), "{text}");
        let sealed = parse(&text).unwrap();
        assert_eq!(open(&sealed, &key, "a:b:").unwrap(), b"hello");
        // Moving a value to another key must not verify: the path is additional data.
        assert_eq!(open(&sealed, &key, "a:c:"), Err(OpenError::Tampered));
        assert_eq!(open(&sealed, &new_data_key(), "a:b:"), Err(OpenError::Tampered));
    }

    #[test]
    fn same_key_and_iv_give_the_same_text_and_a_flipped_bit_fails() {
        // SOPS keeps a value's IV when the value is unchanged, so its text stays put in git diffs.
        let key = [7u8; KEY_LEN];
        let iv = [9u8; IV_LEN];
        let a = seal_with_iv(b"value", "str", &key, "k:", &iv);
        assert_eq!(a, seal_with_iv(b"value", "str", &key, "k:", &iv));
        let mut sealed = parse(&a).unwrap();
        sealed.data[0] ^= 1;
        assert_eq!(open(&sealed, &key, "k:"), Err(OpenError::Tampered));
    }

    #[test]
    fn parse_refuses_other_forms() {
        for bad in
            ["plain", "ENC[AES256_GCM,data:AA==]", "ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]"]
        {
            assert_eq!(parse(bad).unwrap_err(), OpenError::NotSealed, "{bad}");
        }
    }
}
