//! `POST /api/v1/sync/push`: a device uploads the operations it queued while offline.
//!
//! Rules (also in the OpenAPI description of the endpoint):
//! - Each operation carries a client `mutation_id`. An id seen before (from the same credential) answers
//!   `duplicate` with the original result and changes nothing; ids are remembered for 30 days by default.
//! - `create` uses the client-generated `id` when given. `update` and `delete` need `base_version`: the
//!   contact's version the device last saw.
//! - `update` merges field by field against `base_version`: fields the server did not change since then
//!   take the device's value; fields the device sent unchanged keep the server's value; a field both sides
//!   changed to different values is a conflict, and the operation is not applied at all (`conflict`, with
//!   the server's copy in `current` and the fields in `conflicts`).
//! - `delete` of a contact changed on the server since `base_version` is a conflict (the device never saw
//!   those changes); deleting what is already deleted is `applied`.
//! - Operations apply in order, each atomic on its own; a bad one does not stop the others.

use crate::auth::Principal;
use crate::contacts::Contact;
use crate::contacts::input::{ContactChanges, NewContact};
use crate::error::{AppError, AppResult, ErrorBody};
use crate::feed::Author;
use crate::feed::idempotency::IdempotencyKey;
use crate::feed::writer::{Check, ContactOp, Outcome, WriteItem, WriteRequest};
use crate::http::AppJson;
use crate::state::AppState;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use switchboard_domain::{FieldError, Permission, PhonePolicy};
use uuid::Uuid;

/// Most operations one push may carry.
pub const MAX_OPERATIONS: usize = 1_000;

/// Body of `POST /api/v1/sync/push`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushRequest {
    /// Up to 1,000 operations, applied in order.
    pub operations: Vec<PushOperation>,
}

/// One queued operation.
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushOperation {
    /// The client's id for this mutation (1–100 characters), unique per credential.
    pub mutation_id: String,
    /// `create`, `update` or `delete`.
    pub op: String,
    /// The contact: required for update and delete; for create, the UUID the device generated.
    pub id: Option<Uuid>,
    /// The contact version the device last saw (required for update and delete).
    pub base_version: Option<i64>,
    /// For create: the new contact (as `POST /api/v1/contacts`); for update: the changed fields (as
    /// `PATCH /api/v1/contacts/{id}`).
    #[schema(value_type = Option<Object>)]
    pub fields: Option<serde_json::Value>,
}

/// The result of one operation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PushResult {
    /// The operation's mutation id.
    pub mutation_id: String,
    /// `applied`, `duplicate`, `conflict` or `rejected`.
    pub status: &'static str,
    /// The contact id.
    pub id: Option<Uuid>,
    /// The contact's version after the operation.
    pub version: Option<i64>,
    /// The contact after the operation (applied or duplicate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<Contact>,
    /// The server's copy (conflict).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<Contact>,
    /// Conflicting fields (conflict) or rejected fields (rejected).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
    /// Error code (conflict or rejected).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// What went wrong (conflict or rejected).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Answer of a push.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PushResponse {
    /// Per operation, in request order.
    pub results: Vec<PushResult>,
}

impl PushResult {
    fn rejected(op: &PushOperation, code: &str, message: &str, fields: Vec<FieldError>) -> Self {
        Self {
            mutation_id: op.mutation_id.clone(),
            status: "rejected",
            id: op.id,
            version: None,
            contact: None,
            current: None,
            fields,
            error_code: Some(code.into()),
            error: Some(message.into()),
        }
    }
}

fn prefixed(index: usize, fields: Vec<FieldError>) -> Vec<FieldError> {
    fields.into_iter().map(|f| FieldError::new(format!("operations[{index}].{}", f.field), f.message)).collect()
}

/// Parses one operation into a write item, or the fields at fault.
fn parse(index: usize, op: &PushOperation, policy: &PhonePolicy) -> Result<WriteItem, Vec<FieldError>> {
    let field = |name: &str, message: &str| vec![FieldError::new(format!("operations[{index}].{name}"), message)];
    let mutation_id = op.mutation_id.trim();
    if mutation_id.is_empty() || mutation_id.len() > 100 {
        return Err(field("mutation_id", "must be 1 to 100 characters"));
    }
    let fields_of = |value: &Option<serde_json::Value>| -> Result<serde_json::Value, Vec<FieldError>> {
        value.clone().ok_or_else(|| field("fields", "is required"))
    };
    let base = || op.base_version.ok_or_else(|| field("base_version", "is required for update and delete"));
    let contact_op = match op.op.as_str() {
        "create" => {
            let new: NewContact = decode(index, fields_of(&op.fields)?)?;
            if new.id.is_some() {
                return Err(field("fields.id", "goes in the operation's id"));
            }
            let (_, fields) = new.parse(policy).map_err(|e| prefixed(index, prefix_fields(e)))?;
            ContactOp::create(op.id, fields, "device")
        }
        "update" => {
            let id = op.id.ok_or_else(|| field("id", "is required for update"))?;
            let changes: ContactChanges = decode(index, fields_of(&op.fields)?)?;
            if changes.base_version.is_some() {
                return Err(field("fields.base_version", "goes in the operation's base_version"));
            }
            let patch = changes.parse(policy).map_err(|e| prefixed(index, prefix_fields(e)))?;
            ContactOp::Update { id, patch, check: Check::Merge(base()?), slots: None, or_create: None }
        }
        "delete" => {
            let id = op.id.ok_or_else(|| field("id", "is required for delete"))?;
            ContactOp::Delete { id, check: Check::Merge(base()?) }
        }
        _ => return Err(field("op", "must be create, update or delete")),
    };
    let canonical = serde_json::to_value(op).unwrap_or_default();
    Ok(WriteItem {
        op: contact_op,
        mutation_id: Some(mutation_id.to_owned()),
        dedupe: Some(IdempotencyKey::for_mutation(mutation_id, &canonical)),
        link: None,
    })
}

