//! Directory tokens: read-only credentials for desk phones and PBXs, which cannot send custom headers. A
//! token goes in the URL path (`/d/{token}/…`) or HTTP Basic; it can restrict the directory to labels and
//! cap how many entries each vendor's phone book gets. Stored as SHA-256 digests, shown once.

use crate::auth::tokens::{digest, random_bytes};
use crate::error::AppError;
use crate::pagination::{Page, PageRequest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use std::collections::BTreeMap;
use switchboard_domain::{FieldError, WorkspaceId};
use switchboard_store::{Db, db_run};
use uuid::Uuid;

/// The visible start of every directory token.
pub const TOKEN_MARKER: &str = "dt_";

/// Vendors whose phones download the whole book, with the default cap of entries each gets. Phones keep a
/// downloaded book in their own memory and many hold about 1,000 entries; a token can set other caps.
pub const VENDORS: [(&str, u32); 4] = [("yealink", 1_000), ("grandstream", 1_000), ("snom", 1_000), ("poly", 1_000)];

/// The largest cap a token may set.
pub const MAX_CAP: u32 = 100_000;

/// A directory token as listed (never the token itself).
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct DirectoryToken {
    /// Id.
    pub id: Uuid,
    /// What uses the token ("Front desk phones").
    pub name: String,
    /// The token's first characters, to recognise it.
    pub hint: String,
    /// Only contacts with at least one of these labels are listed; empty: every contact.
    #[schema(value_type = Vec<String>)]
    pub labels: Json<Vec<String>>,
    /// Most entries per vendor (`yealink`, `grandstream`, `snom`, `poly`); a vendor not listed gets its
    /// default (1,000). Cisco phones page through the whole directory.
    #[schema(value_type = BTreeMap<String, u32>)]
    pub caps: Json<BTreeMap<String, u32>>,
    /// Who created it.
    pub created_by: String,
    /// Created at.
    pub created_at: DateTime<Utc>,
    /// When it was revoked; revoked tokens are kept for the record.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl DirectoryToken {
    /// The entry cap for a whole-book vendor.
    pub fn cap(&self, vendor: &str) -> u32 {
        self.caps
            .get(vendor)
            .copied()
            .unwrap_or_else(|| VENDORS.iter().find(|(v, _)| *v == vendor).map_or(1_000, |(_, cap)| *cap))
    }
}

impl crate::pagination::Keyed for DirectoryToken {
    fn key(&self) -> Uuid {
        self.id
    }
}

/// What a new token may be restricted to.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenSpec {
    /// What uses the token (1–100 characters).
    pub name: String,
    /// List only contacts with one of these labels.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Most entries per vendor (1–100,000).
    #[serde(default)]
    pub caps: BTreeMap<String, u32>,
}

