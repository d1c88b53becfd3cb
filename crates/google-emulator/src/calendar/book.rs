//! One account's primary calendar: events (deleted ones stay, `status: cancelled`) and a
//! change log for sync tokens, like the People book.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value, json};

use crate::errors::{ApiError, calendar as err};
use crate::state::{Recent, Rng, rfc3339};

#[derive(Default)]
pub(crate) struct CalendarBook {
    events: HashMap<String, EventRecord>,
    by_seq: BTreeMap<u64, String>,
    seq: u64,
    /// Bumped by the control API to invalidate every sync token (→ 410).
    pub sync_epoch: u64,
    pub sync_tokens: HashMap<String, (u64, u64)>,
    pub page_cursors: Recent<Cursor>,
}

pub(crate) struct EventRecord {
    pub event: Value,
    pub seq: u64,
}

#[derive(Clone)]
pub(crate) struct Cursor {
    pub ids: Arc<Vec<String>>,
    pub offset: usize,
    pub fingerprint: String,
    pub sync_seq: u64,
}

/// Fields the server owns: ignored in request bodies.
const MANAGED: &[&str] =
    &["kind", "etag", "id", "htmlLink", "created", "updated", "creator", "organizer", "iCalUID", "sequence"];

impl EventRecord {
    pub fn cancelled(&self) -> bool {
        self.event.get("status").and_then(Value::as_str) == Some("cancelled")
    }

    /// What a listing shows of a cancelled event ("only guaranteed to have the id field").
    pub fn tombstone(&self) -> Value {
        json!({
            "kind": "calendar#event",
            "etag": self.event["etag"],
            "id": self.event["id"],
            "status": "cancelled",
        })
    }
}

impl CalendarBook {
    pub fn head(&self) -> u64 {
        self.seq
    }

    pub fn get(&self, id: &str) -> Option<&EventRecord> {
        self.events.get(id)
    }

    /// Events in change order (oldest change first).
    pub fn by_seq(&self) -> impl Iterator<Item = &EventRecord> {
        self.by_seq.values().filter_map(|id| self.events.get(id))
    }

    pub fn changed_since(&self, seq: u64) -> Vec<String> {
        self.by_seq.range(seq + 1..).map(|(_, id)| id.clone()).collect()
    }

    pub fn insert(
        &mut self,
        rng: &mut Rng,
        now: DateTime<Utc>,
        owner: &str,
        body: &Value,
    ) -> Result<&EventRecord, ApiError> {
        let id = match body.get("id").and_then(Value::as_str) {
            Some(id) => {
                if !valid_event_id(id) {
                    return Err(err::invalid("Invalid resource id value."));
                }
                id.to_owned()
            }
            None => rng.base32hex(26),
        };
        if self.events.contains_key(&id) {
            return Err(err::duplicate());
        }
        let mut event = writable(body);
        check_times(&event)?;
        let person = json!({ "email": owner, "self": true });
        let link = STANDARD_NO_PAD.encode(format!("{id} {owner}"));
        event.insert("kind".into(), json!("calendar#event"));
        event.insert("id".into(), json!(id));
        event.entry("status").or_insert(json!("confirmed"));
        event.insert("htmlLink".into(), json!(format!("https://www.google.com/calendar/event?eid={link}")));
        event.insert("created".into(), json!(rfc3339(now)));
        event.insert("creator".into(), person.clone());
        event.insert("organizer".into(), person);
        event.insert("iCalUID".into(), json!(format!("{id}@google.com")));
        event.insert("sequence".into(), json!(0));
        event.entry("reminders").or_insert(json!({ "useDefault": true }));
        event.entry("eventType").or_insert(json!("default"));
        self.events.insert(id.clone(), EventRecord { event: Value::Object(event), seq: 0 });
        self.touch(&id, now);
        Ok(&self.events[&id])
    }

