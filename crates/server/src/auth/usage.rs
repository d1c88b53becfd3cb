//! "Last used" of API keys, "last seen" of agents and devices, and per-device sync statistics: recorded in
//! memory on the request path and written in one transaction every few seconds, so that a read request
//! never waits on a write (ARCHITECTURE §4, "hot paths do not write").

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use std::collections::HashMap;
use std::sync::Mutex;
use switchboard_domain::{AgentId, ApiKeyId, DeviceId, WorkspaceId};
use switchboard_store::{Db, tx_run};

/// What happened to one device since the last flush.
#[derive(Debug, Clone, Copy)]
struct DeviceUsage {
    seen: DateTime<Utc>,
    /// The version the device's last delta page took it to, and when.
    synced: Option<(i64, DateTime<Utc>)>,
    /// Changes served to it.
    served: i64,
}

impl DeviceUsage {
    fn merge(&mut self, newer: DeviceUsage) {
        self.seen = self.seen.max(newer.seen);
        if let Some((v, at)) = newer.synced
            && self.synced.is_none_or(|(_, old)| old <= at)
        {
            self.synced = Some((v, at));
        }
        self.served += newer.served;
    }
}

type DeviceKey = (WorkspaceId, AgentId, String);

#[derive(Default)]
struct Pending {
    keys: HashMap<ApiKeyId, DateTime<Utc>>,
    agents: HashMap<AgentId, DateTime<Utc>>,
    devices: HashMap<DeviceKey, DeviceUsage>,
    /// Syncs and changes served per workspace and minute.
    activity: HashMap<(WorkspaceId, DateTime<Utc>), (i64, i64)>,
}

/// Collects usage until the next flush.
#[derive(Default)]
pub struct UsageTracker {
    pending: Mutex<Pending>,
}

impl UsageTracker {
    /// Records that an API key was used now.
    pub fn touch_key(&self, id: ApiKeyId) {
        self.pending.lock().expect("usage lock").keys.insert(id, Utc::now());
    }

    /// Records that an agent (and optionally one of its devices) was seen now.
    pub fn touch_agent(&self, workspace: WorkspaceId, agent: AgentId, device: Option<&str>) {
        let now = Utc::now();
        let mut p = self.pending.lock().expect("usage lock");
        p.agents.insert(agent, now);
        if let Some(device) = device {
            let usage = DeviceUsage { seen: now, synced: None, served: 0 };
            p.devices.entry((workspace, agent, device.to_owned())).and_modify(|u| u.merge(usage)).or_insert(usage);
        }
    }

    /// Records a delta page served: the workspace's activity, and the device's cursor when an agent's
    /// device asked.
    pub fn record_sync(&self, workspace: WorkspaceId, device: Option<(AgentId, &str)>, version: i64, changes: i64) {
        let now = Utc::now();
        let minute = now.duration_trunc(TimeDelta::minutes(1)).unwrap_or(now);
        let mut p = self.pending.lock().expect("usage lock");
        let bucket = p.activity.entry((workspace, minute)).or_insert((0, 0));
        bucket.0 += 1;
        bucket.1 += changes;
        if let Some((agent, device)) = device {
            let usage = DeviceUsage { seen: now, synced: Some((version, now)), served: changes };
            p.devices.entry((workspace, agent, device.to_owned())).and_modify(|u| u.merge(usage)).or_insert(usage);
        }
    }

    /// Writes everything recorded since the last flush. Devices seen for the first time are registered.
    /// On failure what was not written is put back (merged with what arrived meanwhile), so nothing is lost
    /// to a database hiccup.
    pub async fn flush(&self, db: &Db) -> Result<usize, sqlx::Error> {
        let mut batch = std::mem::take(&mut *self.pending.lock().expect("usage lock"));
        let count = batch.keys.len() + batch.agents.len() + batch.devices.len() + batch.activity.len();
        if count == 0 {
            return Ok(0);
        }
        // Devices in transactions of their own, a chunk at a time with a pause in between: after a reconnect
        // storm there are thousands, and writing them at once would hold SQLite's write lock (the whole
        // database's) and both cores long enough to stall the contact writes and realtime events behind it.
        let devices: Vec<(DeviceKey, DeviceUsage)> = std::mem::take(&mut batch.devices).into_iter().collect();
        let mut written = 0;
        let mut result = write(db, &batch, &[]).await;
        if result.is_ok() {
            batch = Pending::default();
            for (i, chunk) in devices.chunks(DEVICES_PER_TRANSACTION).enumerate() {
                if i > 0 {
                    tokio::time::sleep(PAUSE_BETWEEN_TRANSACTIONS).await;
                }
                result = write(db, &batch, chunk).await;
                if result.is_err() {
                    break;
                }
                written += chunk.len();
            }
        }
        let Err(err) = result else { return Ok(count) };
        batch.devices = devices.into_iter().skip(written).collect();
        self.put_back(batch);
        Err(err)
    }

