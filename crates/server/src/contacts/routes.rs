//! `/api/v1/contacts`: the canonical contacts API.

use super::input::{ContactChanges, NewContact};
use super::store::{self, Param};
use super::{Contact, if_match, phone_policy, write_one};
use crate::auth::Principal;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::feed::Change;
use crate::feed::idempotency::{self, IdempotencyKey};
use crate::feed::writer::{Check, ContactOp};
use crate::http::{AppJsonBytes, AppPath, AppQuery};
use crate::pagination::{ListQuery, Page, PageRequest};
use crate::state::AppState;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_domain::Permission;
use switchboard_store::Backend;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

/// The routes of this feature.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_contacts, create_contact))
        .routes(routes!(get_contact, update_contact, delete_contact))
        .routes(routes!(contact_history))
}

/// Filters of `GET /api/v1/contacts`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ContactListQuery {
    /// Page size, 1–200 (default 50).
    pub limit: Option<i64>,
    /// An opaque cursor from a previous page's `next` or `previous`.
    pub cursor: Option<String>,
    /// Text search: name, company or email containing it; with 3 or more digits, also phone numbers.
    pub q: Option<String>,
    /// Only contacts changed at or after this time (RFC 3339).
    pub updated_since: Option<DateTime<Utc>>,
    /// Only contacts with this label.
    pub label: Option<String>,
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
fn like_pattern(text: &str) -> String {
    let mut out = String::from("%");
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// List live contacts, newest last, with optional search and filters.
#[utoipa::path(get, path = "/api/v1/contacts", tag = "contacts", params(ContactListQuery),
    responses((status = 200, body = Page<Contact>), (status = 400, body = ErrorBody)))]
async fn list_contacts(
    State(state): State<AppState>,
    principal: Principal,
    OriginalUri(uri): OriginalUri,
    AppQuery(q): AppQuery<ContactListQuery>,
) -> AppResult<axum::Json<Page<Contact>>> {
    principal.require(Permission::ContactsRead)?;
    let page = PageRequest::parse(&ListQuery { limit: q.limit, cursor: q.cursor.clone() })?;
    let mut conditions = vec!["c.deleted_at IS NULL".to_owned()];
    let mut params: Vec<Param> = Vec::new();
    let mut link: Vec<(&str, String)> = Vec::new();
    let next_param = |params: &Vec<Param>| params.len() + 2;
    if let Some(text) = q.q.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        let n = next_param(&params);
        params.push(Param::Text(like_pattern(text)));
        let mut any = vec![
            format!("LOWER(COALESCE(c.given_name, '') || ' ' || COALESCE(c.family_name, '')) LIKE ${n} ESCAPE '\\'"),
            format!("LOWER(COALESCE(c.nickname, '')) LIKE ${n} ESCAPE '\\'"),
            format!("LOWER(COALESCE(c.company, '')) LIKE ${n} ESCAPE '\\'"),
            format!(
                "EXISTS (SELECT 1 FROM contact_emails e WHERE e.contact_id = c.id AND e.address LIKE ${n} ESCAPE '\\')"
            ),
        ];
        let digits: String = text.chars().filter(char::is_ascii_digit).collect();
        if digits.len() >= 3 {
            let m = next_param(&params);
            params.push(Param::Text(format!("%{digits}%")));
            any.push(format!(
                "EXISTS (SELECT 1 FROM contact_phones p WHERE p.contact_id = c.id AND p.digits LIKE ${m})"
            ));
        }
        conditions.push(format!("({})", any.join(" OR ")));
        link.push(("q", text.to_owned()));
    }
    if let Some(since) = q.updated_since {
        conditions.push(format!("c.updated_at >= ${}", next_param(&params)));
        params.push(Param::Time(since));
        link.push(("updated_since", since.to_rfc3339()));
    }
    if let Some(label) = q.label.as_deref().map(str::trim).filter(|l| !l.is_empty()) {
        let n = next_param(&params);
        conditions.push(match state.db.backend() {
            Backend::Sqlite => format!("EXISTS (SELECT 1 FROM json_each(c.labels) WHERE json_each.value = ${n})"),
            Backend::Postgres => format!("c.labels @> jsonb_build_array(${n}::text)"),
        });
        params.push(Param::Text(label.to_owned()));
        link.push(("label", label.to_owned()));
    }
    let (keyset, order) = page.clauses("c.id", next_param(&params));
    if let Some(cursor) = page.cursor() {
        params.push(Param::Uuid(cursor));
    }
    conditions.push(keyset);
    let limit = next_param(&params);
    params.push(Param::Int(page.fetch_limit()));
    let filters = serde_urlencoded::to_string(&link).map_err(AppError::internal)?;
    let mut pooled = state.db.acquire().await?;
    let rows = store::select(
        &mut pooled.conn(),
        principal.workspace_id,
        &conditions.join(" AND "),
        &format!("ORDER BY {order} LIMIT ${limit}"),
        &params,
    )
    .await?;
    let base = if filters.is_empty() { uri.path().to_owned() } else { format!("{}?{filters}", uri.path()) };
    Ok(axum::Json(page.finish(rows, |c| c.id, &base)))
}

