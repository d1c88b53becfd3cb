//! One error type for every Google call, with the predicates the sync workers branch on.
//!
//! Google answers errors in two envelopes: the People API sends `google.rpc.Status`
//! (`{"error":{"code","message","status","details":[...]}}`), Calendar sends the legacy one
//! (`{"error":{"errors":[{"domain","reason",...}],"code","message"}}`); the token endpoint sends OAuth's
//! flat `{"error":"invalid_grant","error_description":...}`. [`ErrorBody`] reads both API envelopes, so the
//! predicates work the same for either API.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Longest slice of a non-JSON error body kept as the message (a proxy's HTML page, say).
const MAX_TEXT_MESSAGE: usize = 200;

/// Everything a call to Google can fail with. `Display` never includes tokens or request URLs.
#[derive(Debug, thiserror::Error)]
pub enum GoogleError {
    /// People or Calendar answered with an error status.
    #[error("Google API error {status}: {body}")]
    Api {
        status: u16,
        body: ErrorBody,
        /// The server's `Retry-After`, when it sent one: after the retries are spent, or when it exceeded
        /// `max_retry_after`, the caller can reschedule the work that long ahead.
        retry_after: Option<Duration>,
    },
    /// The OAuth token or revoke endpoint refused (`invalid_grant`, `invalid_client`, ...).
    #[error("Google OAuth error {status}: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    OAuth { status: u16, error: String, description: Option<String> },
    /// The request did not complete within the configured timeout (after retries).
    #[error("Google request timed out")]
    Timeout,
    /// Connection-level failure. The source is stripped of its URL, which may carry a token (`/revoke?token=`).
    #[error("Google transport error: {0}")]
    Transport(#[source] reqwest::Error),
    /// A success response whose body we could not read as the expected type. Carries serde's position and
    /// category only: its full message can quote the offending value, which may be a token.
    #[error("cannot decode Google response as {what}: {detail}")]
    Decode { what: &'static str, detail: String },
    /// The caller passed something we will not send (an empty or dot path segment, a bad base URL).
    #[error("invalid Google request: {0}")]
    InvalidRequest(String),
    /// A code exchange answered without a refresh token: the consent did not ask for offline access.
    #[error("Google returned no refresh token (authorize with access_type=offline and prompt=consent)")]
    MissingRefreshToken,
}

impl GoogleError {
    pub(crate) fn transport(err: reqwest::Error) -> Self {
        if err.is_timeout() { GoogleError::Timeout } else { GoogleError::Transport(err.without_url()) }
    }

    pub(crate) fn decode(what: &'static str, err: &serde_json::Error) -> Self {
        let detail = format!("{:?} error at line {} column {}", err.classify(), err.line(), err.column());
        GoogleError::Decode { what, detail }
    }

    /// Builds the error for a non-success response from its status and raw body, whichever envelope it is in.
    pub fn from_response(status: u16, body: &[u8], retry_after: Option<Duration>) -> Self {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Envelope {
            Api { error: ErrorBody },
            OAuth { error: String, error_description: Option<String> },
        }
        match serde_json::from_slice::<Envelope>(body) {
            Ok(Envelope::Api { error }) => GoogleError::Api { status, body: error, retry_after },
            Ok(Envelope::OAuth { error, error_description }) => {
                GoogleError::OAuth { status, error, description: error_description }
            }
            Err(_) => {
                let text = String::from_utf8_lossy(body);
                let message = text.trim().chars().take(MAX_TEXT_MESSAGE).collect();
                GoogleError::Api {
                    status,
                    body: ErrorBody { code: status, message, ..ErrorBody::default() },
                    retry_after,
                }
            }
        }
    }

    /// HTTP status of an API or OAuth error.
    pub fn status(&self) -> Option<u16> {
        match self {
            GoogleError::Api { status, .. } | GoogleError::OAuth { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The API error body, if this is one.
    pub fn body(&self) -> Option<&ErrorBody> {
        match self {
            GoogleError::Api { body, .. } => Some(body),
            _ => None,
        }
    }

    /// The server's `Retry-After`, if it sent one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            GoogleError::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    fn api(&self) -> Option<(u16, &ErrorBody)> {
        match self {
            GoogleError::Api { status, body, .. } => Some((*status, body)),
            _ => None,
        }
    }

    /// The sync token is no longer accepted: drop it and run a full sync.
    ///
    /// People answers 400 `FAILED_PRECONDITION` with reason `EXPIRED_SYNC_TOKEN` (a few captures show
    /// `SYNC_TOKEN_EXPIRED`, also accepted); Calendar answers 410 `fullSyncRequired`. Any 410 counts: an older
    /// People guide documented 410, and a full sync is always a safe answer to it on a list call.
    pub fn is_expired_sync_token(&self) -> bool {
        let Some((status, body)) = self.api() else { return false };
        status == 410 || body.has_reason("EXPIRED_SYNC_TOKEN") || body.has_reason("SYNC_TOKEN_EXPIRED")
    }

    /// The resource changed since we read it: re-read, merge, retry.
    ///
    /// People answers 400 `FAILED_PRECONDITION` ("Request person.etag is different ..."); Calendar answers
    /// 412 `conditionNotMet` to a stale `If-Match`; 409 `ABORTED` is what newer Google APIs use (AIP-154).
    pub fn is_etag_mismatch(&self) -> bool {
        let Some((status, body)) = self.api() else { return false };
        match status {
            412 => true,
            409 => body.status.as_deref() == Some("ABORTED"),
            400 => {
                !self.is_expired_sync_token()
                    && (body.status.as_deref() == Some("FAILED_PRECONDITION")
                        || body.has_reason("failedPrecondition")
                        || body.has_reason("conditionNotMet"))
            }
            _ => false,
        }
    }

    /// The refresh token (or authorization code) is dead: the account needs to be connected again.
    pub fn is_invalid_grant(&self) -> bool {
        matches!(self, GoogleError::OAuth { error, .. } if error == "invalid_grant")
    }

    /// Google asks us to slow down: 429, or a 403 whose reason says rate limit (Calendar sends either).
    /// Not `quotaExceeded`: a daily quota does not come back within a backoff.
    pub fn is_rate_limited(&self) -> bool {
        match self {
            GoogleError::Api { status: 429, .. } | GoogleError::OAuth { status: 429, .. } => true,
            GoogleError::Api { status: 403, body, .. } => body.is_rate_limit_reason(),
            _ => false,
        }
    }

    /// Worth trying again after a backoff: rate limits, 5xx other than 501, timeouts, failed connects.
    pub fn is_retryable(&self) -> bool {
        match self {
            GoogleError::Api { status, .. } | GoogleError::OAuth { status, .. } if is_retryable_5xx(*status) => true,
            GoogleError::Timeout => true,
            GoogleError::Transport(err) => err.is_connect(),
            _ => self.is_rate_limited(),
        }
    }

    /// The token lacks a scope the call needs (the user unticked it at consent): ask to reconnect.
    ///
    /// Google sends 403 `PERMISSION_DENIED` with reason `ACCESS_TOKEN_SCOPE_INSUFFICIENT` (Calendar:
    /// `insufficientPermissions`). A 403 `PERMISSION_DENIED` naming some other reason (`SERVICE_DISABLED`, say)
    /// is a project problem, not the user's, so it does not count.
    pub fn is_insufficient_scope(&self) -> bool {
        let Some((403, body)) = self.api() else { return false };
        if body.has_reason("ACCESS_TOKEN_SCOPE_INSUFFICIENT") || body.has_reason("insufficientPermissions") {
            return true;
        }
        body.status.as_deref() == Some("PERMISSION_DENIED") && body.reasons().next().is_none()
    }

    /// The resource is not there: 404, or Calendar's 410 `deleted` (deleting an event already deleted).
    pub fn is_not_found(&self) -> bool {
        match self.api() {
            Some((404, _)) => true,
            Some((410, body)) => body.has_reason("deleted"),
            _ => false,
        }
    }

    /// The access token was refused (401). The client already refreshed once and retried before returning it.
    pub fn is_unauthenticated(&self) -> bool {
        matches!(self.api(), Some((401, _)))
    }
}

fn is_retryable_5xx(status: u16) -> bool {
    (500..600).contains(&status) && status != 501
}

/// The `error` object of either API envelope; fields of the other envelope stay empty.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    #[serde(default)]
    pub code: u16,
    #[serde(default)]
    pub message: String,
    /// `google.rpc.Code` name (`FAILED_PRECONDITION`, `RESOURCE_EXHAUSTED`, ...); People only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// `google.rpc.Status.details` (ErrorInfo, QuotaFailure, DebugInfo, ...); People only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<ErrorDetail>,
    /// Legacy `errors[]`; Calendar only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<LegacyError>,
}

impl ErrorBody {
    /// Every reason in the body: ErrorInfo `details[].reason` and legacy `errors[].reason`.
    pub fn reasons(&self) -> impl Iterator<Item = &str> {
        let details = self.details.iter().filter_map(|d| d.reason.as_deref());
        details.chain(self.errors.iter().filter_map(|e| e.reason.as_deref()))
    }

    /// Whether any reason equals `reason` exactly (Google's reasons are case-sensitive identifiers).
    pub fn has_reason(&self, reason: &str) -> bool {
        self.reasons().any(|r| r == reason)
    }

    fn is_rate_limit_reason(&self) -> bool {
        self.reasons().any(|r| matches!(r, "rateLimitExceeded" | "userRateLimitExceeded" | "RATE_LIMIT_EXCEEDED"))
    }
}

impl fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(status) = &self.status {
            write!(f, "{status}: ")?;
        }
        f.write_str(&self.message)?;
        let mut reasons = self.reasons().peekable();
        if reasons.peek().is_some() {
            f.write_str(" [")?;
            for (i, reason) in reasons.enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                f.write_str(reason)?;
            }
            f.write_str("]")?;
        }
        Ok(())
    }
}

