//! Google's error envelopes: People's `google.rpc.Status`, Calendar's legacy `errors[]`, and
//! OAuth's `{error, error_description}`. Bodies quoted in the reference are reproduced verbatim.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An error response in one of Google's envelopes.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub body: Value,
    pub retry_after: Option<String>,
    /// `WWW-Authenticate: Bearer …` on 401s, as Google sends.
    pub www_authenticate: bool,
}

impl ApiError {
    fn new(status: StatusCode, body: Value) -> Self {
        ApiError { status, body, retry_after: None, www_authenticate: false }
    }

    pub fn with_retry_after(mut self, value: String) -> Self {
        self.retry_after = Some(value);
        self
    }

    /// `google.rpc.Status` (People API).
    pub fn rpc(code: u16, status: &str, message: &str, details: Vec<Value>) -> Self {
        let mut error = json!({ "code": code, "message": message, "status": status });
        if !details.is_empty() {
            error["details"] = Value::Array(details);
        }
        Self::new(status_code(code), json!({ "error": error }))
    }

    /// Legacy Calendar envelope with one `errors[]` item.
    pub fn legacy(code: u16, domain: &str, reason: &str, message: &str, location: Option<(&str, &str)>) -> Self {
        let mut item = json!({ "domain": domain, "reason": reason, "message": message });
        if let Some((location_type, location)) = location {
            item["locationType"] = json!(location_type);
            item["location"] = json!(location);
        }
        Self::new(status_code(code), json!({ "error": { "errors": [item], "code": code, "message": message } }))
    }

    /// OAuth token/revoke endpoint error.
    pub fn oauth(code: u16, error: &str, description: &str) -> Self {
        Self::new(status_code(code), json!({ "error": error, "error_description": description }))
    }
}

fn status_code(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, json_body(&self.body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=UTF-8"));
        if let Some(value) = self.retry_after.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.insert(header::RETRY_AFTER, value);
        }
        if self.www_authenticate {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\""),
            );
        }
        response
    }
}

/// Google pretty-prints JSON bodies; clients must not care, but it keeps captures comparable.
pub(crate) fn json_body(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// A 200 JSON response with Google's content type.
pub(crate) fn json_ok(value: Value) -> Response {
    let mut response = (StatusCode::OK, json_body(&value)).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=UTF-8"));
    response
}

// ---- People (google.rpc.Status) -------------------------------------------------------------

pub(crate) mod people {
    use super::*;

    const SERVICE: &str = "people.googleapis.com";

    pub fn error_info(reason: &str, domain: &str, metadata: Option<Value>) -> Value {
        let mut info = json!({
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": reason,
            "domain": domain,
        });
        if let Some(metadata) = metadata {
            info["metadata"] = metadata;
        }
        info
    }

    fn bad_request(field: &str, description: &str) -> Value {
        json!({
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{ "field": field, "description": description }],
        })
    }

    pub fn invalid_argument(message: &str) -> ApiError {
        ApiError::rpc(400, "INVALID_ARGUMENT", message, vec![])
    }

    /// INVALID_ARGUMENT naming the offending field (google.rpc.BadRequest).
    pub fn invalid_field(field: &str, message: &str) -> ApiError {
        ApiError::rpc(400, "INVALID_ARGUMENT", message, vec![bad_request(field, message)])
    }

    pub fn not_found() -> ApiError {
        ApiError::rpc(404, "NOT_FOUND", "Requested entity was not found.", vec![])
    }

    /// Expired, unknown or corrupted sync token: exactly the body Google sends (HTTP 400).
    pub fn expired_sync_token() -> ApiError {
        ApiError::rpc(
            400,
            "FAILED_PRECONDITION",
            "Sync token is expired. Clear local cache and retry call without the sync token.",
            vec![error_info("EXPIRED_SYNC_TOKEN", SERVICE, None)],
        )
    }

    pub fn etag_mismatch() -> ApiError {
        ApiError::rpc(
            400,
            "FAILED_PRECONDITION",
            "Request person.etag is different than the current person.etag. Clear local cache and get the latest person.",
            vec![],
        )
    }

    fn auth_metadata(method: &str) -> Value {
        json!({ "service": SERVICE, "method": grpc_method(method) })
    }

    pub fn unauthenticated(missing: bool, method: &str) -> ApiError {
        let (message, reason) = if missing {
            (
                "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
                "CREDENTIALS_MISSING",
            )
        } else {
            (
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
                "ACCESS_TOKEN_TYPE_UNSUPPORTED",
            )
        };
        let mut error = ApiError::rpc(
            401,
            "UNAUTHENTICATED",
            message,
            vec![error_info(reason, "googleapis.com", Some(auth_metadata(method)))],
        );
        error.www_authenticate = true;
        error
    }

    pub fn scope_insufficient(method: &str) -> ApiError {
        ApiError::rpc(
            403,
            "PERMISSION_DENIED",
            "Request had insufficient authentication scopes.",
            vec![error_info("ACCESS_TOKEN_SCOPE_INSUFFICIENT", "googleapis.com", Some(auth_metadata(method)))],
        )
    }

    /// Injected 429 (the body Google sent for a createContact over quota).
    pub fn resource_exhausted() -> ApiError {
        ApiError::rpc(
            429,
            "RESOURCE_EXHAUSTED",
            "Resource has been exhausted (e.g. check quota).",
            vec![json!({
                "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                "violations": [{ "subject": "QUOTA_EXCEEDED", "description": "FBS quota limit exceeded" }],
            })],
        )
    }

    /// Per-user write quota exceeded (Google's per-minute quota template, write metric).
    pub fn write_quota_exceeded() -> ApiError {
        ApiError::rpc(
            429,
            "RESOURCE_EXHAUSTED",
            "Quota exceeded for quota metric 'Write requests' and limit 'Write requests per minute per user' of service 'people.googleapis.com' for consumer 'project_number:000000000000'.",
            vec![error_info(
                "RATE_LIMIT_EXCEEDED",
                "googleapis.com",
                Some(json!({
                    "service": SERVICE,
                    "quota_limit": "WriteRequestsPerMinutePerUser",
                    "quota_metric": "people.googleapis.com/write_requests",
                    "consumer": "projects/000000000000",
                })),
            )],
        )
    }

    pub fn internal() -> ApiError {
        ApiError::rpc(500, "INTERNAL", "Internal error encountered.", vec![])
    }

    pub fn unavailable() -> ApiError {
        ApiError::rpc(503, "UNAVAILABLE", "The service is currently unavailable.", vec![])
    }

    /// gRPC method names as they appear in ErrorInfo metadata.
    fn grpc_method(method: &str) -> &'static str {
        match method {
            "people.connections.list" => "google.people.v1.PeopleService.ListConnections",
            "people.createContact" => "google.people.v1.PeopleService.CreateContact",
            "people.updateContact" => "google.people.v1.PeopleService.UpdateContact",
            "people.deleteContact" => "google.people.v1.PeopleService.DeleteContact",
            _ => "google.people.v1.PeopleService.GetPerson",
        }
    }
}

