//! People API v1 wire types: the `Person` resource and `people.connections.list`.
//!
//! Every field is optional or a possibly empty list and skipped when empty, so a body we build for
//! `updateContact` carries exactly the fields we set (Google replaces each field named in
//! `updatePersonFields` with what the body has).

use serde::{Deserialize, Serialize};

/// The `personFields` mask the sync reads: everything a contact maps to, plus `metadata` for sources,
/// etags, deletions and merges.
pub const SYNC_PERSON_FIELDS: &str =
    "names,nicknames,phoneNumbers,emailAddresses,organizations,addresses,biographies,urls,clientData,metadata";

/// The `updatePersonFields` mask for the fields we write (People rejects `metadata` there).
pub const UPDATE_PERSON_FIELDS: &str =
    "names,nicknames,phoneNumbers,emailAddresses,organizations,addresses,biographies,urls,clientData";

/// A person or contact (`people/{id}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Person {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
    /// The person's etag. `updateContact` compares it (or the CONTACT source's etag) with the current one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<PersonMetadata>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<Name>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nicknames: Vec<Nickname>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phone_numbers: Vec<PhoneNumber>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub email_addresses: Vec<EmailAddress>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub organizations: Vec<Organization>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<Address>,
    /// Notes; a singleton for contact sources.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub biographies: Vec<Biography>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<Url>,
    /// Arbitrary key/value pairs private to our OAuth client: we tag the people we create with our contact id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub client_data: Vec<ClientData>,
}

impl Person {
    /// Whether an incremental sync reports this person as deleted.
    pub fn is_deleted(&self) -> bool {
        self.metadata.as_ref().is_some_and(|m| m.deleted)
    }

    /// The CONTACT source (the user's own contact entry, the one mutations act on), if present.
    pub fn contact_source(&self) -> Option<&Source> {
        self.metadata.as_ref()?.sources.iter().find(|s| s.source_type.as_deref() == Some(SOURCE_TYPE_CONTACT))
    }

    /// The CONTACT source's etag, which `updateContact` checks; falls back to the person's etag.
    pub fn source_etag(&self) -> Option<&str> {
        self.contact_source().and_then(|s| s.etag.as_deref()).or(self.etag.as_deref())
    }

    /// Resource names this person was known by before a merge, so links to them can be followed.
    pub fn previous_resource_names(&self) -> &[String] {
        self.metadata.as_ref().map_or(&[], |m| &m.previous_resource_names)
    }

    /// The name marked primary, else the first.
    pub fn primary_name(&self) -> Option<&Name> {
        primary(&self.names, |n| n.metadata.as_ref())
    }

    /// The phone number marked primary, else the first.
    pub fn primary_phone(&self) -> Option<&PhoneNumber> {
        primary(&self.phone_numbers, |p| p.metadata.as_ref())
    }

    /// The email address marked primary, else the first.
    pub fn primary_email(&self) -> Option<&EmailAddress> {
        primary(&self.email_addresses, |e| e.metadata.as_ref())
    }

    /// The organization marked primary, else the current one, else the first.
    pub fn primary_organization(&self) -> Option<&Organization> {
        self.organizations
            .iter()
            .find(|o| o.metadata.as_ref().is_some_and(|m| m.primary == Some(true)))
            .or_else(|| self.organizations.iter().find(|o| o.current == Some(true)))
            .or(self.organizations.first())
    }

    /// The value stored under `key` in `clientData`.
    pub fn client_data_value(&self, key: &str) -> Option<&str> {
        self.client_data.iter().find(|c| c.key == key).map(|c| c.value.as_str())
    }

    /// Sets `key` in `clientData`, replacing an existing entry for it.
    pub fn set_client_data(&mut self, key: &str, value: impl Into<String>) {
        let value = value.into();
        match self.client_data.iter_mut().find(|c| c.key == key) {
            Some(entry) => entry.value = value,
            None => self.client_data.push(ClientData { key: key.to_owned(), value, metadata: None }),
        }
    }
}

fn primary<T>(items: &[T], metadata: impl Fn(&T) -> Option<&FieldMetadata>) -> Option<&T> {
    items.iter().find(|i| metadata(i).is_some_and(|m| m.primary == Some(true))).or(items.first())
}

