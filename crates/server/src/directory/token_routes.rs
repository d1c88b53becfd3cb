//! `/api/v1/directory-tokens`: admins create, list and revoke the tokens desk phones and PBXs use.

use super::tokens::{self, DirectoryToken, TokenSpec};
use crate::auth::Principal;
use crate::error::{AppResult, ErrorBody};
use crate::http::{AppJson, AppPath, AppQuery};
use crate::pagination::{ListQuery, Page, PageRequest};
use crate::state::AppState;
use axum::extract::{OriginalUri, State};
use axum::http::StatusCode;
use serde::Serialize;
use switchboard_domain::Permission;
use utoipa_axum::{router::OpenApiRouter, routes};

/// The routes of directory tokens.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_tokens, create_token)).routes(routes!(get_token, revoke_token))
}

/// A new token: the record, the token itself (shown only in this response) and the URLs to configure.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub record: DirectoryToken,
    /// The token. Store it now: it cannot be shown again.
    pub token: String,
    /// Paths to configure on phones and PBXs (prefix them with this server's address), by use.
    pub paths: std::collections::BTreeMap<&'static str, String>,
}

/// The paths a token serves, to show the admin what to configure.
pub fn paths_for(token: &str) -> std::collections::BTreeMap<&'static str, String> {
    let mut paths = std::collections::BTreeMap::new();
    paths.insert("cisco", format!("/d/{token}/directory.xml"));
    for (vendor, _) in tokens::VENDORS {
        paths.insert(vendor, format!("/d/{token}/{vendor}.xml"));
    }
    paths.insert("cnam", format!("/d/{token}/cnam?number="));
    paths
}

/// List the workspace's directory tokens (never the tokens themselves).
#[utoipa::path(get, path = "/api/v1/directory-tokens", tag = "directory", params(ListQuery),
    responses((status = 200, body = Page<DirectoryToken>), (status = 403, body = ErrorBody)))]
async fn list_tokens(
    State(state): State<AppState>,
    principal: Principal,
    OriginalUri(uri): OriginalUri,
    AppQuery(q): AppQuery<ListQuery>,
) -> AppResult<axum::Json<Page<DirectoryToken>>> {
    principal.require(Permission::Admin)?;
    let page = PageRequest::parse(&q)?;
    Ok(axum::Json(tokens::list(&state.db, principal.workspace_id, &page, uri.path()).await?))
}

/// Create a directory token (read-only, for desk phones and PBXs); the response carries it once.
#[utoipa::path(post, path = "/api/v1/directory-tokens", tag = "directory", request_body = TokenSpec,
    responses((status = 201, body = CreatedToken), (status = 422, body = ErrorBody)))]
async fn create_token(
    State(state): State<AppState>,
    principal: Principal,
    AppJson(spec): AppJson<TokenSpec>,
) -> AppResult<(StatusCode, axum::Json<CreatedToken>)> {
    principal.require(Permission::Admin)?;
    let (record, token) = tokens::create(&state.db, principal.workspace_id, &spec, &principal.label()).await?;
    let paths = paths_for(&token);
    Ok((StatusCode::CREATED, axum::Json(CreatedToken { record, token, paths })))
}

/// Get one token's record.
#[utoipa::path(get, path = "/api/v1/directory-tokens/{id}", tag = "directory", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = DirectoryToken), (status = 404, body = ErrorBody)))]
async fn get_token(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<uuid::Uuid>,
) -> AppResult<axum::Json<DirectoryToken>> {
    principal.require(Permission::Admin)?;
    Ok(axum::Json(tokens::get(&state.db, principal.workspace_id, id).await?))
}

/// Revoke a token: phones using it get 401 from their next request on.
#[utoipa::path(delete, path = "/api/v1/directory-tokens/{id}", tag = "directory", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = DirectoryToken), (status = 404, body = ErrorBody)))]
async fn revoke_token(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<uuid::Uuid>,
) -> AppResult<axum::Json<DirectoryToken>> {
    principal.require(Permission::Admin)?;
    let token = tokens::revoke(&state.db, principal.workspace_id, id).await?;
    state.credentials.evict_directory_token(token.id);
    Ok(axum::Json(token))
}
