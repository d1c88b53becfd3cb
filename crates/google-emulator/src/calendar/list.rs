//! `events.list`: filters, paging and sync tokens (invalid token → 410 fullSyncRequired).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::book::{CalendarBook, Cursor, EventRecord, event_span};
use crate::errors::{ApiError, calendar as err};
use crate::oauth::param;
use crate::state::{Rng, rfc3339};

type Params = Vec<(String, String)>;

/// Parameters that cannot be combined with `syncToken`.
const NOT_WITH_SYNC: &[&str] = &[
    "iCalUID",
    "orderBy",
    "privateExtendedProperty",
    "q",
    "sharedExtendedProperty",
    "timeMin",
    "timeMax",
    "updatedMin",
];

pub(crate) fn list(
    book: &mut CalendarBook,
    rng: &mut Rng,
    now: DateTime<Utc>,
    calendar_id: &str,
    params: &Params,
) -> Result<Value, ApiError> {
    let max_results = match param(params, "maxResults") {
        None => 250,
        Some(raw) => match raw.parse::<i64>() {
            // "can never be larger than 2500": larger values are capped.
            Ok(n) if n >= 1 => n.min(2500) as usize,
            _ => {
                return Err(err::invalid(&format!(
                    "Invalid value '{raw}'. Values must be within the range: [1, 2500]"
                )));
            }
        },
    };
    let mut fingerprint: Vec<String> = params
        .iter()
        .filter(|(k, _)| k != "pageToken" && k != "alt" && k != "prettyPrint")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    fingerprint.sort();
    let fingerprint = fingerprint.join("&");

    let cursor = match param(params, "pageToken").filter(|t| !t.is_empty()) {
        Some(token) => {
            let cursor = book.page_cursors.get(token).cloned().ok_or_else(|| err::invalid("Invalid page token."))?;
            if cursor.fingerprint != fingerprint {
                return Err(err::invalid("Parameters given with a pageToken must match the call that returned it."));
            }
            cursor
        }
        None => first_cursor(book, params, fingerprint)?,
    };

    let end = (cursor.offset + max_results).min(cursor.ids.len());
    let items: Vec<Value> = cursor.ids[cursor.offset..end]
        .iter()
        .filter_map(|id| book.get(id))
        .map(|r| if r.cancelled() { r.tombstone() } else { r.event.clone() })
        .collect();

    let mut out = Map::new();
    out.insert("kind".into(), json!("calendar#events"));
    out.insert("etag".into(), json!(format!("\"p3{}\"", book.head())));
    out.insert("summary".into(), json!(calendar_id));
    out.insert("updated".into(), json!(rfc3339(now)));
    out.insert("timeZone".into(), json!("UTC"));
    out.insert("accessRole".into(), json!("owner"));
    out.insert("defaultReminders".into(), json!([]));
    if end < cursor.ids.len() {
        let token = rng.token(40);
        book.page_cursors.insert(token.clone(), Cursor { offset: end, ..cursor });
        out.insert("nextPageToken".into(), json!(token));
    } else {
        let token = format!("CP{}", rng.token(30));
        book.sync_tokens.insert(token.clone(), (cursor.sync_seq, book.sync_epoch));
        out.insert("nextSyncToken".into(), json!(token));
    }
    out.insert("items".into(), Value::Array(items));
    Ok(Value::Object(out))
}

fn first_cursor(book: &CalendarBook, params: &Params, fingerprint: String) -> Result<Cursor, ApiError> {
    let ids = if let Some(token) = param(params, "syncToken").filter(|t| !t.is_empty()) {
        if let Some(bad) = NOT_WITH_SYNC.iter().find(|p| param(params, p).is_some()) {
            return Err(err::invalid(&format!("The parameter {bad} cannot be used together with syncToken.")));
        }
        let (seq, epoch) = *book.sync_tokens.get(token).ok_or_else(err::full_sync_required)?;
        if epoch != book.sync_epoch {
            return Err(err::full_sync_required());
        }
        book.changed_since(seq)
    } else {
        full_listing(book, params)?
    };
    Ok(Cursor { ids: Arc::new(ids), offset: 0, fingerprint, sync_seq: book.head() })
}

fn full_listing(book: &CalendarBook, params: &Params) -> Result<Vec<String>, ApiError> {
    let time = |name: &str| -> Result<Option<DateTime<Utc>>, ApiError> {
        param(params, name)
            .map(|raw| {
                DateTime::parse_from_rfc3339(raw)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|_| err::invalid(&format!("Bad Request: invalid {name}")))
            })
            .transpose()
    };
    let (time_min, time_max, updated_min) = (time("timeMin")?, time("timeMax")?, time("updatedMin")?);
    if let (Some(min), Some(max)) = (time_min, time_max)
        && min >= max
    {
        return Err(err::time_range_empty("timeMax"));
    }
    // updatedMin: "entries deleted since this time will always be included regardless of showDeleted".
    let show_deleted = param(params, "showDeleted") == Some("true") || updated_min.is_some();
    let query = param(params, "q").map(str::to_lowercase);
    let extended = |kind: &str| -> Vec<(String, String)> {
        params
            .iter()
            .filter(|(k, _)| k == &format!("{kind}ExtendedProperty"))
            .filter_map(|(_, v)| v.split_once('=').map(|(a, b)| (a.to_owned(), b.to_owned())))
            .collect()
    };
    let (private, shared) = (extended("private"), extended("shared"));
    let keep = |r: &&EventRecord| {
        let e = &r.event;
        let span = event_span(e);
        let text = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or_default().to_lowercase();
        let props_match = |kind: &str, wanted: &[(String, String)]| {
            wanted
                .iter()
                .all(|(k, v)| e.pointer(&format!("/extendedProperties/{kind}/{k}")).and_then(Value::as_str) == Some(v))
        };
        (show_deleted || !r.cancelled())
            && time_min.is_none_or(|min| span.is_some_and(|(_, end)| end > min))
            && time_max.is_none_or(|max| span.is_some_and(|(start, _)| start < max))
            && updated_min.is_none_or(|min| {
                e.get("updated")
                    .and_then(Value::as_str)
                    .and_then(|u| DateTime::parse_from_rfc3339(u).ok())
                    .is_some_and(|u| u >= min)
            })
            && query.as_ref().is_none_or(|q| ["summary", "description", "location"].iter().any(|k| text(k).contains(q)))
            && param(params, "iCalUID").is_none_or(|uid| e.get("iCalUID").and_then(Value::as_str) == Some(uid))
            && props_match("private", &private)
            && props_match("shared", &shared)
    };
    let mut records: Vec<&EventRecord> = book.by_seq().filter(keep).collect();
    match param(params, "orderBy") {
        None | Some("updated") => {}
        Some("startTime") if param(params, "singleEvents") == Some("true") => {
            records.sort_by_key(|r| event_span(&r.event).map(|(start, _)| start));
        }
        Some("startTime") => {
            return Err(err::invalid("The requested ordering is not available for the particular query."));
        }
        Some(other) => return Err(err::invalid(&format!("Invalid value for orderBy: {other}"))),
    }
    Ok(records.iter().filter_map(|r| r.event["id"].as_str().map(str::to_owned)).collect())
}
