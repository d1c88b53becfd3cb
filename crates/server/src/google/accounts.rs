//! Connected Google accounts: who connected which Google account, what it granted, and its tokens,
//! encrypted at rest (ARCHITECTURE §3). Each account has a `sync_states` row per synced resource.

use crate::config::sealed::Sealer;
use crate::error::AppError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use switchboard_domain::{FieldError, UserId, WorkspaceId};
use switchboard_store::{Db, db_run};
use uuid::Uuid;

use switchboard_google::oauth::{TokenResponse, scope};

/// Why an account stopped syncing when Google refuses its stored grant (`invalid_grant`).
pub const REAUTH_MESSAGE: &str = "Google refused the stored authorisation (revoked or expired): reconnect the account";

/// When an access token from Google's token endpoint expires (Google says ~3599 s; at most a day is believed).
pub fn access_expiry(tokens: &TokenResponse) -> DateTime<Utc> {
    Utc::now() + chrono::Duration::seconds(tokens.expires_in.unwrap_or(3600).min(86_400) as i64)
}

/// Whether a space-separated scope list names `wanted`.
fn grants(scopes: &str, wanted: &str) -> bool {
    scopes.split(' ').any(|s| s == wanted)
}

/// Which contacts are pushed to an account's Google Contacts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PushScope {
    /// Every contact of the workspace.
    #[default]
    All,
    /// Only contacts with the account's `label`.
    Label,
    /// None: Google is only read.
    None,
}

/// Per-account sync settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountSettings {
    /// Which local contacts go to Google.
    #[serde(default)]
    pub push: PushScope,
    /// The label for `push: label`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Most writes per minute to this account; unset: the server's `google_writes_per_minute`; 0: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writes_per_minute: Option<u32>,
}

impl AccountSettings {
    /// Checks the settings, naming the field at fault.
    pub fn validate(&self) -> Result<(), FieldError> {
        match (&self.push, &self.label) {
            (PushScope::Label, None) => Err(FieldError::new("label", "is required when push is \"label\"")),
            (_, Some(l)) if l.trim().is_empty() || l.chars().count() > 100 => {
                Err(FieldError::new("label", "must be 1-100 characters"))
            }
            _ => Ok(()),
        }
    }
}

/// A connected account as the API shows it (never its tokens).
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ConnectedAccount {
    /// Id.
    pub id: Uuid,
    /// `google`.
    pub provider: String,
    /// The Google account's email.
    pub account_email: String,
    /// Scopes Google granted, space-separated.
    pub scopes: String,
    /// `active`, or `reauth_required` when Google refused the stored grant (reconnect to resume).
    pub status: String,
    /// The last error talking to Google, if any.
    pub last_error: Option<String>,
    /// Sync settings.
    #[schema(value_type = AccountSettings)]
    pub settings: Json<AccountSettings>,
    /// Connected at.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl ConnectedAccount {
    /// Whether Google granted `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        grants(&self.scopes, scope)
    }
}

const ACCOUNT_COLUMNS: &str =
    "id, provider, account_email, scopes, status, last_error, settings, created_at, updated_at";

/// Tokens as Google issued them, decrypted.
#[derive(Clone)]
pub struct StoredTokens {
    /// The long-lived grant.
    pub refresh_token: Option<String>,
    /// The current access token and when it expires.
    pub access: Option<(String, DateTime<Utc>)>,
}

impl std::fmt::Debug for StoredTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoredTokens(***)")
    }
}

/// The associated data a token of `account` is sealed with.
fn context(account: Uuid, column: &str) -> Vec<u8> {
    format!("connected_accounts:{account}:{column}").into_bytes()
}

/// What a completed OAuth consent gives us.
pub struct Connection<'a> {
    pub workspace: WorkspaceId,
    pub user: Option<UserId>,
    pub email: &'a str,
    pub scopes: &'a str,
    pub refresh_token: Option<&'a str>,
    pub access_token: &'a str,
    pub expires_at: DateTime<Utc>,
}

