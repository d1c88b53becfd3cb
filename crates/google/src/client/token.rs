//! Access tokens and the per-account [`Session`] that keeps one valid.
//!
//! Persistence is pull-based: after a call, the owner asks [`Session::take_refreshed`] and, when it returns
//! tokens, writes them (encrypted) to its database. That keeps this crate free of storage callbacks and
//! works the same for one call or a long-lived session shared by several tasks.

use std::fmt;
use std::future::Future;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::Mutex;

use crate::error::GoogleError;
use crate::oauth::TokenResponse;

/// Refresh an access token when it expires within this margin, so it cannot expire in flight.
pub const REFRESH_MARGIN: TimeDelta = TimeDelta::seconds(60);

/// Lifetime assumed when the token endpoint omits `expires_in` (Google always sends ~3599 s).
const DEFAULT_LIFETIME_SECS: u64 = 3600;

/// A bearer token and when it expires. `Debug` redacts the token.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

impl AccessToken {
    /// The access token of a token response received at `now`.
    pub fn from_response(resp: &TokenResponse, now: DateTime<Utc>) -> Self {
        let secs = resp.expires_in.unwrap_or(DEFAULT_LIFETIME_SECS);
        let lifetime = TimeDelta::try_seconds(i64::try_from(secs).unwrap_or(i64::MAX)).unwrap_or(TimeDelta::MAX);
        AccessToken {
            token: resp.access_token.clone(),
            expires_at: now.checked_add_signed(lifetime).unwrap_or(DateTime::<Utc>::MAX_UTC),
        }
    }

    /// Usable at `now` without a refresh: more than [`REFRESH_MARGIN`] left.
    pub fn is_fresh(&self, now: DateTime<Utc>) -> bool {
        self.expires_at - now > REFRESH_MARGIN
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken").field("token", &"<redacted>").field("expires_at", &self.expires_at).finish()
    }
}

/// What an account's owner stores: the refresh token and, to save a refresh on restart, the access token.
/// `Debug` redacts both.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenSet {
    pub refresh_token: String,
    pub access_token: Option<AccessToken>,
    /// Space-separated scopes last reported granted.
    pub scope: Option<String>,
}

impl fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSet")
            .field("refresh_token", &"<redacted>")
            .field("access_token", &self.access_token)
            .field("scope", &self.scope)
            .finish()
    }
}

impl TokenSet {
    /// Folds in a token endpoint answer; keeps the current refresh token when the answer has none (a refresh
    /// normally omits it) and the current scope when it omits that.
    pub fn apply(&mut self, resp: &TokenResponse, now: DateTime<Utc>) {
        if let Some(refresh) = &resp.refresh_token {
            self.refresh_token.clone_from(refresh);
        }
        if resp.scope.is_some() {
            self.scope.clone_from(&resp.scope);
        }
        self.access_token = Some(AccessToken::from_response(resp, now));
    }
}

/// One connected account's tokens, shared by the calls made for it.
///
/// Calls through [`crate::GoogleClient`] get an access token here; it refreshes under a lock when the token
/// is within a minute of expiry (one refresh at a time, concurrent callers wait for it and reuse its result).
#[derive(Debug)]
pub struct Session {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    tokens: TokenSet,
    /// Tokens changed since the owner last took them.
    changed: bool,
}

impl Session {
    /// A session from stored tokens. Without a stored access token the first call refreshes.
    pub fn new(tokens: TokenSet) -> Self {
        Session { state: Mutex::new(State { tokens, changed: false }) }
    }

    /// A session from a code exchange. Fails if Google sent no refresh token (no offline access). Starts as
    /// changed, so the owner's usual [`Session::take_refreshed`] persists it.
    pub fn from_token_response(resp: &TokenResponse) -> Result<Self, GoogleError> {
        let refresh_token = resp.refresh_token.clone().ok_or(GoogleError::MissingRefreshToken)?;
        let mut tokens = TokenSet { refresh_token, access_token: None, scope: None };
        tokens.apply(resp, Utc::now());
        Ok(Session { state: Mutex::new(State { tokens, changed: true }) })
    }

    /// The tokens as they are now.
    pub async fn tokens(&self) -> TokenSet {
        self.state.lock().await.tokens.clone()
    }

    /// The tokens if they changed (refreshed, or a new session from a code exchange) since the last call;
    /// the owner writes them to its store. `None` when there is nothing new to save.
    pub async fn take_refreshed(&self) -> Option<TokenSet> {
        let mut state = self.state.lock().await;
        std::mem::take(&mut state.changed).then(|| state.tokens.clone())
    }

