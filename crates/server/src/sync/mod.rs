//! Keeping devices' local copies in sync: delta pages by version (`delta`), offline upload with field-level
//! merge (`push`), and what the workspace knows about its devices (`devices`). Routes in `routes`.

pub mod devices;
pub mod push;
pub mod routes;

use crate::auth::{Actor, Principal};
use crate::contacts::agent::FlatItem;
use crate::contacts::{Contact, store};
use crate::error::AppError;
use crate::feed::tail::FeedEvent;
use crate::state::AppState;
use serde::Deserialize;
use std::sync::Arc;

/// Default and largest delta page.
pub const DEFAULT_PAGE: i64 = 500;
/// Largest delta page a client may ask for.
pub const MAX_PAGE: i64 = 1_000;

/// Query of the delta endpoints.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeltaQuery {
    /// The version the device has (0: everything).
    pub version: Option<i64>,
    /// Page size, 1–1000 (default 500).
    pub limit: Option<i64>,
}

impl DeltaQuery {
    /// The cursor and page size, validated.
    pub fn parse(&self) -> Result<(i64, i64), AppError> {
        let bad = AppError::invalid_query;
        let version = self.version.unwrap_or(0);
        if version < 0 {
            return Err(bad("version", "must not be negative"));
        }
        let limit = self.limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(bad("limit", "must be between 1 and 1000"));
        }
        Ok((version, limit))
    }
}

/// One delta page of contacts in some shape `T`.
#[derive(Debug, Clone)]
pub struct DeltaPage<T> {
    /// Contacts changed after the cursor (their latest state, tombstones included), in version order.
    pub contacts: Vec<T>,
    /// The workspace version when the page was read.
    pub current_version: i64,
    /// Whether more changes follow: ask again with `next_version`.
    pub has_more: bool,
    /// The cursor to continue from.
    pub next_version: i64,
}

/// A delta item: anything that knows the version of its contact's last change.
pub trait Versioned {
    /// The workspace version of the contact's last change.
    fn version(&self) -> i64;
}

impl Versioned for Arc<Contact> {
    fn version(&self) -> i64 {
        self.version
    }
}

impl Versioned for FlatItem {
    fn version(&self) -> i64 {
        match self {
            FlatItem::Shared(e) => e.contact.version,
            FlatItem::Read(c) => c.version,
        }
    }
}

/// Reads one delta page (canonical contacts) for the caller and records the device's sync (batched).
///
/// The page comes from the in-memory window of recent changes when it covers the cursor, else from one
/// statement, hence one snapshot: every change up to the returned version is in the rows, so continuing
/// from `max(last row, current_version)` skips nothing.
pub async fn delta(
    state: &AppState,
    principal: &Principal,
    after: i64,
    limit: i64,
) -> Result<DeltaPage<Arc<Contact>>, AppError> {
    if let Some(page) = from_window(state, principal, after, limit, |e| e.contact.clone()) {
        return Ok(page);
    }
    let mut pooled = state.db.acquire().await?;
    let read = store::delta(&mut pooled.conn(), principal.workspace_id, after, limit + 1).await?;
    drop(pooled);
    let (current, purged, contacts) = read.ok_or(AppError::NotFound)?;
    finish(state, principal, after, limit, current, purged, contacts.into_iter().map(Arc::new).collect())
}

/// [`delta`] in the agent API's flat shape: from the window, or from the database's flat projection
/// (`store::flat_delta`: ten columns, one row per page), which is what a fresh device's full download reads.
pub async fn flat_delta(
    state: &AppState,
    principal: &Principal,
    after: i64,
    limit: i64,
) -> Result<DeltaPage<FlatItem>, AppError> {
    if let Some(page) = from_window(state, principal, after, limit, FlatItem::Shared) {
        return Ok(page);
    }
    let mut pooled = state.db.acquire().await?;
    let read = store::flat_delta(&mut pooled.conn(), principal.workspace_id, after, limit + 1).await?;
    drop(pooled);
    let (current, purged, contacts) = read.ok_or(AppError::NotFound)?;
    finish(state, principal, after, limit, current, purged, contacts.into_iter().map(FlatItem::Read).collect())
}