/// Stores a new connection, or updates the workspace's existing one for the same Google account
/// (reconnecting: new scopes and tokens, status back to active). A consent that returns no refresh token
/// keeps the stored one. Creates the People sync state when the contacts scope was granted.
pub async fn connect(db: &Db, sealer: &Sealer, c: Connection<'_>) -> Result<ConnectedAccount, AppError> {
    let now = Utc::now();
    let existing: Option<Uuid> = db_run!(db, pool => sqlx::query_scalar(
        "SELECT id FROM connected_accounts WHERE workspace_id = $1 AND provider = 'google' AND account_email = $2",
    ).bind(c.workspace.0).bind(c.email).fetch_optional(pool).await)?;
    let id = existing.unwrap_or_else(Uuid::now_v7);
    let refresh = c.refresh_token.map(|t| sealer.seal_str(t, &context(id, "refresh")));
    let access = sealer.seal_str(c.access_token, &context(id, "access"));
    if existing.is_none() && refresh.is_none() {
        return Err(AppError::bad_request(
            "GOOGLE_NO_REFRESH_TOKEN",
            "Google returned no refresh token; connect again (the consent screen must be shown)",
        ));
    }
    let mut tx = db.begin().await?;
    switchboard_store::tx_run!(&mut tx, conn => {
        match existing {
            Some(_) => sqlx::query(
                "UPDATE connected_accounts SET scopes = $2, refresh_token_enc = COALESCE($3, refresh_token_enc), \
                 access_token_enc = $4, access_token_expires_at = $5, status = 'active', last_error = NULL, \
                 updated_at = $6 WHERE id = $1",
            ).bind(id).bind(c.scopes).bind(&refresh).bind(&access).bind(c.expires_at).bind(now)
            .execute(&mut **conn).await.map(|_| ())?,
            None => sqlx::query(
                "INSERT INTO connected_accounts (id, workspace_id, provider, account_email, scopes, \
                 refresh_token_enc, access_token_enc, access_token_expires_at, status, settings, connected_by, \
                 created_at, updated_at) VALUES ($1, $2, 'google', $3, $4, $5, $6, $7, 'active', $8, $9, $10, $10)",
            ).bind(id).bind(c.workspace.0).bind(c.email).bind(c.scopes).bind(&refresh).bind(&access)
            .bind(c.expires_at).bind(Json(AccountSettings::default())).bind(c.user.map(|u| u.0)).bind(now)
            .execute(&mut **conn).await.map(|_| ())?,
        };
        if grants(c.scopes, scope::CONTACTS) {
            // A (re)connected account syncs at once; a new one starts with a full sync.
            sqlx::query(
                "INSERT INTO sync_states (account_id, resource, workspace_id, status, counts, next_run_at, \
                 updated_at) VALUES ($1, 'people', $2, 'idle', $3, $4, $4) \
                 ON CONFLICT (account_id, resource) DO UPDATE SET next_run_at = $4, updated_at = $4",
            ).bind(id).bind(c.workspace.0).bind(Json(serde_json::json!({}))).bind(now)
            .execute(&mut **conn).await.map(|_| ())?;
        }
        Ok::<_, sqlx::Error>(())
    })?;
    tx.commit().await?;
    get(db, c.workspace, id).await
}

/// The workspace's connected accounts.
pub async fn list(db: &Db, ws: WorkspaceId) -> Result<Vec<ConnectedAccount>, AppError> {
    let sql =
        format!("SELECT {ACCOUNT_COLUMNS} FROM connected_accounts WHERE workspace_id = $1 ORDER BY created_at, id");
    Ok(db_run!(db, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(ws.0).fetch_all(pool).await)?)
}

/// One account of the workspace.
pub async fn get(db: &Db, ws: WorkspaceId, id: Uuid) -> Result<ConnectedAccount, AppError> {
    find(db, id).await?.filter(|(owner, _)| *owner == ws).map(|(_, a)| a).ok_or(AppError::NotFound)
}

/// An account and its workspace, by id alone (background workers).
pub async fn find(db: &Db, id: Uuid) -> Result<Option<(WorkspaceId, ConnectedAccount)>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        workspace_id: Uuid,
        #[sqlx(flatten)]
        account: ConnectedAccount,
    }
    let sql = format!("SELECT workspace_id, {ACCOUNT_COLUMNS} FROM connected_accounts WHERE id = $1");
    let row: Option<Row> =
        db_run!(db, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await)?;
    Ok(row.map(|r| (WorkspaceId(r.workspace_id), r.account)))
}

