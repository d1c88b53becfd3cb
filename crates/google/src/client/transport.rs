//! Sending one logical call: bearer token, retries with backoff or `Retry-After`, one refresh on 401.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use chrono::Utc;
use reqwest::header::{CONTENT_TYPE, IF_MATCH, RETRY_AFTER};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;

use super::retry::{full_jitter, parse_retry_after};
use super::{ClientConfig, GoogleClient, Session};
use crate::error::GoogleError;
use crate::oauth::TokenResponse;

type RefreshResult = Result<TokenResponse, GoogleError>;

/// A request body, kept so every attempt can resend it.
pub(super) enum Body {
    Empty,
    Json(Vec<u8>),
    Form(Vec<(&'static str, String)>),
}

impl Body {
    pub(super) fn json<T: serde::Serialize>(value: &T) -> Result<Self, GoogleError> {
        serde_json::to_vec(value)
            .map(Body::Json)
            .map_err(|e| GoogleError::InvalidRequest(format!("cannot encode request body: {e}")))
    }
}

/// One logical call; `session` adds the bearer token (and the 401 refresh), `None` is for the token endpoint.
pub(super) struct Call<'a> {
    pub method: Method,
    pub url: Url,
    pub body: Body,
    pub session: Option<&'a Session>,
    pub if_match: Option<&'a str>,
}

impl<'a> Call<'a> {
    pub(super) fn new(method: Method, url: Url, session: Option<&'a Session>) -> Self {
        Call { method, url, body: Body::Empty, session, if_match: None }
    }

    pub(super) fn query(mut self, pairs: &[(&str, String)]) -> Self {
        if !pairs.is_empty() {
            let mut q = self.url.query_pairs_mut();
            for (k, v) in pairs {
                q.append_pair(k, v);
            }
        }
        self
    }

    pub(super) fn body(mut self, body: Body) -> Self {
        self.body = body;
        self
    }
}

impl GoogleClient {
    /// A usable access token for `session`, refreshed if it expires within a minute.
    pub async fn access_token(&self, session: &Session) -> Result<String, GoogleError> {
        session.valid_token(None, |refresh_token| self.refresh_boxed(refresh_token)).await
    }

    /// The refresh call behind a type-erased future: a refresh is itself sent by [`Self::execute`], and
    /// without the box the two futures' types would contain each other.
    fn refresh_boxed(&self, refresh_token: String) -> Pin<Box<dyn Future<Output = RefreshResult> + Send + '_>> {
        Box::pin(async move { self.refresh(&refresh_token).await })
    }

    /// Sends `call` and decodes a JSON success body.
    pub(super) async fn execute_json<T: DeserializeOwned>(
        &self,
        call: Call<'_>,
        what: &'static str,
    ) -> Result<T, GoogleError> {
        let body = self.execute(call).await?;
        serde_json::from_slice(&body).map_err(|e| GoogleError::decode(what, &e))
    }

    /// Sends `call` until it succeeds, fails for good, or runs out of attempts; returns the success body.
    pub(super) async fn execute(&self, call: Call<'_>) -> Result<Vec<u8>, GoogleError> {
        let config = &self.inner.config;
        let mut attempt = 0;
        let mut refreshed_after_401 = false;
        loop {
            attempt += 1;
            let token = match call.session {
                Some(session) => Some(self.access_token(session).await?),
                None => None,
            };
            let err = match self.attempt(&call, token.as_deref()).await {
                Ok(body) => return Ok(body),
                Err(err) => err,
            };
            // A token revoked or expired early: replace it once and resend, without spending an attempt.
            if let (Some(session), Some(token)) = (call.session, &token)
                && err.is_unauthenticated()
                && !refreshed_after_401
            {
                refreshed_after_401 = true;
                attempt -= 1;
                session.valid_token(Some(token), |rt| self.refresh_boxed(rt)).await?;
                continue;
            }
            let Some(delay) = retry_delay(&err, attempt, config) else { return Err(err) };
            tracing::debug!(
                method = %call.method,
                path = call.url.path(),
                attempt,
                status = err.status(),
                delay_ms = delay.as_millis() as u64,
                error = %err,
                "retrying Google request"
            );
            tokio::time::sleep(delay).await;
        }
    }

    async fn attempt(&self, call: &Call<'_>, token: Option<&str>) -> Result<Vec<u8>, GoogleError> {
        let mut request = self.inner.http.request(call.method.clone(), call.url.clone());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(etag) = call.if_match {
            request = request.header(IF_MATCH, etag);
        }
        request = match &call.body {
            Body::Empty => request,
            Body::Json(bytes) => request.header(CONTENT_TYPE, "application/json").body(bytes.clone()),
            Body::Form(pairs) => request.form(pairs),
        };
        let response = request.send().await.map_err(GoogleError::transport)?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, Utc::now()));
        let body = response.bytes().await.map_err(GoogleError::transport)?;
        if status.is_success() {
            Ok(Vec::from(body))
        } else {
            Err(GoogleError::from_response(status.as_u16(), &body, retry_after))
        }
    }
}

