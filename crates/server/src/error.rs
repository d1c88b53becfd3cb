//! The one error type at the edge and the one error body every JSON client receives
//! (ARCHITECTURE §5): `{success: false, error_code, error, detail, fields, request_id}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use switchboard_domain::FieldError;
use switchboard_store::StoreError;

/// Everything a handler can fail with. The cause of an internal error is logged once, here, and never sent.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400: the request cannot be understood (malformed JSON, bad header, bad query string).
    #[error("{message}")]
    BadRequest { code: &'static str, message: String, fields: Vec<FieldError> },
    /// 422 (400 on the seed-001 paths): well-formed but invalid values.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// 401: no credential, or one that is not valid.
    #[error("{message}")]
    Unauthenticated { code: &'static str, message: String },
    /// 403: authenticated but not allowed (inactive user or agent, missing scope or role).
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    /// 404: absent, or belonging to another workspace (indistinguishable on purpose).
    #[error("not found")]
    NotFound,
    /// 409: conflicts with existing data (e.g. a duplicate unique value).
    #[error("{message}")]
    Conflict { code: &'static str, message: String, fields: Vec<FieldError> },
    /// 413: the body exceeds the configured limit.
    #[error("request body too large")]
    PayloadTooLarge { limit: usize },
    /// 415: the body is not JSON.
    #[error("unsupported content type")]
    UnsupportedMediaType,
    /// 405: the path exists but not with this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 429: rate limited; retry after this many seconds.
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64 },
    /// 503: a dependency (the database) is unavailable or the request timed out.
    #[error("{0}")]
    Unavailable(String),
    /// A write item that was rejected (404, 409 version conflict, 412 failed `If-Match`, 422), carrying
    /// its own status and, for conflicts, the server's copy.
    #[error("{}", .0.message)]
    Item(Box<crate::feed::writer::ItemError>),
    /// [`AppError::Item`] whose server copy is shown in another shape (the agent API's flat contact).
    #[error("{}", .0.message)]
    FlatItem(Box<crate::feed::writer::ItemError>, Box<serde_json::Value>),
    /// 410: the request can no longer be answered as asked (e.g. a delta cursor below the purge line).
    #[error("{message}")]
    Gone { code: &'static str, message: String },
    /// 500: a bug or an unexpected failure; the detail is logged, not sent.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The error body, also used by the OpenAPI document.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Always `false`.
    pub success: bool,
    /// A stable, machine-readable code such as `VALIDATION_FAILED`.
    pub error_code: std::borrow::Cow<'static, str>,
    /// A short human-readable message.
    pub error: String,
    /// More detail, when there is any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The rejected fields, for validation errors.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
    /// The server's copy of the resource, for version conflicts (409) and failed preconditions (412).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub current: Option<serde_json::Value>,
    /// The request id (also in `X-Request-Id`), to quote when reporting a problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl AppError {
    /// A 422 for one field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Validation(vec![FieldError::new(field, message)])
    }

    /// A 400 with a code and message.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        AppError::BadRequest { code, message: message.into(), fields: Vec::new() }
    }

    /// A 400 `INVALID_QUERY` naming the query parameter.
    pub fn invalid_query(field: &str, message: &str) -> Self {
        AppError::BadRequest {
            code: "INVALID_QUERY",
            message: "Invalid query parameter".into(),
            fields: vec![FieldError::new(field, message)],
        }
    }

    /// A 401 with a code and message.
    pub fn unauthenticated(code: &'static str, message: impl Into<String>) -> Self {
        AppError::Unauthenticated { code, message: message.into() }
    }

    /// A 403 for a missing permission.
    pub fn forbidden(message: impl Into<String>) -> Self {
        AppError::Forbidden { code: "FORBIDDEN", message: message.into() }
    }

    /// An internal error from any displayable cause.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        AppError::Internal(cause.to_string())
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            AppError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
            AppError::Forbidden { .. } => StatusCode::FORBIDDEN,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Conflict { .. } => StatusCode::CONFLICT,
            AppError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Item(e) | AppError::FlatItem(e, _) => {
                StatusCode::from_u16(e.status).unwrap_or(StatusCode::CONFLICT)
            }
            AppError::Gone { .. } => StatusCode::GONE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The body for this error.
    pub fn body(&self) -> ErrorBody {
        let (error_code, error, detail, fields) = match self {
            AppError::BadRequest { code, message, fields } => (*code, message.clone(), None, fields.clone()),
            AppError::Validation(fields) => {
                let detail = fields.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
                ("VALIDATION_FAILED", "Validation failed".to_owned(), Some(detail), fields.clone())
            }
            AppError::Unauthenticated { code, message } => (*code, message.clone(), None, Vec::new()),
            AppError::Forbidden { code, message } => (*code, message.clone(), None, Vec::new()),
            AppError::NotFound => ("NOT_FOUND", "Not found".to_owned(), None, Vec::new()),
            AppError::Conflict { code, message, fields } => (*code, message.clone(), None, fields.clone()),
            AppError::PayloadTooLarge { limit } => (
                "PAYLOAD_TOO_LARGE",
                "Request body too large".to_owned(),
                Some(format!("the limit is {limit} bytes")),
                Vec::new(),
            ),
            AppError::UnsupportedMediaType => (
                "UNSUPPORTED_MEDIA_TYPE",
                "Unsupported content type".to_owned(),
                Some("send the body as JSON with Content-Type: application/json".to_owned()),
                Vec::new(),
            ),
            AppError::MethodNotAllowed => ("METHOD_NOT_ALLOWED", "Method not allowed".to_owned(), None, Vec::new()),
            AppError::RateLimited { retry_after_secs } => (
                "RATE_LIMITED",
                "Too many requests".to_owned(),
                Some(format!("retry after {retry_after_secs} seconds")),
                Vec::new(),
            ),
            AppError::Unavailable(m) => ("SERVICE_UNAVAILABLE", m.clone(), None, Vec::new()),
            AppError::Gone { code, message } => (*code, message.clone(), None, Vec::new()),
            AppError::Internal(_) => ("INTERNAL_ERROR", "Internal server error".to_owned(), None, Vec::new()),
            AppError::Item(e) | AppError::FlatItem(e, _) => {
                let detail = (!e.fields.is_empty())
                    .then(|| e.fields.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "));
                let current = match self {
                    AppError::FlatItem(_, flat) => Some((**flat).clone()),
                    _ => e.current.as_ref().map(|c| serde_json::to_value(c).unwrap_or_default()),
                };
                return ErrorBody {
                    success: false,
                    error_code: e.code.clone().into(),
                    error: e.message.clone(),
                    detail,
                    fields: e.fields.clone(),
                    current,
                    request_id: crate::http::current_request_id(),
                };
            }
        };
        ErrorBody {
            success: false,
            error_code: error_code.into(),
            error,
            detail,
            fields,
            current: None,
            request_id: crate::http::current_request_id(),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let AppError::Internal(cause) = &self {
            tracing::error!(%cause, "request failed");
        }
        let mut response = (status, axum::Json(self.body())).into_response();
        let headers = response.headers_mut();
        match &self {
            AppError::RateLimited { retry_after_secs } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            AppError::Unauthenticated { .. } => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"switchboard\""));
            }
            _ => {}
        }
        response
    }
}

impl From<StoreError> for AppError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => AppError::NotFound,
            StoreError::Conflict(what) => AppError::Conflict {
                code: "ALREADY_EXISTS",
                message: format!("already exists ({what})"),
                fields: vec![],
            },
            StoreError::Database(e) => AppError::from(e),
            StoreError::Migrate(e) => AppError::internal(e),
        }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
        match err {
            sqlx::Error::RowNotFound => AppError::NotFound,
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                tracing::error!(error = %err, "database unavailable");
                AppError::Unavailable("The database is unavailable; try again shortly".to_owned())
            }
            other => AppError::internal(other),
        }
    }
}

/// Shorthand for handler results.
pub type AppResult<T> = Result<T, AppError>;