    /// `patch` merges the body into the event; `update` (PUT) replaces every writable field.
    pub fn modify(
        &mut self,
        now: DateTime<Utc>,
        id: &str,
        body: &Value,
        patch: bool,
    ) -> Result<&EventRecord, ApiError> {
        let record = self.events.get_mut(id).ok_or_else(err::not_found)?;
        let mut event = record.event.as_object().cloned().unwrap_or_default();
        let changes = writable(body);
        if !patch {
            event.retain(|k, _| MANAGED.contains(&k.as_str()));
            event.insert("status".into(), json!("confirmed"));
        }
        for (key, value) in changes {
            merge_value(&mut event, key, value);
        }
        check_times(&event)?;
        record.event = Value::Object(event);
        self.touch(id, now);
        Ok(&self.events[id])
    }

    pub fn cancel(&mut self, now: DateTime<Utc>, id: &str) -> Result<(), ApiError> {
        let record = self.events.get_mut(id).ok_or_else(err::not_found)?;
        if record.cancelled() {
            return Err(err::deleted());
        }
        record.event["status"] = json!("cancelled");
        self.touch(id, now);
        Ok(())
    }

    fn touch(&mut self, id: &str, now: DateTime<Utc>) {
        let Some(record) = self.events.get_mut(id) else { return };
        self.by_seq.remove(&record.seq);
        self.seq += 1;
        record.seq = self.seq;
        record.event["updated"] = json!(rfc3339(now));
        record.event["etag"] = json!(format!("\"{}\"", now.timestamp_millis() * 1000 + (self.seq % 1000) as i64));
        self.by_seq.insert(self.seq, id.to_owned());
    }
}

/// Client-supplied ids: base32hex characters (a-v, 0-9), 5 to 1024 of them.
fn valid_event_id(id: &str) -> bool {
    (5..=1024).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'v').contains(&b))
}

fn writable(body: &Value) -> Map<String, Value> {
    let mut event = body.as_object().cloned().unwrap_or_default();
    event.retain(|k, _| !MANAGED.contains(&k.as_str()));
    event
}

/// JSON merge for patch semantics: objects merge, arrays and scalars replace, null clears.
fn merge_value(target: &mut Map<String, Value>, key: String, value: Value) {
    match (target.get_mut(&key), value) {
        (_, Value::Null) => {
            target.remove(&key);
        }
        (Some(Value::Object(existing)), Value::Object(changes)) => {
            for (k, v) in changes {
                merge_value(existing, k, v);
            }
        }
        (_, value) => {
            target.insert(key, value);
        }
    }
}

fn check_times(event: &Map<String, Value>) -> Result<(), ApiError> {
    let start = event.get("start").ok_or_else(|| err::required("Missing start time."))?;
    let end = event.get("end").ok_or_else(|| err::required("Missing end time."))?;
    let start = event_time(start).ok_or_else(|| err::invalid("Invalid start time."))?;
    let end = event_time(end).ok_or_else(|| err::invalid("Invalid end time."))?;
    if end < start {
        return Err(err::time_range_empty("end"));
    }
    Ok(())
}

/// An EventDateTime as an instant; all-day `date`s are taken at UTC midnight (the emulator
/// ignores `timeZone`).
pub(crate) fn event_time(value: &Value) -> Option<DateTime<Utc>> {
    if let Some(text) = value.get("dateTime").and_then(Value::as_str) {
        return DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc));
    }
    let date = value.get("date").and_then(Value::as_str)?;
    let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc())
}

/// An event's `[start, end)`.
pub(crate) fn event_span(event: &Value) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    Some((event_time(event.get("start")?)?, event_time(event.get("end")?)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids() {
        assert!(valid_event_id("abcde"));
        assert!(valid_event_id("0123456789abcdefghijklmnopqrstuv"));
        assert!(!valid_event_id("abcd"));
        assert!(!valid_event_id("abcdw"));
        assert!(!valid_event_id("ABCDE"));
    }

    #[test]
    fn patch_merges_objects() {
        let mut event = json!({ "start": { "dateTime": "a", "timeZone": "UTC" }, "attendees": [1, 2] })
            .as_object()
            .cloned()
            .unwrap();
        merge_value(&mut event, "start".into(), json!({ "dateTime": "b" }));
        merge_value(&mut event, "attendees".into(), json!([3]));
        assert_eq!(Value::Object(event), json!({ "start": { "dateTime": "b", "timeZone": "UTC" }, "attendees": [3] }));
    }
}
