//! What the workspace knows about its devices (seed-001's `device_status` and `sync_statistics` views),
//! and the per-instance "connected now" rows kept fresh by a heartbeat.

use crate::error::AppError;
use crate::pagination::{Keyed, Page, PageRequest};
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use serde::Serialize;
use std::collections::HashMap;
use std::time::Duration;
use switchboard_domain::{AgentId, WorkspaceId};
use switchboard_store::{Conn, Db, conn_run, db_run};
use uuid::Uuid;

/// A device as `GET /api/v1/devices` shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeviceStatus {
    /// Row id.
    pub id: Uuid,
    /// The agent the device belongs to.
    pub agent_code: String,
    /// The agent's name.
    pub agent_name: String,
    /// The id the device reports (`X-Device-Id`, or `device_id` in the Socket.IO handshake).
    pub device_id: String,
    /// Whether a Socket.IO connection of this device is open on any instance now.
    pub connected: bool,
    /// Last request or connection.
    pub last_seen_at: DateTime<Utc>,
    /// The version its last delta page took it to.
    pub last_sync_version: i64,
    /// When it last synced.
    pub last_sync_at: Option<DateTime<Utc>>,
    /// `ok` after a successful sync.
    pub sync_status: Option<String>,
    /// Changes served to it in total.
    pub changes_count: i64,
    /// How far behind the workspace version it is.
    pub versions_behind: i64,
    /// More than the configured threshold (default 100) behind.
    pub outdated: bool,
}

#[derive(sqlx::FromRow)]
struct DeviceRow {
    id: Uuid,
    agent_code: String,
    agent_name: String,
    device_id: String,
    last_seen_at: DateTime<Utc>,
    last_sync_version: i64,
    last_sync_at: Option<DateTime<Utc>>,
    sync_status: Option<String>,
    changes_count: i64,
    connections: i64,
}

impl Keyed for DeviceStatus {
    fn key(&self) -> Uuid {
        self.id
    }
}

/// One page of the workspace's devices.
pub async fn list(
    db: &Db,
    ws: WorkspaceId,
    page: &PageRequest,
    path: &str,
    threshold: i64,
) -> Result<Page<DeviceStatus>, AppError> {
    let (cond, order) = page.clauses("d.id", 4);
    let sql = format!(
        "SELECT d.id, a.code AS agent_code, a.name AS agent_name, d.device_id, d.last_seen_at, d.last_sync_version, \
         d.last_sync_at, d.sync_status, d.changes_count, \
         CAST(COALESCE((SELECT SUM(c.connections) FROM device_connections c WHERE c.agent_id = d.agent_id \
             AND c.device_id = d.device_id AND c.expires_at > $2), 0) AS BIGINT) AS connections \
         FROM devices d JOIN agents a ON a.id = d.agent_id WHERE d.workspace_id = $1 AND {cond} \
         ORDER BY {order} LIMIT $3"
    );
    let now = Utc::now();
    let (rows, version): (Vec<DeviceRow>, i64) = db_run!(db, pool => {
        let q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(ws.0).bind(now).bind(page.fetch_limit());
        let rows = match page.cursor() { Some(c) => q.bind(c), None => q }.fetch_all(pool).await?;
        let version = sqlx::query_scalar("SELECT version FROM workspaces WHERE id = $1").bind(ws.0).fetch_one(pool).await?;
        (rows, version)
    });
    let devices = rows
        .into_iter()
        .map(|r| {
            let behind = (version - r.last_sync_version).max(0);
            DeviceStatus {
                id: r.id,
                agent_code: r.agent_code,
                agent_name: r.agent_name,
                device_id: r.device_id,
                connected: r.connections > 0,
                last_seen_at: r.last_seen_at,
                last_sync_version: r.last_sync_version,
                last_sync_at: r.last_sync_at,
                sync_status: r.sync_status,
                changes_count: r.changes_count,
                versions_behind: behind,
                outdated: behind > threshold,
            }
        })
        .collect();
    Ok(page.finish(devices, |d| d.id, path))
}

