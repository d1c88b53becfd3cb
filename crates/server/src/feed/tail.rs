//! Each instance follows the change feed and hands new changes to its local consumers (Socket.IO rooms,
//! SSE streams) over an in-process broadcast channel (ARCHITECTURE §4). Changes this instance's writer
//! committed are published by the writer itself (`recent`); the tailer reads the rest.
//!
//! The tailer wakes on this instance's commits it must publish, on PostgreSQL `NOTIFY switchboard_changes` from every
//! instance, and on a periodic poll as the safety net, then reads `changes` after its cursor per workspace.
//! Because versions become visible in commit order, "after the cursor" never skips a change, so every
//! instance sees every change exactly once, whichever instance wrote it.

use super::{Change, ChangeOp};
use crate::contacts::{Contact, store};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use switchboard_domain::WorkspaceId;
use switchboard_store::{Db, db_run};
use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// A committed change, ready for realtime consumers.
#[derive(Debug, Clone)]
pub struct FeedEvent {
    /// The workspace.
    pub workspace: WorkspaceId,
    /// The version of this change.
    pub version: i64,
    /// What happened.
    pub op: ChangeOp,
    /// The contact's state now (a tombstone for deletes).
    pub contact: Arc<Contact>,
    /// Who made the change: agent code or user email.
    pub author: String,
    /// The device that made it, which its pushes skip.
    pub device: Option<String>,
    /// Where it came from.
    pub origin: String,
    /// The contact in the agent API's flat shape, serialised the first time a delta page needs it
    /// ([`FeedEvent::flat_json`]).
    pub flat: std::sync::OnceLock<Option<Box<serde_json::value::RawValue>>>,
    /// The event's Server-Sent Events data, made the first time a stream sends it ([`FeedEvent::sse_data`]).
    pub sse: std::sync::OnceLock<String>,
}

impl FeedEvent {
    /// The contact in the agent API's flat shape as JSON, serialised once: every device's delta page that
    /// includes this change answers with the same bytes (`None` if it could not be serialised, never
    /// expected: the caller then serialises the contact itself).
    pub fn flat_json(&self) -> Option<&serde_json::value::RawValue> {
        self.flat
            .get_or_init(|| serde_json::value::to_raw_value(&crate::contacts::agent::FlatView::of(&self.contact)).ok())
            .as_deref()
    }

    /// The `data` of this event on `/api/v1/events`, serialised once for every stream that sends it.
    pub fn sse_data(&self) -> &str {
        #[derive(serde::Serialize)]
        struct Data<'a> {
            contact: &'a Contact,
            version: i64,
            created_by: &'a str,
            origin: &'a str,
        }
        self.sse.get_or_init(|| {
            let data =
                Data { contact: &self.contact, version: self.version, created_by: &self.author, origin: &self.origin };
            serde_json::to_string(&data).unwrap_or_else(|e| {
                tracing::error!(error = %e, version = self.version, "cannot serialise a change for SSE");
                "{}".to_owned()
            })
        })
    }
}

/// The local fan-out point of the feed.
pub struct Feed {
    /// This process's id in the notifications its writers send, so its tailer can tell them from other
    /// instances' (its own commits are published by the writers themselves).
    pub instance: Uuid,
    /// Signalled when this instance's writer committed changes it could not publish itself.
    pub committed: Arc<Notify>,
    /// The latest changes per workspace, for delta pages answered from memory.
    pub recent: super::recent::Recent,
    events: broadcast::Sender<Arc<FeedEvent>>,
}

impl Default for Feed {
    fn default() -> Self {
        Self {
            instance: Uuid::new_v4(),
            committed: Arc::new(Notify::new()),
            recent: Default::default(),
            events: broadcast::channel(16_384).0,
        }
    }
}

impl Feed {
    /// Subscribes to committed changes from now on. A receiver that falls more than the channel's
    /// capacity behind gets `Lagged` and must catch up from the database.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<FeedEvent>> {
        self.events.subscribe()
    }

    /// This instance's writer committed versions `start + 1 ..= version`: publish them now when they follow
    /// on from what was published; otherwise wake the tailer to read and publish them.
    pub fn publish_committed(&self, ws: WorkspaceId, start: i64, version: i64, events: Vec<FeedEvent>) {
        if !self.recent.committed(ws, start, version, events, &self.events) {
            self.committed.notify_one();
        }
    }
}

/// Follows the feed until `stop`.
pub async fn run(db: Db, feed: Arc<Feed>, poll: Duration, stop: CancellationToken) {
    let mut cursors: HashMap<WorkspaceId, i64> = match versions(&db).await {
        Ok(v) => v.into_iter().map(|(ws, (version, _))| (ws, version)).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "feed tailer could not read workspace versions; starting from zero");
            HashMap::new()
        }
    };
    for (ws, version) in &cursors {
        feed.recent.reset(*ws, *version);
    }
    let mut listener = listen(&db).await;
    let mut tick = tokio::time::interval(poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = feed.committed.notified() => {}
            _ = tick.tick() => {}
            notified = next_notification(&mut listener) => match notified {
                // This instance's writer publishes its own commits (or signals `committed` when it cannot):
                // reading them back would only repeat them.
                Some(payload) if notifier(&payload) == Some(feed.instance) => continue,
                Some(_) => {}
                // The listening connection dropped: reconnect (the poll covers the gap).
                None => listener = listen(&db).await,
            }
        }
        if let Err(e) = catch_up(&db, &feed, &mut cursors).await {
            tracing::warn!(error = %e, "feed tailer could not read new changes; will retry");
        }
    }
}

