//! Calendar API v3 wire types: events (insert/get/patch/delete/list with sync tokens) and `freeBusy`.
//!
//! Thin on purpose: the fields bookings and busy-time mirroring use. Everything optional is skipped when
//! empty, so an [`Event`] built for `events.patch` sends only what we set.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::error::LegacyError;

/// An event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// May be chosen by the client on insert (base32hex `a-v0-9`, 5–1024 chars), which makes inserts idempotent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// confirmed (default), tentative or cancelled. Deleted events come back cancelled with only `id` set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html_link: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator: Option<EventPerson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organizer: Option<EventPerson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<EventDateTime>,
    /// Exclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<EventDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time_unspecified: Option<bool>,
    /// RRULE, EXRULE, RDATE and EXDATE lines.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recurrence: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurring_event_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_start_time: Option<EventDateTime>,
    /// opaque (default: blocks time) or transparent (does not show as busy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transparency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<String>,
    #[serde(rename = "iCalUID", default, skip_serializing_if = "Option::is_none")]
    pub ical_uid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attendees: Vec<Attendee>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extended_properties: Option<ExtendedProperties>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reminders: Option<Reminders>,
    /// default, birthday, focusTime, fromGmail, outOfOffice, workingLocation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<EventSource>,
}

impl Event {
    /// Cancelled: deleted, or a cancelled instance of a recurring event.
    pub fn is_cancelled(&self) -> bool {
        self.status.as_deref() == Some("cancelled")
    }

    /// Whether the event blocks time: not cancelled and not marked transparent.
    pub fn is_busy(&self) -> bool {
        !self.is_cancelled() && self.transparency.as_deref() != Some("transparent")
    }

    /// A private extended property (visible only to this calendar's copy); we mark our own events with one.
    pub fn private_property(&self, key: &str) -> Option<&str> {
        self.extended_properties.as_ref()?.private.get(key).map(String::as_str)
    }

    /// Sets a private extended property.
    pub fn set_private_property(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.extended_properties.get_or_insert_with(Default::default).private.insert(key.into(), value.into());
    }
}

/// Start or end: `date` for all-day events, else `date_time` (with `time_zone` for recurring ones).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventDateTime {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<NaiveDate>,
    /// RFC 3339 with an offset; the offset is kept as Google sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_time: Option<DateTime<FixedOffset>>,
    /// IANA zone name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

impl EventDateTime {
    /// A timed instant, written in UTC.
    pub fn at(instant: DateTime<Utc>) -> Self {
        EventDateTime { date_time: Some(instant.fixed_offset()), ..Self::default() }
    }

    /// A timed instant with the IANA zone it belongs to.
    pub fn at_in_zone(instant: DateTime<Utc>, time_zone: impl Into<String>) -> Self {
        EventDateTime { time_zone: Some(time_zone.into()), ..Self::at(instant) }
    }

    /// An all-day date.
    pub fn on(date: NaiveDate) -> Self {
        EventDateTime { date: Some(date), ..Self::default() }
    }
}

/// Creator or organizer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventPerson {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(rename = "self", default, skip_serializing_if = "Option::is_none")]
    pub is_self: Option<bool>,
}

/// An attendee; `email` is required when adding one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attendee {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// needsAction, declined, tentative, accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organizer: Option<bool>,
    #[serde(rename = "self", default, skip_serializing_if = "Option::is_none")]
    pub is_self: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// String properties attached to an event: `private` to this copy, `shared` with attendees.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtendedProperties {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub private: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub shared: BTreeMap<String, String>,
}

/// Reminders: the calendar's defaults or explicit overrides.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reminders {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_default: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<Reminder>,
}

/// One reminder override.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reminder {
    /// email or popup.
    pub method: String,
    pub minutes: u32,
}

/// Where an event was created from (a link back to our booking page, say).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventSource {
    pub title: String,
    pub url: String,
}

/// Parameters of `events.list`.
///
/// With a `sync_token`, Google rejects `time_min`, `time_max`, `updated_min`, `order_by` and the
/// extended-property filters, and always includes deleted events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListEvents {
    pub sync_token: Option<String>,
    pub page_token: Option<String>,
    /// Google's default 250, maximum 2500.
    pub max_results: Option<u32>,
    pub show_deleted: Option<bool>,
    /// Expand recurring events into instances.
    pub single_events: Option<bool>,
    /// Exclusive lower bound on an event's end.
    pub time_min: Option<DateTime<Utc>>,
    /// Exclusive upper bound on an event's start.
    pub time_max: Option<DateTime<Utc>>,
    pub updated_min: Option<DateTime<Utc>>,
    /// startTime (needs `single_events`) or updated.
    pub order_by: Option<String>,
    /// `key=value` filters on private extended properties.
    pub private_extended_property: Vec<String>,
}