/// `GET /api/v1/sync/stats`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SyncStats {
    /// The workspace version.
    pub current_version: i64,
    /// Contacts not deleted.
    pub active_contacts: i64,
    /// Devices ever seen.
    pub devices_total: i64,
    /// Devices with an open Socket.IO connection now.
    pub devices_connected: i64,
    /// Devices more than the threshold behind.
    pub devices_outdated: i64,
    /// Delta pages served in the last hour.
    pub syncs_last_hour: i64,
    /// Delta pages served in the last 24 hours.
    pub syncs_last_day: i64,
    /// Changes (contacts) served by delta pages in the last 24 hours.
    pub changes_served_last_day: i64,
    /// Changes served since the workspace began.
    pub changes_served_total: i64,
}

/// Computes the workspace's sync statistics.
pub async fn stats(db: &Db, ws: WorkspaceId, threshold: i64) -> Result<SyncStats, AppError> {
    let now = Utc::now();
    let (hour, day) = (now - ChronoDuration::hours(1), now - ChronoDuration::days(1));
    let stats = db_run!(db, pool => {
        let (current_version,): (i64,) =
            sqlx::query_as("SELECT version FROM workspaces WHERE id = $1").bind(ws.0).fetch_one(pool).await?;
        let active_contacts: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM contacts WHERE workspace_id = $1 AND deleted_at IS NULL",
        ).bind(ws.0).fetch_one(pool).await?;
        let (devices_total, devices_outdated): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), CAST(COALESCE(SUM(CASE WHEN last_sync_version < $2 THEN 1 ELSE 0 END), 0) AS BIGINT) \
             FROM devices WHERE workspace_id = $1",
        ).bind(ws.0).bind(current_version - threshold).fetch_one(pool).await?;
        let devices_connected: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT agent_id, device_id FROM device_connections \
             WHERE workspace_id = $1 AND expires_at > $2 AND connections > 0 GROUP BY agent_id, device_id) t",
        ).bind(ws.0).bind(now).fetch_one(pool).await?;
        let (syncs_last_hour, syncs_last_day, changes_served_last_day, changes_served_total): (i64, i64, i64, i64) =
            sqlx::query_as(
                "SELECT CAST(COALESCE(SUM(CASE WHEN minute >= $2 THEN syncs ELSE 0 END), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(CASE WHEN minute >= $3 THEN syncs ELSE 0 END), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(CASE WHEN minute >= $3 THEN changes ELSE 0 END), 0) AS BIGINT), \
                 CAST(COALESCE(SUM(changes), 0) AS BIGINT) FROM sync_activity WHERE workspace_id = $1",
            ).bind(ws.0).bind(hour).bind(day).fetch_one(pool).await?;
        Ok::<SyncStats, sqlx::Error>(SyncStats {
            current_version,
            active_contacts,
            devices_total,
            devices_connected,
            devices_outdated,
            syncs_last_hour,
            syncs_last_day,
            changes_served_last_day,
            changes_served_total,
        })
    })?;
    Ok(stats)
}

/// Replaces this instance's "connected now" rows with `counts` (devices with open sockets), valid for three
/// heartbeats, and removes expired rows of every instance: rows of a crashed instance simply expire.
pub async fn replace_connections(
    db: &Db,
    instance: Uuid,
    counts: &HashMap<DeviceKey, i64>,
    interval: Duration,
) -> Result<(), sqlx::Error> {
    let now = Utc::now();
    let expires = expiry(now, interval);
    let rows: Vec<(&DeviceKey, i64)> = counts.iter().filter(|(_, n)| **n > 0).map(|(k, n)| (k, *n)).collect();
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    conn_run!(&mut conn, c => sqlx::query("DELETE FROM device_connections WHERE instance_id = $1 OR expires_at <= $2")
        .bind(instance).bind(now).execute(&mut **c).await.map(|r| r.rows_affected()))?;
    insert_connections(&mut conn, instance, &rows, expires).await?;
    tx.commit().await
}

