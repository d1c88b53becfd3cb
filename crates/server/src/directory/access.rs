//! How a desk phone or PBX proves it may read the directory: a directory token in the URL path
//! (`/d/{token}/…`), in the query (`?token=…`, accepted for a phone's first request), or as HTTP Basic
//! (username `token`, password the token). Phones and PBXs display whatever body they get, so failures are
//! short plain text, not JSON.

use super::tokens::{self, DirectoryToken};
use crate::error::AppError;
use crate::state::AppState;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use switchboard_domain::WorkspaceId;

/// A phone allowed to read one workspace's directory.
#[derive(Debug, Clone)]
pub struct PhoneAccess {
    /// The workspace.
    pub workspace: WorkspaceId,
    /// The token's restrictions (labels, caps).
    pub token: DirectoryToken,
    /// The token as presented, for the URLs the server generates (always the path form).
    pub presented: String,
}

/// Why a phone request was refused, as a phone-displayable answer.
#[derive(Debug)]
pub enum PhoneError {
    /// 401: no token, or an unknown or revoked one.
    Unauthorized,
    /// 429: over the token's rate limit.
    RateLimited(u64),
    /// 400: a query parameter the phone sent is wrong.
    BadRequest(String),
    /// Anything else (the database is down…), logged.
    Failed(AppError),
}

impl From<AppError> for PhoneError {
    fn from(e: AppError) -> Self {
        PhoneError::Failed(e)
    }
}

impl IntoResponse for PhoneError {
    fn into_response(self) -> Response {
        let text = |status: StatusCode, body: String| {
            (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
        };
        match self {
            PhoneError::Unauthorized => {
                let mut r = text(StatusCode::UNAUTHORIZED, "Unauthorized: directory token missing or revoked".into());
                r.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"switchboard\""));
                r
            }
            PhoneError::RateLimited(secs) => {
                let mut r = text(StatusCode::TOO_MANY_REQUESTS, "Too many requests; try again shortly".into());
                r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
                r
            }
            PhoneError::BadRequest(message) => text(StatusCode::BAD_REQUEST, message),
            PhoneError::Failed(e) => {
                let status = e.status();
                if status.is_server_error() {
                    tracing::error!(error = %e, "directory request failed");
                }
                text(status, "Directory unavailable; try again later".into())
            }
        }
    }
}

/// The token from the path, else the `token` query parameter, else HTTP Basic.
pub fn presented_token(path_token: Option<&str>, query_token: Option<&str>, headers: &HeaderMap) -> Option<String> {
    let basic = || {
        let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        let encoded = value.strip_prefix("Basic ").or_else(|| value.strip_prefix("basic "))?;
        let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
        let (user, password) = decoded.split_once(':')?;
        (user == "token").then(|| password.to_owned())
    };
    path_token.or(query_token).map(str::to_owned).or_else(basic).map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
}

/// Checks a presented token and the token's rate limit.
pub async fn authorize(state: &AppState, presented: Option<String>) -> Result<PhoneAccess, PhoneError> {
    let presented = presented.ok_or(PhoneError::Unauthorized)?;
    let (workspace, token) = tokens::authenticate(state, &presented).await?.ok_or(PhoneError::Unauthorized)?;
    state.limits.check_credential(token.id).map_err(PhoneError::RateLimited)?;
    Ok(PhoneAccess { workspace, token, presented })
}
