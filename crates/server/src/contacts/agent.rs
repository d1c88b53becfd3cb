//! The seed-001 agent API (`/api/contacts`, `/api/contacts/bulk`), kept for existing Android and web
//! clients: the flat contact, the `{success, data}` envelope, and 400 for validation errors. The same
//! service functions and writer as the canonical API sit behind it.

use super::input::{Errors, phone, present, text, unidentifiable};
use super::routes::{DeleteQuery, check, idempotency_key, mark_replayed};
use super::{Contact, if_match, phone_policy, write_one};
use crate::auth::Principal;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::feed::writer::{ContactOp, Outcome, PhoneSlots, WriteItem, WriteRequest};
use crate::feed::{Author, ChangeOp};
use crate::http::{AppJsonBytes, AppPath, AppQuery};
use crate::pagination::{ListQuery, PageRequest};
use crate::state::AppState;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_domain::{ContactFields, ContactPatch, Field, FieldError, Permission, PhonePolicy};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

/// The routes of the agent API. Validation errors answer 400 here, as these clients expect.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_flat, create_flat))
        .routes(routes!(get_flat, put_flat, delete_flat))
        .routes(routes!(bulk))
        .layer(axum::middleware::map_response(validation_as_400))
}

/// Seed-001 clients treat every invalid request as 400; the body stays the same.
pub async fn validation_as_400(mut response: Response) -> Response {
    if response.status() == StatusCode::UNPROCESSABLE_ENTITY {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    response
}

/// The seed-001 success envelope.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Envelope<T> {
    /// Always `true`.
    pub success: bool,
    /// The payload.
    pub data: T,
}

/// Wraps a payload in the success envelope.
pub fn ok<T: Serialize>(data: T) -> axum::Json<Envelope<T>> {
    axum::Json(Envelope { success: true, data })
}

/// The flat contact of the agent API: a projection of the canonical contact.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FlatContact {
    /// Contact id.
    pub id: Uuid,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// The first phone number, as typed.
    pub phone_primary: Option<String>,
    /// The second phone number, as typed.
    pub phone_secondary: Option<String>,
    /// Who created the contact (agent code or user email).
    pub created_by_agent: String,
    /// Created at.
    #[serde(serialize_with = "crate::http::timestamps::rfc3339")]
    pub created_at: DateTime<Utc>,
    /// Last changed at.
    #[serde(serialize_with = "crate::http::timestamps::rfc3339")]
    pub updated_at: DateTime<Utc>,
    /// The workspace version of the last change.
    pub version: i64,
    /// Whether it was deleted.
    pub is_deleted: bool,
}

impl From<&Contact> for FlatContact {
    fn from(c: &Contact) -> Self {
        Self {
            id: c.id,
            first_name: c.fields.given_name.clone(),
            last_name: c.fields.family_name.clone(),
            phone_primary: c.fields.phones.first().map(|p| p.raw.clone()),
            phone_secondary: c.fields.phones.get(1).map(|p| p.raw.clone()),
            created_by_agent: c.created_by.clone(),
            created_at: c.created_at,
            updated_at: c.updated_at,
            version: c.version,
            is_deleted: c.deleted,
        }
    }
}

/// [`FlatContact`] borrowed from a contact, for answers serialised on the hot path (same JSON).
#[derive(Serialize)]
pub struct FlatView<'a> {
    id: Uuid,
    first_name: Option<&'a str>,
    last_name: Option<&'a str>,
    phone_primary: Option<&'a str>,
    phone_secondary: Option<&'a str>,
    created_by_agent: &'a str,
    #[serde(serialize_with = "crate::http::timestamps::rfc3339")]
    created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::http::timestamps::rfc3339")]
    updated_at: DateTime<Utc>,
    version: i64,
    is_deleted: bool,
}

impl<'a> FlatView<'a> {
    /// The flat view of `c`.
    pub fn of(c: &'a Contact) -> Self {
        Self {
            id: c.id,
            first_name: c.fields.given_name.as_deref(),
            last_name: c.fields.family_name.as_deref(),
            phone_primary: c.fields.phones.first().map(|p| p.raw.as_str()),
            phone_secondary: c.fields.phones.get(1).map(|p| p.raw.as_str()),
            created_by_agent: &c.created_by,
            created_at: c.created_at,
            updated_at: c.updated_at,
            version: c.version,
            is_deleted: c.deleted,
        }
    }
}