/// The page from the window of recent changes, when it covers the cursor.
fn from_window<T>(
    state: &AppState,
    principal: &Principal,
    after: i64,
    limit: i64,
    shape: impl Fn(Arc<FeedEvent>) -> T,
) -> Option<DeltaPage<T>> {
    let page = state.feed.recent.page(principal.workspace_id, after, limit as usize)?;
    record_sync(state, principal, page.through, page.events.len());
    let through = page.through;
    let contacts = page.events.into_iter().map(shape).collect();
    Some(DeltaPage { contacts, current_version: through, has_more: false, next_version: through })
}

/// Checks the cursor against what the database returned (`limit + 1` rows, to know whether more follow)
/// and builds the page.
fn finish<T: Versioned>(
    state: &AppState,
    principal: &Principal,
    after: i64,
    limit: i64,
    current: i64,
    purged: i64,
    mut contacts: Vec<T>,
) -> Result<DeltaPage<T>, AppError> {
    if after > 0 && after < purged {
        return Err(full_sync(format!(
            "Deleted contacts up to version {purged} have been purged; download everything again from version 0"
        )));
    }
    if after > current {
        return Err(full_sync(format!(
            "Version {after} is ahead of this workspace (at {current}); download everything again from version 0"
        )));
    }
    let has_more = contacts.len() as i64 > limit;
    contacts.truncate(limit as usize);
    let last = contacts.last().map_or(after, Versioned::version);
    let next_version = if has_more { last } else { last.max(current) };
    record_sync(state, principal, next_version, contacts.len());
    Ok(DeltaPage { contacts, current_version: current.max(last), has_more, next_version })
}

/// Notes the page served (batched): the workspace's activity, and the device's cursor for agent devices.
fn record_sync(state: &AppState, principal: &Principal, next_version: i64, changes: usize) {
    let device = match &principal.actor {
        Actor::ApiKey { agent: Some(agent), device: Some(d), .. } => Some((agent.id, d.as_str())),
        _ => None,
    };
    state.usage.record_sync(principal.workspace_id, device, next_version, changes as i64);
}

fn full_sync(message: String) -> AppError {
    AppError::Gone { code: "FULL_SYNC_REQUIRED", message }
}

/// Deletes tombstones older than `retention` and raises each workspace's `purged_through_version` to the
/// highest version purged, so a device with an older cursor is told to sync from scratch instead of
/// silently missing deletions. `changes` rows are kept (they are the audit log). Returns rows purged.
pub async fn purge_tombstones(db: &switchboard_store::Db, retention: std::time::Duration) -> Result<u64, sqlx::Error> {
    let cutoff = chrono::Utc::now() - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::days(90));
    let mut tx = db.begin().await?;
    let purged = switchboard_store::tx_run!(&mut tx, conn => {
        let marks: Vec<(uuid::Uuid, i64)> = sqlx::query_as(
            "SELECT workspace_id, MAX(version) FROM contacts WHERE deleted_at IS NOT NULL AND deleted_at < $1 \
             GROUP BY workspace_id",
        ).bind(cutoff).fetch_all(&mut **conn).await?;
        for (ws, version) in &marks {
            sqlx::query(
                "UPDATE workspaces SET purged_through_version = $2 WHERE id = $1 AND purged_through_version < $2",
            ).bind(ws).bind(version).execute(&mut **conn).await?;
        }
        // A contact's numbers and addresses go with it (no foreign key cascades them: ADR 0007).
        for children in ["contact_phones", "contact_emails"] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {children} WHERE contact_id IN \
                 (SELECT id FROM contacts WHERE deleted_at IS NOT NULL AND deleted_at < $1)"
            ))).bind(cutoff).execute(&mut **conn).await?;
        }
        sqlx::query("DELETE FROM contacts WHERE deleted_at IS NOT NULL AND deleted_at < $1")
            .bind(cutoff).execute(&mut **conn).await.map(|r| r.rows_affected())
    })?;
    tx.commit().await?;
    Ok(purged)
}
