//! "Last used" of API keys and "last seen" of agents and devices: recorded in memory on the request path
//! and written in one transaction every few seconds, so that a read request never waits on a write.

use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Mutex;
use switchboard_domain::{AgentId, ApiKeyId, DeviceId, WorkspaceId};
use switchboard_store::{Db, tx_run};

#[derive(Default)]
struct Pending {
    keys: HashMap<ApiKeyId, DateTime<Utc>>,
    agents: HashMap<AgentId, DateTime<Utc>>,
    devices: HashMap<(WorkspaceId, AgentId, String), DateTime<Utc>>,
}

/// Collects usage timestamps until the next flush.
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
            p.devices.insert((workspace, agent, device.to_owned()), now);
        }
    }

    /// Writes everything recorded since the last flush. Devices seen for the first time are registered.
    /// On failure the batch is put back (newer times win), so nothing is lost to a database hiccup.
    pub async fn flush(&self, db: &Db) -> Result<usize, sqlx::Error> {
        let batch = std::mem::take(&mut *self.pending.lock().expect("usage lock"));
        let count = batch.keys.len() + batch.agents.len() + batch.devices.len();
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
                for (k, t) in batch.devices {
                    p.devices.entry(k).or_insert(t);
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
        for ((workspace, agent, device), at) in &batch.devices {
            sqlx::query(
                "INSERT INTO devices (id, workspace_id, agent_id, device_id, last_seen_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $5) \
                 ON CONFLICT (workspace_id, agent_id, device_id) DO UPDATE SET last_seen_at = excluded.last_seen_at",
            )
            .bind(DeviceId::new().0).bind(workspace.0).bind(agent.0).bind(device).bind(at)
            .execute(&mut **conn).await?;
        }
        Ok::<(), sqlx::Error>(())
    })?;
    tx.commit().await
}
