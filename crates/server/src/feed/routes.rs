//! `/api/v1/changes`: the audit log, read straight from the change feed.

use crate::auth::Principal;
use crate::contacts::routes::{ChangePage, HistoryQuery};
use crate::error::{AppResult, ErrorBody};
use crate::http::AppQuery;
use crate::state::AppState;
use axum::extract::State;
use switchboard_domain::Permission;
use utoipa_axum::{router::OpenApiRouter, routes};

/// The routes of this feature.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_changes))
}

/// Every change of the workspace in version order: who changed what, from which device, before and after.
#[utoipa::path(get, path = "/api/v1/changes", tag = "changes", params(HistoryQuery),
    responses((status = 200, body = ChangePage), (status = 403, body = ErrorBody)))]
async fn list_changes(
    State(state): State<AppState>,
    principal: Principal,
    AppQuery(q): AppQuery<HistoryQuery>,
) -> AppResult<axum::Json<ChangePage>> {
    principal.require(Permission::Admin)?;
    let (after, limit) = q.parse()?;
    let mut pooled = state.db.acquire().await?;
    let rows = super::after(&mut pooled.conn(), principal.workspace_id, after, limit + 1).await?;
    Ok(axum::Json(ChangePage::new(rows, limit)))
}