/// The `Idempotency-Key` of a request, bound to its method, path and body.
pub fn idempotency_key(
    headers: &HeaderMap,
    method: &str,
    uri: &axum::http::Uri,
    body: &[u8],
) -> Result<Option<IdempotencyKey>, AppError> {
    let target = uri.path_and_query().map(|p| p.as_str()).unwrap_or(uri.path());
    Ok(idempotency::from_headers(headers)?.map(|k| IdempotencyKey::for_request(&k, method, target, body)))
}

/// A contact response with its `ETag`, and `Idempotent-Replayed: true` when it repeats an earlier answer.
pub fn contact_response(status: StatusCode, contact: &Contact, replayed: bool, location: bool) -> Response {
    let mut response = (status, axum::Json(contact)).into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&contact.etag()) {
        headers.insert(header::ETAG, v);
    }
    if location && let Ok(v) = HeaderValue::from_str(&format!("/api/v1/contacts/{}", contact.id)) {
        headers.insert(header::LOCATION, v);
    }
    mark_replayed(&mut response, replayed);
    response
}

/// Marks a response that repeats an earlier answer to the same `Idempotency-Key`.
pub fn mark_replayed(response: &mut Response, replayed: bool) {
    if replayed {
        response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
}

/// Create a contact. Phone numbers are parsed against the workspace's default region.
#[utoipa::path(post, path = "/api/v1/contacts", tag = "contacts", request_body = NewContact,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: a replay returns the first result")),
    responses((status = 201, body = Contact), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_contact(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    AppJsonBytes(body, raw): AppJsonBytes<NewContact>,
) -> AppResult<Response> {
    principal.require(Permission::ContactsWrite)?;
    let key = idempotency_key(&headers, "POST", &uri, &raw)?;
    let policy = phone_policy(&state, principal.workspace_id).await?;
    let (id, fields) = body.parse(&policy).map_err(AppError::Validation)?;
    let op = ContactOp::create(id, fields, "api");
    let (_, contact, replayed) = write_one(&state, &principal, op, key).await?;
    Ok(contact_response(StatusCode::CREATED, &contact, replayed, true))
}

/// Get a contact. The `ETag` is its version, for `If-Match` on updates.
#[utoipa::path(get, path = "/api/v1/contacts/{id}", tag = "contacts", params(("id" = Uuid, Path)),
    responses((status = 200, body = Contact), (status = 404, body = ErrorBody)))]
async fn get_contact(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
) -> AppResult<Response> {
    principal.require(Permission::ContactsRead)?;
    let contact = super::get(&state, principal.workspace_id, id).await?;
    Ok(contact_response(StatusCode::OK, &contact, false, false))
}

/// Which version check a request asked for: `If-Match` (412) wins over a body `base_version` (409).
pub fn check(if_match: Option<i64>, base_version: Option<i64>) -> Check {
    match (if_match, base_version) {
        (Some(v), _) => Check::IfMatch(v),
        (None, Some(v)) => Check::BaseVersion(v),
        (None, None) => Check::None,
    }
}

