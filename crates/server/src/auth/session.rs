//! Login sessions: password sign-in, refresh-token rotation with reuse detection, logout.
//!
//! A login starts a refresh-token *family*. Each refresh rotates the token (the old one is marked
//! rotated, a new one issued, 7 days sliding, never past the family's 30-day cap). Presenting a rotated
//! token again means it was copied: the whole family is revoked — except within 10 seconds of its
//! rotation (configurable), which is two tabs refreshing at once, and gets a fresh pair of the same family.

use super::cache::CachedMember;
use super::password::{self, Verified};
use super::tokens;
use crate::error::AppError;
use crate::state::AppState;
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use serde::Serialize;
use switchboard_domain::{RefreshTokenId, Role, UserId, WorkspaceId};
use switchboard_store::{Tx, db_run, tx_run};
use uuid::Uuid;

/// The signed-in user, as login, refresh and `/me` return it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SessionUser {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    #[schema(value_type = Role)]
    pub role: Role,
    pub workspace: SessionWorkspace,
}

/// The workspace of a session.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SessionWorkspace {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
}

/// Tokens and user returned by login and refresh.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenPair {
    /// Short-lived JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Opaque token for `/auth/refresh`; rotates on every use.
    pub refresh_token: String,
    /// Seconds until the refresh token expires (unless used first).
    pub refresh_expires_in: i64,
    /// Who signed in.
    pub user: SessionUser,
}

#[derive(sqlx::FromRow)]
struct LoginRow {
    id: Uuid,
    email: String,
    name: String,
    password_hash: String,
}

#[derive(sqlx::FromRow)]
struct MembershipRow {
    workspace_id: Uuid,
    ws_name: String,
    slug: String,
    role: String,
    is_active: bool,
}

fn invalid_credentials() -> AppError {
    AppError::unauthenticated("INVALID_CREDENTIALS", "Email or password is incorrect")
}

/// Signs a user in. Unknown email and wrong password take the same time and give the same answer.
pub async fn login(
    state: &AppState,
    email: &str,
    password_text: &str,
    workspace: Option<&str>,
) -> Result<TokenPair, AppError> {
    let email = email.trim().to_lowercase();
    let user: Option<LoginRow> = db_run!(&state.db, pool => sqlx::query_as(
        "SELECT id, email, name, password_hash FROM users WHERE email = $1",
    ).bind(&email).fetch_optional(pool).await)?;
    let password_text = password_text.to_owned();
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let verified = tokio::task::spawn_blocking(move || match stored {
        Some(hash) => password::verify(&password_text, &hash),
        None => {
            password::verify_dummy(&password_text);
            Verified::Wrong
        }
    })
    .await
    .map_err(AppError::internal)?;
    let (user, rehash) = match (user, verified) {
        (Some(u), Verified::Ok) => (u, None),
        (Some(u), Verified::OkRehashed(h)) => (u, Some(h)),
        _ => return Err(invalid_credentials()),
    };
    let memberships: Vec<MembershipRow> = db_run!(&state.db, pool => sqlx::query_as(
        "SELECT m.workspace_id, w.name AS ws_name, w.slug, m.role, m.is_active FROM memberships m \
         JOIN workspaces w ON w.id = m.workspace_id WHERE m.user_id = $1 ORDER BY m.created_at",
    ).bind(user.id).fetch_all(pool).await)?;
    let chosen = match workspace {
        Some(slug) => memberships.iter().find(|m| m.slug == slug).ok_or_else(|| {
            AppError::unauthenticated("INVALID_CREDENTIALS", "This account has no access to that workspace")
        })?,
        None => memberships.iter().find(|m| m.is_active).or(memberships.first()).ok_or_else(|| {
            AppError::Forbidden { code: "ACCOUNT_INACTIVE", message: "This account has no workspace".into() }
        })?,
    };
    if !chosen.is_active {
        return Err(AppError::Forbidden {
            code: "ACCOUNT_INACTIVE",
            message: "This account has been deactivated".into(),
        });
    }
    let role: Role = chosen.role.parse().map_err(AppError::internal)?;
    let now = Utc::now();
    let mut tx = state.db.begin().await?;
    tx_run!(&mut tx, conn => async {
        if let Some(hash) = &rehash {
            sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
                .bind(hash).bind(now).bind(user.id).execute(&mut **conn).await?;
        }
        sqlx::query("UPDATE users SET last_sign_in_at = $1 WHERE id = $2").bind(now).bind(user.id).execute(&mut **conn).await.map(|r| r.rows_affected())
    }.await)?;
    let family_expires = now + to_chrono(state.config.refresh_family_ttl);
    let (refresh, refresh_expires) = insert_refresh(
        &mut tx,
        state,
        WorkspaceId(chosen.workspace_id),
        UserId(user.id),
        Uuid::now_v7(),
        family_expires,
    )
    .await?;
    tx.commit().await?;
    let session_user = SessionUser {
        id: user.id,
        email: user.email,
        name: user.name,
        role,
        workspace: SessionWorkspace {
            id: chosen.workspace_id,
            name: chosen.ws_name.clone(),
            slug: chosen.slug.clone(),
        },
    };
    Ok(pair(state, session_user, refresh, refresh_expires))
}

fn to_chrono(d: std::time::Duration) -> ChronoDuration {
    ChronoDuration::from_std(d).unwrap_or(ChronoDuration::MAX)
}

