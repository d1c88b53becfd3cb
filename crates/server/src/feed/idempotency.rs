//! Idempotent writes (ARCHITECTURE §5): an `Idempotency-Key` (or an offline mutation id) is scoped to the
//! credential that sent it; its result is stored in the same transaction as the change it made, so a
//! replay returns the first result and changes nothing, even after a crash between commit and response.

use crate::error::AppError;
use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use switchboard_domain::{FieldError, WorkspaceId};
use switchboard_store::{Conn, Db, conn_run, db_run};
use uuid::Uuid;

/// A key presented with a write, and the digest of the request it came with.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    /// `h:<Idempotency-Key>` for HTTP requests, `m:<mutation id>` for pushed operations.
    pub key: String,
    /// SHA-256 of what was asked, to tell a replay from a reuse of the key for something else.
    pub request_hash: String,
}

impl IdempotencyKey {
    /// The key of an HTTP request: method, path and body are what must match on replay.
    pub fn for_request(key: &str, method: &str, path: &str, body: &[u8]) -> Self {
        let mut h = Sha256::new();
        h.update(method.as_bytes());
        h.update(b" ");
        h.update(path.as_bytes());
        h.update(b"\n");
        h.update(body);
        Self { key: format!("h:{key}"), request_hash: hex::encode(h.finalize()) }
    }

    /// The key of one pushed operation, hashed over its canonical JSON.
    pub fn for_mutation(mutation_id: &str, operation: &serde_json::Value) -> Self {
        let digest = Sha256::digest(operation.to_string().as_bytes());
        Self { key: format!("m:{mutation_id}"), request_hash: hex::encode(digest) }
    }
}

/// What the store knows about a key.
#[derive(Debug)]
pub enum Lookup {
    /// Never seen (or expired): go ahead.
    Fresh,
    /// Seen with the same request: this is the stored result.
    Replay(String),
    /// Seen with a different request.
    Reused,
}

/// Reads the `Idempotency-Key` header: 1–255 visible ASCII characters.
pub fn from_headers(headers: &HeaderMap) -> Result<Option<String>, AppError> {
    let Some(value) = headers.get("idempotency-key") else { return Ok(None) };
    let text = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 255 && t.bytes().all(|b| b.is_ascii_graphic() || b == b' '));
    match text {
        Some(t) => Ok(Some(t.to_owned())),
        None => Err(AppError::BadRequest {
            code: "INVALID_HEADER",
            message: "Invalid Idempotency-Key header".into(),
            fields: vec![FieldError::new("Idempotency-Key", "must be 1 to 255 visible ASCII characters")],
        }),
    }
}

#[derive(sqlx::FromRow)]
struct Record {
    request_hash: String,
    response: String,
}

/// Looks a key up (inside the writer's transaction, so two concurrent replays cannot both apply).
pub async fn lookup(
    conn: &mut Conn<'_>,
    credential: Uuid,
    key: &IdempotencyKey,
    now: DateTime<Utc>,
) -> Result<Lookup, sqlx::Error> {
    let row: Option<Record> = conn_run!(conn, c => sqlx::query_as(
        "SELECT request_hash, response FROM idempotency_records WHERE credential_id = $1 AND key = $2 AND expires_at > $3",
    ).bind(credential).bind(&key.key).bind(now).fetch_optional(&mut **c).await)?;
    Ok(match row {
        None => Lookup::Fresh,
        Some(r) if r.request_hash == key.request_hash => Lookup::Replay(r.response),
        Some(_) => Lookup::Reused,
    })
}

/// Stores a key's result (replacing an expired record of the same key).
pub async fn store(
    conn: &mut Conn<'_>,
    ws: WorkspaceId,
    credential: Uuid,
    key: &IdempotencyKey,
    response: &str,
    now: DateTime<Utc>,
    ttl: std::time::Duration,
) -> Result<(), sqlx::Error> {
    let expires = now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::days(1));
    conn_run!(conn, c => sqlx::query(
        "INSERT INTO idempotency_records (workspace_id, credential_id, key, request_hash, status, response, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, 200, $5, $6, $7) \
         ON CONFLICT (credential_id, key) DO UPDATE SET workspace_id = excluded.workspace_id, \
         request_hash = excluded.request_hash, response = excluded.response, created_at = excluded.created_at, \
         expires_at = excluded.expires_at",
    ).bind(ws.0).bind(credential).bind(&key.key).bind(&key.request_hash).bind(response).bind(now).bind(expires)
    .execute(&mut **c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Deletes expired records (background housekeeping).
pub async fn purge_expired(db: &Db) -> Result<u64, sqlx::Error> {
    db_run!(db, pool => sqlx::query("DELETE FROM idempotency_records WHERE expires_at <= $1")
        .bind(Utc::now()).execute(pool).await.map(|r| r.rows_affected()))
}