/// `Source.type` of the user's own contact entry.
pub const SOURCE_TYPE_CONTACT: &str = "CONTACT";

/// Person-level metadata (output only): sources with their etags, merges, deletion in incremental syncs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PersonMetadata {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<Source>,
    /// Only in `connections.list` with a sync token: the names this person had before a merge.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub previous_resource_names: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub linked_people_resource_names: Vec<String>,
    /// Only in sync responses: the person was deleted since the last sync.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    /// Deprecated by Google; kept so a round trip is faithful.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_type: Option<String>,
}

/// Where a person's data comes from (CONTACT, PROFILE, ...), with that source's etag.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    /// SOURCE_TYPE_UNSPECIFIED, ACCOUNT, PROFILE, DOMAIN_PROFILE, CONTACT, OTHER_CONTACT, DOMAIN_CONTACT.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub source_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Only in `person.metadata.sources`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// RFC 3339 timestamp; only in `person.metadata.sources`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_metadata: Option<ProfileMetadata>,
}

/// Metadata of a PROFILE source.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_type: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user_types: Vec<String>,
}

/// Metadata on each field item: which one is primary and which source it came from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldMetadata {
    /// Output only; Google guarantees exactly one primary per non-empty field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_primary: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
}

/// A name; a singleton for contact sources.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Name {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<FieldMetadata>,
    /// Output only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Output only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name_last_first: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unstructured_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub honorific_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub honorific_suffix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phonetic_full_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phonetic_given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phonetic_middle_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phonetic_family_name: Option<String>,
}

/// A nickname.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Nickname {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<FieldMetadata>,
    #[serde(default)]
    pub value: String,
    /// DEFAULT, MAIDEN_NAME, INITIALS, ... (mostly output).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub nickname_type: Option<String>,
}

/// A phone number as the user typed it, with Google's E.164 reading of it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhoneNumber {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<FieldMetadata>,
    #[serde(default)]
    pub value: String,
    /// Output only: E.164, absent when Google could not parse the value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canonical_form: Option<String>,
    /// home, work, mobile, homeFax, workFax, otherFax, pager, workMobile, workPager, main, googleVoice, other,
    /// or any custom label.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub phone_type: Option<String>,
    /// Output only, localized.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted_type: Option<String>,
}

/// An email address.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmailAddress {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<FieldMetadata>,
    #[serde(default)]
    pub value: String,
    /// home, work, other, or a custom label.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub email_type: Option<String>,
    /// Output only, localized.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

/// A past or present organization (company, school).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<FieldMetadata>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// work, school, or a custom label.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub organization_type: Option<String>,
    /// Output only, localized.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phonetic_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_center: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<Date>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<Date>,
}

/// A calendar date whose parts may be missing (a birthday without a year, say).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Date {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub year: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub month: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day: Option<u32>,
}

/// A postal address.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<FieldMetadata>,
    /// Output only when the structured parts are set: the whole address as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted_value: Option<String>,
    /// home, work, other, or a custom label.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub address_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub po_box: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extended_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// ISO 3166-1 alpha-2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country_code: Option<String>,
}

/// A short biography; we keep the contact's notes here.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Biography {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<FieldMetadata>,
    #[serde(default)]
    pub value: String,
    /// TEXT_PLAIN (default) or TEXT_HTML.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
}

/// A URL (homepage, LinkedIn profile, ...).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Url {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<FieldMetadata>,
    #[serde(default)]
    pub value: String,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub url_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted_type: Option<String>,
}

/// A key/value pair only our OAuth client can see.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<FieldMetadata>,
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub value: String,
}

/// Parameters of `people.connections.list` (the resource is always `people/me`).
///
/// Google requires a page or sync token request to repeat every other parameter of the first call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListConnections {
    /// Required field mask, e.g. [`SYNC_PERSON_FIELDS`].
    pub person_fields: String,
    /// 1..=1000; Google defaults to 100.
    pub page_size: Option<u32>,
    pub page_token: Option<String>,
    /// Ask for `nextSyncToken` on the last page.
    pub request_sync_token: bool,
    pub sync_token: Option<String>,
    pub sort_order: Option<SortOrder>,
}