fn pair(state: &AppState, user: SessionUser, refresh: String, refresh_expires: DateTime<Utc>) -> TokenPair {
    TokenPair {
        access_token: state.jwt.issue(UserId(user.id), WorkspaceId(user.workspace.id)),
        token_type: "bearer",
        expires_in: state.jwt.ttl().as_secs(),
        refresh_token: refresh,
        refresh_expires_in: (refresh_expires - Utc::now()).num_seconds().max(0),
        user,
    }
}

async fn insert_refresh(
    tx: &mut Tx<'_>,
    state: &AppState,
    ws: WorkspaceId,
    user: UserId,
    family: Uuid,
    family_expires: DateTime<Utc>,
) -> Result<(String, DateTime<Utc>), AppError> {
    let token = tokens::random_token();
    let now = Utc::now();
    let expires = (now + to_chrono(state.config.refresh_token_ttl)).min(family_expires);
    tx_run!(tx, conn => sqlx::query(
        "INSERT INTO refresh_tokens (id, workspace_id, user_id, family_id, token_hash, created_at, expires_at, family_expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    ).bind(RefreshTokenId::new().0).bind(ws.0).bind(user.0).bind(family).bind(tokens::digest(&token))
    .bind(now).bind(expires).bind(family_expires).execute(&mut **conn).await.map(|r| r.rows_affected()))?;
    Ok((token, expires))
}

#[derive(sqlx::FromRow)]
struct RefreshRow {
    id: Uuid,
    workspace_id: Uuid,
    user_id: Uuid,
    family_id: Uuid,
    expires_at: DateTime<Utc>,
    family_expires_at: DateTime<Utc>,
    rotated_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

/// Exchanges a refresh token for a new pair (see the module docs for the reuse rules).
pub async fn refresh(state: &AppState, token: &str) -> Result<TokenPair, AppError> {
    let invalid = || AppError::unauthenticated("INVALID_REFRESH_TOKEN", "The refresh token is not valid");
    let now = Utc::now();
    let mut tx = state.db.begin().await?;
    let row: Option<RefreshRow> = tx_run!(&mut tx, conn => sqlx::query_as(
        "SELECT id, workspace_id, user_id, family_id, expires_at, family_expires_at, rotated_at, revoked_at \
         FROM refresh_tokens WHERE token_hash = $1",
    ).bind(tokens::digest(token)).fetch_optional(&mut **conn).await)?;
    let row = row.ok_or_else(invalid)?;
    if row.revoked_at.is_some() {
        return Err(invalid());
    }
    if now >= row.expires_at || now >= row.family_expires_at {
        return Err(AppError::unauthenticated("REFRESH_TOKEN_EXPIRED", "The session has expired; sign in again"));
    }
    // Mark rotated unless someone else did (the conditional update is the race arbiter).
    let rotated_now = tx_run!(&mut tx, conn => sqlx::query(
        "UPDATE refresh_tokens SET rotated_at = $1 WHERE id = $2 AND rotated_at IS NULL",
    ).bind(now).bind(row.id).execute(&mut **conn).await.map(|r| r.rows_affected()))?
        == 1;
    if !rotated_now {
        let rotated_at = match row.rotated_at {
            Some(t) => t,
            None => tx_run!(&mut tx, conn => sqlx::query_scalar::<_, Option<DateTime<Utc>>>(
                "SELECT rotated_at FROM refresh_tokens WHERE id = $1",
            ).bind(row.id).fetch_one(&mut **conn).await)?
            .unwrap_or(now),
        };
        if now - rotated_at > to_chrono(state.config.refresh_reuse_grace) {
            tx_run!(&mut tx, conn => sqlx::query(
                "UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL",
            ).bind(now).bind(row.family_id).execute(&mut **conn).await.map(|r| r.rows_affected()))?;
            tx.commit().await?;
            tracing::warn!(family = %row.family_id, user = %row.user_id, "refresh token reused; session revoked");
            return Err(AppError::unauthenticated(
                "REFRESH_TOKEN_REUSED",
                "This refresh token was already used; the session has been ended for safety. Sign in again",
            ));
        }
    }
    let (ws, user) = (WorkspaceId(row.workspace_id), UserId(row.user_id));
    let member = super::principal::membership(state, user, ws).await?.ok_or_else(invalid)?;
    if !member.active {
        return Err(AppError::Forbidden {
            code: "ACCOUNT_INACTIVE",
            message: "This account has been deactivated".into(),
        });
    }
    let (new_token, expires) = insert_refresh(&mut tx, state, ws, user, row.family_id, row.family_expires_at).await?;
    tx.commit().await?;
    let session_user = session_user(state, user, ws, &member).await?;
    Ok(pair(state, session_user, new_token, expires))
}

/// Builds the session's user view.
pub async fn session_user(
    state: &AppState,
    user: UserId,
    ws: WorkspaceId,
    member: &CachedMember,
) -> Result<SessionUser, AppError> {
    let workspace = crate::workspaces::find(&state.db, ws).await?.ok_or(AppError::NotFound)?;
    Ok(SessionUser {
        id: user.0,
        email: member.email.clone(),
        name: member.name.clone(),
        role: member.role,
        workspace: SessionWorkspace { id: workspace.id, name: workspace.name, slug: workspace.slug },
    })
}

/// Ends the session a refresh token belongs to (idempotent: unknown tokens are ignored).
pub async fn logout(state: &AppState, token: &str) -> Result<(), AppError> {
    let now = Utc::now();
    db_run!(&state.db, pool => sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $1 WHERE revoked_at IS NULL AND family_id = \
         (SELECT family_id FROM refresh_tokens WHERE token_hash = $2)",
    ).bind(now).bind(tokens::digest(token)).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}
