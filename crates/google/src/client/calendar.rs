//! Calendar API calls.

use reqwest::{Method, Url};

use super::transport::{Body, Call};
use super::{GoogleClient, Session, join};
use crate::calendar::{Event, Events, FreeBusyRequest, FreeBusyResponse, ListEvents};
use crate::error::GoogleError;

impl GoogleClient {
    /// Inserts an event. Give it an `id` derived from our booking so a retried insert answers 409 `duplicate`
    /// instead of creating a second event.
    pub async fn insert_event(
        &self,
        session: &Session,
        calendar_id: &str,
        event: &Event,
    ) -> Result<Event, GoogleError> {
        let call = Call::new(Method::POST, self.events_url(calendar_id, None)?, Some(session)).body(Body::json(event)?);
        self.execute_json(call, "Event").await
    }

    /// One event; cancelled events are returned too.
    pub async fn get_event(&self, session: &Session, calendar_id: &str, event_id: &str) -> Result<Event, GoogleError> {
        let call = Call::new(Method::GET, self.events_url(calendar_id, Some(event_id))?, Some(session));
        self.execute_json(call, "Event").await
    }

    /// Patches the fields `event` sets. With `if_match` (the etag we read), a changed event fails with
    /// [`GoogleError::is_etag_mismatch`] (412).
    pub async fn patch_event(
        &self,
        session: &Session,
        calendar_id: &str,
        event_id: &str,
        event: &Event,
        if_match: Option<&str>,
    ) -> Result<Event, GoogleError> {
        let mut call = Call::new(Method::PATCH, self.events_url(calendar_id, Some(event_id))?, Some(session))
            .body(Body::json(event)?);
        call.if_match = if_match;
        self.execute_json(call, "Event").await
    }

    /// Deletes an event (204). Deleting one already deleted fails with [`GoogleError::is_not_found`] (410).
    pub async fn delete_event(&self, session: &Session, calendar_id: &str, event_id: &str) -> Result<(), GoogleError> {
        let call = Call::new(Method::DELETE, self.events_url(calendar_id, Some(event_id))?, Some(session));
        self.execute(call).await.map(drop)
    }

    /// One page of events; with a sync token, only changes (deleted ones included) since it was issued.
    pub async fn list_events(
        &self,
        session: &Session,
        calendar_id: &str,
        params: &ListEvents,
    ) -> Result<Events, GoogleError> {
        let call = Call::new(Method::GET, self.events_url(calendar_id, None)?, Some(session)).query(&params.query());
        self.execute_json(call, "Events").await
    }

    /// Busy periods of calendars.
    pub async fn free_busy(&self, session: &Session, req: &FreeBusyRequest) -> Result<FreeBusyResponse, GoogleError> {
        let url = join(&self.inner.endpoints.calendar, &["freeBusy"])?;
        let call = Call::new(Method::POST, url, Some(session)).body(Body::json(req)?);
        self.execute_json(call, "FreeBusyResponse").await
    }

    fn events_url(&self, calendar_id: &str, event_id: Option<&str>) -> Result<Url, GoogleError> {
        let base = &self.inner.endpoints.calendar;
        match event_id {
            Some(id) => join(base, &["calendars", calendar_id, "events", id]),
            None => join(base, &["calendars", calendar_id, "events"]),
        }
    }
}
