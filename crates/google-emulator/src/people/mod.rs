//! People API v1: connections.list, createContact, updateContact, deleteContact, get.

pub(crate) mod book;
mod handlers;
pub(crate) mod list;
pub(crate) mod person;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use serde_json::Value;

use crate::auth::{AuthFailure, authorize};
use crate::errors::{ApiError, people as err};
use crate::quota::retry_after_value;
use crate::state::{Emulator, World};
use person::writable_fields;

pub(crate) fn router() -> Router<Emulator> {
    Router::new()
        .route("/v1/people/me/connections", get(handlers::list))
        .route("/v1/people:createContact", post(handlers::create))
        .route("/v1/people/{name}", get(handlers::get_person).patch(handlers::update).delete(handlers::delete))
}

/// The caller's account, or People's 401/403 body.
pub(crate) fn authed(world: &World, headers: &HeaderMap, method: &str) -> Result<String, ApiError> {
    authorize(world, headers, method).map_err(|failure| match failure {
        AuthFailure::Missing => err::unauthenticated(true, method),
        AuthFailure::Invalid => err::unauthenticated(false, method),
        AuthFailure::Scope => err::scope_insufficient(method),
    })
}

/// Charges one write to the user's quota, or answers 429 with `Retry-After`.
pub(crate) fn charge_write(world: &mut World, email: &str) -> Result<(), ApiError> {
    world.charge_write(email).map_err(|wait| err::write_quota_exceeded().with_retry_after(retry_after_value(wait)))
}

/// A contact id (`c…` digits) from a resource name path segment, else 404 as Google does.
pub(crate) fn contact_id(segment: &str) -> Result<&str, ApiError> {
    let valid = segment.strip_prefix('c').is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
    if valid { Ok(segment) } else { Err(err::not_found()) }
}

// ---- Writes shared by the API handlers and the control API -----------------------------------

pub(crate) fn create(world: &mut World, email: &str, body: &Value) -> Result<Value, ApiError> {
    let fields = writable_fields(body)?;
    let (account, rng, now) = world.account_mut(email).ok_or_else(err::not_found)?;
    Ok(account.people.create(rng, now, fields).render(None, false))
}

/// Replaces `mask`'s fields; `etag` is checked when given (API calls always give one).
pub(crate) fn update(
    world: &mut World,
    email: &str,
    id: &str,
    body: &Value,
    mask: &[String],
    etag: Option<Etag>,
) -> Result<Value, ApiError> {
    let fields = writable_fields(body)?;
    let (account, rng, now) = world.account_mut(email).ok_or_else(err::not_found)?;
    let record = account.people.get(id).ok_or_else(err::not_found)?;
    let matches = match &etag {
        None => true,
        Some(Etag::Person(etag)) => *etag == record.etag,
        Some(Etag::Source(etag)) => *etag == record.source_etag || *etag == record.etag,
    };
    if !matches {
        return Err(err::etag_mismatch());
    }
    let record = account.people.update(rng, now, id, fields, mask).ok_or_else(err::not_found)?;
    Ok(record.render(None, false))
}

pub(crate) fn delete(world: &mut World, email: &str, id: &str) -> Result<(), ApiError> {
    let (account, rng, now) = world.account_mut(email).ok_or_else(err::not_found)?;
    if account.people.delete(rng, now, id) { Ok(()) } else { Err(err::not_found()) }
}

/// The etag an update is conditioned on.
pub(crate) enum Etag {
    /// Top-level `person.etag`.
    Person(String),
    /// `person.metadata.sources[].etag` of the contact source.
    Source(String),
}

impl Etag {
    pub fn from_body(body: &Value) -> Option<Etag> {
        if let Some(etag) = body.get("etag").and_then(Value::as_str) {
            return Some(Etag::Person(etag.to_owned()));
        }
        body.pointer("/metadata/sources")
            .and_then(Value::as_array)?
            .iter()
            .filter(|s| s.get("type").and_then(Value::as_str).is_none_or(|t| t == "CONTACT"))
            .find_map(|s| s.get("etag").and_then(Value::as_str))
            .map(|etag| Etag::Source(etag.to_owned()))
    }
}
