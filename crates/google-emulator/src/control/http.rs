//! `/_emulator/…`: the control API over HTTP (JSON), for the binary, demos and benchmarks.
//! Each route is a thin call into [`Control`].

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Control, ControlError};
use crate::faults::Fault;
use crate::state::{ConsentPlan, Emulator};

pub(crate) fn router() -> Router<Emulator> {
    Router::new()
        .route("/_emulator/reset", post(reset))
        .route("/_emulator/accounts", get(accounts).post(add_account))
        .route("/_emulator/accounts/{email}/tokens", post(issue_tokens))
        .route("/_emulator/consent", post(consent))
        .route("/_emulator/accounts/{email}/people", get(list_people).post(seed_people))
        .route("/_emulator/accounts/{email}/people/generate", post(generate_people))
        .route("/_emulator/accounts/{email}/people/{id}", get(get_person).patch(update_person).delete(delete_person))
        .route("/_emulator/accounts/{email}/merge", post(merge))
        .route("/_emulator/accounts/{email}/expire-sync-tokens", post(expire_sync_tokens))
        .route("/_emulator/accounts/{email}/expire-calendar-sync-tokens", post(expire_calendar_sync_tokens))
        .route("/_emulator/accounts/{email}/expire-access-tokens", post(expire_access_tokens))
        .route("/_emulator/accounts/{email}/revoke-grants", post(revoke_grants))
        .route("/_emulator/accounts/{email}/events", get(list_events).post(insert_event))
        .route("/_emulator/accounts/{email}/events/{id}", delete(delete_event))
        .route("/_emulator/faults", post(inject_fault).delete(clear_faults))
        .route("/_emulator/quota", put(set_quota))
        .route("/_emulator/delay-factor", put(set_delay_factor))
        .route("/_emulator/clock/advance", post(advance_clock))
        .route("/_emulator/counters", get(counters).delete(reset_counters))
}

type Result<T = Json<Value>> = std::result::Result<T, ControlError>;

fn control(emu: Emulator) -> Control {
    Control::new(emu)
}

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        let status = match self {
            ControlError::Invalid(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::NOT_FOUND,
        };
        (status, Json(json!({ "error": self.to_string() }))).into_response()
    }
}

fn ok() -> Json<Value> {
    Json(json!({}))
}

#[derive(Deserialize)]
struct Email {
    email: String,
}

#[derive(Deserialize)]
struct Scopes {
    scopes: Vec<String>,
}

#[derive(Deserialize)]
struct Count {
    count: usize,
}

#[derive(Deserialize)]
struct Merge {
    survivor: String,
    merged: String,
}

#[derive(Deserialize)]
struct Quota {
    write_quota_per_minute: Option<u32>,
}

#[derive(Deserialize)]
struct Factor {
    delay_factor: f64,
}

#[derive(Deserialize)]
struct Advance {
    seconds: f64,
}

async fn reset(State(emu): State<Emulator>) -> Json<Value> {
    control(emu).reset();
    ok()
}

async fn accounts(State(emu): State<Emulator>) -> Json<Value> {
    Json(json!({ "accounts": control(emu).accounts() }))
}

async fn add_account(State(emu): State<Emulator>, Json(body): Json<Email>) -> Json<Value> {
    Json(json!({ "email": control(emu).add_account(&body.email) }))
}

async fn issue_tokens(State(emu): State<Emulator>, Path(email): Path<String>, Json(body): Json<Scopes>) -> Result {
    let scopes: Vec<&str> = body.scopes.iter().map(String::as_str).collect();
    Ok(Json(json!(control(emu).issue_tokens(&email, &scopes)?)))
}

async fn consent(State(emu): State<Emulator>, Json(plan): Json<ConsentPlan>) -> Json<Value> {
    control(emu).set_next_consent(plan);
    ok()
}

async fn list_people(State(emu): State<Emulator>, Path(email): Path<String>) -> Result {
    Ok(Json(json!({ "people": control(emu).list_people(&email)? })))
}

