//! Password hashing: argon2id for everything we write; bcrypt hashes (imported from older systems) are
//! accepted on login and upgraded to argon2id.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use std::sync::OnceLock;

/// The outcome of checking a password against a stored hash.
#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    /// Correct, and the stored hash is current.
    Ok,
    /// Correct, but the stored hash is legacy (bcrypt): store this argon2id hash instead.
    OkRehashed(String),
    /// Wrong password (or an unreadable hash).
    Wrong,
}

/// Minimum length we accept for new passwords.
pub const MIN_PASSWORD_LEN: usize = 8;

/// Hashes a password with argon2id (RFC 9106 defaults of the argon2 crate) and a random salt.
pub fn hash(password: &str) -> String {
    Argon2::default().hash_password(password.as_bytes()).expect("argon2 hashing with valid parameters").to_string()
}

/// Verifies a password. CPU-heavy by design: call from a blocking thread.
pub fn verify(password: &str, stored: &str) -> Verified {
    if stored.starts_with("$2a$") || stored.starts_with("$2b$") || stored.starts_with("$2y$") {
        return match bcrypt::verify(password, stored) {
            Ok(true) => Verified::OkRehashed(hash(password)),
            _ => Verified::Wrong,
        };
    }
    match PasswordHash::new(stored) {
        Ok(parsed) if Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok() => Verified::Ok,
        _ => Verified::Wrong,
    }
}

/// Spends the same time as checking a real password, so that "no such user" and "wrong password" cannot
/// be told apart by timing.
pub fn verify_dummy(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let stored = DUMMY.get_or_init(|| hash("switchboard timing equaliser"));
    let _ = verify(password, stored);
}

/// Checks a new password's strength (length only: long passphrases beat composition rules).
pub fn check_new(field: &str, password: &str) -> Result<(), switchboard_domain::FieldError> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_LEN {
        return Err(switchboard_domain::FieldError::new(
            field,
            format!("must be at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    if n > 256 {
        return Err(switchboard_domain::FieldError::new(field, "must be at most 256 characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_round_trip() {
        let h = hash("correct horse");
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert_eq!(verify("correct horse", &h), Verified::Ok);
        assert_eq!(verify("wrong horse", &h), Verified::Wrong);
        assert_eq!(verify("x", "not a hash"), Verified::Wrong);
    }

    #[test]
    fn bcrypt_is_accepted_and_upgraded() {
        let legacy = bcrypt::hash("hunter2hunter2", 4).unwrap();
        match verify("hunter2hunter2", &legacy) {
            Verified::OkRehashed(new) => assert_eq!(verify("hunter2hunter2", &new), Verified::Ok),
            other => panic!("expected rehash, got {other:?}"),
        }
        assert_eq!(verify("nope", &legacy), Verified::Wrong);
    }
}
