//! Users and their memberships of workspaces. A user (email + password) is global; what they may do is
//! per workspace, through a membership with a role and an active flag that the workspace's admins manage.

pub mod routes;

use crate::auth::{Principal, password, tokens};
use crate::error::AppError;
use crate::pagination::{Page, PageRequest};
use crate::state::AppState;
use chrono::{DateTime, Utc};
use serde::Serialize;
use switchboard_domain::{Email, FieldError, Permission, PersonName, Role, UserId, WorkspaceId};
use switchboard_store::{Db, StoreError, Tx, db_run, tx_run};

/// A member of the workspace, as the API shows it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Member {
    /// User id.
    pub id: uuid::Uuid,
    /// Login email.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Role in this workspace.
    #[schema(value_type = Role)]
    pub role: String,
    /// Whether the user may sign in to this workspace.
    pub is_active: bool,
    /// Last successful sign-in.
    pub last_sign_in_at: Option<DateTime<Utc>>,
    /// When the user joined the workspace.
    pub created_at: DateTime<Utc>,
}

const MEMBER_SELECT: &str = "SELECT u.id, u.email, u.name, m.role, m.is_active, u.last_sign_in_at, m.created_at \
     FROM memberships m JOIN users u ON u.id = m.user_id";

/// Inserts a user (in an open transaction). A duplicate email is `Conflict`.
pub async fn insert_user(
    tx: &mut Tx<'_>,
    email: &Email,
    name: &PersonName,
    password_hash: &str,
) -> Result<UserId, StoreError> {
    let id = UserId::new();
    let now = Utc::now();
    tx_run!(tx, conn => sqlx::query(
        "INSERT INTO users (id, email, password_hash, name, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
    ).bind(id.0).bind(email.as_str()).bind(password_hash).bind(name.as_str()).bind(now)
    .execute(&mut **conn).await.map(|r| r.rows_affected()))
    .map_err(StoreError::from_sqlx)?;
    Ok(id)
}

/// Adds a user to a workspace (in an open transaction).
pub async fn insert_membership(tx: &mut Tx<'_>, ws: WorkspaceId, user: UserId, role: Role) -> Result<(), StoreError> {
    let now = Utc::now();
    tx_run!(tx, conn => sqlx::query(
        "INSERT INTO memberships (workspace_id, user_id, role, is_active, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
    ).bind(ws.0).bind(user.0).bind(role.as_str()).bind(true).bind(now)
    .execute(&mut **conn).await.map(|r| r.rows_affected())).map_err(StoreError::from_sqlx)?;
    Ok(())
}

/// A request to add a member.
#[derive(Debug)]
pub struct NewMember {
    pub email: Email,
    pub name: PersonName,
    pub role: Role,
    /// `None`: generate one and return it once.
    pub password: Option<String>,
}

/// Adds a member to a workspace. A new email creates the user; an existing user (of another workspace)
/// keeps their password and gains a membership. Returns the member and the generated password, if any.
pub async fn create_member(db: &Db, ws: WorkspaceId, new: NewMember) -> Result<(Member, Option<String>), AppError> {
    let existing: Option<uuid::Uuid> = db_run!(db, pool => sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(new.email.as_str()).fetch_optional(pool).await)?;
    let generated = match (&existing, &new.password) {
        (None, None) => Some(tokens::generate_password()),
        _ => None,
    };
    let hash = match new.password.as_ref().or(generated.as_ref()) {
        Some(p) if existing.is_none() => {
            let p = p.clone();
            Some(tokio::task::spawn_blocking(move || password::hash(&p)).await.map_err(AppError::internal)?)
        }
        _ => None,
    };
    let mut tx = db.begin().await?;
    let user = match (existing, hash) {
        (Some(id), _) => UserId(id),
        (None, Some(hash)) => insert_user(&mut tx, &new.email, &new.name, &hash).await?,
        (None, None) => unreachable!("a new user always gets a password"),
    };
    insert_membership(&mut tx, ws, user, new.role).await.map_err(|e| match e {
        StoreError::Conflict(_) => AppError::Conflict {
            code: "ALREADY_EXISTS",
            message: "This email is already a member of the workspace".into(),
            fields: vec![FieldError::new("email", "is already a member")],
        },
        other => other.into(),
    })?;
    tx.commit().await?;
    Ok((get(db, ws, user).await?, generated))
}

