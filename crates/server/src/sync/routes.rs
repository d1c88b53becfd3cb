//! Sync routes: delta pages (canonical and seed-001 shapes), offline push, devices, statistics, status.

use super::{DeltaQuery, delta, devices, push};
use crate::auth::Principal;
use crate::contacts::Contact;
use crate::contacts::agent::{Envelope, FlatContact, FlatItem, ok, validation_as_400};
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::AppQuery;
use crate::pagination::{ListQuery, Page, PageRequest};
use crate::state::AppState;
use axum::extract::{OriginalUri, State};
use axum::response::IntoResponse;
use serde::Serialize;
use switchboard_domain::Permission;
use utoipa_axum::{router::OpenApiRouter, routes};

/// The routes of this feature.
pub fn router() -> OpenApiRouter<AppState> {
    let seed = OpenApiRouter::new()
        .routes(routes!(seed_delta))
        .routes(routes!(status))
        .layer(axum::middleware::map_response(validation_as_400));
    OpenApiRouter::new()
        .routes(routes!(canonical_delta))
        .routes(routes!(push::push))
        .routes(routes!(list_devices))
        .routes(routes!(sync_stats))
        .merge(seed)
}

/// A delta page in the canonical shape.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Delta<T> {
    /// Contacts changed after `version` (latest state, tombstones with `deleted: true`), in version order.
    pub changes: Vec<T>,
    /// The workspace version now.
    pub current_version: i64,
    /// More changes follow: ask again with `version=next_version`.
    pub has_more: bool,
    /// The version to continue from (store it once the page is applied).
    pub next_version: i64,
}

/// Delta sync: every contact changed after `version`, in version order, in pages. Page until `has_more`
/// is false. `version=0` downloads everything; a version older than purged tombstones is 410
/// `FULL_SYNC_REQUIRED` (start again from 0).
#[utoipa::path(get, path = "/api/v1/sync/delta", tag = "sync", params(DeltaQuery),
    responses((status = 200, body = Delta<Contact>), (status = 400, body = ErrorBody), (status = 410, body = ErrorBody)))]
async fn canonical_delta(
    State(state): State<AppState>,
    principal: Principal,
    AppQuery(q): AppQuery<DeltaQuery>,
) -> AppResult<axum::Json<Delta<Contact>>> {
    principal.require(Permission::ContactsRead)?;
    let (version, limit) = q.parse()?;
    let page = delta(&state, &principal, version, limit).await?;
    Ok(axum::Json(Delta {
        changes: page.contacts.iter().map(|c| (**c).clone()).collect(),
        current_version: page.current_version,
        has_more: page.has_more,
        next_version: page.next_version,
    }))
}

/// The delta page in the seed-001 shape (flat contacts; the `data` of `{success, data}`).
pub async fn flat_delta(
    state: &AppState,
    principal: &Principal,
    version: i64,
    limit: i64,
) -> AppResult<Delta<FlatItem>> {
    let page = super::flat_delta(state, principal, version, limit).await?;
    Ok(Delta {
        changes: page.contacts,
        current_version: page.current_version,
        has_more: page.has_more,
        next_version: page.next_version,
    })
}

/// Delta sync for agent devices (seed-001 shape): same rules as `/api/v1/sync/delta`.
#[utoipa::path(get, path = "/api/sync/delta", tag = "agent", params(DeltaQuery),
    responses((status = 200, body = Envelope<Delta<FlatContact>>), (status = 400, body = ErrorBody), (status = 410, body = ErrorBody)))]
async fn seed_delta(
    State(state): State<AppState>,
    principal: Principal,
    AppQuery(q): AppQuery<DeltaQuery>,
) -> AppResult<axum::response::Response> {
    principal.require(Permission::ContactsRead)?;
    let (version, limit) = q.parse()?;
    // The hottest answer of the server: serialised straight to bytes (contacts from memory without copies).
    let body = Envelope { success: true, data: flat_delta(&state, &principal, version, limit).await? };
    let bytes = serde_json::to_vec(&body).map_err(AppError::internal)?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], bytes).into_response())
}

/// The workspace's devices: agent, device id, connected now, last sync, how far behind.
#[utoipa::path(get, path = "/api/v1/devices", tag = "sync", params(ListQuery),
    responses((status = 200, body = Page<devices::DeviceStatus>), (status = 403, body = ErrorBody)))]
async fn list_devices(
    State(state): State<AppState>,
    principal: Principal,
    OriginalUri(uri): OriginalUri,
    AppQuery(q): AppQuery<ListQuery>,
) -> AppResult<axum::Json<Page<devices::DeviceStatus>>> {
    principal.require(Permission::Admin)?;
    let page = PageRequest::parse(&q)?;
    let threshold = state.config.outdated_device_threshold;
    Ok(axum::Json(devices::list(&state.db, principal.workspace_id, &page, uri.path(), threshold).await?))
}

/// Sync statistics: devices total, connected and outdated; syncs and changes served.
#[utoipa::path(get, path = "/api/v1/sync/stats", tag = "sync",
    responses((status = 200, body = devices::SyncStats), (status = 403, body = ErrorBody)))]
async fn sync_stats(State(state): State<AppState>, principal: Principal) -> AppResult<axum::Json<devices::SyncStats>> {
    principal.require(Permission::Admin)?;
    let threshold = state.config.outdated_device_threshold;
    Ok(axum::Json(devices::stats(&state.db, principal.workspace_id, threshold).await?))
}

/// `GET /api/status` data.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Status {
    /// Server version.
    pub version: &'static str,
    /// Seconds since this instance started.
    pub uptime_secs: u64,
    /// `sqlite` or `postgres`.
    pub database: &'static str,
    /// The workspace's change-feed version.
    pub current_version: i64,
    /// Contacts not deleted.
    pub active_contacts: i64,
    /// Devices with an open realtime connection now.
    pub devices_connected: i64,
    /// Google Contacts sync, per connected account.
    pub google: Vec<crate::google::routes::SyncStatus>,
}

/// App and sync status for the caller's workspace (seed shape).
#[utoipa::path(get, path = "/api/status", tag = "agent",
    responses((status = 200, body = Envelope<Status>), (status = 401, body = ErrorBody)))]
async fn status(State(state): State<AppState>, principal: Principal) -> AppResult<axum::Json<Envelope<Status>>> {
    principal.require(Permission::ContactsRead)?;
    let stats = devices::stats(&state.db, principal.workspace_id, state.config.outdated_device_threshold).await?;
    Ok(ok(Status {
        version: env!("CARGO_PKG_VERSION"),
        uptime_secs: state.started_at.elapsed().as_secs(),
        database: state.db.backend().as_str(),
        current_version: stats.current_version,
        active_contacts: stats.active_contacts,
        devices_connected: stats.devices_connected,
        google: crate::google::routes::workspace_statuses(&state, principal.workspace_id).await?,
    }))
}
