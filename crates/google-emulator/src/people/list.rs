//! `people.connections.list`: full listings, incremental syncs, paging and sync tokens.
//!
//! The first call of a listing fixes which people it returns (ids only; each page shows their
//! current state) and the change-log position its final sync token will carry, so changes made
//! while a client pages are delivered again by the next incremental sync rather than lost.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value, json};

use super::book::{Cursor, Entry, PeopleBook, SyncToken};
use super::person::{READ_FIELDS, parse_mask};
use crate::errors::{ApiError, people as err};
use crate::oauth::param;
use crate::state::Rng;

/// "Sync tokens expire 7 days after the full sync."
const SYNC_TOKEN_DAYS: i64 = 7;
const LIST_DOC: &str = "https://developers.google.com/people/api/rest/v1/people.connections/list";

pub(crate) struct ListParams {
    person_fields: Vec<String>,
    page_size: usize,
    page_token: Option<String>,
    sync_token: Option<String>,
    request_sync_token: bool,
    sort_order: String,
    /// Every parameter that must match between a listing's calls.
    fingerprint: String,
}

impl ListParams {
    pub fn parse(params: &[(String, String)]) -> Result<Self, ApiError> {
        let raw_fields = param(params, "personFields").or_else(|| param(params, "requestMask.includeField"));
        let person_fields = parse_mask(raw_fields, "personFields", READ_FIELDS, LIST_DOC)?;
        let page_size = match param(params, "pageSize") {
            None => 100,
            Some(raw) => match raw.parse::<i64>() {
                Ok(0) => 100,
                Ok(n @ 1..=1000) => n as usize,
                Ok(_) => {
                    return Err(err::invalid_field(
                        "page_size",
                        "Request contains an invalid argument: pageSize must be between 1 and 1000.",
                    ));
                }
                Err(_) => {
                    let message = format!("Invalid value at 'page_size' (TYPE_INT32), \"{raw}\"");
                    return Err(err::invalid_field("page_size", &message));
                }
            },
        };
        let request_sync_token = match param(params, "requestSyncToken") {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                let message = format!("Invalid value at 'request_sync_token' (TYPE_BOOL), \"{other}\"");
                return Err(err::invalid_field("request_sync_token", &message));
            }
        };
        let sort_order = param(params, "sortOrder").unwrap_or("LAST_MODIFIED_ASCENDING").to_owned();
        const ORDERS: [&str; 4] =
            ["LAST_MODIFIED_ASCENDING", "LAST_MODIFIED_DESCENDING", "FIRST_NAME_ASCENDING", "LAST_NAME_ASCENDING"];
        if !ORDERS.contains(&sort_order.as_str()) {
            let message = format!(
                "Invalid value at 'sort_order' (type.googleapis.com/google.people.v1.ListConnectionsRequest.SortOrder), \"{sort_order}\""
            );
            return Err(err::invalid_field("sort_order", &message));
        }
        let mut sources: Vec<&str> = params.iter().filter(|(k, _)| k == "sources").map(|(_, v)| v.as_str()).collect();
        sources.sort();
        let sync_token = param(params, "syncToken").filter(|t| !t.is_empty()).map(str::to_owned);
        let fingerprint = format!(
            "{}|{page_size}|{request_sync_token}|{sort_order}|{}|{}",
            person_fields.join(","),
            sync_token.as_deref().unwrap_or(""),
            sources.join(","),
        );
        Ok(ListParams {
            person_fields,
            page_size,
            page_token: param(params, "pageToken").filter(|t| !t.is_empty()).map(str::to_owned),
            sync_token,
            request_sync_token,
            sort_order,
            fingerprint,
        })
    }
}

pub(crate) fn list(book: &mut PeopleBook, rng: &mut Rng, now: DateTime<Utc>, p: ListParams) -> Result<Value, ApiError> {
    let cursor = match &p.page_token {
        Some(token) => {
            let cursor = book.page_cursors.get(token).cloned().ok_or_else(|| {
                err::invalid_field("page_token", "Request contains an invalid argument: unknown pageToken.")
            })?;
            if cursor.fingerprint != p.fingerprint {
                return Err(err::invalid_field(
                    "page_token",
                    "Request contains an invalid argument: parameters given with a pageToken must match the call that returned it.",
                ));
            }
            cursor
        }
        None => first_cursor(book, now, &p)?,
    };

    let end = (cursor.offset + p.page_size).min(cursor.ids.len());
    let mut connections = Vec::new();
    for id in &cursor.ids[cursor.offset..end] {
        match book.entry(id, cursor.incremental) {
            Some(Entry::Live(record)) => connections.push(record.render(Some(&p.person_fields), cursor.incremental)),
            Some(Entry::Deleted(tomb)) => connections.push(tomb),
            None => {}
        }
    }

    // proto3 JSON: empty lists and zero counts are omitted.
    let mut out = Map::new();
    if !connections.is_empty() {
        out.insert("connections".into(), Value::Array(connections));
    }
    if end < cursor.ids.len() {
        let token = rng.token(44);
        let next = Cursor { offset: end, ..cursor.clone() };
        book.page_cursors.insert(token.clone(), next);
        out.insert("nextPageToken".into(), json!(token));
    } else if p.request_sync_token {
        let token = format!("Ep{}", rng.token(54));
        let sync = SyncToken { seq: cursor.sync_seq, chain_start: cursor.chain_start, epoch: book.sync_epoch };
        book.sync_tokens.insert(token.clone(), sync);
        out.insert("nextSyncToken".into(), json!(token));
    }
    let total = cursor.ids.len();
    if total > 0 {
        out.insert("totalPeople".into(), json!(total));
        out.insert("totalItems".into(), json!(total));
    }
    Ok(Value::Object(out))
}

/// The first call of a listing: resolve the sync token (incremental) or order everyone (full).
fn first_cursor(book: &PeopleBook, now: DateTime<Utc>, p: &ListParams) -> Result<Cursor, ApiError> {
    if let Some(token) = &p.sync_token {
        let sync = book.sync_tokens.get(token).ok_or_else(err::expired_sync_token)?;
        let expired = sync.epoch != book.sync_epoch || now >= sync.chain_start + Duration::days(SYNC_TOKEN_DAYS);
        if expired {
            return Err(err::expired_sync_token());
        }
        return Ok(Cursor {
            ids: Arc::new(book.changed_since(sync.seq)),
            offset: 0,
            fingerprint: p.fingerprint.clone(),
            sync_seq: book.head(),
            chain_start: sync.chain_start,
            incremental: true,
        });
    }
    let mut ids = book.ids_by_seq();
    match p.sort_order.as_str() {
        "LAST_MODIFIED_DESCENDING" => ids.reverse(),
        "FIRST_NAME_ASCENDING" => sort_by_name(book, &mut ids, "givenName"),
        "LAST_NAME_ASCENDING" => sort_by_name(book, &mut ids, "familyName"),
        _ => {}
    }
    Ok(Cursor {
        ids: Arc::new(ids),
        offset: 0,
        fingerprint: p.fingerprint.clone(),
        sync_seq: book.head(),
        chain_start: now,
        incremental: false,
    })
}

fn sort_by_name(book: &PeopleBook, ids: &mut [String], part: &str) {
    ids.sort_by_cached_key(|id| book.get(id).map(|r| r.name_key(part)).unwrap_or_default());
}
