//! People API calls. Google asks for mutations of one user to be sent one at a time; the caller's worker
//! does that, this client does not serialize them.

use reqwest::Method;

use super::transport::{Body, Call};
use super::{GoogleClient, Session, join, resource_segments};
use crate::error::GoogleError;
use crate::people::{ListConnections, ListConnectionsResponse, Person};

impl GoogleClient {
    /// One page of the user's contacts (`people/me/connections`), full or incremental per `params`.
    pub async fn list_connections(
        &self,
        session: &Session,
        params: &ListConnections,
    ) -> Result<ListConnectionsResponse, GoogleError> {
        let url = join(&self.inner.endpoints.people, &["people", "me", "connections"])?;
        let call = Call::new(Method::GET, url, Some(session)).query(&params.query());
        self.execute_json(call, "ListConnectionsResponse").await
    }

    /// One person by resource name (`people/c123`); `person_fields` is required by Google.
    pub async fn get_person(
        &self,
        session: &Session,
        resource_name: &str,
        person_fields: &str,
    ) -> Result<Person, GoogleError> {
        let call = Call::new(Method::GET, self.people_url(resource_name, "")?, Some(session))
            .query(&[("personFields", person_fields.to_owned())]);
        self.execute_json(call, "Person").await
    }

    /// Creates a contact; answers it with `person_fields` (empty = Google's default, all fields).
    ///
    /// Not idempotent: if an attempt times out after Google created the contact, the retry creates a second
    /// one. Tag `person` with our id in `clientData` so the inbound sync can recognise such a twin.
    pub async fn create_contact(
        &self,
        session: &Session,
        person: &Person,
        person_fields: &str,
    ) -> Result<Person, GoogleError> {
        let url = join(&self.inner.endpoints.people, &["people:createContact"])?;
        let call = Call::new(Method::POST, url, Some(session))
            .query(&optional("personFields", person_fields))
            .body(Body::json(person)?);
        self.execute_json(call, "Person").await
    }

    /// Replaces the fields named in `update_person_fields` with `person`'s. `person` must carry the etag it
    /// was read with (`etag` or `metadata.sources[].etag`); a stale one fails with
    /// [`GoogleError::is_etag_mismatch`]. Answers the updated person with `person_fields` (empty = default).
    pub async fn update_contact(
        &self,
        session: &Session,
        resource_name: &str,
        person: &Person,
        update_person_fields: &str,
        person_fields: &str,
    ) -> Result<Person, GoogleError> {
        let mut query = vec![("updatePersonFields", update_person_fields.to_owned())];
        query.extend(optional("personFields", person_fields));
        let call = Call::new(Method::PATCH, self.people_url(resource_name, ":updateContact")?, Some(session))
            .query(&query)
            .body(Body::json(person)?);
        self.execute_json(call, "Person").await
    }

    /// Deletes a contact.
    pub async fn delete_contact(&self, session: &Session, resource_name: &str) -> Result<(), GoogleError> {
        let call = Call::new(Method::DELETE, self.people_url(resource_name, ":deleteContact")?, Some(session));
        self.execute(call).await.map(drop)
    }

    fn people_url(&self, resource_name: &str, suffix: &str) -> Result<reqwest::Url, GoogleError> {
        let segments = resource_segments(resource_name, suffix)?;
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        join(&self.inner.endpoints.people, &segments)
    }
}

fn optional(name: &'static str, value: &str) -> Vec<(&'static str, String)> {
    if value.is_empty() { Vec::new() } else { vec![(name, value.to_owned())] }
}
