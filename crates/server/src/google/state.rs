//! `sync_states`: per account and resource, the sync token, the run in progress (so a stopped run resumes
//! at its page), the counts and errors the status endpoints show, and the lease that lets one instance at a
//! time sync an account.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use std::time::Duration;
use switchboard_store::{Db, db_run};
use uuid::Uuid;

/// The People resource of an account.
pub const PEOPLE: &str = "people";

/// Changes applied in each direction since the account was connected.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Counts {
    /// From Google into contacts.
    #[serde(default, rename = "in")]
    pub inbound: DirectionCounts,
    /// From contacts into Google.
    #[serde(default, rename = "out")]
    pub outbound: DirectionCounts,
}

/// Created, updated and deleted in one direction; `failed` are contacts that could not be pushed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DirectionCounts {
    #[serde(default)]
    pub created: u64,
    #[serde(default)]
    pub updated: u64,
    #[serde(default)]
    pub deleted: u64,
    #[serde(default)]
    pub failed: u64,
}

impl DirectionCounts {
    /// Adds `other` to these counts.
    pub fn add(&mut self, other: DirectionCounts) {
        self.created += other.created;
        self.updated += other.updated;
        self.deleted += other.deleted;
        self.failed += other.failed;
    }
}

/// A row of `sync_states`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SyncState {
    pub account_id: Uuid,
    pub workspace_id: Uuid,
    pub sync_token: Option<String>,
    pub status: String,
    pub run_id: Option<Uuid>,
    pub run_full: bool,
    pub run_page_token: Option<String>,
    pub run_started_at: Option<DateTime<Utc>>,
    pub full_requested: bool,
    pub outbound_version: i64,
    pub last_full_sync_at: Option<DateTime<Utc>>,
    pub last_incremental_sync_at: Option<DateTime<Utc>>,
    pub counts: Json<Counts>,
    pub last_error: Option<String>,
    pub next_run_at: Option<DateTime<Utc>>,
    pub locked_by: Option<Uuid>,
    pub locked_until: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "account_id, workspace_id, sync_token, status, run_id, run_full, run_page_token, \
     run_started_at, full_requested, outbound_version, last_full_sync_at, last_incremental_sync_at, counts, \
     last_error, next_run_at, locked_by, locked_until";

/// The account's state for `resource`.
pub async fn get(db: &Db, account: Uuid, resource: &str) -> Result<Option<SyncState>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM sync_states WHERE account_id = $1 AND resource = $2");
    db_run!(db, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(account).bind(resource).fetch_optional(pool).await)
}

/// Accounts whose `resource` sync is due at `now` and whose account is active.
pub async fn due(db: &Db, resource: &str, now: DateTime<Utc>) -> Result<Vec<Uuid>, sqlx::Error> {
    db_run!(db, pool => sqlx::query_scalar(
        "SELECT s.account_id FROM sync_states s JOIN connected_accounts a ON a.id = s.account_id \
         WHERE s.resource = $1 AND a.status = 'active' AND (s.next_run_at IS NULL OR s.next_run_at <= $2) \
         AND (s.locked_until IS NULL OR s.locked_until < $2) ORDER BY s.next_run_at",
    ).bind(resource).bind(now).fetch_all(pool).await)
}

/// Every active account with a `resource` state, for the outbound push (which runs whenever contacts change).
pub async fn active(db: &Db, resource: &str) -> Result<Vec<(Uuid, Uuid)>, sqlx::Error> {
    db_run!(db, pool => sqlx::query_as(
        "SELECT s.account_id, s.workspace_id FROM sync_states s JOIN connected_accounts a ON a.id = s.account_id \
         WHERE s.resource = $1 AND a.status = 'active'",
    ).bind(resource).fetch_all(pool).await)
}