/// How long to wait before retrying after `err` on attempt number `attempt` (1-based), or `None` to give up:
/// not retryable, attempts spent, or a `Retry-After` beyond `max_retry_after` (the caller reschedules).
/// A `Retry-After` is waited out as given, even above `max_backoff`: Google said when to come back.
fn retry_delay(err: &GoogleError, attempt: u32, config: &ClientConfig) -> Option<Duration> {
    if !err.is_retryable() || attempt >= config.max_attempts {
        return None;
    }
    match err.retry_after() {
        Some(wait) if wait > config.max_retry_after => None,
        Some(wait) => Some(wait),
        None => Some(full_jitter(config.initial_backoff, config.max_backoff, attempt)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::people::ListConnections;
    use crate::{AccessToken, TokenSet};
    use chrono::TimeDelta;

    fn config() -> ClientConfig {
        ClientConfig::new("id", "secret")
    }

    fn rate_limited(retry_after: Option<Duration>) -> GoogleError {
        GoogleError::from_response(
            429,
            br#"{"error":{"code":429,"message":"slow down","status":"RESOURCE_EXHAUSTED"}}"#,
            retry_after,
        )
    }

    #[test]
    fn retry_after_is_honoured_beyond_max_backoff_up_to_the_cap() {
        let c = config();
        assert_eq!(retry_delay(&rate_limited(Some(Duration::from_millis(50))), 1, &c), Some(Duration::from_millis(50)));
        assert_eq!(retry_delay(&rate_limited(Some(Duration::from_secs(90))), 1, &c), Some(Duration::from_secs(90)));
        assert_eq!(retry_delay(&rate_limited(Some(Duration::from_secs(120))), 1, &c), Some(Duration::from_secs(120)));
        let too_long = rate_limited(Some(Duration::from_secs(121)));
        assert_eq!(retry_delay(&too_long, 1, &c), None, "returned so the caller can reschedule");
        assert_eq!(too_long.retry_after(), Some(Duration::from_secs(121)));
    }

    #[test]
    fn backoff_without_retry_after_and_giving_up() {
        let c = config();
        let delay = retry_delay(&rate_limited(None), 3, &c).unwrap();
        assert!(delay <= Duration::from_secs(2), "third retry caps at 4 x 500 ms: {delay:?}");
        assert_eq!(retry_delay(&rate_limited(None), c.max_attempts, &c), None, "attempts spent");
        assert!(retry_delay(&GoogleError::Timeout, 1, &c).is_some());
        let bad_request = GoogleError::from_response(400, br#"{"error":{"code":400,"message":"bad"}}"#, None);
        assert_eq!(retry_delay(&bad_request, 1, &c), None);
    }

    fn fast(base_url: String) -> GoogleClient {
        let mut c = config().with_base_url(base_url);
        c.max_attempts = 3;
        c.initial_backoff = Duration::from_millis(1);
        c.max_backoff = Duration::from_millis(2);
        c.timeout = Duration::from_millis(200);
        GoogleClient::new(c).unwrap()
    }

    fn session() -> Session {
        let access = AccessToken { token: "ya29.secret".into(), expires_at: Utc::now() + TimeDelta::hours(1) };
        Session::new(TokenSet { refresh_token: "1//secret".into(), access_token: Some(access), scope: None })
    }

    /// A closed port: every attempt fails to connect, which is retried and then surfaced as `Transport`.
    #[tokio::test]
    async fn refused_connection_is_retried_then_reported_without_url() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let client = fast(format!("http://127.0.0.1:{port}"));
        let params = ListConnections::incremental("sync-token-secret");
        let err = client.list_connections(&session(), &params).await.unwrap_err();
        assert!(matches!(err, GoogleError::Transport(_)), "{err:?}");
        assert!(err.is_retryable());
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("secret") && !shown.contains("syncToken"), "no token, no URL: {shown}");
    }

    /// A listener that accepts connections but never answers: each attempt times out.
    #[tokio::test]
    async fn silent_server_times_out() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = fast(format!("http://{}", listener.local_addr().unwrap()));
        let started = std::time::Instant::now();
        let err = client.get_event(&session(), "primary", "e1").await.unwrap_err();
        assert!(matches!(err, GoogleError::Timeout), "{err:?}");
        assert!(started.elapsed() >= Duration::from_millis(600), "three attempts of 200 ms");
        drop(listener);
    }
}