/// The account's tokens, decrypted.
pub async fn tokens(db: &Db, sealer: &Sealer, id: Uuid) -> Result<StoredTokens, AppError> {
    type Sealed = (Option<Vec<u8>>, Option<Vec<u8>>, Option<DateTime<Utc>>);
    let row: Option<Sealed> = db_run!(db, pool => sqlx::query_as(
        "SELECT refresh_token_enc, access_token_enc, access_token_expires_at FROM connected_accounts WHERE id = $1",
    ).bind(id).fetch_optional(pool).await)?;
    let (refresh, access, expires) = row.ok_or(AppError::NotFound)?;
    let open = |sealed: Option<Vec<u8>>, column| {
        sealed.map(|s| sealer.open_str(&s, &context(id, column)).map_err(AppError::internal)).transpose()
    };
    let refresh_token = open(refresh, "refresh")?;
    let access = open(access, "access")?.zip(expires);
    Ok(StoredTokens { refresh_token, access })
}

/// Stores a refreshed access token (and a new refresh token when Google sent one).
pub async fn save_tokens(
    db: &Db,
    sealer: &Sealer,
    id: Uuid,
    access_token: &str,
    expires_at: DateTime<Utc>,
    refresh_token: Option<&str>,
) -> Result<(), sqlx::Error> {
    let access = sealer.seal_str(access_token, &context(id, "access"));
    let refresh = refresh_token.map(|t| sealer.seal_str(t, &context(id, "refresh")));
    db_run!(db, pool => sqlx::query(
        "UPDATE connected_accounts SET access_token_enc = $2, access_token_expires_at = $3, \
         refresh_token_enc = COALESCE($4, refresh_token_enc), updated_at = $5 WHERE id = $1",
    ).bind(id).bind(access).bind(expires_at).bind(refresh).bind(Utc::now()).execute(pool).await.map(|_| ()))?;
    Ok(())
}

/// Google refused the grant (`invalid_grant`): syncs stop until the account is reconnected.
pub async fn mark_reauth_required(db: &Db, id: Uuid, message: &str) -> Result<(), sqlx::Error> {
    db_run!(db, pool => sqlx::query(
        "UPDATE connected_accounts SET status = 'reauth_required', last_error = $2, access_token_enc = NULL, \
         access_token_expires_at = NULL, updated_at = $3 WHERE id = $1",
    ).bind(id).bind(message).bind(Utc::now()).execute(pool).await.map(|_| ()))?;
    Ok(())
}

/// Records (or clears) the account's last error.
pub async fn set_last_error(db: &Db, id: Uuid, message: Option<&str>) -> Result<(), sqlx::Error> {
    db_run!(db, pool => sqlx::query("UPDATE connected_accounts SET last_error = $2, updated_at = $3 WHERE id = $1")
        .bind(id).bind(message).bind(Utc::now()).execute(pool).await.map(|_| ()))?;
    Ok(())
}

/// Changes the account's sync settings.
pub async fn update_settings(
    db: &Db,
    ws: WorkspaceId,
    id: Uuid,
    settings: &AccountSettings,
) -> Result<ConnectedAccount, AppError> {
    settings.validate().map_err(|e| AppError::Validation(vec![e]))?;
    let done = db_run!(db, pool => sqlx::query(
        "UPDATE connected_accounts SET settings = $3, updated_at = $4 WHERE workspace_id = $1 AND id = $2",
    ).bind(ws.0).bind(id).bind(Json(settings)).bind(Utc::now()).execute(pool).await.map(|r| r.rows_affected()))?;
    if done == 0 {
        return Err(AppError::NotFound);
    }
    get(db, ws, id).await
}

/// Deletes the account, its sync state and its links (the contacts stay).
pub async fn delete(db: &Db, ws: WorkspaceId, id: Uuid) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    let deleted = switchboard_store::tx_run!(&mut tx, conn => {
        // The account first (its sync state goes with it: ON DELETE CASCADE): its row lock waits for any
        // transaction writing its links (which holds the row, `links::lock_accounts`), and later ones find it
        // gone. The links have no foreign key (ADR 0007), so they are deleted here, by a statement that sees
        // those writers' commits.
        let deleted = sqlx::query("DELETE FROM connected_accounts WHERE id = $1 AND workspace_id = $2")
            .bind(id).bind(ws.0).execute(&mut **conn).await.map(|r| r.rows_affected())?;
        sqlx::query("DELETE FROM external_links WHERE account_id = $1 AND workspace_id = $2")
            .bind(id).bind(ws.0).execute(&mut **conn).await.map(|_| deleted)
    })?;
    if deleted == 0 {
        return Err(AppError::NotFound);
    }
    tx.commit().await?;
    Ok(())
}