/// Change some fields of a contact: absent fields stay, `null` clears, lists replace.
#[utoipa::path(patch, path = "/api/v1/contacts/{id}", tag = "contacts", request_body = ContactChanges,
    params(("id" = Uuid, Path),
        ("If-Match" = Option<String>, Header, description = "The version the edit is based on, e.g. \"12\": a different current version is 412"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    responses((status = 200, body = Contact), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 412, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_contact(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    AppJsonBytes(body, raw): AppJsonBytes<ContactChanges>,
) -> AppResult<Response> {
    principal.require(Permission::ContactsWrite)?;
    let key = idempotency_key(&headers, "PATCH", &uri, &raw)?;
    let check = check(if_match(&headers)?, body.base_version);
    let policy = phone_policy(&state, principal.workspace_id).await?;
    let patch = body.parse(&policy).map_err(AppError::Validation)?;
    let (_, contact, replayed) =
        write_one(&state, &principal, ContactOp::Update { id, patch, check, slots: None, or_create: None }, key)
            .await?;
    Ok(contact_response(StatusCode::OK, &contact, replayed, false))
}

/// Query of `DELETE /api/v1/contacts/{id}`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeleteQuery {
    /// The version the deletion is based on: a different current version is 409.
    pub base_version: Option<i64>,
}

/// Delete a contact. It stays as a tombstone so devices learn of the deletion by delta sync.
#[utoipa::path(delete, path = "/api/v1/contacts/{id}", tag = "contacts", params(("id" = Uuid, Path), DeleteQuery,
        ("If-Match" = Option<String>, Header, description = "The version the deletion is based on: a different current version is 412"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 412, body = ErrorBody)))]
async fn delete_contact(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    AppQuery(q): AppQuery<DeleteQuery>,
) -> AppResult<Response> {
    principal.require(Permission::ContactsWrite)?;
    let key = idempotency_key(&headers, "DELETE", &uri, b"")?;
    let check = check(if_match(&headers)?, q.base_version);
    let (_, _, replayed) = write_one(&state, &principal, ContactOp::Delete { id, check }, key).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    mark_replayed(&mut response, replayed);
    Ok(response)
}

/// Query of a history.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// Only changes after this version (default 0: from the beginning).
    pub after: Option<i64>,
    /// At most this many changes, 1–1000 (default 100).
    pub limit: Option<i64>,
}

/// A page of changes, oldest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChangePage {
    /// The changes.
    pub results: Vec<Change>,
    /// Pass as `after` for the next page; null when this page is the last.
    pub next_after: Option<i64>,
}

impl HistoryQuery {
    /// The cursor and limit, validated.
    pub fn parse(&self) -> Result<(i64, i64), AppError> {
        let bad = AppError::invalid_query;
        let after = self.after.unwrap_or(0);
        if after < 0 {
            return Err(bad("after", "must not be negative"));
        }
        let limit = self.limit.unwrap_or(100);
        if !(1..=1000).contains(&limit) {
            return Err(bad("limit", "must be between 1 and 1000"));
        }
        Ok((after, limit))
    }
}

impl ChangePage {
    /// A page from `limit + 1` fetched rows.
    pub fn new(mut results: Vec<Change>, limit: i64) -> Self {
        let more = results.len() as i64 > limit;
        results.truncate(limit as usize);
        let next_after = if more { results.last().map(|c| c.version) } else { None };
        Self { results, next_after }
    }
}

/// A contact's change history from the change feed (tombstoned contacts included).
#[utoipa::path(get, path = "/api/v1/contacts/{id}/history", tag = "contacts", params(("id" = Uuid, Path), HistoryQuery),
    responses((status = 200, body = ChangePage), (status = 404, body = ErrorBody)))]
async fn contact_history(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
    AppQuery(q): AppQuery<HistoryQuery>,
) -> AppResult<axum::Json<ChangePage>> {
    principal.require(Permission::ContactsRead)?;
    let (after, limit) = q.parse()?;
    let mut pooled = state.db.acquire().await?;
    let mut conn = pooled.conn();
    if store::get(&mut conn, principal.workspace_id, id).await?.is_none() {
        return Err(AppError::NotFound);
    }
    let rows = crate::feed::of_entity(&mut conn, principal.workspace_id, id, after, limit + 1).await?;
    Ok(axum::Json(ChangePage::new(rows, limit)))
}
