//! Access tokens: short-lived HS256 JWTs naming the user and the workspace they signed in to.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use switchboard_domain::{UserId, WorkspaceId};

/// The claims we put in an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user.
    pub sub: uuid::Uuid,
    /// The workspace this session is for.
    pub ws: uuid::Uuid,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Expires at (seconds since the epoch).
    pub exp: i64,
    /// Token type, always `access`, so that no other JWT we might sign is accepted as one.
    pub typ: String,
}

/// Signing and verification keys.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

impl JwtKeys {
    /// Keys from the server's HMAC secret.
    pub fn new(secret: &[u8], ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self { encoding: EncodingKey::from_secret(secret), decoding: DecodingKey::from_secret(secret), validation, ttl }
    }

    /// The access-token lifetime.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Issues an access token.
    pub fn issue(&self, user: UserId, workspace: WorkspaceId) -> String {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user.0,
            ws: workspace.0,
            iat: now,
            exp: now + self.ttl.as_secs() as i64,
            typ: "access".into(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing cannot fail")
    }

    /// Verifies signature and expiry; returns the claims.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let data =
            jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })?;
        if data.claims.typ != "access" {
            return Err(TokenError::Invalid);
        }
        Ok(data.claims)
    }
}

/// Why an access token was rejected.
#[derive(Debug, PartialEq, Eq)]
pub enum TokenError {
    /// Past its expiry.
    Expired,
    /// Bad signature, malformed, or not an access token.
    Invalid,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_and_verify() {
        let keys = JwtKeys::new(&[7u8; 32], Duration::from_secs(60));
        let (u, w) = (UserId::new(), WorkspaceId::new());
        let claims = keys.verify(&keys.issue(u, w)).unwrap();
        assert_eq!((claims.sub, claims.ws), (u.0, w.0));
        let other = JwtKeys::new(&[8u8; 32], Duration::from_secs(60));
        assert_eq!(other.verify(&keys.issue(u, w)).unwrap_err(), TokenError::Invalid);
        let expired = JwtKeys::new(&[7u8; 32], Duration::from_secs(0));
        let token = {
            let now = chrono::Utc::now().timestamp() - 120;
            let c = Claims { sub: u.0, ws: w.0, iat: now, exp: now + 1, typ: "access".into() };
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &c, &EncodingKey::from_secret(&[7u8; 32])).unwrap()
        };
        assert_eq!(expired.verify(&token).unwrap_err(), TokenError::Expired);
        assert_eq!(keys.verify("garbage").unwrap_err(), TokenError::Invalid);
    }
}