impl ListEvents {
    /// The same request for the page after `page_token`.
    pub fn with_page_token(&self, page_token: impl Into<String>) -> Self {
        ListEvents { page_token: Some(page_token.into()), ..self.clone() }
    }

    /// Query pairs in Google's names.
    pub fn query(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        let mut opt = |name, value: Option<String>| {
            if let Some(v) = value {
                q.push((name, v));
            }
        };
        opt("syncToken", self.sync_token.clone());
        opt("pageToken", self.page_token.clone());
        opt("maxResults", self.max_results.map(|n| n.to_string()));
        opt("showDeleted", self.show_deleted.map(|b| b.to_string()));
        opt("singleEvents", self.single_events.map(|b| b.to_string()));
        opt("timeMin", self.time_min.map(rfc3339));
        opt("timeMax", self.time_max.map(rfc3339));
        opt("updatedMin", self.updated_min.map(rfc3339));
        opt("orderBy", self.order_by.clone());
        q.extend(self.private_extended_property.iter().map(|p| ("privateExtendedProperty", p.clone())));
        q
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// One page of `events.list`: `next_page_token` while more pages follow, `next_sync_token` on the last.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Events {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_role: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<Event>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_sync_token: Option<String>,
}

/// Body of `freebusy.query`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FreeBusyRequest {
    pub time_min: DateTime<Utc>,
    pub time_max: DateTime<Utc>,
    /// Zone of the response's times; Google's default is UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// At most 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_expansion_max: Option<u32>,
    /// At most 50.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendar_expansion_max: Option<u32>,
    pub items: Vec<FreeBusyRequestItem>,
}

impl FreeBusyRequest {
    /// Busy time of `calendar_ids` (e.g. `"primary"`) within `[time_min, time_max)`.
    pub fn new<I: Into<String>>(
        time_min: DateTime<Utc>,
        time_max: DateTime<Utc>,
        calendar_ids: impl IntoIterator<Item = I>,
    ) -> Self {
        let items = calendar_ids.into_iter().map(|id| FreeBusyRequestItem { id: id.into() }).collect();
        FreeBusyRequest {
            time_min,
            time_max,
            time_zone: None,
            group_expansion_max: None,
            calendar_expansion_max: None,
            items,
        }
    }
}

/// A calendar or group to query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FreeBusyRequestItem {
    pub id: String,
}

/// Answer of `freebusy.query`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FreeBusyResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_min: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_max: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub calendars: BTreeMap<String, FreeBusyCalendar>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub groups: BTreeMap<String, FreeBusyGroup>,
}

/// Busy periods of one calendar, or why there are none (`notFound`, `tooManyCalendarsRequested`, ...).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FreeBusyCalendar {
    #[serde(default)]
    pub busy: Vec<TimePeriod>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<LegacyError>,
}

/// The calendars a group expanded to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FreeBusyGroup {
    #[serde(default)]
    pub calendars: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<LegacyError>,
}