    /// Merges an unwritten batch into what arrived since it was taken.
    fn put_back(&self, batch: Pending) {
        let mut p = self.pending.lock().expect("usage lock");
        for (k, t) in batch.keys {
            p.keys.entry(k).or_insert(t);
        }
        for (k, t) in batch.agents {
            p.agents.entry(k).or_insert(t);
        }
        for (k, u) in batch.devices {
            p.devices.entry(k).and_modify(|now| now.merge(u)).or_insert(u);
        }
        for (k, (s, c)) in batch.activity {
            let b = p.activity.entry(k).or_insert((0, 0));
            b.0 += s;
            b.1 += c;
        }
    }
}

/// Devices written per transaction and statement.
const DEVICES_PER_TRANSACTION: usize = 500;
/// Between two device transactions of one flush: about what one takes, so a large flush uses at most about
/// half a core and foreground work goes first.
const PAUSE_BETWEEN_TRANSACTIONS: std::time::Duration = std::time::Duration::from_millis(10);

/// Writes the keys, agents and activity of `batch` and `devices`, in one transaction.
async fn write(db: &Db, batch: &Pending, devices: &[(DeviceKey, DeviceUsage)]) -> Result<(), sqlx::Error> {
    if batch.keys.is_empty() && batch.agents.is_empty() && batch.activity.is_empty() && devices.is_empty() {
        return Ok(());
    }
    let backend = db.backend();
    let mut tx = db.begin().await?;
    tx_run!(&mut tx, conn => {
        for (id, at) in &batch.keys {
            sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)")
                .bind(at).bind(id.0).execute(&mut **conn).await?;
        }
        for (id, at) in &batch.agents {
            sqlx::query("UPDATE agents SET last_seen_at = $1 WHERE id = $2 AND (last_seen_at IS NULL OR last_seen_at < $1)")
                .bind(at).bind(id.0).execute(&mut **conn).await?;
        }
        // All of them in one statement (the caller passes at most `DEVICES_PER_TRANSACTION`): one statement per
        // device made a reconnect storm thousands of statements.
        if !devices.is_empty() {
            let sql = format!(
                "INSERT INTO devices (id, workspace_id, agent_id, device_id, last_seen_at, created_at, \
                 last_sync_version, last_sync_at, sync_status, changes_count) VALUES {} \
                 ON CONFLICT (workspace_id, agent_id, device_id) DO UPDATE SET \
                 last_seen_at = excluded.last_seen_at, \
                 last_sync_version = CASE WHEN excluded.last_sync_at IS NULL THEN devices.last_sync_version \
                     ELSE excluded.last_sync_version END, \
                 last_sync_at = COALESCE(excluded.last_sync_at, devices.last_sync_at), \
                 sync_status = COALESCE(excluded.sync_status, devices.sync_status), \
                 changes_count = devices.changes_count + excluded.changes_count",
                switchboard_store::value_rows(backend, devices.len(), 10)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for ((workspace, agent, device), u) in devices {
                let (version, synced_at) = match u.synced {
                    Some((v, at)) => (v, Some(at)),
                    None => (0, None),
                };
                q = q.bind(DeviceId::new().0).bind(workspace.0).bind(agent.0).bind(device.as_str()).bind(u.seen)
                    .bind(u.seen).bind(version).bind(synced_at).bind(synced_at.map(|_| "ok")).bind(u.served);
            }
            q.execute(&mut **conn).await?;
        }
        for ((workspace, minute), (syncs, changes)) in &batch.activity {
            sqlx::query(
                "INSERT INTO sync_activity (workspace_id, minute, syncs, changes) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (workspace_id, minute) DO UPDATE SET syncs = sync_activity.syncs + excluded.syncs, \
                 changes = sync_activity.changes + excluded.changes",
            )
            .bind(workspace.0).bind(minute).bind(syncs).bind(changes)
            .execute(&mut **conn).await?;
        }
        Ok::<(), sqlx::Error>(())
    })?;
    tx.commit().await
}
