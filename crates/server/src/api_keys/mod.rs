//! API keys: random 256-bit secrets shown once and stored as SHA-256 digests with a public prefix.

pub mod routes;

use crate::auth::tokens::NewApiKey;
use crate::error::AppError;
use crate::pagination::{Page, PageRequest};
use chrono::{DateTime, Utc};
use serde::Serialize;
use switchboard_domain::{AgentCode, AgentId, ApiKeyId, ScopeSet, UserId, WorkspaceId};
use switchboard_store::{Db, StoreError, Tx, db_run, tx_run};

/// An API key as listed (never its secret).
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ApiKey {
    /// Id.
    pub id: uuid::Uuid,
    /// A name saying what uses the key.
    pub name: String,
    /// The public start of the key (`sk_<prefix>_…`), to recognise it.
    pub prefix: String,
    /// Space-separated scopes.
    pub scopes: String,
    /// The agent the key is bound to, if any.
    pub agent_code: Option<String>,
    /// Created at.
    pub created_at: DateTime<Utc>,
    /// Last used (written every few seconds, so it may lag slightly).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked; revoked keys are kept for the record.
    pub revoked_at: Option<DateTime<Utc>>,
}

const KEY_SELECT: &str = "SELECT k.id, k.name, k.prefix, k.scopes, a.code AS agent_code, k.created_at, \
     k.last_used_at, k.revoked_at FROM api_keys k LEFT JOIN agents a ON a.id = k.agent_id";

/// Inserts a key in an open transaction; returns its id and the full key (to show once).
pub async fn insert(
    tx: &mut Tx<'_>,
    ws: WorkspaceId,
    name: &str,
    scopes: &ScopeSet,
    agent: Option<AgentId>,
    created_by: Option<UserId>,
) -> Result<(ApiKeyId, String), StoreError> {
    let id = ApiKeyId::new();
    let key = NewApiKey::generate();
    tx_run!(tx, conn => sqlx::query(
        "INSERT INTO api_keys (id, workspace_id, name, prefix, secret_hash, scopes, agent_id, created_by_user_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    ).bind(id.0).bind(ws.0).bind(name).bind(&key.prefix).bind(&key.digest).bind(scopes.to_stored())
    .bind(agent.map(|a| a.0)).bind(created_by.map(|u| u.0)).bind(Utc::now())
    .execute(&mut **conn).await.map(|r| r.rows_affected())).map_err(StoreError::from_sqlx)?;
    Ok((id, key.key))
}

/// Parses a key name: 1–100 characters.
pub fn parse_name(raw: &str) -> Result<String, switchboard_domain::FieldError> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(switchboard_domain::FieldError::new("name", "must be 1-100 printable characters"));
    }
    Ok(name.to_owned())
}

/// Creates a key, optionally bound to an agent of the workspace (by code). Returns the key record and the
/// full key.
pub async fn create(
    db: &Db,
    ws: WorkspaceId,
    name: &str,
    scopes: &ScopeSet,
    agent: Option<&AgentCode>,
    created_by: Option<UserId>,
) -> Result<(ApiKey, String), AppError> {
    let agent_id = match agent {
        Some(code) => Some(
            crate::agents::find_by_code(db, ws, code)
                .await?
                .ok_or_else(|| {
                    AppError::field("agent_code", format!("no agent '{}' in this workspace", code.as_str()))
                })?
                .id,
        ),
        None => None,
    };
    let mut tx = db.begin().await?;
    let (id, key) = insert(&mut tx, ws, name, scopes, agent_id.map(AgentId), created_by).await?;
    tx.commit().await?;
    Ok((get(db, ws, id).await?, key))
}

/// One key of the workspace.
pub async fn get(db: &Db, ws: WorkspaceId, id: ApiKeyId) -> Result<ApiKey, AppError> {
    let sql = sqlx::AssertSqlSafe(format!("{KEY_SELECT} WHERE k.workspace_id = $1 AND k.id = $2"));
    let row: Option<ApiKey> =
        db_run!(db, pool => sqlx::query_as(sql).bind(ws.0).bind(id.0).fetch_optional(pool).await)?;
    row.ok_or(AppError::NotFound)
}

/// A page of the workspace's keys.
pub async fn list(db: &Db, ws: WorkspaceId, page: &PageRequest, path: &str) -> Result<Page<ApiKey>, AppError> {
    page.fetch(db, KEY_SELECT, "k.workspace_id", "k.id", ws, path).await
}

/// Revokes a key (idempotent). Takes effect at once on this instance (the caller evicts the cache) and
/// within the credential cache time elsewhere.
pub async fn revoke(db: &Db, ws: WorkspaceId, id: ApiKeyId) -> Result<ApiKey, AppError> {
    let now = Utc::now();
    db_run!(db, pool => sqlx::query(
        "UPDATE api_keys SET revoked_at = $1 WHERE workspace_id = $2 AND id = $3 AND revoked_at IS NULL",
    ).bind(now).bind(ws.0).bind(id.0).execute(pool).await.map(|r| r.rows_affected()))?;
    get(db, ws, id).await
}

impl crate::pagination::Keyed for ApiKey {
    fn key(&self) -> uuid::Uuid {
        self.id
    }
}