// ---- Calendar (legacy errors[]) -------------------------------------------------------------

pub(crate) mod calendar {
    use super::*;

    pub fn unauthenticated() -> ApiError {
        let mut error =
            ApiError::legacy(401, "global", "authError", "Invalid Credentials", Some(("header", "Authorization")));
        error.www_authenticate = true;
        error
    }

    pub fn scope_insufficient() -> ApiError {
        let mut error = ApiError::legacy(403, "global", "insufficientPermissions", "Insufficient Permission", None);
        error.body["error"]["message"] = json!("Request had insufficient authentication scopes.");
        error
    }

    pub fn not_found() -> ApiError {
        ApiError::legacy(404, "global", "notFound", "Not Found", None)
    }

    pub fn deleted() -> ApiError {
        ApiError::legacy(410, "global", "deleted", "Resource has been deleted", None)
    }

    pub fn duplicate() -> ApiError {
        ApiError::legacy(409, "global", "duplicate", "The requested identifier already exists.", None)
    }

    /// A write whose `If-Match` etag is not the event's current one.
    pub fn condition_not_met() -> ApiError {
        ApiError::legacy(412, "global", "conditionNotMet", "Precondition Failed", Some(("header", "If-Match")))
    }

    pub fn full_sync_required() -> ApiError {
        ApiError::legacy(
            410,
            "calendar",
            "fullSyncRequired",
            "Sync token is no longer valid, a full sync is required.",
            Some(("parameter", "syncToken")),
        )
    }

    pub fn time_range_empty(location: &str) -> ApiError {
        ApiError::legacy(
            400,
            "calendar",
            "timeRangeEmpty",
            "The specified time range is empty.",
            Some(("parameter", location)),
        )
    }

    pub fn invalid(message: &str) -> ApiError {
        ApiError::legacy(400, "global", "invalid", message, None)
    }

    pub fn required(message: &str) -> ApiError {
        ApiError::legacy(400, "global", "required", message, None)
    }

    pub fn rate_limit() -> ApiError {
        ApiError::legacy(429, "usageLimits", "rateLimitExceeded", "Rate Limit Exceeded", None)
    }

    pub fn user_rate_limit() -> ApiError {
        ApiError::legacy(403, "usageLimits", "userRateLimitExceeded", "User Rate Limit Exceeded", None)
    }

    pub fn backend(code: u16) -> ApiError {
        ApiError::legacy(code, "global", "backendError", "Backend Error", None)
    }
}

// ---- OAuth ----------------------------------------------------------------------------------

pub(crate) mod oauth {
    use super::*;

    pub fn invalid_grant_revoked() -> ApiError {
        ApiError::oauth(400, "invalid_grant", "Token has been expired or revoked.")
    }

    pub fn invalid_grant(description: &str) -> ApiError {
        ApiError::oauth(400, "invalid_grant", description)
    }

    pub fn invalid_request(description: &str) -> ApiError {
        ApiError::oauth(400, "invalid_request", description)
    }

    pub fn invalid_client(description: &str) -> ApiError {
        ApiError::oauth(401, "invalid_client", description)
    }
}
