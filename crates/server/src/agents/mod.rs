//! Agents: the sales team's people in the field. An agent authenticates with an API key bound to it and
//! names its device in `X-Device-Id`; deactivating the agent locks out all of its keys.

pub mod routes;

use crate::error::AppError;
use crate::pagination::{Page, PageRequest};
use chrono::{DateTime, Utc};
use serde::Serialize;
use switchboard_domain::{AgentCode, AgentId, FieldError, PersonName, WorkspaceId};
use switchboard_store::{Db, StoreError, db_run};

/// An agent as the API shows it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Agent {
    /// Id.
    pub id: uuid::Uuid,
    /// Code, unique in the workspace (what devices send in `X-Agent-Code`).
    pub code: String,
    /// Display name.
    pub name: String,
    /// Whether the agent's keys work.
    pub is_active: bool,
    /// Last request by any of the agent's keys (written every few seconds).
    pub last_seen_at: Option<DateTime<Utc>>,
    /// Created at.
    pub created_at: DateTime<Utc>,
}

const AGENT_SELECT: &str = "SELECT id, code, name, is_active, last_seen_at, created_at FROM agents";

/// Creates an agent; a duplicate code is 409 naming `code`.
pub async fn create(db: &Db, ws: WorkspaceId, code: &AgentCode, name: &PersonName) -> Result<Agent, AppError> {
    let id = AgentId::new();
    let now = Utc::now();
    db_run!(db, pool => sqlx::query(
        "INSERT INTO agents (id, workspace_id, code, name, is_active, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
    ).bind(id.0).bind(ws.0).bind(code.as_str()).bind(name.as_str()).bind(true).bind(now).execute(pool).await.map(|r| r.rows_affected()))
    .map_err(|e| match StoreError::from_sqlx(e) {
        StoreError::Conflict(_) => AppError::Conflict {
            code: "ALREADY_EXISTS",
            message: format!("An agent with code '{}' already exists", code.as_str()),
            fields: vec![FieldError::new("code", "is taken")],
        },
        other => other.into(),
    })?;
    get(db, ws, id).await
}

/// One agent of the workspace.
pub async fn get(db: &Db, ws: WorkspaceId, id: AgentId) -> Result<Agent, AppError> {
    let sql = sqlx::AssertSqlSafe(format!("{AGENT_SELECT} WHERE workspace_id = $1 AND id = $2"));
    let row: Option<Agent> = db_run!(db, pool => sqlx::query_as(sql).bind(ws.0).bind(id.0).fetch_optional(pool).await)?;
    row.ok_or(AppError::NotFound)
}

/// An agent by code.
pub async fn find_by_code(db: &Db, ws: WorkspaceId, code: &AgentCode) -> Result<Option<Agent>, AppError> {
    let sql = sqlx::AssertSqlSafe(format!("{AGENT_SELECT} WHERE workspace_id = $1 AND code = $2"));
    Ok(db_run!(db, pool => sqlx::query_as(sql).bind(ws.0).bind(code.as_str()).fetch_optional(pool).await)?)
}

/// A page of agents.
pub async fn list(db: &Db, ws: WorkspaceId, page: &PageRequest, path: &str) -> Result<Page<Agent>, AppError> {
    page.fetch(db, AGENT_SELECT, "workspace_id", "id", ws, path).await
}

/// Renames and/or (de)activates an agent.
pub async fn update(
    db: &Db,
    ws: WorkspaceId,
    id: AgentId,
    name: Option<&PersonName>,
    active: Option<bool>,
) -> Result<Agent, AppError> {
    get(db, ws, id).await?;
    let now = Utc::now();
    db_run!(db, pool => sqlx::query(
        "UPDATE agents SET name = COALESCE($1, name), is_active = COALESCE($2, is_active), updated_at = $3 \
         WHERE workspace_id = $4 AND id = $5",
    ).bind(name.map(PersonName::as_str)).bind(active).bind(now).bind(ws.0).bind(id.0).execute(pool).await.map(|r| r.rows_affected()))?;
    get(db, ws, id).await
}

impl crate::pagination::Keyed for Agent {
    fn key(&self) -> uuid::Uuid {
        self.id
    }
}
