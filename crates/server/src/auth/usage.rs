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
    /// On failure the batch is put back (merged with what arrived meanwhile), so nothing is lost to a
    /// database hiccup.
    pub async fn flush(&self, db: &Db) -> Result<usize, sqlx::Error> {
        let batch = std::mem::take(&mut *self.pending.lock().expect("usage lock"));
        let count = batch.keys.len() + batch.agents.len() + batch.devices.len() + batch.activity.len();
        if count == 0 {
            return Ok(0);
        }
        match write(db, &batch).await {
            Ok(()) => Ok(count),
            Err(err) => {
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
                Err(err)
            }
        }
    }
}

async fn write(db: &Db, batch: &Pending) -> Result<(), sqlx::Error> {
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
        for ((workspace, agent, device), u) in &batch.devices {
            let (version, synced_at) = match u.synced {
                Some((v, at)) => (Some(v), Some(at)),
                None => (None, None),
            };
            sqlx::query(
                "INSERT INTO devices (id, workspace_id, agent_id, device_id, last_seen_at, created_at, \
                 last_sync_version, last_sync_at, sync_status, changes_count) \
                 VALUES ($1, $2, $3, $4, $5, $5, COALESCE($6, 0), $7, $8, $9) \
                 ON CONFLICT (workspace_id, agent_id, device_id) DO UPDATE SET \
                 last_seen_at = excluded.last_seen_at, \
                 last_sync_version = CASE WHEN excluded.last_sync_at IS NULL THEN devices.last_sync_version \
                     ELSE excluded.last_sync_version END, \
                 last_sync_at = COALESCE(excluded.last_sync_at, devices.last_sync_at), \
                 sync_status = COALESCE(excluded.sync_status, devices.sync_status), \
                 changes_count = devices.changes_count + excluded.changes_count",
            )
            .bind(DeviceId::new().0).bind(workspace.0).bind(agent.0).bind(device).bind(u.seen)
            .bind(version).bind(synced_at).bind(synced_at.map(|_| "ok")).bind(u.served)
            .execute(&mut **conn).await?;
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
