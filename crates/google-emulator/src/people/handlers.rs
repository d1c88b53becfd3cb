//! Thin People handlers: authenticate, charge quota, parse, call the book, render.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value, json};

use super::list::{ListParams, list as list_people};
use super::person::{READ_FIELDS, UPDATE_FIELDS, parse_mask};
use super::{Etag, authed, charge_write, contact_id};
use crate::errors::{ApiError, json_ok, people as err};
use crate::oauth::param;
use crate::state::Emulator;

type Params = Vec<(String, String)>;

const GET_DOC: &str = "https://developers.google.com/people/api/rest/v1/people/get";
const CREATE_DOC: &str = "https://developers.google.com/people/api/rest/v1/people/createContact";
const UPDATE_DOC: &str = "https://developers.google.com/people/api/rest/v1/people/updateContact";

pub(crate) async fn list(
    State(emu): State<Emulator>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Result<Response, ApiError> {
    let mut world = emu.lock();
    let email = authed(&world, &headers, "people.connections.list")?;
    let p = ListParams::parse(&params)?;
    let (account, rng, now) = world.account_mut(&email).ok_or_else(err::not_found)?;
    Ok(json_ok(list_people(&mut account.people, rng, now, p)?))
}

pub(crate) async fn create(
    State(emu): State<Emulator>,
    headers: HeaderMap,
    Query(params): Query<Params>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let mut world = emu.lock();
    let email = authed(&world, &headers, "people.createContact")?;
    charge_write(&mut world, &email)?;
    let mask = optional_mask(&params, CREATE_DOC)?;
    let person = super::create(&mut world, &email, &json_body(&body)?)?;
    Ok(json_ok(apply_mask(person, mask.as_deref())))
}

pub(crate) async fn update(
    State(emu): State<Emulator>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Query(params): Query<Params>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = name.strip_suffix(":updateContact").ok_or_else(err::not_found)?;
    let mut world = emu.lock();
    let email = authed(&world, &headers, "people.updateContact")?;
    charge_write(&mut world, &email)?;
    let fields = parse_mask(param(&params, "updatePersonFields"), "updatePersonFields", UPDATE_FIELDS, UPDATE_DOC)?;
    let mask = optional_mask(&params, UPDATE_DOC)?;
    let body = json_body(&body)?;
    let etag = Etag::from_body(&body).ok_or_else(|| {
        err::invalid_field(
            "person.etag",
            "Request must set person.etag or person.metadata.sources.etag for the source that is being updated.",
        )
    })?;
    let person = super::update(&mut world, &email, contact_id(id)?, &body, &fields, Some(etag))?;
    Ok(json_ok(apply_mask(person, mask.as_deref())))
}

pub(crate) async fn delete(
    State(emu): State<Emulator>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = name.strip_suffix(":deleteContact").ok_or_else(err::not_found)?;
    let mut world = emu.lock();
    let email = authed(&world, &headers, "people.deleteContact")?;
    charge_write(&mut world, &email)?;
    super::delete(&mut world, &email, contact_id(id)?)?;
    Ok(json_ok(json!({})))
}

pub(crate) async fn get_person(
    State(emu): State<Emulator>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Result<Response, ApiError> {
    let world = emu.lock();
    let method = if name == "me" { "people.get.me" } else { "people.get" };
    let email = authed(&world, &headers, method)?;
    let mask = parse_mask(param(&params, "personFields"), "personFields", READ_FIELDS, GET_DOC)?;
    let account = world.accounts.get(&email).ok_or_else(err::not_found)?;
    if name == "me" {
        let profile = json!({
            "resourceName": format!("people/{}", account.profile_id),
            "etag": format!("%EgUBAi43PRoEAQIFByIM{}", &account.profile_id[..8]),
            "metadata": { "sources": [{ "type": "PROFILE", "id": account.profile_id }], "objectType": "PERSON" },
            "emailAddresses": [{
                "metadata": { "primary": true, "verified": true, "source": { "type": "ACCOUNT", "id": account.profile_id } },
                "value": account.email,
            }],
        });
        return Ok(json_ok(apply_mask(profile, Some(&mask))));
    }
    let record = account.people.get(contact_id(&name)?).ok_or_else(err::not_found)?;
    Ok(json_ok(record.render(Some(&mask), false)))
}

/// `personFields` on writes: optional ("defaults to all fields if not set").
fn optional_mask(params: &Params, doc: &str) -> Result<Option<Vec<String>>, ApiError> {
    match param(params, "personFields") {
        None | Some("") => Ok(None),
        raw => parse_mask(raw, "personFields", READ_FIELDS, doc).map(Some),
    }
}

fn apply_mask(mut person: Value, mask: Option<&[String]>) -> Value {
    if let (Some(mask), Some(object)) = (mask, person.as_object_mut()) {
        object.retain(|k, _| k == "resourceName" || k == "etag" || mask.iter().any(|m| m == k));
    }
    person
}

fn json_body(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        err::invalid_field(
            "",
            &format!("Invalid JSON payload received. Unexpected token.\n{}", e.to_string().replace('\n', " ")),
        )
    })
}