    /// A usable access token, refreshing with `refresh` when needed. `refused` is a token the API just
    /// answered 401 to: it is replaced unless another caller already did.
    pub(crate) async fn valid_token<F, Fut>(&self, refused: Option<&str>, refresh: F) -> Result<String, GoogleError>
    where
        F: FnOnce(String) -> Fut,
        Fut: Future<Output = Result<TokenResponse, GoogleError>>,
    {
        let mut state = self.state.lock().await;
        if let Some(access) = &state.tokens.access_token
            && access.is_fresh(Utc::now())
            && refused.is_none_or(|r| r != access.token)
        {
            return Ok(access.token.clone());
        }
        // The lock is held across the refresh on purpose: concurrent callers wait and then see the new token.
        let resp = refresh(state.tokens.refresh_token.clone()).await?;
        state.tokens.apply(&resp, Utc::now());
        state.changed = true;
        Ok(resp.access_token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    fn response(access: &str, refresh: Option<&str>) -> TokenResponse {
        TokenResponse {
            access_token: access.into(),
            expires_in: Some(3599),
            token_type: "Bearer".into(),
            scope: Some("openid".into()),
            refresh_token: refresh.map(Into::into),
            id_token: None,
            refresh_token_expires_in: None,
        }
    }

    fn stored(access: Option<(&str, TimeDelta)>) -> TokenSet {
        TokenSet {
            refresh_token: "1//refresh".into(),
            access_token: access.map(|(t, left)| AccessToken { token: t.into(), expires_at: Utc::now() + left }),
            scope: None,
        }
    }

    #[test]
    fn freshness_margin() {
        let now = Utc::now();
        let token = |left| AccessToken { token: "t".into(), expires_at: now + left };
        assert!(token(TimeDelta::seconds(61)).is_fresh(now));
        assert!(!token(TimeDelta::seconds(60)).is_fresh(now));
        assert!(!token(TimeDelta::seconds(-5)).is_fresh(now));
        let a = AccessToken::from_response(&response("x", None), now);
        assert_eq!(a.expires_at, now + TimeDelta::seconds(3599));
        let no_expiry = TokenResponse { expires_in: None, ..response("x", None) };
        assert_eq!(AccessToken::from_response(&no_expiry, now).expires_at, now + TimeDelta::seconds(3600));
        let huge = TokenResponse { expires_in: Some(u64::MAX), ..response("x", None) };
        assert!(AccessToken::from_response(&huge, now).is_fresh(now));
    }

    #[test]
    fn refresh_without_refresh_token_keeps_the_old_one() {
        let mut set = stored(None);
        set.apply(&response("ya29.new", None), Utc::now());
        assert_eq!(set.refresh_token, "1//refresh");
        assert_eq!(set.access_token.as_ref().unwrap().token, "ya29.new");
        assert_eq!(set.scope.as_deref(), Some("openid"));
        set.apply(&response("ya29.newer", Some("1//rotated")), Utc::now());
        assert_eq!(set.refresh_token, "1//rotated");
        let debug = format!("{set:?}");
        assert!(!debug.contains("rotated") && !debug.contains("ya29"), "{debug}");
    }

    #[tokio::test]
    async fn fresh_token_is_used_without_refresh() {
        let session = Session::new(stored(Some(("ya29.ok", TimeDelta::minutes(30)))));
        let token = session.valid_token(None, |_| async { panic!("no refresh expected") }).await.unwrap();
        assert_eq!(token, "ya29.ok");
        assert!(session.take_refreshed().await.is_none());
    }

    #[tokio::test]
    async fn token_expiring_within_a_minute_is_refreshed_and_reported_once() {
        let session = Session::new(stored(Some(("ya29.old", TimeDelta::seconds(30)))));
        let token = session
            .valid_token(None, |refresh| async move {
                assert_eq!(refresh, "1//refresh");
                Ok(response("ya29.new", None))
            })
            .await
            .unwrap();
        assert_eq!(token, "ya29.new");
        let saved = session.take_refreshed().await.expect("refreshed tokens to persist");
        assert_eq!(saved.refresh_token, "1//refresh");
        assert_eq!(saved.access_token.unwrap().token, "ya29.new");
        assert!(session.take_refreshed().await.is_none(), "taken once");
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_refresh() {
        let session = Arc::new(Session::new(stored(None)));
        let refreshes = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (session, refreshes) = (session.clone(), refreshes.clone());
                tokio::spawn(async move {
                    session
                        .valid_token(None, |_| async move {
                            let n = refreshes.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            Ok(response(&format!("ya29.{n}"), None))
                        })
                        .await
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap().unwrap(), "ya29.0");
        }
        assert_eq!(refreshes.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn refused_token_is_replaced_once() {
        let session = Session::new(stored(Some(("ya29.revoked", TimeDelta::minutes(30)))));
        let first = session.valid_token(Some("ya29.revoked"), |_| async { Ok(response("ya29.new", None)) }).await;
        assert_eq!(first.unwrap(), "ya29.new");
        // A second caller that was refused the same old token reuses the replacement.
        let second = session.valid_token(Some("ya29.revoked"), |_| async { panic!("already refreshed") }).await;
        assert_eq!(second.unwrap(), "ya29.new");
    }

    #[tokio::test]
    async fn failed_refresh_surfaces_and_changes_nothing() {
        let session = Session::new(stored(None));
        let err = session
            .valid_token(None, |_| async {
                Err(GoogleError::from_response(
                    400,
                    br#"{"error":"invalid_grant","error_description":"Token has been expired or revoked."}"#,
                    None,
                ))
            })
            .await
            .unwrap_err();
        assert!(err.is_invalid_grant());
        assert!(session.take_refreshed().await.is_none());
    }

    #[tokio::test]
    async fn code_exchange_session() {
        assert!(matches!(Session::from_token_response(&response("a", None)), Err(GoogleError::MissingRefreshToken)));
        let session = Session::from_token_response(&response("ya29.a", Some("1//r"))).unwrap();
        let saved = session.take_refreshed().await.unwrap();
        assert_eq!((saved.refresh_token.as_str(), saved.scope.as_deref()), ("1//r", Some("openid")));
    }
}