/// A flat contact of a delta page: shared from the window of recent changes (the event's JSON, serialised
/// once for every device that reads it) or read from the database's flat projection.
#[derive(Debug, Clone)]
pub enum FlatItem {
    /// From memory: the change event holding the contact's latest state.
    Shared(std::sync::Arc<crate::feed::tail::FeedEvent>),
    /// From the database.
    Read(FlatContact),
}

impl Serialize for FlatItem {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            FlatItem::Shared(event) => match event.flat_json() {
                Some(json) => json.serialize(serializer),
                None => FlatView::of(&event.contact).serialize(serializer),
            },
            FlatItem::Read(c) => c.serialize(serializer),
        }
    }
}

/// A flat contact in a request. Read-only fields a client echoes back (`version`, `created_at`, …) are
/// accepted and ignored; `base_version` is the optimistic-concurrency check (409 when stale).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlatInput {
    /// Contact id: in bulk, an item with an id updates that contact (or creates it with this id).
    pub id: Option<Uuid>,
    /// Given name.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub first_name: Option<Option<String>>,
    /// Family name.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub last_name: Option<Option<String>>,
    /// First phone number.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub phone_primary: Option<Option<String>>,
    /// Second phone number.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub phone_secondary: Option<Option<String>>,
    /// In bulk: `true` deletes the contact with this id.
    pub is_deleted: Option<bool>,
    /// The version this edit is based on.
    pub base_version: Option<i64>,
    /// Ignored (read-only).
    #[schema(value_type = Option<i64>)]
    pub version: Option<serde_json::Value>,
    /// Ignored (read-only).
    #[schema(value_type = Option<String>)]
    pub created_by_agent: Option<serde_json::Value>,
    /// Ignored (read-only).
    #[schema(value_type = Option<String>)]
    pub created_at: Option<serde_json::Value>,
    /// Ignored (read-only).
    #[schema(value_type = Option<String>)]
    pub updated_at: Option<serde_json::Value>,
}

/// A flat input, validated: the fields to create with, and the patch and phone slots to update with.
struct FlatParsed {
    create: ContactFields,
    patch: ContactPatch,
    slots: Option<PhoneSlots>,
}

impl FlatInput {
    fn parse(&self, policy: &PhonePolicy) -> Result<FlatParsed, Vec<FieldError>> {
        let mut e = Errors::default();
        let mut patch = ContactPatch::default();
        if let Some(v) = &self.first_name {
            patch.values.given_name = e.take(text("first_name", v.as_deref(), 100, false)).flatten();
            patch.set.insert(Field::GivenName);
        }
        if let Some(v) = &self.last_name {
            patch.values.family_name = e.take(text("last_name", v.as_deref(), 100, false)).flatten();
            patch.set.insert(Field::FamilyName);
        }
        let mut number = |field: &str, v: &Option<Option<String>>, kind: &str| match v {
            None => None,
            Some(v) => match v.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
                None => Some(None),
                Some(raw) => e.take(phone(field, raw, Some(kind), policy)).map(Some),
            },
        };
        let primary = number("phone_primary", &self.phone_primary, "mobile");
        let secondary = number("phone_secondary", &self.phone_secondary, "other");
        let slots = (primary.is_some() || secondary.is_some()).then_some(PhoneSlots { primary, secondary });
        let mut create = patch.values.clone();
        if let Some(s) = &slots {
            create.phones = s.apply(&[]);
        }
        e.finish(FlatParsed { create, patch, slots })
    }

    /// Validates a create: the fields must identify the contact.
    fn parse_create(&self, policy: &PhonePolicy) -> Result<(Option<Uuid>, ContactFields), Vec<FieldError>> {
        let parsed = self.parse(policy)?;
        if !parsed.create.is_identifiable() {
            return Err(vec![unidentifiable()]);
        }
        Ok((self.id, parsed.create))
    }
}

