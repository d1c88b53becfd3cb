//! `GET /api/v1/events`: the change feed as Server-Sent Events, for browsers and scripts. Each event's id
//! is its version; reconnecting with `Last-Event-ID` (browsers do it automatically) or `?after=` resumes
//! without a gap, from the database first and then live.

use crate::auth::Principal;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::feed::ChangeOp;
use crate::feed::tail::{FeedEvent, events_after};
use crate::http::AppQuery;
use crate::state::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use serde::Deserialize;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use switchboard_domain::{FieldError, Permission, WorkspaceId};
use tokio::sync::broadcast::{Receiver, error::RecvError};
use utoipa_axum::{router::OpenApiRouter, routes};

/// The routes of this feature.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(events))
}

/// Query of `GET /api/v1/events`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Resume after this version (`Last-Event-ID` wins when both are sent). Absent: only new changes.
    pub after: Option<i64>,
}

/// Changes as Server-Sent Events: `contact_created`, `contact_updated`, `contact_deleted`, each with
/// `id: <version>` and data `{contact, version, created_by, origin}` (the canonical contact). Resumable
/// with `Last-Event-ID`.
#[utoipa::path(get, path = "/api/v1/events", tag = "sync", params(EventsQuery,
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this version")),
    responses((status = 200, content_type = "text/event-stream", description = "The event stream"),
        (status = 400, body = ErrorBody)))]
async fn events(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    AppQuery(q): AppQuery<EventsQuery>,
) -> AppResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    principal.require(Permission::ContactsRead)?;
    let last_event_id = match headers.get("last-event-id") {
        Some(v) => {
            Some(v.to_str().ok().and_then(|t| t.trim().parse::<i64>().ok()).filter(|v| *v >= 0).ok_or_else(|| {
                AppError::BadRequest {
                    code: "INVALID_HEADER",
                    message: "Invalid Last-Event-ID header".into(),
                    fields: vec![FieldError::new("Last-Event-ID", "must be a version number")],
                }
            })?)
        }
        None => None,
    };
    // Subscribe before reading the backlog, so nothing committed in between is missed.
    let live = state.feed.subscribe();
    let ws = principal.workspace_id;
    let cursor = match last_event_id.or(q.after) {
        Some(v) => v,
        None => {
            let mut pooled = state.db.acquire().await?;
            crate::feed::current_version(&mut pooled.conn(), ws).await?
        }
    };
    let stream = Resume { state, ws, cursor, backlog: VecDeque::new(), catching_up: true, live };
    let stream = futures::stream::unfold(stream, |mut s| async move {
        let event = s.next().await?;
        Some((Ok(event), s))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// Reads the backlog from the database, then follows the live feed; falls back to the database whenever
/// the live channel lagged.
struct Resume {
    state: AppState,
    ws: WorkspaceId,
    cursor: i64,
    backlog: VecDeque<FeedEvent>,
    catching_up: bool,
    live: Receiver<Arc<FeedEvent>>,
}

impl Resume {
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(e) = self.backlog.pop_front() {
                self.cursor = e.version;
                return Some(to_sse(&e));
            }
            if self.catching_up {
                match events_after(&self.state.db, self.ws, self.cursor, 500).await {
                    Ok((_, None)) => self.catching_up = false,
                    Ok((events, Some(last))) if events.is_empty() => self.cursor = last,
                    Ok((events, _)) => self.backlog.extend(events),
                    Err(e) => {
                        tracing::warn!(error = %e, "SSE could not read the backlog; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
                continue;
            }
            match self.live.recv().await {
                Ok(e) if e.workspace == self.ws && e.version > self.cursor => {
                    self.cursor = e.version;
                    return Some(to_sse(&e));
                }
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => self.catching_up = true,
                Err(RecvError::Closed) => return None,
            }
        }
    }
}

fn to_sse(e: &FeedEvent) -> Event {
    let name = match e.op {
        ChangeOp::Create => "contact_created",
        ChangeOp::Update => "contact_updated",
        ChangeOp::Delete => "contact_deleted",
    };
    Event::default().id(e.version.to_string()).event(name).data(e.sse_data())
}