impl TokenSpec {
    /// Checks the spec, naming every bad field.
    pub fn validate(&self) -> Result<(), AppError> {
        let mut errors = Vec::new();
        if let Err(e) = crate::api_keys::parse_name(&self.name) {
            errors.push(e);
        }
        for (i, label) in self.labels.iter().enumerate() {
            if label.trim().is_empty() || label.chars().count() > 100 {
                errors.push(FieldError::new(format!("labels[{i}]"), "must be 1-100 characters"));
            }
        }
        for (vendor, cap) in &self.caps {
            if !VENDORS.iter().any(|(v, _)| v == vendor) {
                let known: Vec<&str> = VENDORS.iter().map(|(v, _)| *v).collect();
                errors.push(FieldError::new(format!("caps.{vendor}"), format!("is not one of {}", known.join(", "))));
            } else if !(1..=MAX_CAP).contains(cap) {
                errors.push(FieldError::new(format!("caps.{vendor}"), format!("must be between 1 and {MAX_CAP}")));
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(AppError::Validation(errors)) }
    }
}

/// A new token: 128 random bits, URL-safe, short enough for Cisco's 256-character URLs.
fn generate() -> String {
    format!("{TOKEN_MARKER}{}", URL_SAFE_NO_PAD.encode(random_bytes(16)))
}

const SELECT: &str = "SELECT t.id, t.name, t.token_hint AS hint, t.labels, t.caps, t.created_by, t.created_at, \
     t.revoked_at FROM directory_tokens t";

/// Creates a token; returns its record and the token (to show once).
pub async fn create(
    db: &Db,
    ws: WorkspaceId,
    spec: &TokenSpec,
    created_by: &str,
) -> Result<(DirectoryToken, String), AppError> {
    spec.validate()?;
    let id = Uuid::now_v7();
    let token = generate();
    let labels: Vec<String> = spec.labels.iter().map(|l| l.trim().to_owned()).collect();
    db_run!(db, pool => sqlx::query(
        "INSERT INTO directory_tokens (id, workspace_id, name, token_hash, token_hint, labels, caps, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    ).bind(id).bind(ws.0).bind(spec.name.trim()).bind(digest(&token)).bind(&token[..TOKEN_MARKER.len() + 4])
    .bind(Json(&labels)).bind(Json(&spec.caps)).bind(created_by).bind(Utc::now())
    .execute(pool).await.map(|r| r.rows_affected()))?;
    Ok((get(db, ws, id).await?, token))
}

/// One token of the workspace.
pub async fn get(db: &Db, ws: WorkspaceId, id: Uuid) -> Result<DirectoryToken, AppError> {
    let sql = sqlx::AssertSqlSafe(format!("{SELECT} WHERE t.workspace_id = $1 AND t.id = $2"));
    let row: Option<DirectoryToken> =
        db_run!(db, pool => sqlx::query_as(sql).bind(ws.0).bind(id).fetch_optional(pool).await)?;
    row.ok_or(AppError::NotFound)
}

/// A page of the workspace's tokens.
pub async fn list(db: &Db, ws: WorkspaceId, page: &PageRequest, path: &str) -> Result<Page<DirectoryToken>, AppError> {
    page.fetch(db, SELECT, "t.workspace_id", "t.id", ws, path).await
}

/// Revokes a token (idempotent); phones using it get 401 from the next request on.
pub async fn revoke(db: &Db, ws: WorkspaceId, id: Uuid) -> Result<DirectoryToken, AppError> {
    db_run!(db, pool => sqlx::query(
        "UPDATE directory_tokens SET revoked_at = $1 WHERE workspace_id = $2 AND id = $3 AND revoked_at IS NULL",
    ).bind(Utc::now()).bind(ws.0).bind(id).execute(pool).await.map(|r| r.rows_affected()))?;
    get(db, ws, id).await
}

/// The live token `presented` and its workspace, or `None` (unknown, malformed or revoked: the caller
/// cannot tell which). Checked tokens are cached for `credential_cache_ttl` (5 s) like API keys, so a PBX
/// asking for a caller's name costs no token query; a revocation on this instance applies at once, one
/// made elsewhere (another instance, the CLI) when the entry expires.
pub async fn authenticate(
    state: &crate::state::AppState,
    presented: &str,
) -> Result<Option<(WorkspaceId, DirectoryToken)>, AppError> {
    if !presented.starts_with(TOKEN_MARKER) || presented.len() > 64 {
        return Ok(None);
    }
    let digest = digest(presented);
    if let Some(found) = state.credentials.directory_token(&digest) {
        return Ok(Some(found));
    }
    let found = lookup(&state.db, &digest).await?;
    if let Some(found) = &found {
        state.credentials.put_directory_token(digest, found.clone());
    }
    Ok(found)
}

async fn lookup(db: &Db, digest: &str) -> Result<Option<(WorkspaceId, DirectoryToken)>, AppError> {
    let sql = "SELECT t.workspace_id, t.id, t.name, t.token_hint AS hint, t.labels, t.caps, t.created_by, \
         t.created_at, t.revoked_at FROM directory_tokens t WHERE t.token_hash = $1 AND t.revoked_at IS NULL";
    let row: Option<WithWorkspace> = db_run!(db, pool => sqlx::query_as(sql).bind(digest).fetch_optional(pool).await)?;
    Ok(row.map(|r| (WorkspaceId(r.workspace_id), r.token)))
}

#[derive(sqlx::FromRow)]
struct WithWorkspace {
    workspace_id: Uuid,
    #[sqlx(flatten)]
    token: DirectoryToken,
}
