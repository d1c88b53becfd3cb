//! Realtime delivery of the change feed to clients: Socket.IO (`socket`, for the agent apps) and
//! Server-Sent Events (`sse`, for browsers and scripts). Both consume the changes this instance publishes
//! (its writer's own at once, everything else through the feed tailer; `crate::feed::recent`), so a change
//! made through any instance reaches every client on every instance.
//!
//! `Connections` counts this instance's open device sockets; a heartbeat task writes them to
//! `device_connections` so "connected now" is visible from every instance and expires with a crashed one.

pub mod socket;
pub mod sse;

use crate::state::AppState;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use switchboard_domain::{AgentId, WorkspaceId};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// A device as the connection registry knows it.
pub type DeviceKey = (WorkspaceId, AgentId, String);

/// This instance's open device sockets.
#[derive(Default)]
pub struct Connections {
    counts: Mutex<HashMap<DeviceKey, i64>>,
    changed: Notify,
}

impl Connections {
    /// A socket of this device opened.
    pub fn open(&self, key: DeviceKey) {
        *self.counts.lock().expect("connections lock").entry(key).or_insert(0) += 1;
        self.changed.notify_one();
    }

    /// A socket of this device closed.
    pub fn close(&self, key: &DeviceKey) {
        let mut counts = self.counts.lock().expect("connections lock");
        if let Some(n) = counts.get_mut(key) {
            *n -= 1;
            if *n <= 0 {
                counts.remove(key);
            }
        }
        drop(counts);
        self.changed.notify_one();
    }

    fn snapshot(&self) -> HashMap<DeviceKey, i64> {
        self.counts.lock().expect("connections lock").clone()
    }
}

/// Writes this instance's connections on every change (debounced) and every heartbeat, until `stop`;
/// then removes them.
pub async fn heartbeat(state: AppState, stop: CancellationToken) {
    let interval = state.config.device_heartbeat_interval;
    loop {
        let snapshot = state.connections.snapshot();
        if let Err(e) = crate::sync::devices::heartbeat(&state.db, state.instance_id, &snapshot, interval).await {
            tracing::warn!(error = %e, "could not record connected devices; will retry");
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(interval) => {}
            _ = state.connections.changed.notified() => {
                // Let a burst of connects (a reconnect storm) settle into one write.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    if let Err(e) = crate::sync::devices::forget_instance(&state.db, state.instance_id).await {
        tracing::warn!(error = %e, "could not clear connected devices at shutdown");
    }
}
