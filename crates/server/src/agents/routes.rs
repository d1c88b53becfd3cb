//! `/api/v1/agents`: admins manage agents.

use super::Agent;
use crate::auth::Principal;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::{AppJson, AppPath, AppQuery};
use crate::pagination::{ListQuery, Page, PageRequest};
use crate::state::AppState;
use axum::extract::{OriginalUri, State};
use axum::http::StatusCode;
use serde::Deserialize;
use switchboard_domain::{AgentCode, AgentId, Permission, PersonName};
use utoipa_axum::{router::OpenApiRouter, routes};

/// The routes of this feature.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_agents, create_agent)).routes(routes!(get_agent, update_agent))
}

/// Body of `POST /api/v1/agents`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAgentRequest {
    /// Unique code (letters, digits, `-`, `_`, `.`; at most 64).
    pub code: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
}

/// Body of `PATCH /api/v1/agents/{id}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAgentRequest {
    pub name: Option<String>,
    /// `false` locks out every key of the agent (403).
    pub is_active: Option<bool>,
}

/// List agents.
#[utoipa::path(get, path = "/api/v1/agents", tag = "agents", params(ListQuery),
    responses((status = 200, body = Page<Agent>), (status = 403, body = ErrorBody)))]
async fn list_agents(
    State(state): State<AppState>,
    principal: Principal,
    OriginalUri(uri): OriginalUri,
    AppQuery(q): AppQuery<ListQuery>,
) -> AppResult<axum::Json<Page<Agent>>> {
    principal.require(Permission::Admin)?;
    let page = PageRequest::parse(&q)?;
    Ok(axum::Json(super::list(&state.db, principal.workspace_id, &page, uri.path()).await?))
}

/// Create an agent.
#[utoipa::path(post, path = "/api/v1/agents", tag = "agents", request_body = CreateAgentRequest,
    responses((status = 201, body = Agent), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_agent(
    State(state): State<AppState>,
    principal: Principal,
    AppJson(body): AppJson<CreateAgentRequest>,
) -> AppResult<(StatusCode, axum::Json<Agent>)> {
    principal.require(Permission::Admin)?;
    let code = AgentCode::parse("code", &body.code);
    let name = PersonName::parse("name", body.name.as_deref().unwrap_or(""));
    let (code, name) = match (code, name) {
        (Ok(c), Ok(n)) => (c, n),
        (c, n) => return Err(AppError::Validation([c.err(), n.err()].into_iter().flatten().collect())),
    };
    Ok((StatusCode::CREATED, axum::Json(super::create(&state.db, principal.workspace_id, &code, &name).await?)))
}

/// Get one agent.
#[utoipa::path(get, path = "/api/v1/agents/{id}", tag = "agents", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = Agent), (status = 404, body = ErrorBody)))]
async fn get_agent(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<uuid::Uuid>,
) -> AppResult<axum::Json<Agent>> {
    principal.require(Permission::Admin)?;
    Ok(axum::Json(super::get(&state.db, principal.workspace_id, AgentId(id)).await?))
}

/// Rename or (de)activate an agent.
#[utoipa::path(patch, path = "/api/v1/agents/{id}", tag = "agents", params(("id" = uuid::Uuid, Path)),
    request_body = UpdateAgentRequest, responses((status = 200, body = Agent), (status = 404, body = ErrorBody)))]
async fn update_agent(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<uuid::Uuid>,
    AppJson(body): AppJson<UpdateAgentRequest>,
) -> AppResult<axum::Json<Agent>> {
    principal.require(Permission::Admin)?;
    let name = match body.name.as_deref() {
        Some(n) => Some(PersonName::parse("name", n).map_err(|e| AppError::Validation(vec![e]))?),
        None => None,
    };
    let agent = super::update(&state.db, principal.workspace_id, AgentId(id), name.as_ref(), body.is_active).await?;
    state.credentials.evict_agent(AgentId(id));
    Ok(axum::Json(agent))
}
