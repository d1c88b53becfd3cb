//! Random secrets and their digests: API keys, refresh tokens.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// `len` bytes from the operating system's CSPRNG.
pub fn random_bytes(len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    getrandom::fill(&mut buf).expect("the operating system's random source failed");
    buf
}

/// A URL-safe random token of 256 bits.
pub fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes(32))
}

/// Hex SHA-256 of a secret: how API keys and refresh tokens are stored. The secrets are 256-bit random
/// values, so a fast digest is safe here (argon2 is for low-entropy passwords).
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Compares two digests in constant time.
pub fn digests_match(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The visible start of every API key.
pub const API_KEY_MARKER: &str = "sk_";

/// A newly generated API key: `sk_<prefix>_<secret>`. The prefix is public (shown in lists, used for
/// lookup); the whole key is secret and shown once.
pub struct NewApiKey {
    /// The full key, to show once.
    pub key: String,
    /// The public lookup prefix.
    pub prefix: String,
    /// The digest to store.
    pub digest: String,
}

impl NewApiKey {
    /// Generates a key.
    pub fn generate() -> Self {
        let prefix = hex::encode(random_bytes(5));
        let key = format!("{API_KEY_MARKER}{prefix}_{}", random_token());
        let digest = digest(&key);
        Self { key, prefix, digest }
    }
}

/// Splits a presented API key into its prefix, or `None` when it cannot be one of ours.
pub fn api_key_prefix(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(API_KEY_MARKER)?;
    let (prefix, secret) = rest.split_once('_')?;
    (prefix.len() == 10 && prefix.bytes().all(|b| b.is_ascii_hexdigit()) && secret.len() == 43).then_some(prefix)
}

/// A generated password for bootstrap and admin-created users: 20 characters from an unambiguous alphabet.
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    random_bytes(20).iter().map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_keys_round_trip() {
        let k = NewApiKey::generate();
        assert_eq!(api_key_prefix(&k.key), Some(k.prefix.as_str()));
        assert!(digests_match(&digest(&k.key), &k.digest));
        assert!(!digests_match(&digest("sk_other"), &k.digest));
        assert_eq!(api_key_prefix("sk_short_x"), None);
        assert_eq!(api_key_prefix("Bearer xyz"), None);
        assert_ne!(NewApiKey::generate().key, k.key);
    }

    #[test]
    fn generated_passwords_are_long() {
        let p = generate_password();
        assert_eq!(p.chars().count(), 20);
        assert_ne!(p, generate_password());
    }
}