/// One entry of `google.rpc.Status.details`; the fields of other detail types land in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// `type.googleapis.com/google.rpc.ErrorInfo`, `...QuotaFailure`, ...
    #[serde(rename = "@type", default)]
    pub type_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// `violations` of a QuotaFailure, `detail` of a DebugInfo, ...
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// One entry of the legacy `errors[]` array (Calendar).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LegacyError {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(status: u16, body: &str) -> GoogleError {
        GoogleError::from_response(status, body.as_bytes(), None)
    }

    const EXPIRED_SYNC: &str = r#"{
      "error": {
        "code": 400,
        "message": "Sync token is expired. Clear local cache and retry call without the sync token.",
        "status": "FAILED_PRECONDITION",
        "details": [
          {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "EXPIRED_SYNC_TOKEN",
            "domain": "people.googleapis.com"
          }
        ]
      }
    }"#;
    const ETAG_MISMATCH: &str = r#"{"error":{"code":400,"message":"Request person.etag is different than the current person.etag. Clear local cache and get the latest person.","status":"FAILED_PRECONDITION"}}"#;
    const PEOPLE_429_QUOTA_FAILURE: &str = r#"{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"subject":"QUOTA_EXCEEDED","description":"FBS quota limit exceeded"}]}]}}"#;
    const PEOPLE_429_RATE: &str = r#"{"error":{"code":429,"message":"Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute per user' of service 'people.googleapis.com' for consumer 'project_number:NNN'.","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"RATE_LIMIT_EXCEEDED","domain":"googleapis.com","metadata":{"service":"people.googleapis.com","quota_limit":"ReadRequestsPerMinutePerUser","quota_metric":"people.googleapis.com/read_requests","consumer":"projects/NNN"}}]}}"#;
    const CALENDAR_410: &str = r#"{"error":{"errors":[{"domain":"calendar","reason":"fullSyncRequired","message":"Sync token is no longer valid, a full sync is required.","locationType":"parameter","location":"syncToken"}],"code":410,"message":"Sync token is no longer valid, a full sync is required."}}"#;
    const CALENDAR_403_USER_RATE: &str = r#"{"error":{"errors":[{"domain":"usageLimits","reason":"userRateLimitExceeded","message":"User Rate Limit Exceeded"}],"code":403,"message":"User Rate Limit Exceeded"}}"#;
    const CALENDAR_403_QUOTA: &str = r#"{"error":{"errors":[{"domain":"usageLimits","reason":"quotaExceeded","message":"Calendar usage limits exceeded."}],"code":403,"message":"Calendar usage limits exceeded."}}"#;
    const CALENDAR_412: &str = r#"{"error":{"errors":[{"domain":"global","reason":"conditionNotMet","message":"Precondition Failed","locationType":"header","location":"If-Match"}],"code":412,"message":"Precondition Failed"}}"#;
    const CALENDAR_410_DELETED: &str = r#"{"error":{"errors":[{"domain":"global","reason":"deleted","message":"Resource has been deleted"}],"code":410,"message":"Resource has been deleted"}}"#;
    const CALENDAR_404: &str = r#"{"error":{"errors":[{"domain":"global","reason":"notFound","message":"Not Found"}],"code":404,"message":"Not Found"}}"#;
    const CALENDAR_401: &str = r#"{"error":{"errors":[{"domain":"global","reason":"authError","message":"Invalid Credentials","locationType":"header","location":"Authorization"}],"code":401,"message":"Invalid Credentials"}}"#;
    const SCOPE_403: &str = r#"{"error":{"code":403,"message":"Request had insufficient authentication scopes.","status":"PERMISSION_DENIED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"ACCESS_TOKEN_SCOPE_INSUFFICIENT","domain":"googleapis.com","metadata":{"service":"people.googleapis.com","method":"google.people.v1.PeopleService.ListConnections"}}]}}"#;
    const INVALID_GRANT: &str = r#"{"error":"invalid_grant","error_description":"Token has been expired or revoked."}"#;

    #[test]
    fn expired_sync_token_body() {
        let e = err(400, EXPIRED_SYNC);
        let body = e.body().unwrap();
        assert_eq!(body.code, 400);
        assert_eq!(body.status.as_deref(), Some("FAILED_PRECONDITION"));
        assert_eq!(body.details[0].type_url, "type.googleapis.com/google.rpc.ErrorInfo");
        assert_eq!(body.details[0].domain.as_deref(), Some("people.googleapis.com"));
        assert!(e.is_expired_sync_token());
        assert!(!e.is_etag_mismatch(), "an expired sync token is not an etag conflict");
        assert!(!e.is_retryable() && !e.is_rate_limited() && !e.is_not_found());
        // Round trip keeps the shape Google sent.
        let back: serde_json::Value = serde_json::to_value(body).unwrap();
        let orig: serde_json::Value = serde_json::from_str(EXPIRED_SYNC).unwrap();
        assert_eq!(back, orig["error"]);
    }

    #[test]
    fn any_410_means_full_sync() {
        assert!(err(410, CALENDAR_410).is_expired_sync_token());
        assert!(err(410, r#"{"error":{"code":410,"message":"gone","status":"NOT_FOUND"}}"#).is_expired_sync_token());
        let legacy = err(410, CALENDAR_410);
        let e = &legacy.body().unwrap().errors[0];
        assert_eq!(e.location_type.as_deref(), Some("parameter"));
        assert_eq!(e.location.as_deref(), Some("syncToken"));
        assert!(!legacy.is_not_found());
    }

    #[test]
    fn etag_mismatch() {
        let people = err(400, ETAG_MISMATCH);
        assert!(people.is_etag_mismatch());
        assert!(!people.is_expired_sync_token() && !people.is_retryable());
        assert!(err(412, CALENDAR_412).is_etag_mismatch());
        assert!(err(409, r#"{"error":{"code":409,"message":"etag","status":"ABORTED"}}"#).is_etag_mismatch());
        assert!(
            !err(409, r#"{"error":{"errors":[{"reason":"duplicate"}],"code":409,"message":"dup"}}"#).is_etag_mismatch()
        );
        assert!(!err(400, r#"{"error":{"code":400,"message":"bad","status":"INVALID_ARGUMENT"}}"#).is_etag_mismatch());
    }

    #[test]
    fn rate_limits() {
        for (status, body) in [(429, PEOPLE_429_QUOTA_FAILURE), (429, PEOPLE_429_RATE), (403, CALENDAR_403_USER_RATE)] {
            let e = err(status, body);
            assert!(e.is_rate_limited() && e.is_retryable(), "{status} {body}");
            assert!(!e.is_insufficient_scope());
        }
        let calendar_429 = r#"{"error":{"errors":[{"domain":"usageLimits","reason":"rateLimitExceeded","message":"Rate Limit Exceeded"}],"code":429,"message":"Rate Limit Exceeded"}}"#;
        assert!(err(429, calendar_429).is_rate_limited());
        let quota = err(403, CALENDAR_403_QUOTA);
        assert!(!quota.is_rate_limited() && !quota.is_retryable());
        let q = err(429, PEOPLE_429_QUOTA_FAILURE);
        assert!(q.body().unwrap().details[0].extra.contains_key("violations"));
        let r = err(429, PEOPLE_429_RATE);
        assert_eq!(r.body().unwrap().details[0].metadata["quota_metric"], "people.googleapis.com/read_requests");
    }

    #[test]
    fn server_errors_and_transport() {
        for status in [500, 502, 503, 504] {
            assert!(err(status, r#"{"error":{"code":500,"message":"Backend Error"}}"#).is_retryable());
        }
        assert!(!err(501, "").is_retryable());
        assert!(!err(400, "").is_retryable());
        assert!(GoogleError::Timeout.is_retryable());
        assert!(GoogleError::from_response(503, br#"{"error":"temporarily_unavailable"}"#, None).is_retryable());
    }

    #[test]
    fn invalid_grant() {
        let e = err(400, INVALID_GRANT);
        assert!(e.is_invalid_grant());
        assert!(!e.is_retryable() && !e.is_unauthenticated());
        assert_eq!(e.to_string(), "Google OAuth error 400: invalid_grant (Token has been expired or revoked.)");
        assert!(!err(401, r#"{"error":"invalid_client","error_description":"Unauthorized"}"#).is_invalid_grant());
    }

    #[test]
    fn scope_not_found_unauthenticated() {
        assert!(err(403, SCOPE_403).is_insufficient_scope());
        assert!(
            err(403, r#"{"error":{"code":403,"message":"denied","status":"PERMISSION_DENIED"}}"#)
                .is_insufficient_scope()
        );
        let disabled = r#"{"error":{"code":403,"message":"People API has not been used","status":"PERMISSION_DENIED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"SERVICE_DISABLED"}]}}"#;
        assert!(!err(403, disabled).is_insufficient_scope());
        assert!(err(404, CALENDAR_404).is_not_found());
        assert!(err(410, CALENDAR_410_DELETED).is_not_found());
        assert!(err(401, CALENDAR_401).is_unauthenticated());
        assert!(!err(401, CALENDAR_401).is_retryable());
    }

    #[test]
    fn non_json_body_is_kept_short() {
        let html = format!("<html>{}</html>", "x".repeat(1000));
        let e = err(502, &html);
        let body = e.body().unwrap();
        assert_eq!(body.code, 502);
        assert_eq!(body.message.chars().count(), MAX_TEXT_MESSAGE);
        assert!(e.is_retryable());
    }

    #[test]
    fn display_names_status_and_reason() {
        assert_eq!(
            err(400, EXPIRED_SYNC).to_string(),
            "Google API error 400: FAILED_PRECONDITION: Sync token is expired. Clear local cache and retry call \
             without the sync token. [EXPIRED_SYNC_TOKEN]"
        );
        let e = err(410, CALENDAR_410);
        assert!(e.to_string().ends_with("[fullSyncRequired]"), "{e}");
    }

    #[test]
    fn decode_error_does_not_quote_values() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct T {
            n: u64,
        }
        let serde_err = serde_json::from_str::<T>(r#"{"n":"ya29.secret"}"#).unwrap_err();
        let e = GoogleError::decode("token response", &serde_err);
        assert!(!e.to_string().contains("ya29"), "{e}");
    }
}
