//! The change feed (ARCHITECTURE §4, docs/adr/0002-change-feed.md): every mutation of a synced entity
//! writes one `changes` row numbered by the workspace version, in the same transaction. Delta sync,
//! realtime pushes, SSE and the audit log all read this one feed.
//!
//! - [`writer`]: the only write path, group-committing concurrent writes of a workspace.
//! - [`tail`]: each instance follows the feed for changes its own writer did not publish.
//! - [`recent`]: where committed changes are published to local consumers (once each, in order), and the
//!   latest of them kept in memory for delta pages that need no query.
//! - [`idempotency`]: replays of `Idempotency-Key` requests and offline mutation ids.
//! - [`routes`]: the audit log (`/api/v1/changes`) and a contact's history.

pub mod idempotency;
pub mod recent;
pub mod routes;
pub mod tail;
pub mod writer;

use crate::auth::{Actor, Principal};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_domain::WorkspaceId;
use switchboard_store::{Conn, Script, conn_run, statement};
use uuid::Uuid;

/// Who made a change, from where: recorded on every `changes` row.
#[derive(Debug, Clone)]
pub struct Author {
    /// `user`, `api_key` or `system`.
    pub kind: &'static str,
    /// The user or API key id.
    pub id: Option<Uuid>,
    /// The user's email, the agent code, or `key:<name>`: what events show as `created_by`.
    pub label: String,
    /// The credential idempotency records are scoped to.
    pub credential_id: Uuid,
    /// The device that sent the change (`X-Device-Id`), which realtime pushes skip.
    pub device: Option<String>,
    /// `api`, `device`, `import`, `google:<account>`, `voice` or `dashboard`.
    pub origin: String,
}

impl Author {
    /// The author of a request: agent keys write as `device`, everything else as `api`.
    pub fn of(principal: &Principal) -> Self {
        let (kind, device, origin) = match &principal.actor {
            Actor::User { .. } => ("user", None, "api"),
            Actor::ApiKey { agent, device, .. } => (
                "api_key",
                device.as_ref().map(|d| d.as_str().to_owned()),
                if agent.is_some() { "device" } else { "api" },
            ),
        };
        let id = match &principal.actor {
            Actor::User { id, .. } => id.0,
            Actor::ApiKey { id, .. } => id.0,
        };
        Self {
            kind,
            id: Some(id),
            label: principal.label(),
            credential_id: principal.credential_id(),
            device,
            origin: origin.to_owned(),
        }
    }
}

/// The kind of change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeOp {
    Create,
    Update,
    Delete,
}

impl ChangeOp {
    /// The op's name in the feed.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeOp::Create => "create",
            ChangeOp::Update => "update",
            ChangeOp::Delete => "delete",
        }
    }
}

/// One row of the feed, as the audit log shows it.
#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Change {
    /// The workspace version this change created.
    pub version: i64,
    /// `contact`.
    pub entity_type: String,
    /// The changed entity.
    pub entity_id: Uuid,
    /// `create`, `update` or `delete`.
    pub op: String,
    /// `user`, `api_key` or `system`.
    pub actor_kind: String,
    /// The user or API key id.
    pub actor_id: Option<Uuid>,
    /// The user's email or agent code.
    pub actor_label: String,
    /// The device that made the change.
    pub device_id: Option<String>,
    /// The client's mutation id or `Idempotency-Key`.
    pub mutation_id: Option<String>,
    /// Where the change came from.
    pub origin: String,
    /// The changed fields: `{"field": {"before": …, "after": …}}`.
    #[schema(value_type = Object)]
    #[sqlx(json)]
    pub fields: serde_json::Value,
    /// When it was committed.
    pub created_at: DateTime<Utc>,
}

const CHANGE_COLUMNS: &str = "version, entity_type, entity_id, op, actor_kind, actor_id, actor_label, device_id, \
     mutation_id, origin, fields, created_at";

