//! Connecting a Google account: the OAuth `state` that carries the pending connection through the browser,
//! the scopes asked for, and the account's email from the `id_token`.
//!
//! The state is sealed (encrypted and authenticated) with the server's key rather than kept in a table: any
//! instance can finish a connection another started, and the PKCE verifier inside it is never visible in a
//! URL. It names the workspace and user, and expires after ten minutes.

use crate::config::sealed::Sealer;
use crate::error::AppError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use switchboard_domain::{UserId, WorkspaceId};
use switchboard_google::oauth::scope;
use uuid::Uuid;

/// How long a started connection may take to come back.
const STATE_TTL_SECS: i64 = 600;
const STATE_CONTEXT: &[u8] = b"switchboard google oauth state";

/// A connection started by a user and waiting for Google's redirect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    #[serde(rename = "w")]
    pub workspace: Uuid,
    /// The user (or, with `key`, the admin API key) that started it.
    #[serde(rename = "u")]
    pub by: Uuid,
    #[serde(rename = "k", default)]
    pub key: bool,
    /// The PKCE verifier of this attempt.
    #[serde(rename = "v")]
    pub verifier: String,
    /// Unix time after which the state is refused.
    #[serde(rename = "e")]
    pub expires: i64,
}

impl Pending {
    /// A new pending connection started by a user or an API key (`key`) in `ws`.
    pub fn new(ws: WorkspaceId, by: Uuid, key: bool, verifier: String) -> Self {
        Self { workspace: ws.0, by, key, verifier, expires: Utc::now().timestamp() + STATE_TTL_SECS }
    }

    /// The user who started it, when a user did.
    pub fn user(&self) -> Option<UserId> {
        (!self.key).then_some(UserId(self.by))
    }

    /// The `state` parameter carrying it.
    pub fn seal(&self, sealer: &Sealer) -> String {
        let json = serde_json::to_vec(self).expect("pending connection serialises");
        URL_SAFE_NO_PAD.encode(sealer.seal(&json, STATE_CONTEXT))
    }

    /// The pending connection in a `state` parameter, if it is ours, intact and not expired.
    pub fn open(sealer: &Sealer, state: &str) -> Result<Self, AppError> {
        let invalid = || {
            AppError::bad_request(
                "GOOGLE_STATE_INVALID",
                "This Google sign-in link is not valid or has expired (10 minutes); start connecting again",
            )
        };
        let sealed = URL_SAFE_NO_PAD.decode(state.trim()).map_err(|_| invalid())?;
        let json = sealer.open(&sealed, STATE_CONTEXT).map_err(|_| invalid())?;
        let pending: Pending = serde_json::from_slice(&json).map_err(|_| invalid())?;
        if pending.expires < Utc::now().timestamp() {
            return Err(invalid());
        }
        Ok(pending)
    }
}

/// The scopes to ask for, from `?scopes=contacts,calendar` (default: contacts). `openid email` are added so
/// the tokens say which Google account was connected.
pub fn scopes(param: Option<&str>, default: &str) -> Result<Vec<&'static str>, AppError> {
    let mut out = vec![scope::OPENID, scope::EMAIL];
    let names = param.map(str::trim).filter(|p| !p.is_empty()).unwrap_or(default);
    for name in names.split([',', ' ']).map(str::trim).filter(|n| !n.is_empty()) {
        let scope = match name {
            "contacts" => scope::CONTACTS,
            "calendar" => scope::CALENDAR,
            other => {
                return Err(AppError::invalid_query(
                    "scopes",
                    &format!("unknown scope '{other}': expected contacts, calendar or both"),
                ));
            }
        };
        if !out.contains(&scope) {
            out.push(scope);
        }
    }
    Ok(out)
}

/// The `email` claim of an `id_token` received straight from Google's token endpoint. Its signature is not
/// checked: OpenID Connect allows that for a token taken directly from the token endpoint over TLS
/// (Core §3.1.3.7), which is the only place we take it from.
pub fn email_from_id_token(id_token: &str) -> Option<String> {
    let payload = id_token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let email = claims.get("email")?.as_str()?.trim().to_lowercase();
    (!email.is_empty()).then_some(email)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_is_opaque_and_checked() {
        let sealer = Sealer::new(&[3; 32]);
        let pending = Pending::new(WorkspaceId(Uuid::now_v7()), Uuid::now_v7(), false, "verifier-123".into());
        let state = pending.seal(&sealer);
        assert!(!state.contains("verifier"), "the verifier is not readable in the URL");
        assert!(state.len() < 300);
        assert_eq!(Pending::open(&sealer, &state).unwrap(), pending);
        assert!(Pending::open(&Sealer::new(&[4; 32]), &state).is_err(), "another server's key");
        assert!(Pending::open(&sealer, "garbage").is_err());
        let expired = Pending { expires: Utc::now().timestamp() - 1, ..pending };
        assert!(Pending::open(&sealer, &expired.seal(&sealer)).is_err(), "expired");
    }

    #[test]
    fn scopes_are_named_plainly() {
        assert_eq!(scopes(None, "contacts").unwrap(), vec![scope::OPENID, scope::EMAIL, scope::CONTACTS]);
        assert_eq!(scopes(Some("calendar, contacts"), "contacts").unwrap().len(), 4);
        assert!(scopes(Some("drive"), "contacts").is_err());
    }

    #[test]
    fn reads_the_email_claim() {
        let claims = URL_SAFE_NO_PAD.encode(br#"{"sub":"1","email":"Ann@Example.com"}"#);
        assert_eq!(email_from_id_token(&format!("x.{claims}.sig")).as_deref(), Some("ann@example.com"));
        assert_eq!(email_from_id_token("nonsense"), None);
    }
}