/// Decodes an operation's `fields`, naming the bad one.
fn decode<T: serde::de::DeserializeOwned>(index: usize, value: serde_json::Value) -> Result<T, Vec<FieldError>> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let name = if path == "." { "fields".to_owned() } else { format!("fields.{path}") };
        vec![FieldError::new(format!("operations[{index}].{name}"), e.into_inner().to_string())]
    })
}

fn prefix_fields(fields: Vec<FieldError>) -> Vec<FieldError> {
    fields.into_iter().map(|f| FieldError::new(format!("fields.{}", f.field), f.message)).collect()
}

/// Upload operations queued offline; see the rules below.
///
/// Each operation carries a `mutation_id`; one seen before answers `duplicate` with its original result.
/// `update` and `delete` need `base_version`. Updates merge field by field: a field the server did not
/// change since `base_version` takes the device's value, a field the device sent unchanged keeps the
/// server's, and a field both changed differently is a `conflict` (nothing of that operation is applied;
/// `current` holds the server's copy and `fields` the conflicting fields). Deleting a contact changed on
/// the server since `base_version` is a conflict. Operations apply in order, each atomic on its own.
#[utoipa::path(post, path = "/api/v1/sync/push", tag = "sync", request_body = PushRequest,
    responses((status = 200, body = PushResponse), (status = 422, body = ErrorBody)))]
pub async fn push(
    State(state): State<AppState>,
    principal: Principal,
    AppJson(body): AppJson<PushRequest>,
) -> AppResult<axum::Json<PushResponse>> {
    principal.require(Permission::ContactsWrite)?;
    if body.operations.len() > MAX_OPERATIONS {
        return Err(AppError::field("operations", format!("must have at most {MAX_OPERATIONS} operations")));
    }
    let policy = crate::contacts::phone_policy(&state, principal.workspace_id).await?;
    let mut results: Vec<Option<PushResult>> = Vec::with_capacity(body.operations.len());
    let (mut items, mut positions) = (Vec::new(), Vec::new());
    for (index, op) in body.operations.iter().enumerate() {
        match parse(index, op, &policy) {
            Ok(item) => {
                results.push(None);
                positions.push(index);
                items.push(item);
            }
            Err(fields) => {
                results.push(Some(PushResult::rejected(op, "VALIDATION_FAILED", "Validation failed", fields)))
            }
        }
    }
    if !items.is_empty() {
        let request = WriteRequest { author: Author::of(&principal), items, idempotency: None, lease: None };
        let written = state.writers.submit(principal.workspace_id, request).await?;
        for (index, item) in positions.into_iter().zip(written.items) {
            let op = &body.operations[index];
            results[index] = Some(match item.outcome {
                Outcome::Applied { contact, .. } => PushResult {
                    mutation_id: op.mutation_id.clone(),
                    status: if item.duplicate { "duplicate" } else { "applied" },
                    id: Some(contact.id),
                    version: Some(contact.version),
                    contact: Some(*contact),
                    current: None,
                    fields: Vec::new(),
                    error_code: None,
                    error: None,
                },
                Outcome::Failed { error } if error.code == "VERSION_CONFLICT" => PushResult {
                    mutation_id: op.mutation_id.clone(),
                    status: "conflict",
                    id: op.id,
                    version: error.current.as_ref().map(|c| c.version),
                    contact: None,
                    current: error.current.map(|c| *c),
                    fields: error.fields,
                    error_code: Some(error.code),
                    error: Some(error.message),
                },
                Outcome::Failed { error } => PushResult::rejected(op, &error.code, &error.message, error.fields),
            });
        }
    }
    Ok(axum::Json(PushResponse {
        results: results.into_iter().map(|r| r.expect("every operation answered")).collect(),
    }))
}