/// Writes the devices whose socket counts changed (`changes`, 0 when none is left) and, with `renew` (the
/// number of devices with open sockets), pushes the expiry of all this instance's rows out and removes
/// expired rows of every instance. Returns `false` when `renew` does not match the rows this instance has
/// (some expired while it was stalled): the caller then replaces them all.
///
/// A connect or disconnect writes only its device: with thousands of sockets, rewriting every row on each
/// change made a reconnect storm cost thousands of rows per device.
pub async fn update_connections(
    db: &Db,
    instance: Uuid,
    changes: &[(DeviceKey, i64)],
    renew: Option<usize>,
    interval: Duration,
) -> Result<bool, sqlx::Error> {
    let now = Utc::now();
    let expires = expiry(now, interval);
    let (open, closed): (Vec<_>, Vec<_>) = changes.iter().map(|(k, n)| (k, *n)).partition(|(_, n)| *n > 0);
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    let backend = conn.backend();
    for chunk in closed.chunks(500) {
        let devices: Vec<String> = (0..chunk.len())
            .map(|i| {
                format!("(agent_id = {} AND device_id = {})", param(backend, 2 * i + 2), param(backend, 2 * i + 3))
            })
            .collect();
        let sql = format!(
            "DELETE FROM device_connections WHERE instance_id = {} AND ({})",
            param(backend, 1),
            devices.join(" OR ")
        );
        conn_run!(&mut conn, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(instance);
            for ((_, agent, device), _) in chunk {
                q = q.bind(agent.0).bind(device.as_str());
            }
            q.execute(&mut **c).await.map(|r| r.rows_affected())
        })?;
    }
    insert_connections(&mut conn, instance, &open, expires).await?;
    let complete = match renew {
        None => true,
        Some(live) => {
            conn_run!(&mut conn, c => sqlx::query(
                "DELETE FROM device_connections WHERE instance_id <> $1 AND expires_at <= $2",
            ).bind(instance).bind(now).execute(&mut **c).await.map(|r| r.rows_affected()))?;
            let renewed = conn_run!(&mut conn, c => sqlx::query(
                "UPDATE device_connections SET expires_at = $2 WHERE instance_id = $1",
            ).bind(instance).bind(expires).execute(&mut **c).await.map(|r| r.rows_affected()))?;
            renewed == live as u64
        }
    };
    tx.commit().await?;
    Ok(complete)
}

/// A device as the connection registry knows it.
pub type DeviceKey = (WorkspaceId, AgentId, String);

/// Rows written now stay valid for three heartbeats.
fn expiry(now: DateTime<Utc>, interval: Duration) -> DateTime<Utc> {
    now + ChronoDuration::from_std(interval * 3).unwrap_or(ChronoDuration::seconds(45))
}

/// The `n`th parameter's placeholder (1-based); SQLite's are positional (`?`, see `switchboard_store::value_rows`).
fn param(backend: switchboard_store::Backend, n: usize) -> String {
    switchboard_store::placeholders(backend, n, 1)
}

/// Inserts (or overwrites) this instance's rows of `rows`, many per statement: thousands of sockets must not
/// mean thousands of statements.
async fn insert_connections(
    conn: &mut Conn<'_>,
    instance: Uuid,
    rows: &[(&DeviceKey, i64)],
    expires: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let backend = conn.backend();
    for chunk in rows.chunks(500) {
        let values = switchboard_store::value_rows(backend, chunk.len(), 6);
        let sql = format!(
            "INSERT INTO device_connections (workspace_id, agent_id, device_id, instance_id, connections, expires_at) \
             VALUES {values} ON CONFLICT (agent_id, device_id, instance_id) \
             DO UPDATE SET connections = excluded.connections, expires_at = excluded.expires_at"
        );
        conn_run!(conn, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for ((ws, agent, device), n) in chunk {
                q = q.bind(ws.0).bind(agent.0).bind(device.as_str()).bind(instance).bind(*n as i32).bind(expires);
            }
            q.execute(&mut **c).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}

/// Removes this instance's rows at shutdown.
pub async fn forget_instance(db: &Db, instance: Uuid) -> Result<(), sqlx::Error> {
    db_run!(db, pool => sqlx::query("DELETE FROM device_connections WHERE instance_id = $1")
        .bind(instance).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}
