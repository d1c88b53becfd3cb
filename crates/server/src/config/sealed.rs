//! Secrets at rest (third-party tokens, OAuth `state`): XChaCha20-Poly1305 under the server's encryption key.
//!
//! A sealed value is `version (1 byte) || nonce (24 bytes) || ciphertext+tag`. The 192-bit nonce is random,
//! so no counter has to be kept across instances. Each value is sealed with associated data naming where it
//! belongs (e.g. the account row id and column): a ciphertext copied into another row does not open.

use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use std::fmt;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;

/// Seals and opens secrets with the server's encryption key.
#[derive(Clone)]
pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer(***)")
    }
}

/// A sealed value did not open: wrong key, wrong place, or damaged.
#[derive(Debug, thiserror::Error)]
#[error("a stored secret cannot be decrypted (was SWITCHBOARD_SECRET_KEY changed?)")]
pub struct OpenError;

impl Sealer {
    /// A sealer for a 32-byte key.
    pub fn new(key: &[u8; 32]) -> Self {
        Self { cipher: XChaCha20Poly1305::new(key.into()) }
    }

    /// Encrypts `plaintext`, bound to `context`.
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Vec<u8> {
        let nonce = XNonce::generate();
        let ciphertext = self
            .cipher
            .encrypt(&nonce, Payload { msg: plaintext, aad: context })
            .expect("XChaCha20-Poly1305 encryption of an in-memory buffer cannot fail");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out
    }

    /// Decrypts a value sealed with the same key and `context`.
    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Result<Vec<u8>, OpenError> {
        if sealed.len() < 1 + NONCE_LEN || sealed[0] != VERSION {
            return Err(OpenError);
        }
        let nonce = XNonce::try_from(&sealed[1..1 + NONCE_LEN]).map_err(|_| OpenError)?;
        self.cipher.decrypt(&nonce, Payload { msg: &sealed[1 + NONCE_LEN..], aad: context }).map_err(|_| OpenError)
    }

    /// [`Self::seal`] for text.
    pub fn seal_str(&self, plaintext: &str, context: &[u8]) -> Vec<u8> {
        self.seal(plaintext.as_bytes(), context)
    }

    /// [`Self::open`] for text.
    pub fn open_str(&self, sealed: &[u8], context: &[u8]) -> Result<String, OpenError> {
        String::from_utf8(self.open(sealed, context)?).map_err(|_| OpenError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_only_with_the_same_key_and_context() {
        let sealer = Sealer::new(&[7; 32]);
        let sealed = sealer.seal_str("1//refresh-token", b"account-1:refresh");
        assert!(!sealed.windows(7).any(|w| w == b"refresh"), "the plaintext is not visible");
        assert_eq!(sealer.open_str(&sealed, b"account-1:refresh").unwrap(), "1//refresh-token");
        assert!(sealer.open(&sealed, b"account-2:refresh").is_err(), "another row's context");
        assert!(Sealer::new(&[8; 32]).open(&sealed, b"account-1:refresh").is_err(), "another key");
        let mut damaged = sealed.clone();
        *damaged.last_mut().unwrap() ^= 1;
        assert!(sealer.open(&damaged, b"account-1:refresh").is_err(), "a damaged value");
        assert!(sealer.open(&sealed[..10], b"account-1:refresh").is_err(), "a truncated value");
        assert_ne!(sealer.seal_str("x", b"c"), sealer.seal_str("x", b"c"), "fresh nonce each time");
    }
}
