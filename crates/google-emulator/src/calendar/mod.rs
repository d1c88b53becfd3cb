//! Calendar API v3: events insert/get/patch/update/delete/list and freeBusy, on each account's
//! primary calendar (`primary` aliases the account email).

pub(crate) mod book;
mod freebusy;
mod handlers;
mod list;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::{get, post};

use crate::auth::{AuthFailure, authorize};
use crate::errors::{ApiError, calendar as err};
use crate::quota::retry_after_value;
use crate::state::Emulator;
use crate::state::World;

pub(crate) fn router() -> Router<Emulator> {
    Router::new()
        .route("/calendar/v3/freeBusy", post(freebusy::query))
        .route("/calendar/v3/calendars/{calendar}/events", get(handlers::list).post(handlers::insert))
        .route(
            "/calendar/v3/calendars/{calendar}/events/{event}",
            get(handlers::get_event).patch(handlers::patch).put(handlers::update).delete(handlers::delete),
        )
}

/// The caller's account, or Calendar's legacy 401/403 body.
fn authed(world: &World, headers: &HeaderMap, method: &str) -> Result<String, ApiError> {
    authorize(world, headers, method).map_err(|failure| match failure {
        AuthFailure::Missing | AuthFailure::Invalid => err::unauthenticated(),
        AuthFailure::Scope => err::scope_insufficient(),
    })
}

/// Calendar writes share the per-user write quota; over it → 403 userRateLimitExceeded.
fn charge_write(world: &mut World, email: &str) -> Result<(), ApiError> {
    world.charge_write(email).map_err(|wait| err::user_rate_limit().with_retry_after(retry_after_value(wait)))
}

/// Whether `calendar_id` names the account's own (primary) calendar.
pub(crate) fn is_own(calendar_id: &str, email: &str) -> bool {
    calendar_id == "primary" || calendar_id.eq_ignore_ascii_case(email)
}