/// A person object, or an array of them.
async fn seed_people(State(emu): State<Emulator>, Path(email): Path<String>, Json(body): Json<Value>) -> Result {
    let people = match body {
        Value::Array(items) => items,
        one => vec![one],
    };
    Ok(Json(json!({ "people": control(emu).seed_people(&email, people)? })))
}

async fn generate_people(State(emu): State<Emulator>, Path(email): Path<String>, Json(body): Json<Count>) -> Result {
    Ok(Json(json!({ "created": control(emu).generate_people(&email, body.count)? })))
}

async fn get_person(State(emu): State<Emulator>, Path((email, id)): Path<(String, String)>) -> Result {
    control(emu).get_person(&email, &id)?.map(Json).ok_or(ControlError::NotFound(id))
}

async fn update_person(
    State(emu): State<Emulator>,
    Path((email, id)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Result {
    Ok(Json(control(emu).update_person(&email, &id, body)?))
}

async fn delete_person(State(emu): State<Emulator>, Path((email, id)): Path<(String, String)>) -> Result {
    control(emu).delete_person(&email, &id)?;
    Ok(ok())
}

async fn merge(State(emu): State<Emulator>, Path(email): Path<String>, Json(body): Json<Merge>) -> Result {
    Ok(Json(control(emu).merge(&email, &body.survivor, &body.merged)?))
}

async fn expire_sync_tokens(State(emu): State<Emulator>, Path(email): Path<String>) -> Result {
    control(emu).expire_sync_tokens(&email)?;
    Ok(ok())
}

async fn expire_calendar_sync_tokens(State(emu): State<Emulator>, Path(email): Path<String>) -> Result {
    control(emu).expire_calendar_sync_tokens(&email)?;
    Ok(ok())
}

async fn expire_access_tokens(State(emu): State<Emulator>, Path(email): Path<String>) -> Result {
    Ok(Json(json!({ "expired": control(emu).expire_access_tokens(&email)? })))
}

async fn revoke_grants(State(emu): State<Emulator>, Path(email): Path<String>) -> Result {
    Ok(Json(json!({ "revoked": control(emu).revoke_grants(&email)? })))
}

async fn list_events(State(emu): State<Emulator>, Path(email): Path<String>) -> Result {
    Ok(Json(json!({ "items": control(emu).list_events(&email)? })))
}

async fn insert_event(State(emu): State<Emulator>, Path(email): Path<String>, Json(body): Json<Value>) -> Result {
    Ok(Json(control(emu).insert_event(&email, body)?))
}

async fn delete_event(State(emu): State<Emulator>, Path((email, id)): Path<(String, String)>) -> Result {
    control(emu).delete_event(&email, &id)?;
    Ok(ok())
}

async fn inject_fault(State(emu): State<Emulator>, Json(fault): Json<Fault>) -> Json<Value> {
    control(emu).inject_fault(fault);
    ok()
}

async fn clear_faults(State(emu): State<Emulator>) -> Json<Value> {
    control(emu).clear_faults();
    ok()
}

async fn set_quota(State(emu): State<Emulator>, Json(body): Json<Quota>) -> Json<Value> {
    control(emu).set_write_quota(body.write_quota_per_minute);
    ok()
}

async fn set_delay_factor(State(emu): State<Emulator>, Json(body): Json<Factor>) -> Json<Value> {
    control(emu).set_delay_factor(body.delay_factor);
    ok()
}

async fn advance_clock(State(emu): State<Emulator>, Json(body): Json<Advance>) -> Json<Value> {
    control(emu).advance_clock(Duration::from_secs_f64(body.seconds.max(0.0)));
    ok()
}

async fn counters(State(emu): State<Emulator>) -> Json<Value> {
    Json(json!(control(emu).counters()))
}

async fn reset_counters(State(emu): State<Emulator>) -> Json<Value> {
    control(emu).reset_counters();
    ok()
}