impl ListConnections {
    /// The first page of a full sync: all our fields, 1000 per page, asking for a sync token.
    pub fn full_sync() -> Self {
        ListConnections {
            person_fields: SYNC_PERSON_FIELDS.to_owned(),
            page_size: Some(1000),
            page_token: None,
            request_sync_token: true,
            sync_token: None,
            sort_order: None,
        }
    }

    /// An incremental sync from `sync_token`, with the same other parameters as [`ListConnections::full_sync`].
    pub fn incremental(sync_token: impl Into<String>) -> Self {
        ListConnections { sync_token: Some(sync_token.into()), ..Self::full_sync() }
    }

    /// The same request for the page after `page_token`.
    pub fn with_page_token(&self, page_token: impl Into<String>) -> Self {
        ListConnections { page_token: Some(page_token.into()), ..self.clone() }
    }

    /// Query pairs in Google's names.
    pub fn query(&self) -> Vec<(&'static str, String)> {
        let mut q = vec![("personFields", self.person_fields.clone())];
        if let Some(n) = self.page_size {
            q.push(("pageSize", n.to_string()));
        }
        if let Some(t) = &self.page_token {
            q.push(("pageToken", t.clone()));
        }
        if self.request_sync_token {
            q.push(("requestSyncToken", "true".to_owned()));
        }
        if let Some(t) = &self.sync_token {
            q.push(("syncToken", t.clone()));
        }
        if let Some(o) = self.sort_order {
            q.push(("sortOrder", o.as_str().to_owned()));
        }
        q
    }
}

/// `sortOrder` of `connections.list`; Google's default is `LastModifiedAscending`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SortOrder {
    LastModifiedAscending,
    LastModifiedDescending,
    FirstNameAscending,
    LastNameAscending,
}

impl SortOrder {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            SortOrder::LastModifiedAscending => "LAST_MODIFIED_ASCENDING",
            SortOrder::LastModifiedDescending => "LAST_MODIFIED_DESCENDING",
            SortOrder::FirstNameAscending => "FIRST_NAME_ASCENDING",
            SortOrder::LastNameAscending => "LAST_NAME_ASCENDING",
        }
    }
}

