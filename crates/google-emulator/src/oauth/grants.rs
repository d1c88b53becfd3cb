//! Authorization codes, grants, refresh and access tokens.
//!
//! A grant is one consent of one account to one client; revoking it (by `/revoke`, or the
//! control API) kills its refresh token and every access token issued under it.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::state::Rng;

/// Access-token lifetime Google reports (`expires_in`).
pub(crate) const ACCESS_TOKEN_SECS: i64 = 3599;
/// Authorization codes are short-lived.
pub(crate) const CODE_SECS: i64 = 600;

#[derive(Default)]
pub(crate) struct OAuthStore {
    pub codes: HashMap<String, AuthCode>,
    grants: HashMap<u64, Grant>,
    refresh: HashMap<String, u64>,
    access: HashMap<String, AccessToken>,
    /// Consent pages awaiting Allow/Deny, by request id.
    pub pending: HashMap<String, PendingConsent>,
    next_grant: u64,
}

pub(crate) struct AuthCode {
    pub client_id: String,
    pub redirect_uri: String,
    pub email: String,
    pub scopes: Vec<String>,
    /// PKCE `(challenge, method)`.
    pub challenge: Option<(String, String)>,
    pub offline: bool,
    pub prompt_consent: bool,
    pub expires: DateTime<Utc>,
}

/// An authorization request shown on the consent page.
#[derive(Clone)]
pub(crate) struct PendingConsent {
    pub email: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub scopes: Vec<String>,
    pub challenge: Option<(String, String)>,
    pub offline: bool,
    pub prompt_consent: bool,
}

struct Grant {
    email: String,
    client_id: String,
    scopes: Vec<String>,
    revoked: bool,
    has_refresh: bool,
}

pub(crate) struct AccessToken {
    grant: u64,
    pub email: String,
    pub scopes: Vec<String>,
    pub expires: DateTime<Utc>,
}

/// What `/token` answers on success (also returned by the control API's `issue_tokens`).
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct TokenSet {
    pub access_token: String,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub scope: String,
    pub token_type: String,
}

/// Why a bearer token was refused.
pub(crate) enum AccessError {
    Unknown,
    Expired,
}

impl OAuthStore {
    /// Creates a grant and its first access token; a refresh token only when `offline`.
    pub fn issue(
        &mut self,
        rng: &mut Rng,
        now: DateTime<Utc>,
        email: &str,
        client_id: &str,
        scopes: Vec<String>,
        offline: bool,
    ) -> TokenSet {
        self.next_grant += 1;
        let id = self.next_grant;
        let refresh_token = offline.then(|| format!("1//0{}", rng.token(60)));
        if let Some(token) = &refresh_token {
            self.refresh.insert(token.clone(), id);
        }
        self.grants.insert(
            id,
            Grant {
                email: email.to_owned(),
                client_id: client_id.to_owned(),
                scopes: scopes.clone(),
                revoked: false,
                has_refresh: offline,
            },
        );
        let mut set = self.access_token(rng, now, id);
        set.refresh_token = refresh_token;
        set
    }

    fn access_token(&mut self, rng: &mut Rng, now: DateTime<Utc>, grant_id: u64) -> TokenSet {
        let grant = &self.grants[&grant_id];
        let token = format!("ya29.a0{}", rng.token(80));
        self.access.insert(
            token.clone(),
            AccessToken {
                grant: grant_id,
                email: grant.email.clone(),
                scopes: grant.scopes.clone(),
                expires: now + Duration::seconds(ACCESS_TOKEN_SECS),
            },
        );
        TokenSet {
            access_token: token,
            expires_in: ACCESS_TOKEN_SECS,
            refresh_token: None,
            scope: grant.scopes.join(" "),
            token_type: "Bearer".into(),
        }
    }

    /// True when the account already has a live offline grant for the client, in which case
    /// Google issues no new refresh token unless `prompt=consent`.
    pub fn has_live_refresh(&self, email: &str, client_id: &str) -> bool {
        self.grants.values().any(|g| g.email == email && g.client_id == client_id && g.has_refresh && !g.revoked)
    }

    /// Scopes of the account's live grants to the client (`include_granted_scopes`).
    pub fn granted_scopes(&self, email: &str, client_id: &str) -> Vec<String> {
        let mut scopes: Vec<String> = self
            .grants
            .values()
            .filter(|g| g.email == email && g.client_id == client_id && !g.revoked)
            .flat_map(|g| g.scopes.iter().cloned())
            .collect();
        scopes.sort();
        scopes.dedup();
        scopes
    }

    /// Refresh grant: a new access token, no refresh token. `None` = unknown or revoked.
    pub fn refresh(
        &mut self,
        rng: &mut Rng,
        now: DateTime<Utc>,
        refresh_token: &str,
        client_id: &str,
    ) -> Option<TokenSet> {
        let id = *self.refresh.get(refresh_token)?;
        let grant = self.grants.get(&id)?;
        // Grants from the control API (empty client id) may be refreshed by any client.
        if grant.revoked || !(grant.client_id.is_empty() || grant.client_id == client_id) {
            return None;
        }
        Some(self.access_token(rng, now, id))
    }

    pub fn check_access(&self, token: &str, now: DateTime<Utc>) -> Result<&AccessToken, AccessError> {
        let access = self.access.get(token).ok_or(AccessError::Unknown)?;
        match self.grants.get(&access.grant) {
            Some(grant) if !grant.revoked => {}
            _ => return Err(AccessError::Unknown),
        }
        if now >= access.expires {
            return Err(AccessError::Expired);
        }
        Ok(access)
    }

    /// `/revoke` with an access or refresh token: the whole grant goes.
    pub fn revoke_token(&mut self, token: &str) -> bool {
        let id = self.refresh.get(token).copied().or_else(|| self.access.get(token).map(|a| a.grant));
        match id.and_then(|id| self.grants.get_mut(&id)) {
            Some(grant) if !grant.revoked => {
                grant.revoked = true;
                true
            }
            _ => false,
        }
    }

    /// Revokes every grant of the account (refresh → `invalid_grant`, API calls → 401).
    pub fn revoke_account(&mut self, email: &str) -> usize {
        let mut n = 0;
        for grant in self.grants.values_mut().filter(|g| g.email == email && !g.revoked) {
            grant.revoked = true;
            n += 1;
        }
        n
    }

    /// Makes the account's access tokens expired now; refresh tokens keep working.
    pub fn expire_access(&mut self, email: &str, now: DateTime<Utc>) -> usize {
        let mut n = 0;
        for token in self.access.values_mut().filter(|t| t.email == email && t.expires > now) {
            token.expires = now;
            n += 1;
        }
        n
    }
}