/// A page of the agent list: the envelope plus the cursor of the next page.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FlatPage {
    /// Always `true`.
    pub success: bool,
    /// Live contacts, oldest first.
    pub data: Vec<FlatContact>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// List live contacts (flat shape). Devices keep a full copy with `/api/sync/delta` instead.
#[utoipa::path(get, path = "/api/contacts", tag = "agent", params(ListQuery),
    responses((status = 200, body = FlatPage), (status = 400, body = ErrorBody)))]
async fn list_flat(
    State(state): State<AppState>,
    principal: Principal,
    OriginalUri(uri): OriginalUri,
    AppQuery(q): AppQuery<ListQuery>,
) -> AppResult<axum::Json<FlatPage>> {
    principal.require(Permission::ContactsRead)?;
    let page = PageRequest::parse(&q)?;
    let (keyset, order) = page.clauses("c.id", 2);
    let mut params = Vec::new();
    if let Some(c) = page.cursor() {
        params.push(super::store::Param::Uuid(c));
    }
    let limit = params.len() + 2;
    params.push(super::store::Param::Int(page.fetch_limit()));
    let mut pooled = state.db.acquire().await?;
    let rows = super::store::select(
        &mut pooled.conn(),
        principal.workspace_id,
        &format!("c.deleted_at IS NULL AND {keyset}"),
        &format!("ORDER BY {order} LIMIT ${limit}"),
        &params,
    )
    .await?;
    let page = page.finish(rows, |c| c.id, uri.path());
    let next_cursor = PageRequest::next_cursor(&page);
    Ok(axum::Json(FlatPage { success: true, data: page.results.iter().map(FlatContact::from).collect(), next_cursor }))
}

fn flat_response(status: StatusCode, contact: &Contact, replayed: bool) -> Response {
    let mut response = (status, ok(FlatContact::from(contact))).into_response();
    if let Ok(v) = HeaderValue::from_str(&contact.etag()) {
        response.headers_mut().insert(axum::http::header::ETAG, v);
    }
    mark_replayed(&mut response, replayed);
    response
}

/// Conflicts on these paths carry the flat server copy.
fn flat_error(e: AppError) -> AppError {
    match e {
        AppError::Item(mut item) => {
            if let Some(current) = item.current.take() {
                let flat = serde_json::to_value(FlatContact::from(&*current)).unwrap_or_default();
                return AppError::FlatItem(item, Box::new(flat));
            }
            AppError::Item(item)
        }
        other => other,
    }
}

/// Create a contact (flat shape).
#[utoipa::path(post, path = "/api/contacts", tag = "agent", request_body = FlatInput,
    responses((status = 201, body = Envelope<FlatContact>), (status = 400, body = ErrorBody)))]
async fn create_flat(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    AppJsonBytes(body, raw): AppJsonBytes<FlatInput>,
) -> AppResult<Response> {
    principal.require(Permission::ContactsWrite)?;
    let key = idempotency_key(&headers, "POST", &uri, &raw)?;
    let policy = phone_policy(&state, principal.workspace_id).await?;
    let (id, fields) = body.parse_create(&policy).map_err(AppError::Validation)?;
    let source = Author::of(&principal).origin;
    let op = ContactOp::create(id, fields, source);
    let (_, contact, replayed) = write_one(&state, &principal, op, key).await.map_err(flat_error)?;
    Ok(flat_response(StatusCode::CREATED, &contact, replayed))
}

/// Get a contact (flat shape).
#[utoipa::path(get, path = "/api/contacts/{id}", tag = "agent", params(("id" = Uuid, Path)),
    responses((status = 200, body = Envelope<FlatContact>), (status = 404, body = ErrorBody)))]
async fn get_flat(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
) -> AppResult<Response> {
    principal.require(Permission::ContactsRead)?;
    let contact = super::get(&state, principal.workspace_id, id).await?;
    Ok(flat_response(StatusCode::OK, &contact, false))
}

/// Update a contact (flat shape): the fields sent are changed, the others kept.
#[utoipa::path(put, path = "/api/contacts/{id}", tag = "agent", request_body = FlatInput, params(("id" = Uuid, Path)),
    responses((status = 200, body = Envelope<FlatContact>), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 412, body = ErrorBody)))]
