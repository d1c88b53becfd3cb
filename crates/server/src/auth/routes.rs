//! `/api/v2/auth/*` (and the same under `/api/v1/auth/*`): login, refresh, logout, me.

use super::session::{self, SessionUser, SessionWorkspace, TokenPair};
use super::{Actor, Principal};
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::{AppJson, ClientIp};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use switchboard_domain::FieldError;
use utoipa_axum::{router::OpenApiRouter, routes};

/// The routes of this feature (mounted at `/api/v2/auth` and `/api/v1/auth`).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(login)).routes(routes!(refresh)).routes(routes!(logout)).routes(routes!(me))
}

/// Body of `POST /auth/login`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Login email.
    pub email: String,
    /// Password.
    pub password: String,
    /// Slug of the workspace to sign in to, for users of several (default: their first).
    #[serde(default)]
    pub workspace: Option<String>,
}

/// Body of `POST /auth/refresh` and `POST /auth/logout`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token from login or the previous refresh.
    pub refresh_token: String,
}

fn required(field: &str, value: &str) -> Result<(), FieldError> {
    if value.trim().is_empty() { Err(FieldError::new(field, "is required")) } else { Ok(()) }
}

/// Sign in with email and password. Rate limited per client IP.
#[utoipa::path(post, path = "/api/v2/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = TokenPair), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    AppJson(body): AppJson<LoginRequest>,
) -> AppResult<axum::Json<TokenPair>> {
    if let Some(ip) = ip {
        state.limits.check_login(ip).map_err(|retry_after_secs| AppError::RateLimited { retry_after_secs })?;
    }
    let errors: Vec<FieldError> = [required("email", &body.email), required("password", &body.password)]
        .into_iter()
        .filter_map(Result::err)
        .collect();
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let result = session::login(&state, &body.email, &body.password, body.workspace.as_deref()).await;
    if let Err(AppError::Unauthenticated { .. }) = &result {
        tracing::info!(ip = ?ip, "failed login");
    }
    Ok(axum::Json(result?))
}

/// Exchange a refresh token for a new access token and a new refresh token.
#[utoipa::path(post, path = "/api/v2/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenPair), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn refresh(
    State(state): State<AppState>,
    AppJson(body): AppJson<RefreshRequest>,
) -> AppResult<axum::Json<TokenPair>> {
    required("refresh_token", &body.refresh_token).map_err(|e| AppError::Validation(vec![e]))?;
    Ok(axum::Json(session::refresh(&state, body.refresh_token.trim()).await?))
}

/// End the session the refresh token belongs to. Access tokens already issued expire on their own
/// (at most 30 minutes).
#[utoipa::path(post, path = "/api/v2/auth/logout", tag = "auth", request_body = RefreshRequest,
    responses((status = 204), (status = 422, body = ErrorBody)))]
async fn logout(State(state): State<AppState>, AppJson(body): AppJson<RefreshRequest>) -> AppResult<StatusCode> {
    required("refresh_token", &body.refresh_token).map_err(|e| AppError::Validation(vec![e]))?;
    session::logout(&state, body.refresh_token.trim()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who the caller is: a user, or an API key (with its agent and device).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Me {
    /// A signed-in user.
    User(SessionUser),
    /// An API key.
    ApiKey(KeyIdentity),
}

/// An API key's identity.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyIdentity {
    pub id: uuid::Uuid,
    pub name: String,
    pub scopes: Vec<String>,
    pub agent_code: Option<String>,
    pub device_id: Option<String>,
    pub workspace: SessionWorkspace,
}

/// The current principal.
#[utoipa::path(get, path = "/api/v2/auth/me", tag = "auth",
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)), security(("bearer" = [])))]
async fn me(State(state): State<AppState>, principal: Principal) -> AppResult<axum::Json<Me>> {
    let ws = principal.workspace_id;
    Ok(axum::Json(match principal.actor {
        Actor::User { id, email, name, role } => {
            // The extractor has just checked the membership; reuse what it found.
            let member = super::cache::CachedMember { email, name, role, active: true };
            Me::User(session::session_user(&state, id, ws, &member).await?)
        }
        Actor::ApiKey { id, name, scopes, agent, device } => {
            let w = crate::workspaces::find(&state.db, ws).await?.ok_or(AppError::NotFound)?;
            Me::ApiKey(KeyIdentity {
                id: id.0,
                name,
                scopes: scopes.scopes().iter().map(|s| s.as_str().to_owned()).collect(),
                agent_code: agent.map(|a| a.code),
                device_id: device.map(|d| d.as_str().to_owned()),
                workspace: SessionWorkspace { id: w.id, name: w.name, slug: w.slug },
            })
        }
    }))
}

/// The same handlers under `/api/v1/auth` (the older clients' paths).
pub fn v1_aliases() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/refresh", post(refresh))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/auth/me", get(me))
}
