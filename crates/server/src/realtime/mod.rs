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
use crate::sync::devices;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use crate::sync::devices::DeviceKey;

/// This instance's open device sockets.
#[derive(Default)]
pub struct Connections {
    registry: Mutex<Registry>,
    changed: Notify,
}

#[derive(Default)]
struct Registry {
    counts: HashMap<DeviceKey, i64>,
    /// Devices whose count changed since the heartbeat last took them.
    unwritten: HashSet<DeviceKey>,
}

impl Connections {
    /// A socket of this device opened.
    pub fn open(&self, key: DeviceKey) {
        let mut registry = self.registry.lock().expect("connections lock");
        *registry.counts.entry(key.clone()).or_insert(0) += 1;
        registry.unwritten.insert(key);
        drop(registry);
        self.changed.notify_one();
    }

    /// A socket of this device closed.
    pub fn close(&self, key: &DeviceKey) {
        let mut registry = self.registry.lock().expect("connections lock");
        if let Some(n) = registry.counts.get_mut(key) {
            *n -= 1;
            if *n <= 0 {
                registry.counts.remove(key);
            }
            registry.unwritten.insert(key.clone());
        }
        drop(registry);
        self.changed.notify_one();
    }

    /// The devices changed since the last call with their counts (0: no socket left), and how many devices
    /// have sockets now.
    fn take_changes(&self) -> (Vec<(DeviceKey, i64)>, usize) {
        let mut registry = self.registry.lock().expect("connections lock");
        let changed = std::mem::take(&mut registry.unwritten);
        let changes = changed.into_iter().map(|k| {
            let n = registry.counts.get(&k).copied().unwrap_or(0);
            (k, n)
        });
        (changes.collect(), registry.counts.len())
    }

    /// Every device with sockets, counting as taken: what a full rewrite writes.
    fn take_all(&self) -> HashMap<DeviceKey, i64> {
        let mut registry = self.registry.lock().expect("connections lock");
        registry.unwritten.clear();
        registry.counts.clone()
    }
}

/// Keeps this instance's rows in `device_connections` current until `stop`, then removes them: each connect
/// or disconnect writes its device (debounced, so a reconnect storm is a few writes), every heartbeat pushes
/// the rows' expiry out, and the rows are rewritten whole at start, after a failed write (retried every
/// second), and when some expired meanwhile (e.g. the instance was stalled for three heartbeats).
pub async fn heartbeat(state: AppState, stop: CancellationToken) {
    const RETRY: Duration = Duration::from_secs(1);
    let interval = state.config.device_heartbeat_interval;
    let (db, instance, connections) = (&state.db, state.instance_id, &state.connections);
    let mut rewrite = true;
    // Renewals keep to the interval however often devices come and go in between.
    let mut next_renewal = Instant::now();
    loop {
        let renew = Instant::now() >= next_renewal;
        let written = if rewrite {
            devices::replace_connections(db, instance, &connections.take_all(), interval).await.map(|()| true)
        } else {
            let (changes, live) = connections.take_changes();
            devices::update_connections(db, instance, &changes, renew.then_some(live), interval).await
        };
        rewrite = match written {
            Ok(complete) => {
                if complete && (renew || rewrite) {
                    next_renewal = Instant::now() + interval;
                }
                !complete
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not record connected devices; will retry");
                true
            }
        };
        let wake = if rewrite { Instant::now() + RETRY } else { next_renewal };
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep_until(wake) => {}
            _ = connections.changed.notified(), if !rewrite => {
                // Let a burst of connects (a reconnect storm) settle into one write.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    if let Err(e) = devices::forget_instance(db, instance).await {
        tracing::warn!(error = %e, "could not clear connected devices at shutdown");
    }
}
