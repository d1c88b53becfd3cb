//! `freebusy.query`: busy intervals from confirmed/tentative, opaque events.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::book::{CalendarBook, event_span};
use super::{authed, is_own};
use crate::errors::{ApiError, calendar as err, json_ok};
use crate::state::{Emulator, rfc3339};

pub(crate) async fn query(State(emu): State<Emulator>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let world = emu.lock();
    let email = authed(&world, &headers, "calendar.freebusy.query")?;
    let body: Value = serde_json::from_slice(&body)
        .map_err(|_| ApiError::legacy(400, "global", "parseError", "Parse Error", None))?;
    let time = |name: &str| -> Result<DateTime<Utc>, ApiError> {
        let raw = body.get(name).and_then(Value::as_str).ok_or_else(|| err::required(&format!("Missing {name}.")))?;
        DateTime::parse_from_rfc3339(raw)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| err::invalid(&format!("Invalid {name}.")))
    };
    let (min, max) = (time("timeMin")?, time("timeMax")?);
    if min >= max {
        return Err(err::time_range_empty("timeMax"));
    }
    let mut calendars = Map::new();
    let items = body.get("items").and_then(Value::as_array).cloned().unwrap_or_default();
    for id in items.iter().filter_map(|i| i.get("id").and_then(Value::as_str)) {
        let entry = match world.accounts.get(&email).filter(|_| is_own(id, &email)) {
            Some(account) => json!({ "busy": busy(&account.calendar, min, max) }),
            None => json!({ "errors": [{ "domain": "global", "reason": "notFound" }], "busy": [] }),
        };
        calendars.insert(id.to_owned(), entry);
    }
    Ok(json_ok(json!({
        "kind": "calendar#freeBusy",
        "timeMin": rfc3339(min),
        "timeMax": rfc3339(max),
        "calendars": calendars,
    })))
}

/// Merged busy periods overlapping `[min, max)`, clipped to it. Recurring events are not expanded.
fn busy(book: &CalendarBook, min: DateTime<Utc>, max: DateTime<Utc>) -> Vec<Value> {
    let mut spans: Vec<(DateTime<Utc>, DateTime<Utc>)> = book
        .by_seq()
        .filter(|r| !r.cancelled() && r.event.get("transparency").and_then(Value::as_str) != Some("transparent"))
        .filter_map(|r| event_span(&r.event))
        .filter(|(start, end)| *end > min && *start < max)
        .map(|(start, end)| (start.max(min), end.min(max)))
        .collect();
    spans.sort();
    let mut merged: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    for (start, end) in spans {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    let fmt = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    merged.into_iter().map(|(s, e)| json!({ "start": fmt(s), "end": fmt(e) })).collect()
}