async fn put_flat(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    AppJsonBytes(body, raw): AppJsonBytes<FlatInput>,
) -> AppResult<Response> {
    principal.require(Permission::ContactsWrite)?;
    let key = idempotency_key(&headers, "PUT", &uri, &raw)?;
    if body.id.is_some_and(|b| b != id) {
        return Err(AppError::field("id", "does not match the contact id in the path"));
    }
    let check = check(if_match(&headers)?, body.base_version);
    let policy = phone_policy(&state, principal.workspace_id).await?;
    let parsed = body.parse(&policy).map_err(AppError::Validation)?;
    let op = ContactOp::Update { id, patch: parsed.patch, check, slots: parsed.slots, or_create: None };
    let (_, contact, replayed) = write_one(&state, &principal, op, key).await.map_err(flat_error)?;
    Ok(flat_response(StatusCode::OK, &contact, replayed))
}

/// Delete a contact; devices learn of it through delta sync and `contact_deleted`.
#[utoipa::path(delete, path = "/api/contacts/{id}", tag = "agent", params(("id" = Uuid, Path), DeleteQuery),
    responses((status = 200, body = Envelope<FlatContact>), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete_flat(
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
    let (_, contact, replayed) =
        write_one(&state, &principal, ContactOp::Delete { id, check }, key).await.map_err(flat_error)?;
    Ok(flat_response(StatusCode::OK, &contact, replayed))
}

/// Most items one bulk request may carry.
pub const MAX_BULK_ITEMS: usize = 1_000;

/// Body of `POST /api/contacts/bulk`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    /// Up to 1,000 items: without `id` creates; with `id` updates (or creates with that id);
    /// `"is_deleted": true` deletes.
    pub contacts: Vec<FlatInput>,
}

/// One item's result.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BulkItemResult {
    /// Position in the request.
    pub index: usize,
    /// `created`, `updated`, `deleted` or `error`.
    pub status: &'static str,
    /// The contact id (null when an item without id failed).
    pub id: Option<Uuid>,
    /// The contact's version after the item.
    pub version: Option<i64>,
    /// Why the item failed.
    pub error: Option<String>,
    /// The error code, when failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The fields at fault, when failed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
}

/// Body of a bulk answer's `data`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BulkResults {
    /// Per item, in request order.
    pub results: Vec<BulkItemResult>,
}

impl BulkItemResult {
    fn failed(index: usize, id: Option<Uuid>, code: &str, message: String, fields: Vec<FieldError>) -> Self {
        Self { index, status: "error", id, version: None, error: Some(message), error_code: Some(code.into()), fields }
    }
}

/// Create, update and delete many contacts. Each item is atomic on its own; one bad item does not fail
/// the others. The answer is 200 with a result per item.
#[utoipa::path(post, path = "/api/contacts/bulk", tag = "agent", request_body = BulkRequest,
    responses((status = 200, body = Envelope<BulkResults>), (status = 400, body = ErrorBody), (status = 413, body = ErrorBody)))]
async fn bulk(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    AppJsonBytes(body, raw): AppJsonBytes<BulkRequest>,
) -> AppResult<Response> {
    principal.require(Permission::ContactsWrite)?;
    if body.contacts.len() > MAX_BULK_ITEMS {
        return Err(AppError::field("contacts", format!("must have at most {MAX_BULK_ITEMS} items")));
    }
    if body.contacts.is_empty() {
        return Err(AppError::field("contacts", "must have at least one item"));
    }
    let key = idempotency_key(&headers, "POST", &uri, &raw)?;
    let policy = phone_policy(&state, principal.workspace_id).await?;
    let author = Author::of(&principal);
    let mut results: Vec<Option<BulkItemResult>> = Vec::with_capacity(body.contacts.len());
    let mut items = Vec::new();
    let mut positions = Vec::new();
    for (index, input) in body.contacts.iter().enumerate() {
        match bulk_op(input, &policy, &author.origin) {
            Ok(op) => {
                results.push(None);
                positions.push(index);
                items.push(WriteItem::new(op));
            }
            Err(fields) => {
                let fields = prefix_fields(index, fields);
                let message = fields.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
                results.push(Some(BulkItemResult::failed(index, input.id, "VALIDATION_FAILED", message, fields)));
            }
        }
    }
    let mut replayed = false;
    if !items.is_empty() {
        let request = WriteRequest { author, items, idempotency: key, lease: None };
        let written = state.writers.submit(principal.workspace_id, request).await?;
        replayed = written.replayed;
        for (index, item) in positions.into_iter().zip(written.items) {
            results[index] = Some(match item.outcome {
                Outcome::Applied { op, contact, .. } => BulkItemResult {
                    index,
                    status: match op {
                        ChangeOp::Create => "created",
                        ChangeOp::Update => "updated",
                        ChangeOp::Delete => "deleted",
                    },
                    id: Some(contact.id),
                    version: Some(contact.version),
                    error: None,
                    error_code: None,
                    fields: Vec::new(),
                },
                Outcome::Failed { error } => {
                    BulkItemResult::failed(index, body.contacts[index].id, &error.code, error.message, error.fields)
                }
            });
        }
    }
    let results = results.into_iter().map(|r| r.expect("every item has a result")).collect();
    let mut response = ok(BulkResults { results }).into_response();
    mark_replayed(&mut response, replayed);
    Ok(response)
}

