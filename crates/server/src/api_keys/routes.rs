//! `/api/v1/api-keys`: admins create, list and revoke keys.

use super::ApiKey;
use crate::auth::Principal;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::{AppJson, AppPath, AppQuery};
use crate::pagination::{ListQuery, Page, PageRequest};
use crate::state::AppState;
use axum::extract::{OriginalUri, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use switchboard_domain::{AgentCode, ApiKeyId, FieldError, Permission, Scope, ScopeSet};
use utoipa_axum::{router::OpenApiRouter, routes};

/// The routes of this feature.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_keys, create_key)).routes(routes!(get_key, revoke_key))
}

/// Body of `POST /api/v1/api-keys`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    /// What uses the key.
    pub name: String,
    /// Scopes: `contacts:read`, `contacts:write`, `directory:read`, `google:sync`, `admin`. Defaults to
    /// `contacts:read contacts:write` for agent keys; required otherwise.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// Bind the key to this agent.
    #[serde(default)]
    pub agent_code: Option<String>,
}

/// A new key: the record and the key itself, shown only in this response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedKey {
    #[serde(flatten)]
    pub record: ApiKey,
    /// The full key. Store it now: it cannot be shown again.
    pub key: String,
}

/// List the workspace's API keys (never their secrets).
#[utoipa::path(get, path = "/api/v1/api-keys", tag = "api-keys", params(ListQuery),
    responses((status = 200, body = Page<ApiKey>), (status = 403, body = ErrorBody)))]
async fn list_keys(
    State(state): State<AppState>,
    principal: Principal,
    OriginalUri(uri): OriginalUri,
    AppQuery(q): AppQuery<ListQuery>,
) -> AppResult<axum::Json<Page<ApiKey>>> {
    principal.require(Permission::Admin)?;
    let page = PageRequest::parse(&q)?;
    Ok(axum::Json(super::list(&state.db, principal.workspace_id, &page, uri.path()).await?))
}

/// Create an API key; the response carries the key once.
#[utoipa::path(post, path = "/api/v1/api-keys", tag = "api-keys", request_body = CreateKeyRequest,
    responses((status = 201, body = CreatedKey), (status = 422, body = ErrorBody)))]
async fn create_key(
    State(state): State<AppState>,
    principal: Principal,
    AppJson(body): AppJson<CreateKeyRequest>,
) -> AppResult<(StatusCode, axum::Json<CreatedKey>)> {
    principal.require(Permission::Admin)?;
    let mut errors: Vec<FieldError> = Vec::new();
    let name = super::parse_name(&body.name).map_err(|e| errors.push(e)).ok();
    let agent = match body.agent_code.as_deref() {
        Some(c) => AgentCode::parse("agent_code", c).map_err(|e| errors.push(e)).ok(),
        None => None,
    };
    let scopes = match (&body.scopes, &body.agent_code) {
        (Some(list), _) => {
            ScopeSet::parse(list.iter().map(String::as_str)).map_err(|m| errors.push(FieldError::new("scopes", m))).ok()
        }
        (None, Some(_)) => ScopeSet::new(Scope::AGENT_DEFAULT),
        (None, None) => {
            errors.push(FieldError::new("scopes", "is required for keys not bound to an agent"));
            None
        }
    };
    let (Some(name), Some(scopes), true) = (name, scopes, errors.is_empty()) else {
        return Err(AppError::Validation(errors));
    };
    let (record, key) =
        super::create(&state.db, principal.workspace_id, &name, &scopes, agent.as_ref(), principal.user_id()).await?;
    Ok((StatusCode::CREATED, axum::Json(CreatedKey { record, key })))
}

/// Get one key's record.
#[utoipa::path(get, path = "/api/v1/api-keys/{id}", tag = "api-keys", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = ApiKey), (status = 404, body = ErrorBody)))]
async fn get_key(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<uuid::Uuid>,
) -> AppResult<axum::Json<ApiKey>> {
    principal.require(Permission::Admin)?;
    Ok(axum::Json(super::get(&state.db, principal.workspace_id, ApiKeyId(id)).await?))
}

/// Revoke a key. Effective at once on this instance and within 5 seconds (the credential cache time) on
/// other instances.
#[utoipa::path(delete, path = "/api/v1/api-keys/{id}", tag = "api-keys", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = ApiKey), (status = 404, body = ErrorBody)))]
async fn revoke_key(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<uuid::Uuid>,
) -> AppResult<axum::Json<ApiKey>> {
    principal.require(Permission::Admin)?;
    let key = super::revoke(&state.db, principal.workspace_id, ApiKeyId(id)).await?;
    state.credentials.evict_key(ApiKeyId(id));
    Ok(axum::Json(key))
}
