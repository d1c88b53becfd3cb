//! OAuth 2.0 authorization-code flow with PKCE, as Google's web-server flow runs it: scopes, the
//! authorization URL, token responses and errors.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Url;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// OAuth scopes this project asks for.
pub mod scope {
    /// Read and write the user's contacts (People API).
    pub const CONTACTS: &str = "https://www.googleapis.com/auth/contacts";
    /// Read-only contacts.
    pub const CONTACTS_READONLY: &str = "https://www.googleapis.com/auth/contacts.readonly";
    /// All calendars, read and write (covers events and freeBusy).
    pub const CALENDAR: &str = "https://www.googleapis.com/auth/calendar";
    /// Events on all calendars, read and write (insert/patch/delete/list).
    pub const CALENDAR_EVENTS: &str = "https://www.googleapis.com/auth/calendar.events";
    /// freeBusy only.
    pub const CALENDAR_FREEBUSY: &str = "https://www.googleapis.com/auth/calendar.freebusy";
    /// The account's email address.
    pub const USERINFO_EMAIL: &str = "https://www.googleapis.com/auth/userinfo.email";
    /// OpenID Connect: an `id_token` comes with the tokens.
    pub const OPENID: &str = "openid";
    /// The `email` claim in the `id_token`.
    pub const EMAIL: &str = "email";
}

/// What to put in the authorization URL besides the client id.
///
/// Always asks for `access_type=offline` and `prompt=consent`: without re-consent Google sends no new refresh
/// token on a reconnect.
#[derive(Debug, Clone, Copy)]
pub struct AuthorizationRequest<'a> {
    pub redirect_uri: &'a str,
    pub scopes: &'a [&'a str],
    /// Opaque, signed and expiring on our side; echoed back on the callback.
    pub state: &'a str,
    /// [`Pkce::challenge`].
    pub code_challenge: &'a str,
    /// Preselects the account (its email) on Google's chooser.
    pub login_hint: Option<&'a str>,
    /// Keep scopes granted earlier (incremental authorization).
    pub include_granted_scopes: bool,
}

/// Builds the authorization URL on `endpoint` (`https://accounts.google.com/o/oauth2/v2/auth`).
pub fn authorization_url(endpoint: &Url, client_id: &str, req: &AuthorizationRequest<'_>) -> Url {
    let mut url = endpoint.clone();
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("client_id", client_id)
            .append_pair("redirect_uri", req.redirect_uri)
            .append_pair("response_type", "code")
            .append_pair("scope", &req.scopes.join(" "))
            .append_pair("state", req.state)
            .append_pair("access_type", "offline")
            .append_pair("prompt", "consent");
        if req.include_granted_scopes {
            q.append_pair("include_granted_scopes", "true");
        }
        q.append_pair("code_challenge", req.code_challenge).append_pair("code_challenge_method", "S256");
        if let Some(hint) = req.login_hint {
            q.append_pair("login_hint", hint);
        }
    }
    url
}

/// The query Google redirects back with: `code` and `state`, or `error` (`access_denied`) and `state`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationCallback {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Space-separated scopes actually granted (granular consent may grant fewer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A PKCE pair (RFC 7636): keep `verifier` with the pending authorization, send `challenge` in the URL.
#[derive(Clone, PartialEq, Eq)]
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    /// A fresh random verifier and its S256 challenge.
    pub fn generate() -> Self {
        Self::from_verifier(random_url_safe(32))
    }

    /// The pair for a known verifier.
    pub fn from_verifier(verifier: impl Into<String>) -> Self {
        let verifier = verifier.into();
        let challenge = code_challenge_s256(&verifier);
        Pkce { verifier, challenge }
    }
}

impl fmt::Debug for Pkce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkce").field("verifier", &"<redacted>").field("challenge", &self.challenge).finish()
    }
}

/// `BASE64URL(SHA256(verifier))` without padding (RFC 7636 §4.2, method S256).
pub fn code_challenge_s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// `bytes` random bytes as unpadded base64url: 32 bytes give a 43-character PKCE verifier (the minimum
/// length, 256 bits of entropy); also fit for `state` nonces.
pub fn random_url_safe(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the OS random source failed");
    URL_SAFE_NO_PAD.encode(buf)
}

/// Answer of the token endpoint to a code exchange or a refresh. `Debug` redacts the tokens.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    /// Seconds; Google sends 3599. Optional in RFC 6749, so tolerated missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
    #[serde(default = "bearer")]
    pub token_type: String,
    /// Space-separated scopes granted, possibly fewer than asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Only on the first consent with `access_type=offline` (or with `prompt=consent`); a refresh omits it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Only when `openid` was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// Only for time-limited grants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_expires_in: Option<u64>,
}

fn bearer() -> String {
    "Bearer".to_owned()
}

impl TokenResponse {
    /// Whether `scope` lists `wanted` (the user may untick scopes at consent).
    pub fn has_scope(&self, wanted: &str) -> bool {
        self.scope.as_deref().is_some_and(|s| s.split_ascii_whitespace().any(|g| g == wanted))
    }
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .field("token_type", &self.token_type)
            .field("scope", &self.scope)
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "<redacted>"))
            .field("id_token", &self.id_token.as_ref().map(|_| "<redacted>"))
            .field("refresh_token_expires_in", &self.refresh_token_expires_in)
            .finish()
    }
}

