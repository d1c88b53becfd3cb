//! [`GoogleClient`]: one HTTP client for OAuth, People and Calendar, with timeouts, retries and token refresh.

mod calendar;
mod oauth;
mod people;
mod retry;
mod tls;
mod token;
mod transport;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;

pub use token::{AccessToken, REFRESH_MARGIN, Session, TokenSet};

use crate::error::GoogleError;

/// How to reach Google and how patient to be.
#[derive(Clone)]
pub struct ClientConfig {
    /// One origin serving every Google path (`/o/oauth2/v2/auth`, `/token`, `/revoke`, `/v1/...`,
    /// `/calendar/v3/...`): the emulator. `None` = Google's own hosts.
    pub base_url: Option<String>,
    pub client_id: String,
    /// Never printed by `Debug`.
    pub client_secret: String,
    /// Whole-request timeout, per attempt.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Attempts per call, the first included.
    pub max_attempts: u32,
    /// Backoff cap of the first retry; doubles each retry up to `max_backoff`.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Longest `Retry-After` we wait out in place; a longer one returns the error (with
    /// [`GoogleError::retry_after`]) so the caller can reschedule instead of holding a worker.
    pub max_retry_after: Duration,
    pub user_agent: String,
}

impl ClientConfig {
    /// Defaults for Google's hosts: 30 s timeout, 10 s connect, 5 attempts, backoff 500 ms doubling to 32 s,
    /// `Retry-After` honoured up to 120 s.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        ClientConfig {
            base_url: None,
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_attempts: 5,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(32),
            max_retry_after: Duration::from_secs(120),
            user_agent: concat!("switchboard/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }

    /// Points every endpoint at one origin (the emulator).
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = Some(base_url.into());
        self
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("base_url", &self.base_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_attempts", &self.max_attempts)
            .field("initial_backoff", &self.initial_backoff)
            .field("max_backoff", &self.max_backoff)
            .field("max_retry_after", &self.max_retry_after)
            .field("user_agent", &self.user_agent)
            .finish()
    }
}

/// The client. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct GoogleClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    config: ClientConfig,
    endpoints: Endpoints,
}

impl fmt::Debug for GoogleClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GoogleClient").field("config", &self.inner.config).finish_non_exhaustive()
    }
}

impl GoogleClient {
    /// Builds the client. Fails on a base URL that is not an absolute http(s) URL.
    pub fn new(config: ClientConfig) -> Result<Self, GoogleError> {
        let endpoints = Endpoints::new(config.base_url.as_deref())?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls::rustls_config()?)
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(config.user_agent.clone())
            // Google's APIs do not redirect; following one could carry the bearer token somewhere else.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| GoogleError::InvalidRequest(format!("cannot build HTTP client: {e}")))?;
        Ok(GoogleClient { inner: Arc::new(Inner { http, config, endpoints }) })
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }
}

/// Where each API lives.
#[derive(Debug, Clone)]
struct Endpoints {
    auth: Url,
    token: Url,
    revoke: Url,
    people: Url,
    calendar: Url,
}

impl Endpoints {
    fn new(base_url: Option<&str>) -> Result<Self, GoogleError> {
        let parse = |s: &str| {
            let url = Url::parse(s).map_err(|e| GoogleError::InvalidRequest(format!("base URL {s:?}: {e}")))?;
            if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
                return Err(GoogleError::InvalidRequest(format!("base URL {s:?} is not an http(s) URL")));
            }
            Ok(url)
        };
        let (accounts, oauth2, people, www) = match base_url {
            Some(base) => {
                let base = parse(base)?;
                (base.clone(), base.clone(), base.clone(), base)
            }
            None => (
                parse("https://accounts.google.com")?,
                parse("https://oauth2.googleapis.com")?,
                parse("https://people.googleapis.com")?,
                parse("https://www.googleapis.com")?,
            ),
        };
        Ok(Endpoints {
            auth: join(&accounts, &["o", "oauth2", "v2", "auth"])?,
            token: join(&oauth2, &["token"])?,
            revoke: join(&oauth2, &["revoke"])?,
            people: join(&people, &["v1"])?,
            calendar: join(&www, &["calendar", "v3"])?,
        })
    }
}