/// One page of `people.connections.list`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListConnectionsResponse {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub connections: Vec<Person>,
    /// Absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
    /// Only on the last page, and only when `requestSyncToken` was set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_sync_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_items: Option<u32>,
    /// Deprecated by Google in favour of `totalItems`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_people: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn deleted_person_from_incremental_sync() {
        let p: Person =
            serde_json::from_str(r#"{"resourceName": "people/456", "metadata": {"deleted": true}}"#).unwrap();
        assert_eq!(p.resource_name.as_deref(), Some("people/456"));
        assert!(p.is_deleted());
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            json!({"resourceName": "people/456", "metadata": {"deleted": true}})
        );
    }

    #[test]
    fn full_person_round_trip_and_helpers() {
        let body = json!({
            "resourceName": "people/c123",
            "etag": "%EgUBAi43PRoEAQIFByIMR0xqTzBvSDZBNk09",
            "metadata": {
                "sources": [
                    {"type": "PROFILE", "id": "111", "profileMetadata": {"objectType": "PERSON", "userTypes": ["GOOGLE_USER"]}},
                    {"type": "CONTACT", "id": "c123", "etag": "#srcetag", "updateTime": "2026-01-02T03:04:05.678Z"}
                ],
                "previousResourceNames": ["people/c999"],
                "objectType": "PERSON"
            },
            "names": [{
                "metadata": {"primary": true, "source": {"type": "CONTACT", "id": "c123"}},
                "displayName": "Ada Lovelace", "familyName": "Lovelace", "givenName": "Ada",
                "displayNameLastFirst": "Lovelace, Ada", "unstructuredName": "Ada Lovelace"
            }],
            "phoneNumbers": [
                {"metadata": {"source": {"type": "CONTACT", "id": "c123"}}, "value": "020 7946 0000",
                 "canonicalForm": "+442079460000", "type": "work", "formattedType": "Work"},
                {"metadata": {"primary": true}, "value": "+44 7700 900123", "canonicalForm": "+447700900123",
                 "type": "mobile", "formattedType": "Mobile"}
            ],
            "emailAddresses": [{"metadata": {"primary": true}, "value": "ada@example.com", "type": "home", "formattedType": "Home"}],
            "organizations": [
                {"name": "Old Co", "current": false},
                {"name": "Analytical Engines Ltd", "title": "Programmer", "department": "R&D", "type": "work", "current": true,
                 "startDate": {"year": 1842, "month": 7}}
            ],
            "biographies": [{"value": "Met at the exhibition", "contentType": "TEXT_PLAIN"}],
            "clientData": [{"key": "switchboard.contact", "value": "0190f0e6-0000-7000-8000-000000000001"}]
        });
        let p: Person = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(serde_json::to_value(&p).unwrap(), body, "a read person serializes back unchanged");
        assert!(!p.is_deleted());
        assert_eq!(p.source_etag(), Some("#srcetag"));
        assert_eq!(p.previous_resource_names(), ["people/c999"]);
        assert_eq!(p.primary_name().unwrap().given_name.as_deref(), Some("Ada"));
        let phone = p.primary_phone().unwrap();
        assert_eq!(
            (phone.canonical_form.as_deref(), phone.phone_type.as_deref()),
            (Some("+447700900123"), Some("mobile"))
        );
        assert_eq!(p.primary_email().unwrap().value, "ada@example.com");
        assert_eq!(p.primary_organization().unwrap().name.as_deref(), Some("Analytical Engines Ltd"));
        assert_eq!(
            p.primary_organization().unwrap().start_date,
            Some(Date { year: Some(1842), month: Some(7), day: None })
        );
        assert_eq!(p.client_data_value("switchboard.contact"), Some("0190f0e6-0000-7000-8000-000000000001"));
    }

    #[test]
    fn source_etag_falls_back_to_person_etag() {
        let p = Person { etag: Some("e1".into()), ..Person::default() };
        assert_eq!(p.source_etag(), Some("e1"));
    }

    #[test]
    fn patch_body_carries_only_what_we_set() {
        let mut p = Person {
            etag: Some("etag-1".into()),
            names: vec![Name { given_name: Some("Grace".into()), ..Name::default() }],
            phone_numbers: vec![PhoneNumber {
                value: "+15550100".into(),
                phone_type: Some("mobile".into()),
                ..Default::default()
            }],
            ..Person::default()
        };
        p.set_client_data("switchboard.contact", "id-1");
        p.set_client_data("switchboard.contact", "id-2");
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            json!({
                "etag": "etag-1",
                "names": [{"givenName": "Grace"}],
                "phoneNumbers": [{"value": "+15550100", "type": "mobile"}],
                "clientData": [{"key": "switchboard.contact", "value": "id-2"}]
            })
        );
        assert_eq!(serde_json::to_value(Person::default()).unwrap(), json!({}));
    }

    #[test]
    fn list_response_and_params() {
        let page: ListConnectionsResponse = serde_json::from_value(json!({
            "connections": [{"resourceName": "people/c1", "etag": "a"}],
            "nextSyncToken": "sync-2", "totalItems": 1, "totalPeople": 1
        }))
        .unwrap();
        assert_eq!(page.connections.len(), 1);
        assert_eq!((page.next_page_token, page.next_sync_token.as_deref()), (None, Some("sync-2")));
        assert_eq!(page.total_items, Some(1));
        let empty: ListConnectionsResponse = serde_json::from_str("{}").unwrap();
        assert!(empty.connections.is_empty());

        let q = ListConnections::incremental("tok").with_page_token("p2").query();
        assert_eq!(
            q,
            vec![
                ("personFields", SYNC_PERSON_FIELDS.to_owned()),
                ("pageSize", "1000".to_owned()),
                ("pageToken", "p2".to_owned()),
                ("requestSyncToken", "true".to_owned()),
                ("syncToken", "tok".to_owned()),
            ]
        );
        let sorted = ListConnections { sort_order: Some(SortOrder::LastNameAscending), ..ListConnections::full_sync() };
        assert!(sorted.query().contains(&("sortOrder", "LAST_NAME_ASCENDING".to_owned())));
    }
}
