//! The server's own secrets: the access-token signing key and the encryption key for stored third-party
//! tokens. Taken from configuration, or generated once into the data directory with mode 0600.

use sha2::{Digest, Sha256};
use std::fmt;
use std::path::Path;

/// A secret string from configuration: never printed by `Debug`.
#[derive(Clone)]
pub struct SecretValue(String);

impl SecretValue {
    /// Wraps a secret.
    pub fn new(value: String) -> Self {
        Self(value)
    }
    /// The secret itself; call only where it is used.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(***)")
    }
}

/// The keys the server runs with.
#[derive(Clone)]
pub struct ServerKeys {
    /// HMAC-SHA256 key for access tokens.
    pub jwt: Vec<u8>,
    /// XChaCha20-Poly1305 key for third-party tokens at rest.
    pub encryption: [u8; 32],
}

impl fmt::Debug for ServerKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerKeys(***)")
    }
}

/// Why the keys could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{0}")]
    Invalid(String),
    #[error("cannot read or create key file {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

impl ServerKeys {
    /// Loads the keys from configuration, else from (or newly into) `data_dir`.
    pub fn load(jwt: Option<&SecretValue>, secret: Option<&SecretValue>, data_dir: &Path) -> Result<Self, KeyError> {
        let jwt = match jwt {
            Some(v) if v.expose().len() >= 32 => v.expose().as_bytes().to_vec(),
            Some(_) => return Err(KeyError::Invalid("jwt_secret must be at least 32 characters".into())),
            // The key is the file's text, so copying the file's content into SWITCHBOARD_JWT_SECRET on
            // another instance gives the same key.
            None => read_or_create(&data_dir.join("jwt.key"), 64)?.into_bytes(),
        };
        let encryption_hex = match secret {
            Some(v) => v.expose().trim().to_owned(),
            None => read_or_create(&data_dir.join("secret.key"), 32)?,
        };
        let encryption: [u8; 32] = hex_decode(&encryption_hex, "secret_key")?
            .try_into()
            .map_err(|_| KeyError::Invalid("secret_key must be 64 hex characters (32 bytes)".into()))?;
        Ok(Self { jwt, encryption })
    }

    /// Short, non-reversible fingerprints of (jwt, encryption) keys: stored in the database so that
    /// instances configured with different keys refuse to start instead of rejecting each other's tokens.
    pub fn fingerprints(&self) -> (String, String) {
        (fingerprint(b"switchboard jwt key", &self.jwt), fingerprint(b"switchboard encryption key", &self.encryption))
    }
}

fn fingerprint(domain: &[u8], key: &[u8]) -> String {
    let digest = Sha256::new().chain_update(domain).chain_update(key).finalize();
    hex::encode(&digest[..8])
}

fn hex_decode(text: &str, what: &str) -> Result<Vec<u8>, KeyError> {
    hex::decode(text.trim()).map_err(|_| KeyError::Invalid(format!("{what} must be hex-encoded")))
}

/// Reads a hex key file, or creates it with `len` random bytes and mode 0600.
fn read_or_create(path: &Path, len: usize) -> Result<String, KeyError> {
    let io = |source| KeyError::Io { path: path.display().to_string(), source };
    match std::fs::read_to_string(path) {
        Ok(text) => return Ok(text.trim().to_owned()),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
        Err(_) => {}
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let text = hex::encode(crate::auth::tokens::random_bytes(len));
    write_private(path, &text).map_err(io)?;
    tracing::info!(path = %path.display(), "generated a new key file");
    Ok(text)
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    // create_new: two processes racing on first start must not overwrite each other's key.
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_private_and_stable() {
        let dir = std::env::temp_dir().join(format!("sb-keys-{}-{}", std::process::id(), line!()));
        let a = ServerKeys::load(None, None, &dir).unwrap();
        let b = ServerKeys::load(None, None, &dir).unwrap();
        assert_eq!(a.fingerprints(), b.fingerprints(), "second start reads the same keys");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("secret.key")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!format!("{a:?}").contains(&hex::encode(a.encryption)));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn configured_keys_are_checked() {
        let dir = std::env::temp_dir();
        let short = SecretValue::new("short".into());
        assert!(ServerKeys::load(Some(&short), None, &dir).is_err());
        let jwt = SecretValue::new("x".repeat(32));
        let bad = SecretValue::new("zz".into());
        assert!(ServerKeys::load(Some(&jwt), Some(&bad), &dir).is_err());
        let good = SecretValue::new("ab".repeat(32));
        let keys = ServerKeys::load(Some(&jwt), Some(&good), &dir).unwrap();
        assert_eq!(keys.encryption, [0xab; 32]);
    }
}
