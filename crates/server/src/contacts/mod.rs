//! Contacts: the canonical record, its storage, and the two APIs over it (the canonical `/api/v1/contacts`
//! and the seed-001 agent API `/api/contacts`). Every write goes through the change feed's writer
//! (`crate::feed::writer`), so each change gets its workspace version and its `changes` row.

pub mod agent;
pub mod generate;
pub mod input;
pub mod routes;
pub mod store;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_domain::ContactFields;
use uuid::Uuid;

/// A contact as the canonical API shows it: the editable fields plus bookkeeping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Contact {
    /// Contact id (UUIDv7, or the UUID a device chose when it created the contact offline).
    pub id: Uuid,
    /// What a list shows: "Given Family", else nickname, company, first email or first phone.
    pub display_name: String,
    /// The editable fields.
    #[serde(flatten)]
    pub fields: ContactFields,
    /// Where the contact was created: `api`, `device`, `import`, `google:<account>`, `voice`, `dashboard`.
    pub source: String,
    /// Who created it: a user's email or an agent code.
    pub created_by: String,
    /// The workspace version of the contact's last change.
    pub version: i64,
    /// Whether the contact has been deleted (a tombstone kept for delta sync).
    pub deleted: bool,
    /// When it was deleted.
    #[serde(serialize_with = "crate::http::timestamps::rfc3339_opt")]
    pub deleted_at: Option<DateTime<Utc>>,
    /// When it was created.
    #[serde(serialize_with = "crate::http::timestamps::rfc3339")]
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    #[serde(serialize_with = "crate::http::timestamps::rfc3339")]
    pub updated_at: DateTime<Utc>,
}

impl crate::pagination::Keyed for Contact {
    fn key(&self) -> Uuid {
        self.id
    }
}

impl Contact {
    /// The `ETag` of this state: its version, quoted.
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.version)
    }
}

use crate::auth::Principal;
use crate::error::AppError;
use crate::feed::idempotency::IdempotencyKey;
use crate::feed::writer::{ContactOp, WriteItem, WriteRequest, WriteResult};
use crate::feed::{Author, ChangeOp};
use crate::state::AppState;
use switchboard_domain::{PhonePolicy, WorkspaceId};

/// How the workspace parses phone numbers.
pub async fn phone_policy(state: &AppState, ws: WorkspaceId) -> Result<PhonePolicy, AppError> {
    Ok(crate::workspaces::settings(state, ws).await?.phone_policy())
}

/// A live contact of the workspace (deleted ones are 404).
pub async fn get(state: &AppState, ws: WorkspaceId, id: Uuid) -> Result<Contact, AppError> {
    let mut pooled = state.db.acquire().await?;
    match store::get(&mut pooled.conn(), ws, id).await? {
        Some(c) if !c.deleted => Ok(c),
        _ => Err(AppError::NotFound),
    }
}

/// Applies one operation for the caller. Returns what happened, the contact after it, and whether the
/// answer is a replay of an earlier request with the same `Idempotency-Key`.
pub async fn write_one(
    state: &AppState,
    principal: &Principal,
    op: ContactOp,
    idempotency: Option<IdempotencyKey>,
) -> Result<(ChangeOp, Contact, bool), AppError> {
    let request =
        WriteRequest { author: Author::of(principal), items: vec![WriteItem::new(op)], idempotency, lease: None };
    let result: WriteResult = state.writers.submit(principal.workspace_id, request).await?;
    let replayed = result.replayed;
    let (op, contact, _) = result.single()?;
    Ok((op, contact, replayed))
}

/// Parses `If-Match: "<version>"` (weak tags and bare numbers accepted; `*` means any version).
pub fn if_match(headers: &axum::http::HeaderMap) -> Result<Option<i64>, AppError> {
    let Some(value) = headers.get(axum::http::header::IF_MATCH) else { return Ok(None) };
    let text = value.to_str().unwrap_or_default().trim();
    if text == "*" {
        return Ok(None);
    }
    let bare = text.trim_start_matches("W/").trim_matches('"');
    bare.parse::<i64>().map(Some).map_err(|_| AppError::BadRequest {
        code: "INVALID_HEADER",
        message: "Invalid If-Match header".into(),
        fields: vec![switchboard_domain::FieldError::new("If-Match", "must be a version in quotes, like \"12\"")],
    })
}