/// One member of a workspace (404 when not a member, including members of other workspaces).
pub async fn get(db: &Db, ws: WorkspaceId, user: UserId) -> Result<Member, AppError> {
    let sql = sqlx::AssertSqlSafe(format!("{MEMBER_SELECT} WHERE m.workspace_id = $1 AND m.user_id = $2"));
    let row: Option<Member> =
        db_run!(db, pool => sqlx::query_as(sql).bind(ws.0).bind(user.0).fetch_optional(pool).await)?;
    row.ok_or(AppError::NotFound)
}

/// A page of members.
pub async fn list(db: &Db, ws: WorkspaceId, page: &PageRequest, path: &str) -> Result<Page<Member>, AppError> {
    page.fetch(db, MEMBER_SELECT, "m.workspace_id", "u.id", ws, path).await
}

/// Changes to a member.
#[derive(Debug, Default)]
pub struct MemberChanges {
    pub name: Option<PersonName>,
    pub role: Option<Role>,
    pub is_active: Option<bool>,
    pub password: Option<String>,
}

/// Applies changes to a member. Only owners grant or change the owner role, and the last active owner
/// cannot be demoted or deactivated (the workspace would have nobody to manage it).
pub async fn update(
    state: &AppState,
    actor: &Principal,
    user: UserId,
    changes: MemberChanges,
) -> Result<Member, AppError> {
    let ws = actor.workspace_id;
    let current = get(&state.db, ws, user).await?;
    let current_role: Role = current.role.parse().map_err(AppError::internal)?;
    let touches_owner = current_role == Role::Owner || changes.role == Some(Role::Owner);
    if touches_owner && changes.role.is_some() && !actor.allows(Permission::Owner) {
        return Err(AppError::forbidden("Only an owner can grant or change the owner role"));
    }
    if current_role == Role::Owner
        && !actor.allows(Permission::Owner)
        && (changes.is_active.is_some() || changes.password.is_some())
    {
        return Err(AppError::forbidden("Only an owner can deactivate an owner or change an owner's password"));
    }
    let hash = match changes.password.clone() {
        Some(p) => Some(tokio::task::spawn_blocking(move || password::hash(&p)).await.map_err(AppError::internal)?),
        None => None,
    };
    let now = Utc::now();
    let mut tx = state.db.begin().await?;
    let demotes_owner = current_role == Role::Owner
        && (changes.role.is_some_and(|r| r != Role::Owner) || changes.is_active == Some(false));
    if demotes_owner {
        let owners: i64 = tx_run!(&mut tx, conn => sqlx::query_scalar(
            "SELECT COUNT(*) FROM memberships WHERE workspace_id = $1 AND role = 'owner' AND is_active = $2",
        ).bind(ws.0).bind(true).fetch_one(&mut **conn).await)?;
        if owners <= 1 {
            return Err(AppError::Conflict {
                code: "LAST_OWNER",
                message: "The workspace's last active owner cannot be demoted or deactivated".into(),
                fields: vec![],
            });
        }
    }
    tx_run!(&mut tx, conn => async {
        if let Some(role) = changes.role {
            sqlx::query("UPDATE memberships SET role = $1, updated_at = $2 WHERE workspace_id = $3 AND user_id = $4")
                .bind(role.as_str()).bind(now).bind(ws.0).bind(user.0).execute(&mut **conn).await?;
        }
        if let Some(active) = changes.is_active {
            sqlx::query("UPDATE memberships SET is_active = $1, updated_at = $2 WHERE workspace_id = $3 AND user_id = $4")
                .bind(active).bind(now).bind(ws.0).bind(user.0).execute(&mut **conn).await?;
        }
        if let Some(name) = &changes.name {
            sqlx::query("UPDATE users SET name = $1, updated_at = $2 WHERE id = $3")
                .bind(name.as_str()).bind(now).bind(user.0).execute(&mut **conn).await?;
        }
        if let Some(hash) = &hash {
            sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
                .bind(hash).bind(now).bind(user.0).execute(&mut **conn).await?;
            // A new password ends every session of the user.
            sqlx::query("UPDATE refresh_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
                .bind(now).bind(user.0).execute(&mut **conn).await?;
        }
        Ok::<(), sqlx::Error>(())
    }.await)?;
    tx.commit().await?;
    state.credentials.evict_user(user);
    get(&state.db, ws, user).await
}

impl crate::pagination::Keyed for Member {
    fn key(&self) -> uuid::Uuid {
        self.id
    }
}
