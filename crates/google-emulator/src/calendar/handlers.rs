//! Thin Calendar event handlers.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header::IF_MATCH;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::{authed, charge_write, is_own};
use crate::errors::{ApiError, calendar as err, json_ok};
use crate::state::{Emulator, World};

type Params = Vec<(String, String)>;

/// Authenticates and checks the calendar is the caller's own.
fn open(world: &World, headers: &HeaderMap, method: &str, calendar: &str) -> Result<String, ApiError> {
    let email = authed(world, headers, method)?;
    if is_own(calendar, &email) { Ok(email) } else { Err(err::not_found()) }
}

/// A write's `If-Match` (the etag the client read; `*` or a list of etags also work): an event changed since
/// is 412 conditionNotMet, before anything is charged or changed. Without the header, writes are unconditional.
fn check_if_match(world: &World, email: &str, headers: &HeaderMap, event: &str) -> Result<(), ApiError> {
    let Some(wanted) = headers.get(IF_MATCH) else { return Ok(()) };
    let account = world.accounts.get(email).ok_or_else(err::not_found)?;
    let current = account.calendar.get(event).ok_or_else(err::not_found)?.event["etag"].clone();
    let matches = wanted
        .to_str()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .any(|etag| etag == "*" || Some(etag) == current.as_str());
    if matches { Ok(()) } else { Err(err::condition_not_met()) }
}

pub(crate) async fn insert(
    State(emu): State<Emulator>,
    Path(calendar): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let mut world = emu.lock();
    let email = open(&world, &headers, "calendar.events.insert", &calendar)?;
    charge_write(&mut world, &email)?;
    let body = json_body(&body)?;
    let (account, rng, now) = world.account_mut(&email).ok_or_else(err::not_found)?;
    let owner = account.email.clone();
    Ok(json_ok(account.calendar.insert(rng, now, &owner, &body)?.event.clone()))
}

pub(crate) async fn get_event(
    State(emu): State<Emulator>,
    Path((calendar, event)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let world = emu.lock();
    let email = open(&world, &headers, "calendar.events.get", &calendar)?;
    let account = world.accounts.get(&email).ok_or_else(err::not_found)?;
    // "The get method always returns" cancelled events.
    let record = account.calendar.get(&event).ok_or_else(err::not_found)?;
    Ok(json_ok(record.event.clone()))
}

pub(crate) async fn patch(
    emu: State<Emulator>,
    path: Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    modify(emu, path, headers, body, true).await
}

pub(crate) async fn update(
    emu: State<Emulator>,
    path: Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    modify(emu, path, headers, body, false).await
}

async fn modify(
    State(emu): State<Emulator>,
    Path((calendar, event)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
    patch: bool,
) -> Result<Response, ApiError> {
    let method = if patch { "calendar.events.patch" } else { "calendar.events.update" };
    let mut world = emu.lock();
    let email = open(&world, &headers, method, &calendar)?;
    check_if_match(&world, &email, &headers, &event)?;
    charge_write(&mut world, &email)?;
    let body = json_body(&body)?;
    let (account, _, now) = world.account_mut(&email).ok_or_else(err::not_found)?;
    Ok(json_ok(account.calendar.modify(now, &event, &body, patch)?.event.clone()))
}

pub(crate) async fn delete(
    State(emu): State<Emulator>,
    Path((calendar, event)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let mut world = emu.lock();
    let email = open(&world, &headers, "calendar.events.delete", &calendar)?;
    check_if_match(&world, &email, &headers, &event)?;
    charge_write(&mut world, &email)?;
    let (account, _, now) = world.account_mut(&email).ok_or_else(err::not_found)?;
    account.calendar.cancel(now, &event)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn list(
    State(emu): State<Emulator>,
    Path(calendar): Path<String>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Result<Response, ApiError> {
    let mut world = emu.lock();
    let email = open(&world, &headers, "calendar.events.list", &calendar)?;
    let (account, rng, now) = world.account_mut(&email).ok_or_else(err::not_found)?;
    let summary = account.email.clone();
    Ok(json_ok(super::list::list(&mut account.calendar, rng, now, &summary, &params)?))
}

fn json_body(body: &Bytes) -> Result<Value, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(value) if value.is_object() => Ok(value),
        _ => Err(ApiError::legacy(400, "global", "parseError", "Parse Error", None)),
    }
}