/// Takes (or renews) the account's lease for `holder` until `now + ttl`; false when another live holder
/// has it. A crashed holder's lease simply runs out.
pub async fn acquire(db: &Db, account: Uuid, resource: &str, holder: Uuid, ttl: Duration) -> Result<bool, sqlx::Error> {
    let now = Utc::now();
    let until = now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::seconds(60));
    let n = db_run!(db, pool => sqlx::query(
        "UPDATE sync_states SET locked_by = $3, locked_until = $4 WHERE account_id = $1 AND resource = $2 \
         AND (locked_by IS NULL OR locked_by = $3 OR locked_until IS NULL OR locked_until < $5)",
    ).bind(account).bind(resource).bind(holder).bind(until).bind(now).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// A lease a write must still hold: checked and extended inside the write's transaction, so an instance
/// whose lease ran out (a long pause, a slow page) and was taken over cannot write any more. The holder id
/// is the fencing token: a lease that ran out but that nobody took is still ours. On PostgreSQL the
/// renewal also locks the row until commit, so a takeover waits for the write to finish.
#[derive(Debug, Clone)]
pub struct LeaseGuard {
    pub account_id: Uuid,
    pub resource: &'static str,
    pub holder: Uuid,
    pub ttl: Duration,
}

impl LeaseGuard {
    /// Extends the lease if this holder still has it; false when it was lost.
    pub async fn renew(&self, conn: &mut switchboard_store::Conn<'_>, now: DateTime<Utc>) -> Result<bool, sqlx::Error> {
        let until = now + chrono::Duration::from_std(self.ttl).unwrap_or(chrono::Duration::seconds(60));
        let n = switchboard_store::conn_run!(conn, c => sqlx::query(
            "UPDATE sync_states SET locked_until = $4 WHERE account_id = $1 AND resource = $2 AND locked_by = $3",
        ).bind(self.account_id).bind(self.resource).bind(self.holder).bind(until)
        .execute(&mut **c).await.map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }
}

/// Gives the lease back.
pub async fn release(db: &Db, account: Uuid, resource: &str, holder: Uuid) -> Result<(), sqlx::Error> {
    db_run!(db, pool => sqlx::query(
        "UPDATE sync_states SET locked_by = NULL, locked_until = NULL \
         WHERE account_id = $1 AND resource = $2 AND locked_by = $3",
    ).bind(account).bind(resource).bind(holder).execute(pool).await.map(|_| ()))?;
    Ok(())
}

/// Starts (or keeps) a run: a full one when asked, when no token is stored, or when resuming a full run. A
/// run requested through the API already has its id.
pub async fn begin_run(db: &Db, state: &SyncState, full: bool) -> Result<(Uuid, bool, Option<String>), sqlx::Error> {
    if let (Some(run), Some(_)) = (state.run_id, state.run_started_at) {
        // Resume where the stopped run was: its page token (if Google still accepts it) and its kind.
        return Ok((run, state.run_full, state.run_page_token.clone()));
    }
    let run = state.run_id.unwrap_or_else(Uuid::now_v7);
    let full = full || state.full_requested || state.sync_token.is_none();
    let now = Utc::now();
    db_run!(db, pool => sqlx::query(
        "UPDATE sync_states SET run_id = $2, run_full = $3, run_page_token = NULL, run_started_at = $4, \
         status = 'syncing', updated_at = $4 WHERE account_id = $1 AND resource = 'people'",
    ).bind(state.account_id).bind(run).bind(full).bind(now).execute(pool).await.map(|_| ()))?;
    Ok((run, full, None))
}

/// Records the page a run continues from once the previous page is committed.
pub async fn save_page(db: &Db, account: Uuid, page_token: Option<&str>) -> Result<(), sqlx::Error> {
    db_run!(db, pool => sqlx::query(
        "UPDATE sync_states SET run_page_token = $2, updated_at = $3 WHERE account_id = $1 AND resource = 'people'",
    ).bind(account).bind(page_token).bind(Utc::now()).execute(pool).await.map(|_| ()))?;
    Ok(())
}

/// Ends the run: stores the new sync token (only now, after every page is committed), the counts, and when
/// to run next.
pub async fn finish_run(
    db: &Db,
    account: Uuid,
    full: bool,
    sync_token: Option<&str>,
    counts: &Counts,
    next_run: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let now = Utc::now();
    let (full_at, incremental_at) = if full { (Some(now), None) } else { (None, Some(now)) };
    db_run!(db, pool => sqlx::query(
        "UPDATE sync_states SET sync_token = COALESCE($2, sync_token), run_id = NULL, run_full = $8, \
         run_page_token = NULL, run_started_at = NULL, full_requested = $8, status = 'idle', last_error = NULL, \
         counts = $3, last_full_sync_at = COALESCE($4, last_full_sync_at), \
         last_incremental_sync_at = COALESCE($5, last_incremental_sync_at), next_run_at = $6, updated_at = $7 \
         WHERE account_id = $1 AND resource = 'people'",
    ).bind(account).bind(sync_token).bind(Json(counts)).bind(full_at).bind(incremental_at).bind(next_run).bind(now)
    .bind(false).execute(pool).await.map(|_| ()))?;
    Ok(())
}

/// The stored token is no longer valid: the run restarts as a full sync with reconcile.
pub async fn restart_full(db: &Db, account: Uuid) -> Result<(), sqlx::Error> {
    db_run!(db, pool => sqlx::query(
        "UPDATE sync_states SET sync_token = NULL, run_id = NULL, run_full = $2, run_page_token = NULL, \
         run_started_at = NULL, full_requested = $3, updated_at = $4 WHERE account_id = $1 AND resource = 'people'",
    ).bind(account).bind(false).bind(true).bind(Utc::now()).execute(pool).await.map(|_| ()))?;
    Ok(())
}

/// A run failed: the error is shown and the account retried at `next_run`. The run (and its page) is kept
/// so the retry resumes it.
pub async fn fail_run(
    db: &Db,
    account: Uuid,
    message: &str,
    counts: &Counts,
    next_run: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    db_run!(db, pool => sqlx::query(
        "UPDATE sync_states SET status = 'error', last_error = $2, counts = $3, next_run_at = $4, updated_at = $5 \
         WHERE account_id = $1 AND resource = 'people'",
    ).bind(account).bind(message).bind(Json(counts)).bind(next_run).bind(Utc::now()).execute(pool).await.map(|_| ()))?;
    Ok(())
}

/// Asks for a run now (optionally a full one); returns its id (the one in progress, if any).
pub async fn request_run(db: &Db, account: Uuid, full: bool) -> Result<Option<Uuid>, sqlx::Error> {
    let now = Utc::now();
    db_run!(db, pool => sqlx::query_scalar(
        "UPDATE sync_states SET next_run_at = $2, full_requested = (full_requested OR $3), \
         run_id = COALESCE(run_id, $4), status = CASE WHEN status = 'error' THEN 'idle' ELSE status END, \
         updated_at = $2 WHERE account_id = $1 AND resource = 'people' \
         RETURNING run_id",
    ).bind(account).bind(now).bind(full).bind(Uuid::now_v7()).fetch_optional(pool).await)
}

/// Moves the outbound cursor and stores the counts.
pub async fn save_outbound(db: &Db, account: Uuid, version: i64, counts: &Counts) -> Result<(), sqlx::Error> {
    db_run!(db, pool => sqlx::query(
        "UPDATE sync_states SET outbound_version = $2, counts = $3, updated_at = $4 \
         WHERE account_id = $1 AND resource = 'people'",
    ).bind(account).bind(version).bind(Json(counts)).bind(Utc::now()).execute(pool).await.map(|_| ()))?;
    Ok(())
}
