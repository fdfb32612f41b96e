//! The admin password: generated when not given, stored only as a salted PBKDF2-HMAC-SHA256 hash.
//!
//! The hash is a PHC string, `$pbkdf2-sha256$i=600000,l=32$<salt>$<hash>` with standard base64
//! without padding, so it names its own algorithm and cost. 600,000 iterations is OWASP's
//! minimum for PBKDF2-HMAC-SHA256 (Password Storage Cheat Sheet, 2023–). The hub verifies it with
//! the snippet in `charts/daskhub/authenticator.py`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use rand::RngExt;

pub const ITERATIONS: u32 = 600_000;
pub const MIN_ITERATIONS: u32 = 600_000;
/// The hub refuses more (each login would take minutes); keep the two sides in step.
pub const MAX_ITERATIONS: u32 = 100_000_000;
const SALT_LEN: usize = 16;
const HASH_LEN: usize = 32;

/// An alphabet without look-alikes (no 0/O, 1/l/I), so a password read off a terminal is typed
/// right the first time. 24 characters of 56 symbols ≈ 139 bits.
const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
pub const GENERATED_LEN: usize = 24;

pub fn generate() -> String {
    let mut rng = rand::rng();
    (0..GENERATED_LEN).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

pub fn hash(password: &str) -> String {
    let mut salt = [0u8; SALT_LEN];
    rand::fill(&mut salt);
    hash_with(password, &salt, ITERATIONS)
}

pub fn hash_with(password: &str, salt: &[u8], iterations: u32) -> String {
    let mut out = [0u8; HASH_LEN];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password.as_bytes(), salt, iterations, &mut out);
    format!(
        "$pbkdf2-sha256$i={iterations},l={HASH_LEN}${}${}",
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(out)
    )
}

#[derive(Debug, PartialEq, Eq)]
pub struct Parsed {
    pub iterations: u32,
    pub salt: Vec<u8>,
    pub hash: Vec<u8>,
}

/// Parses a stored hash. The error says what is wrong without quoting the value.
pub fn parse(stored: &str) -> Result<Parsed, String> {
    let parts: Vec<&str> = stored.split('$').collect();
    if parts.len() != 5 || !parts[0].is_empty() || parts[1] != "pbkdf2-sha256" {
        return Err("expected `$pbkdf2-sha256$i=ITERATIONS,l=32$SALT$HASH`".into());
    }
    // Exactly the form the hub's authenticator accepts: `i=N,l=32`, 16-byte salt, 32-byte hash.
    let iterations = parts[2]
        .strip_prefix("i=")
        .and_then(|rest| rest.strip_suffix(",l=32"))
        .and_then(|n| n.parse::<u32>().ok())
        .ok_or("the parameters must be `i=ITERATIONS,l=32`")?;
    let salt = STANDARD_NO_PAD.decode(parts[3]).map_err(|_| "the salt is not base64 without padding")?;
    let hash = STANDARD_NO_PAD.decode(parts[4]).map_err(|_| "the hash is not base64 without padding")?;
    if salt.len() != SALT_LEN {
        return Err(format!("the salt has {} bytes; {SALT_LEN} are required", salt.len()));
    }
    if hash.len() != HASH_LEN {
        return Err(format!("the hash has {} bytes; {HASH_LEN} are expected", hash.len()));
    }
    if iterations > MAX_ITERATIONS {
        return Err(format!("{iterations} iterations is above the maximum of {MAX_ITERATIONS}"));
    }
    if iterations < MIN_ITERATIONS {
        return Err(format!("{iterations} iterations is below the minimum of {MIN_ITERATIONS}"));
    }
    Ok(Parsed { iterations, salt, hash })
}

/// Constant-time verification (the Rust twin of the hub's check; used by tests).
pub fn verify(password: &str, stored: &str) -> bool {
    let Ok(p) = parse(stored) else { return false };
    let mut out = [0u8; HASH_LEN];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password.as_bytes(), &p.salt, p.iterations, &mut out);
    out.iter().zip(&p.hash).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_round_trip_and_format() {
        let h = hash("correct horse");
        assert!(h.starts_with("$pbkdf2-sha256$i=600000,l=32$"));
        assert!(verify("correct horse", &h));
        assert!(!verify("correct horsf", &h));
        assert!(!verify("", &h));
        assert_ne!(hash("correct horse"), h, "salts are random");
    }

    #[test]
    fn known_vector() {
        // RFC 7914 §11 test vector for PBKDF2-HMAC-SHA256 (P="passwd", S="salt", c=1, dkLen=64);
        // its first 32 bytes.
        let mut out = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<sha2::Sha256>(b"passwd", b"salt", 1, &mut out);
        assert_eq!(hex::encode(out), "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc");
    }

    #[test]
    fn rejects_weak_or_malformed() {
        assert!(parse(&hash_with("x", &[1; 16], 1000)).unwrap_err().contains("below the minimum"));
        assert!(parse("$pbkdf2-sha256$i=600000,l=32$AAAA$BBBB").is_err());
        assert!(parse("plaintext").is_err());
        assert!(parse(&hash_with("x", &[1; 24], 600_000)).unwrap_err().contains("salt"));
        assert!(parse(&hash_with("x", &[1; 16], 600_000).replace(",l=32", "")).is_err());
        assert!(parse(&hash_with("x", &[1; 16], 600_000)).is_ok());
        let g = generate();
        assert_eq!(g.len(), GENERATED_LEN);
    }
}