fn prefix_fields(index: usize, fields: Vec<FieldError>) -> Vec<FieldError> {
    fields.into_iter().map(|f| FieldError::new(format!("contacts[{index}].{}", f.field), f.message)).collect()
}

fn bulk_op(input: &FlatInput, policy: &PhonePolicy, source: &str) -> Result<ContactOp, Vec<FieldError>> {
    let check = check(None, input.base_version);
    match (input.id, input.is_deleted) {
        (Some(id), Some(true)) => Ok(ContactOp::Delete { id, check }),
        (None, Some(true)) => Err(vec![FieldError::new("id", "is required to delete")]),
        (None, _) => {
            let (_, fields) = input.parse_create(policy)?;
            Ok(ContactOp::create(None, fields, source))
        }
        (Some(id), _) => {
            let parsed = input.parse(policy)?;
            let or_create = parsed.create.is_identifiable().then_some(parsed.create);
            Ok(ContactOp::Update { id, patch: parsed.patch, check, slots: parsed.slots, or_create })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_domain::{ContactFields, PhoneEntry};

    #[test]
    fn the_borrowed_view_serialises_exactly_like_the_flat_contact() {
        let phone = |raw: &str| PhoneEntry {
            raw: raw.into(),
            e164: None,
            extension: None,
            digits: raw.into(),
            kind: "work".into(),
            national: None,
        };
        let contact = Contact {
            id: Uuid::now_v7(),
            display_name: "Ann".into(),
            fields: ContactFields {
                given_name: Some("Ann".into()),
                phones: vec![phone("201"), phone("202"), phone("203")],
                ..Default::default()
            },
            source: "api".into(),
            created_by: "AG1".into(),
            version: 7,
            deleted: false,
            deleted_at: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        let owned = serde_json::to_value(FlatContact::from(&contact)).unwrap();
        assert_eq!(serde_json::to_value(FlatView::of(&contact)).unwrap(), owned);
        assert_eq!(owned["phone_secondary"], "202");
        // From the window of recent changes: the event's JSON, made once and answered as is.
        let view = serde_json::to_string(&FlatView::of(&contact)).unwrap();
        let change = crate::feed::Change {
            version: 7,
            entity_type: "contact".into(),
            entity_id: contact.id,
            op: "update".into(),
            actor_kind: "agent".into(),
            actor_id: None,
            actor_label: "AG1".into(),
            device_id: None,
            mutation_id: None,
            origin: "api".into(),
            fields: serde_json::json!({}),
            created_at: Utc::now(),
        };
        let event = std::sync::Arc::new(crate::feed::tail::event(
            switchboard_domain::WorkspaceId(Uuid::nil()),
            change,
            std::sync::Arc::new(contact),
        ));
        let shared = FlatItem::Shared(event.clone());
        assert_eq!(serde_json::to_value(&shared).unwrap(), owned);
        assert!(event.flat.get().is_some(), "kept for the next page");
        assert_eq!(serde_json::to_string(&shared).unwrap(), view, "the same bytes, fields in the same order");
    }
}