/// Appends to `script` the statements recording changes (inside the writer's transaction), many rows each.
pub fn record_statements(script: &mut Script, ws: WorkspaceId, changes: &[Change]) {
    const COLS: usize = 13;
    if script.backend() == switchboard_store::Backend::Postgres {
        return record_arrays(script, ws, changes);
    }
    for chunk in changes.chunks(1_000) {
        let rows = switchboard_store::value_rows(script.backend(), chunk.len(), COLS);
        let sql = format!(
            "INSERT INTO changes (workspace_id, version, entity_type, entity_id, op, actor_kind, actor_id, \
             actor_label, device_id, mutation_id, origin, fields, created_at) VALUES {rows}"
        );
        statement!(script, sql, q => {
            // By reference: a full sync records hundreds of changes per statement, each with every field.
            for ch in chunk {
                q = q.bind(ws.0).bind(ch.version).bind(&ch.entity_type).bind(ch.entity_id)
                    .bind(&ch.op).bind(&ch.actor_kind).bind(ch.actor_id).bind(&ch.actor_label)
                    .bind(&ch.device_id).bind(&ch.mutation_id).bind(&ch.origin)
                    .bind(switchboard_store::JsonText(&ch.fields)).bind(ch.created_at);
            }
            q
        });
    }
}

/// [`record_statements`] on PostgreSQL: column arrays, one statement text for any number of rows, so it is
/// prepared once per connection.
fn record_arrays(script: &mut Script, ws: WorkspaceId, changes: &[Change]) {
    use sqlx::postgres::PgBindIterExt;
    if changes.is_empty() {
        return;
    }
    let sql = "INSERT INTO changes (workspace_id, version, entity_type, entity_id, op, actor_kind, actor_id, \
               actor_label, device_id, mutation_id, origin, fields, created_at) \
               SELECT $1::uuid, r.version, r.entity_type, r.entity_id, r.op, r.actor_kind, r.actor_id, \
               r.actor_label, r.device_id, r.mutation_id, r.origin, r.fields, r.created_at \
               FROM UNNEST($2::int8[], $3::text[], $4::uuid[], $5::text[], $6::text[], $7::uuid[], $8::text[], \
               $9::text[], $10::text[], $11::text[], $12::json[], $13::timestamptz[]) AS r(version, entity_type, \
               entity_id, op, actor_kind, actor_id, actor_label, device_id, mutation_id, origin, fields, created_at)";
    script.postgres_statement(sql.to_owned(), |q| {
        q.bind(ws.0)
            .bind(changes.iter().map(|c| c.version).bind_iter())
            .bind(changes.iter().map(|c| c.entity_type.as_str()).bind_iter())
            .bind(changes.iter().map(|c| c.entity_id).bind_iter())
            .bind(changes.iter().map(|c| c.op.as_str()).bind_iter())
            .bind(changes.iter().map(|c| c.actor_kind.as_str()).bind_iter())
            .bind(changes.iter().map(|c| c.actor_id).bind_iter())
            .bind(changes.iter().map(|c| c.actor_label.as_str()).bind_iter())
            .bind(changes.iter().map(|c| c.device_id.as_deref()).bind_iter())
            .bind(changes.iter().map(|c| c.mutation_id.as_deref()).bind_iter())
            .bind(changes.iter().map(|c| c.origin.as_str()).bind_iter())
            .bind(changes.iter().map(|c| switchboard_store::JsonText(&c.fields)).bind_iter())
            .bind(changes.iter().map(|c| c.created_at).bind_iter())
    });
}

/// Changes of `ws` after `after`, in version order, at most `limit`.
pub async fn after(conn: &mut Conn<'_>, ws: WorkspaceId, after: i64, limit: i64) -> Result<Vec<Change>, sqlx::Error> {
    let sql = format!(
        "SELECT {CHANGE_COLUMNS} FROM changes WHERE workspace_id = $1 AND version > $2 ORDER BY version LIMIT $3"
    );
    conn_run!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(ws.0).bind(after).bind(limit)
        .fetch_all(&mut **c).await)
}

/// Changes of one entity after `after`, in version order, at most `limit`.
pub async fn of_entity(
    conn: &mut Conn<'_>,
    ws: WorkspaceId,
    entity: Uuid,
    after: i64,
    limit: i64,
) -> Result<Vec<Change>, sqlx::Error> {
    let sql = format!(
        "SELECT {CHANGE_COLUMNS} FROM changes WHERE workspace_id = $1 AND entity_id = $2 AND version > $3 \
         ORDER BY version LIMIT $4"
    );
    conn_run!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(ws.0).bind(entity).bind(after).bind(limit)
        .fetch_all(&mut **c).await)
}

/// The workspace's current version.
pub async fn current_version(conn: &mut Conn<'_>, ws: WorkspaceId) -> Result<i64, sqlx::Error> {
    conn_run!(conn, c => sqlx::query_scalar("SELECT version FROM workspaces WHERE id = $1")
        .bind(ws.0).fetch_one(&mut **c).await)
}
