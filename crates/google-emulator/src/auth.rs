//! Bearer-token checks for the API paths, and the scopes each API accepts.

use axum::http::{HeaderMap, header};

use crate::state::World;

pub(crate) const CONTACTS: &str = "https://www.googleapis.com/auth/contacts";
pub(crate) const CONTACTS_READONLY: &str = "https://www.googleapis.com/auth/contacts.readonly";
pub(crate) const USERINFO_EMAIL: &str = "https://www.googleapis.com/auth/userinfo.email";
pub(crate) const USERINFO_PROFILE: &str = "https://www.googleapis.com/auth/userinfo.profile";
const CALENDAR: &str = "https://www.googleapis.com/auth/calendar";
const CALENDAR_READONLY: &str = "https://www.googleapis.com/auth/calendar.readonly";
const CALENDAR_EVENTS: &str = "https://www.googleapis.com/auth/calendar.events";
const CALENDAR_EVENTS_READONLY: &str = "https://www.googleapis.com/auth/calendar.events.readonly";
const CALENDAR_EVENTS_OWNED: &str = "https://www.googleapis.com/auth/calendar.events.owned";
const CALENDAR_FREEBUSY: &str = "https://www.googleapis.com/auth/calendar.freebusy";
const CALENDAR_EVENTS_FREEBUSY: &str = "https://www.googleapis.com/auth/calendar.events.freebusy";

/// Scopes accepted by each API method (from the discovery documents).
pub(crate) fn accepted_scopes(method: &str) -> &'static [&'static str] {
    match method {
        "people.connections.list" => &[CONTACTS, CONTACTS_READONLY],
        "people.get" => &[CONTACTS, CONTACTS_READONLY],
        "people.get.me" => &[CONTACTS, CONTACTS_READONLY, USERINFO_EMAIL, USERINFO_PROFILE],
        "people.createContact" | "people.updateContact" | "people.deleteContact" => &[CONTACTS],
        "calendar.events.list" | "calendar.events.get" => {
            &[CALENDAR, CALENDAR_READONLY, CALENDAR_EVENTS, CALENDAR_EVENTS_READONLY, CALENDAR_EVENTS_OWNED]
        }
        "calendar.freebusy.query" => &[CALENDAR, CALENDAR_READONLY, CALENDAR_FREEBUSY, CALENDAR_EVENTS_FREEBUSY],
        "calendar.events.insert" | "calendar.events.patch" | "calendar.events.update" | "calendar.events.delete" => {
            &[CALENDAR, CALENDAR_EVENTS, CALENDAR_EVENTS_OWNED]
        }
        "oauth.userinfo" => &[USERINFO_EMAIL, "openid"],
        _ => &[],
    }
}

/// Google's short scope names expand to URLs in the granted `scope`.
pub(crate) fn normalize_scope(scope: &str) -> String {
    match scope {
        "email" => USERINFO_EMAIL.to_owned(),
        "profile" => USERINFO_PROFILE.to_owned(),
        other => other.to_owned(),
    }
}

/// Scopes the emulator will grant: Google API scope URLs and OpenID's short names.
pub(crate) fn is_known_scope(scope: &str) -> bool {
    scope == "openid" || scope.starts_with("https://www.googleapis.com/auth/")
}

pub(crate) enum AuthFailure {
    Missing,
    Invalid,
    Scope,
}

/// The account email behind the request's bearer token, if it may call `method`.
pub(crate) fn authorize(world: &World, headers: &HeaderMap, method: &str) -> Result<String, AuthFailure> {
    let value = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).ok_or(AuthFailure::Missing)?;
    let token =
        value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")).ok_or(AuthFailure::Invalid)?.trim();
    let access = world.oauth.check_access(token, world.now()).map_err(|_| AuthFailure::Invalid)?;
    let accepted = accepted_scopes(method);
    if !access.scopes.iter().any(|s| accepted.contains(&s.as_str())) {
        return Err(AuthFailure::Scope);
    }
    Ok(access.email.clone())
}