async fn listen(db: &Db) -> Option<sqlx::postgres::PgListener> {
    let Db::Postgres(pool) = db else { return None };
    let mut listener = match sqlx::postgres::PgListener::connect_with(pool).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(error = %e, "cannot LISTEN for changes; relying on polling");
            return None;
        }
    };
    match listener.listen("switchboard_changes").await {
        Ok(()) => Some(listener),
        Err(e) => {
            tracing::warn!(error = %e, "cannot LISTEN for changes; relying on polling");
            None
        }
    }
}

/// The payload a writer sends with each commit (`NOTIFY` is transactional: delivered at commit, never before).
pub fn notification(ws: WorkspaceId, version: i64, instance: Uuid) -> String {
    format!("{}:{version}:{instance}", ws.0)
}

/// The instance that sent a notification.
fn notifier(payload: &str) -> Option<Uuid> {
    payload.rsplit(':').next()?.parse().ok()
}

/// Waits for a notification and returns its payload; `None` when the connection failed. Never resolves
/// without a listener.
async fn next_notification(listener: &mut Option<sqlx::postgres::PgListener>) -> Option<String> {
    match listener {
        Some(l) => match l.recv().await {
            Ok(n) => Some(n.payload().to_owned()),
            Err(e) => {
                tracing::warn!(error = %e, "change notifications interrupted");
                tokio::time::sleep(Duration::from_secs(1)).await;
                None
            }
        },
        None => std::future::pending().await,
    }
}

/// Each workspace's version and purge line.
async fn versions(db: &Db) -> Result<HashMap<WorkspaceId, (i64, i64)>, sqlx::Error> {
    let rows: Vec<(Uuid, i64, i64)> = db_run!(db, pool => sqlx::query_as(
        "SELECT id, version, purged_through_version FROM workspaces",
    ).fetch_all(pool).await)?;
    Ok(rows.into_iter().map(|(id, v, p)| (WorkspaceId(id), (v, p))).collect())
}

async fn catch_up(db: &Db, feed: &Feed, cursors: &mut HashMap<WorkspaceId, i64>) -> Result<(), sqlx::Error> {
    for (ws, (version, purged)) in versions(db).await? {
        feed.recent.set_purged(ws, purged);
        let cursor = cursors.entry(ws).or_insert(0);
        // What this instance's writer published already need not be read back.
        *cursor = (*cursor).max(feed.recent.through(ws).unwrap_or(0));
        while *cursor < version {
            let (events, last) = events_after(db, ws, *cursor, 500).await?;
            let Some(last) = last else { break };
            feed.recent.tailed(ws, *cursor, last, events, &feed.events);
            *cursor = last;
        }
    }
    Ok(())
}

/// Up to `limit` committed changes of `ws` after `after` as events (each with the contact's current
/// state), and the version of the last change read (`None` when there was none). Used by the tailer and
/// by consumers resuming from a version (SSE `Last-Event-ID`).
pub async fn events_after(
    db: &Db,
    ws: WorkspaceId,
    after: i64,
    limit: i64,
) -> Result<(Vec<FeedEvent>, Option<i64>), sqlx::Error> {
    let mut pooled = db.acquire().await?;
    let mut conn = pooled.conn();
    let changes = super::after(&mut conn, ws, after, limit).await?;
    let last = changes.last().map(|c| c.version);
    let contacts = load_contacts(&mut conn, ws, &changes).await?;
    let events = changes
        .into_iter()
        .filter_map(|change| {
            let contact = contacts.get(&change.entity_id)?.clone();
            Some(event(ws, change, contact))
        })
        .collect();
    Ok((events, last))
}

async fn load_contacts(
    conn: &mut switchboard_store::Conn<'_>,
    ws: WorkspaceId,
    changes: &[Change],
) -> Result<HashMap<Uuid, Arc<Contact>>, sqlx::Error> {
    let mut ids: Vec<Uuid> = changes.iter().filter(|c| c.entity_type == "contact").map(|c| c.entity_id).collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let condition = format!("c.id IN ({})", switchboard_store::numbered_placeholders(2, ids.len()));
    let params: Vec<store::Param> = ids.into_iter().map(store::Param::Uuid).collect();
    let contacts = store::select(conn, ws, &condition, "", &params).await?;
    Ok(contacts.into_iter().map(|c| (c.id, Arc::new(c))).collect())
}

/// The event of a change.
pub fn event(ws: WorkspaceId, change: Change, contact: Arc<Contact>) -> FeedEvent {
    let op = match change.op.as_str() {
        "create" => ChangeOp::Create,
        "delete" => ChangeOp::Delete,
        _ => ChangeOp::Update,
    };
    FeedEvent {
        workspace: ws,
        version: change.version,
        op,
        contact,
        author: change.actor_label,
        device: change.device_id,
        origin: change.origin,
        flat: std::sync::OnceLock::new(),
        sse: std::sync::OnceLock::new(),
    }
}