/// `base` with `segments` appended, each percent-encoded as one path segment (a `/` or `#` inside an id
/// cannot change the path). Empty, `.` and `..` segments are refused.
fn join(base: &Url, segments: &[&str]) -> Result<Url, GoogleError> {
    if let Some(bad) = segments.iter().find(|s| matches!(**s, "" | "." | "..")) {
        return Err(GoogleError::InvalidRequest(format!("invalid path segment {bad:?}")));
    }
    let mut url = base.clone();
    url.path_segments_mut()
        .map_err(|()| GoogleError::InvalidRequest("base URL cannot have a path".to_owned()))?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

/// Segments of a resource name such as `people/c123` (Google's `{+resourceName}` keeps its slashes), with
/// `suffix` (`:updateContact`) appended to the last one.
fn resource_segments(resource_name: &str, suffix: &str) -> Result<Vec<String>, GoogleError> {
    let mut segments: Vec<String> = resource_name.split('/').map(str::to_owned).collect();
    if segments.iter().any(|s| s.is_empty()) {
        return Err(GoogleError::InvalidRequest(format!("invalid resource name {resource_name:?}")));
    }
    if let Some(last) = segments.last_mut() {
        last.push_str(suffix);
    }
    Ok(segments)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_hosts() {
        let e = Endpoints::new(None).unwrap();
        assert_eq!(e.auth.as_str(), "https://accounts.google.com/o/oauth2/v2/auth");
        assert_eq!(e.token.as_str(), "https://oauth2.googleapis.com/token");
        assert_eq!(e.revoke.as_str(), "https://oauth2.googleapis.com/revoke");
        assert_eq!(e.people.as_str(), "https://people.googleapis.com/v1");
        assert_eq!(e.calendar.as_str(), "https://www.googleapis.com/calendar/v3");
    }

    #[test]
    fn one_base_url_for_everything() {
        for base in ["http://127.0.0.1:8085", "http://127.0.0.1:8085/"] {
            let e = Endpoints::new(Some(base)).unwrap();
            assert_eq!(e.auth.as_str(), "http://127.0.0.1:8085/o/oauth2/v2/auth");
            assert_eq!(e.token.as_str(), "http://127.0.0.1:8085/token");
            assert_eq!(e.people.as_str(), "http://127.0.0.1:8085/v1");
            assert_eq!(e.calendar.as_str(), "http://127.0.0.1:8085/calendar/v3");
        }
        let prefixed = Endpoints::new(Some("http://emu.local/google/")).unwrap();
        assert_eq!(prefixed.token.as_str(), "http://emu.local/google/token");
        assert!(Endpoints::new(Some("not a url")).is_err());
        assert!(Endpoints::new(Some("mailto:a@b.c")).is_err());
        assert!(Endpoints::new(Some("ftp://x")).is_err());
    }

    #[test]
    fn path_segments_are_encoded() {
        let e = Endpoints::new(None).unwrap();
        let url =
            join(&e.calendar, &["calendars", "en.usa#holiday@group.v.calendar.google.com", "events", "a/b c"]).unwrap();
        assert_eq!(
            url.as_str(),
            "https://www.googleapis.com/calendar/v3/calendars/en.usa%23holiday@group.v.calendar.google.com/events/a%2Fb%20c"
        );
        assert!(join(&e.calendar, &["calendars", ".."]).is_err());
        assert!(join(&e.calendar, &["calendars", ""]).is_err());

        let segments = resource_segments("people/c123", ":updateContact").unwrap();
        let refs: Vec<&str> = segments.iter().map(String::as_str).collect();
        assert_eq!(
            join(&e.people, &refs).unwrap().as_str(),
            "https://people.googleapis.com/v1/people/c123:updateContact"
        );
        assert!(resource_segments("people//x", "").is_err());
        assert!(resource_segments("", "").is_err());
    }

    #[test]
    fn debug_hides_the_secret() {
        let config = ClientConfig::new("id-1", "super-secret");
        assert!(!format!("{config:?}").contains("super-secret"));
        let client = GoogleClient::new(config).unwrap();
        assert!(!format!("{client:?}").contains("super-secret"));
    }

    /// The server spawns these calls on a multi-threaded runtime, so their futures must be `Send`.
    #[allow(dead_code)]
    fn futures_are_send(client: &GoogleClient, session: &Session) {
        fn send<T: Send>(_: T) {}
        let params = crate::people::ListConnections::full_sync();
        send(client.list_connections(session, &params));
        send(client.update_contact(session, "people/c1", &crate::people::Person::default(), "names", ""));
        send(client.delete_event(session, "primary", "e1"));
        send(client.refresh("r"));
        send(client.access_token(session));
        send(session.take_refreshed());
    }
}