/// Error body of the token and revoke endpoints (RFC 6749 §5.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthErrorBody {
    /// `invalid_grant`, `invalid_client`, `invalid_request`, `unsupported_grant_type`, `invalid_token`, ...
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_uri: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn pkce_rfc7636_appendix_b() {
        // The appendix's 32 random octets, its verifier (their base64url) and its S256 challenge.
        let octets: [u8; 32] = [
            116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212, 37, 77, 105, 214, 191,
            240, 91, 88, 5, 88, 83, 132, 141, 121,
        ];
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(URL_SAFE_NO_PAD.encode(octets), verifier);
        let p = Pkce::from_verifier(verifier);
        assert_eq!(p.challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        assert!(!format!("{p:?}").contains("dBjft"));
    }

    #[test]
    fn generated_verifier_is_valid_and_fresh() {
        let a = Pkce::generate();
        let b = Pkce::generate();
        assert_ne!(a.verifier, b.verifier);
        assert!((43..=128).contains(&a.verifier.len()));
        // RFC 7636 unreserved characters only.
        assert!(a.verifier.bytes().all(|c| c.is_ascii_alphanumeric() || b"-._~".contains(&c)));
        assert_eq!(a.challenge, code_challenge_s256(&a.verifier));
    }

    #[test]
    fn authorization_url_carries_every_parameter() {
        let endpoint = Url::parse("https://accounts.google.com/o/oauth2/v2/auth").unwrap();
        let scopes = [scope::CONTACTS, scope::CALENDAR_EVENTS, scope::OPENID];
        let req = AuthorizationRequest {
            redirect_uri: "https://sb.example/google/callback",
            scopes: &scopes,
            state: "st&te=1",
            code_challenge: "E9Melhoa2OwvFrEMTJguCQk7ZxKYrTVfb67MAxCkDgc",
            login_hint: Some("ada@example.com"),
            include_granted_scopes: true,
        };
        let url = authorization_url(&endpoint, "client-1.apps.googleusercontent.com", &req);
        assert_eq!(url.host_str(), Some("accounts.google.com"));
        assert_eq!(url.path(), "/o/oauth2/v2/auth");
        let q: HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(q["client_id"], "client-1.apps.googleusercontent.com");
        assert_eq!(q["redirect_uri"], "https://sb.example/google/callback");
        assert_eq!(q["response_type"], "code");
        assert_eq!(
            q["scope"],
            "https://www.googleapis.com/auth/contacts https://www.googleapis.com/auth/calendar.events openid"
        );
        assert_eq!(q["state"], "st&te=1");
        assert_eq!(q["access_type"], "offline");
        assert_eq!(q["prompt"], "consent");
        assert_eq!(q["include_granted_scopes"], "true");
        assert_eq!(q["code_challenge"], "E9Melhoa2OwvFrEMTJguCQk7ZxKYrTVfb67MAxCkDgc");
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["login_hint"], "ada@example.com");
        assert_eq!(q.len(), 11);

        let bare = AuthorizationRequest { login_hint: None, include_granted_scopes: false, ..req };
        let q: HashMap<_, _> = authorization_url(&endpoint, "c", &bare).query_pairs().into_owned().collect();
        assert!(!q.contains_key("login_hint") && !q.contains_key("include_granted_scopes"));
    }

    #[test]
    fn token_responses() {
        let doc = r#"{"access_token":"1/fFAGRNJru1FTz70BzhT3Zg","expires_in":3920,"token_type":"Bearer","scope":"https://www.googleapis.com/auth/drive.metadata.readonly","refresh_token":"1//xEoDL4iW3cxlI7yDbSRFYNG01kVKM2C-259HOF2aQbI"}"#;
        let t: TokenResponse = serde_json::from_str(doc).unwrap();
        assert_eq!(t.expires_in, Some(3920));
        assert_eq!(t.refresh_token.as_deref(), Some("1//xEoDL4iW3cxlI7yDbSRFYNG01kVKM2C-259HOF2aQbI"));
        assert!(t.has_scope("https://www.googleapis.com/auth/drive.metadata.readonly"));
        assert!(!t.has_scope(scope::CONTACTS));
        assert_eq!(serde_json::to_value(&t).unwrap(), serde_json::from_str::<serde_json::Value>(doc).unwrap());
        let debug = format!("{t:?}");
        assert!(!debug.contains("fFAGRN") && !debug.contains("xEoDL4"), "{debug}");

        let refresh: TokenResponse = serde_json::from_str(
            r#"{"access_token":"ya29.a","expires_in":3599,"token_type":"Bearer","scope":"openid"}"#,
        )
        .unwrap();
        assert_eq!(refresh.refresh_token, None);
        assert_eq!(refresh.id_token, None);
    }

    #[test]
    fn oauth_error_body() {
        let e: OAuthErrorBody = serde_json::from_str(
            r#"{"error":"invalid_grant","error_description":"Token has been expired or revoked."}"#,
        )
        .unwrap();
        assert_eq!(e.error, "invalid_grant");
        assert_eq!(e.error_description.as_deref(), Some("Token has been expired or revoked."));
    }

    #[test]
    fn callback_query() {
        let cb: AuthorizationCallback = serde_json::from_str(r#"{"error":"access_denied","state":"s"}"#).unwrap();
        assert_eq!((cb.error.as_deref(), cb.code), (Some("access_denied"), None));
    }
}