/// A busy period: `start` inclusive, `end` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimePeriod {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    #[test]
    fn free_busy_response_from_reference() {
        let body = r#"{"kind":"calendar#freeBusy","timeMin":"2026-01-01T00:00:00.000Z","timeMax":"2026-01-02T00:00:00.000Z",
 "calendars":{"primary":{"busy":[{"start":"2026-01-01T09:00:00Z","end":"2026-01-01T10:00:00Z"}]},
              "nobody@example.com":{"errors":[{"domain":"global","reason":"notFound"}],"busy":[]}}}"#;
        let r: FreeBusyResponse = serde_json::from_str(body).unwrap();
        assert_eq!(r.time_min, Some(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()));
        let busy = &r.calendars["primary"].busy;
        assert_eq!(busy.len(), 1);
        assert_eq!(busy[0].start, Utc.with_ymd_and_hms(2026, 1, 1, 9, 0, 0).unwrap());
        assert_eq!(busy[0].end, Utc.with_ymd_and_hms(2026, 1, 1, 10, 0, 0).unwrap());
        let nobody = &r.calendars["nobody@example.com"];
        assert!(nobody.busy.is_empty());
        assert_eq!(nobody.errors[0].reason.as_deref(), Some("notFound"));
        let again: FreeBusyResponse = serde_json::from_value(serde_json::to_value(&r).unwrap()).unwrap();
        assert_eq!(again, r);
    }

    #[test]
    fn free_busy_request_shape() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let req = FreeBusyRequest::new(t0, t0 + chrono::Duration::days(1), ["primary"]);
        assert_eq!(
            serde_json::to_value(&req).unwrap(),
            json!({"timeMin": "2026-01-01T00:00:00Z", "timeMax": "2026-01-02T00:00:00Z", "items": [{"id": "primary"}]})
        );
    }

    #[test]
    fn event_round_trip_and_helpers() {
        let body = json!({
            "kind": "calendar#event", "etag": "\"3181161784712000\"", "id": "bk0123456789abcdef",
            "status": "confirmed", "updated": "2026-01-01T08:00:00.123Z",
            "summary": "Haircut — Ada", "location": "Shop",
            "start": {"dateTime": "2026-01-05T09:00:00+01:00", "timeZone": "Europe/Berlin"},
            "end": {"dateTime": "2026-01-05T09:30:00+01:00", "timeZone": "Europe/Berlin"},
            "iCalUID": "bk0123456789abcdef@google.com",
            "extendedProperties": {"private": {"switchboardBooking": "b-1"}},
            "attendees": [{"email": "ada@example.com", "responseStatus": "needsAction", "self": true}]
        });
        let e: Event = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(e.private_property("switchboardBooking"), Some("b-1"));
        assert!(e.is_busy());
        let start = e.start.as_ref().unwrap().date_time.unwrap();
        assert_eq!(start.with_timezone(&Utc), Utc.with_ymd_and_hms(2026, 1, 5, 8, 0, 0).unwrap());
        assert_eq!(e.ical_uid.as_deref(), Some("bk0123456789abcdef@google.com"));
        let back = serde_json::to_value(&e).unwrap();
        assert_eq!(back["start"], body["start"], "the offset is kept");
        assert_eq!(back["attendees"], body["attendees"]);
        assert_eq!(serde_json::from_value::<Event>(back).unwrap(), e);

        let cancelled: Event = serde_json::from_value(json!({"id": "x1", "status": "cancelled"})).unwrap();
        assert!(cancelled.is_cancelled() && !cancelled.is_busy());
        let free: Event = serde_json::from_value(json!({"id": "x2", "transparency": "transparent"})).unwrap();
        assert!(!free.is_busy());
        let all_day: EventDateTime = serde_json::from_value(json!({"date": "2026-02-03"})).unwrap();
        assert_eq!(all_day, EventDateTime::on(NaiveDate::from_ymd_opt(2026, 2, 3).unwrap()));
    }

    #[test]
    fn patch_body_is_minimal() {
        let mut e = Event { summary: Some("New".into()), ..Event::default() };
        e.set_private_property("k", "v");
        let t = Utc.with_ymd_and_hms(2026, 1, 5, 8, 0, 0).unwrap();
        e.start = Some(EventDateTime::at_in_zone(t, "Europe/Berlin"));
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            json!({"summary": "New", "start": {"dateTime": "2026-01-05T08:00:00Z", "timeZone": "Europe/Berlin"},
                   "extendedProperties": {"private": {"k": "v"}}})
        );
    }

    #[test]
    fn events_page_and_list_params() {
        let page: Events = serde_json::from_value(json!({
            "kind": "calendar#events", "items": [{"id": "a", "status": "cancelled"}], "nextSyncToken": "s2"
        }))
        .unwrap();
        assert_eq!((page.items.len(), page.next_sync_token.as_deref()), (1, Some("s2")));

        let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let params = ListEvents {
            max_results: Some(2500),
            single_events: Some(true),
            time_min: Some(t),
            private_extended_property: vec!["switchboardBooking=b-1".into()],
            ..ListEvents::default()
        };
        assert_eq!(
            params.with_page_token("p").query(),
            vec![
                ("pageToken", "p".to_owned()),
                ("maxResults", "2500".to_owned()),
                ("singleEvents", "true".to_owned()),
                ("timeMin", "2026-01-01T00:00:00Z".to_owned()),
                ("privateExtendedProperty", "switchboardBooking=b-1".to_owned()),
            ]
        );
    }
}
