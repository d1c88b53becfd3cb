//! `/api/v1/users`: workspace admins manage members.

use super::{Member, MemberChanges, NewMember};
use crate::auth::{Principal, password};
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::{AppJson, AppPath, AppQuery};
use crate::pagination::{ListQuery, Page, PageRequest};
use crate::state::AppState;
use axum::extract::{OriginalUri, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use switchboard_domain::{Email, FieldError, Permission, PersonName, Role, UserId};
use utoipa_axum::{router::OpenApiRouter, routes};

/// The routes of this feature.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_users, create_user)).routes(routes!(get_user, update_user))
}

/// Body of `POST /api/v1/users`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    /// Login email.
    pub email: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Role (default `member`).
    #[serde(default)]
    pub role: Option<String>,
    /// Initial password (at least 8 characters). Omit to have one generated and returned once.
    #[serde(default)]
    pub password: Option<String>,
}

/// A new member, with the generated password when one was generated (shown only here).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedMember {
    #[serde(flatten)]
    pub member: Member,
    /// The generated password, shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generated_password: Option<String>,
}

/// Body of `PATCH /api/v1/users/{id}`: every field optional.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    pub name: Option<String>,
    pub role: Option<String>,
    pub is_active: Option<bool>,
    pub password: Option<String>,
}

fn parse_role(field: &str, raw: &str, errors: &mut Vec<FieldError>) -> Option<Role> {
    raw.parse().map_err(|m: String| errors.push(FieldError::new(field, m))).ok()
}

/// List the workspace's members.
#[utoipa::path(get, path = "/api/v1/users", tag = "users", params(ListQuery),
    responses((status = 200, body = Page<Member>), (status = 403, body = ErrorBody)))]
async fn list_users(
    State(state): State<AppState>,
    principal: Principal,
    OriginalUri(uri): OriginalUri,
    AppQuery(q): AppQuery<ListQuery>,
) -> AppResult<axum::Json<Page<Member>>> {
    principal.require(Permission::Admin)?;
    let page = PageRequest::parse(&q)?;
    Ok(axum::Json(super::list(&state.db, principal.workspace_id, &page, uri.path()).await?))
}

/// Add a member (creating the user when the email is new).
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = CreateUserRequest,
    responses((status = 201, body = CreatedMember), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_user(
    State(state): State<AppState>,
    principal: Principal,
    AppJson(body): AppJson<CreateUserRequest>,
) -> AppResult<(StatusCode, axum::Json<CreatedMember>)> {
    principal.require(Permission::Admin)?;
    let mut errors = Vec::new();
    let email = Email::parse("email", &body.email).map_err(|e| errors.push(e)).ok();
    let name = PersonName::parse("name", body.name.as_deref().unwrap_or("")).map_err(|e| errors.push(e)).ok();
    let role = match body.role.as_deref() {
        Some(r) => parse_role("role", r, &mut errors),
        None => Some(Role::Member),
    };
    if let Some(p) = &body.password {
        password::check_new("password", p).unwrap_or_else(|e| errors.push(e));
    }
    let (Some(email), Some(name), Some(role), true) = (email, name, role, errors.is_empty()) else {
        return Err(AppError::Validation(errors));
    };
    if role == Role::Owner {
        principal.require(Permission::Owner)?;
    }
    let new = NewMember { email, name, role, password: body.password };
    let (member, generated_password) = super::create_member(&state.db, principal.workspace_id, new).await?;
    Ok((StatusCode::CREATED, axum::Json(CreatedMember { member, generated_password })))
}

/// Get one member.
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Member), (status = 404, body = ErrorBody)))]
async fn get_user(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<uuid::Uuid>,
) -> AppResult<axum::Json<Member>> {
    principal.require(Permission::Admin)?;
    Ok(axum::Json(super::get(&state.db, principal.workspace_id, UserId(id)).await?))
}

/// Change a member's name, role, active flag or password. Deactivation stops the user's access within
/// the credential cache time (5 s by default; at once on this instance).
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", params(("id" = uuid::Uuid, Path)),
    request_body = UpdateUserRequest,
    responses((status = 200, body = Member), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn update_user(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<uuid::Uuid>,
    AppJson(body): AppJson<UpdateUserRequest>,
) -> AppResult<axum::Json<Member>> {
    principal.require(Permission::Admin)?;
    let mut errors = Vec::new();
    let mut changes = MemberChanges { is_active: body.is_active, ..Default::default() };
    if let Some(n) = &body.name {
        changes.name = PersonName::parse("name", n).map_err(|e| errors.push(e)).ok();
    }
    if let Some(r) = &body.role {
        changes.role = parse_role("role", r, &mut errors);
    }
    if let Some(p) = body.password {
        password::check_new("password", &p).unwrap_or_else(|e| errors.push(e));
        changes.password = Some(p);
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    Ok(axum::Json(super::update(&state, &principal, UserId(id), changes).await?))
}
