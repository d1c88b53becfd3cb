//! The [`Principal`] extractor: who is calling, for which workspace. Every authenticated handler takes
//! one; the workspace always comes from the credential, never from the request.

use super::cache::{CachedAgent, CachedKey, CachedMember};
use super::jwt::TokenError;
use super::tokens::{self, API_KEY_MARKER};
use crate::error::AppError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::{HeaderMap, header, request::Parts};
use chrono::{DateTime, Utc};
use switchboard_domain::{AgentId, ApiKeyId, DeviceCode, Permission, Role, ScopeSet, UserId, WorkspaceId};
use switchboard_store::db_run;

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The workspace the credential belongs to.
    pub workspace_id: WorkspaceId,
    /// Who is acting.
    pub actor: Actor,
}

/// The kinds of caller.
#[derive(Debug, Clone)]
pub enum Actor {
    /// A signed-in user (JWT).
    User { id: UserId, email: String, name: String, role: Role },
    /// An API key, possibly bound to an agent and naming the device it runs on.
    ApiKey { id: ApiKeyId, name: String, scopes: ScopeSet, agent: Option<AgentRef>, device: Option<DeviceCode> },
}

/// The agent behind an API key.
#[derive(Debug, Clone)]
pub struct AgentRef {
    /// Agent id.
    pub id: AgentId,
    /// Agent code.
    pub code: String,
}

impl Principal {
    /// Whether the caller's role or scopes grant `permission`.
    pub fn allows(&self, permission: Permission) -> bool {
        match &self.actor {
            Actor::User { role, .. } => role.allows(permission),
            Actor::ApiKey { scopes, .. } => scopes.allows(permission),
        }
    }

    /// `Ok` when allowed, else 403 naming what is missing.
    pub fn require(&self, permission: Permission) -> Result<(), AppError> {
        if self.allows(permission) {
            return Ok(());
        }
        let needed = match permission {
            Permission::ContactsRead => "the contacts:read scope or any role",
            Permission::ContactsWrite => "the contacts:write scope or the member role",
            Permission::DirectoryRead => "the directory:read scope or any role",
            Permission::GoogleSync => "the google:sync scope or the admin role",
            Permission::Admin => "the admin scope or the admin role",
            Permission::Owner => "the owner role",
        };
        Err(AppError::Forbidden { code: "INSUFFICIENT_PERMISSION", message: format!("This action needs {needed}") })
    }

    /// The id the rate limiter and idempotency keys are scoped to.
    pub fn credential_id(&self) -> uuid::Uuid {
        match &self.actor {
            Actor::User { id, .. } => id.0,
            Actor::ApiKey { id, .. } => id.0,
        }
    }

    /// The user, when the caller is one.
    pub fn user_id(&self) -> Option<UserId> {
        match &self.actor {
            Actor::User { id, .. } => Some(*id),
            Actor::ApiKey { .. } => None,
        }
    }

    /// A short label for logs and the audit trail: the user's email, the agent code, or `key:<name>`.
    pub fn label(&self) -> String {
        match &self.actor {
            Actor::User { email, .. } => email.clone(),
            Actor::ApiKey { agent: Some(a), .. } => a.code.clone(),
            Actor::ApiKey { name, .. } => format!("key:{name}"),
        }
    }
}

/// A credential as presented, before it is checked.
enum Presented<'a> {
    ApiKey { key: &'a str, write_header: bool },
    Jwt(&'a str),
}

fn presented(headers: &HeaderMap) -> Result<Presented<'_>, AppError> {
    let text = |name| headers.get(name).map(|v| v.to_str().map(str::trim));
    let bad = || AppError::unauthenticated("INVALID_CREDENTIALS", "The credential header is not valid text");
    if let Some(v) = text(header::AUTHORIZATION.as_str()) {
        let v = v.map_err(|_| bad())?;
        let (scheme, token) = v.split_once(' ').unwrap_or((v, ""));
        let token = token.trim();
        if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
            return Err(AppError::unauthenticated(
                "INVALID_CREDENTIALS",
                "Use 'Authorization: Bearer <access token or API key>'",
            ));
        }
        return Ok(if token.starts_with(API_KEY_MARKER) {
            Presented::ApiKey { key: token, write_header: false }
        } else {
            Presented::Jwt(token)
        });
    }
    if let Some(v) = text("x-api-key") {
        return Ok(Presented::ApiKey { key: v.map_err(|_| bad())?, write_header: false });
    }
    if let Some(v) = text("x-contacts-write-key") {
        return Ok(Presented::ApiKey { key: v.map_err(|_| bad())?, write_header: true });
    }
    Err(AppError::unauthenticated(
        "AUTHENTICATION_REQUIRED",
        "Send an access token or API key: 'Authorization: Bearer …' or 'X-API-Key: …'",
    ))
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        if let Some(p) = parts.extensions.get::<Principal>() {
            return Ok(p.clone());
        }
        let header_text = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
        let principal = match presented(&parts.headers)? {
            Presented::ApiKey { key, write_header } => {
                let agent = AgentClaim { code: header_text("x-agent-code"), device: header_text("x-device-id") };
                from_api_key(state, key, agent, write_header).await?
            }
            Presented::Jwt(token) => from_access_token(state, token).await?,
        };
        check_rate(state, &principal)?;
        tracing::Span::current().record("principal", principal.label());
        parts.extensions.insert(principal.clone());
        Ok(principal)
    }
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    id: uuid::Uuid,
    workspace_id: uuid::Uuid,
    name: String,
    secret_hash: String,
    scopes: String,
    revoked_at: Option<DateTime<Utc>>,
    agent_id: Option<uuid::Uuid>,
    agent_code: Option<String>,
    agent_active: Option<bool>,
}

const KEY_BY_PREFIX: &str = "SELECT k.id, k.workspace_id, k.name, k.secret_hash, k.scopes, k.revoked_at, \
     k.agent_id, a.code AS agent_code, a.is_active AS agent_active \
     FROM api_keys k LEFT JOIN agents a ON a.id = k.agent_id WHERE k.prefix = $1";

async fn check_api_key(state: &AppState, key: &str) -> Result<CachedKey, AppError> {
    let invalid = || AppError::unauthenticated("INVALID_API_KEY", "The API key is not valid");
    let digest = tokens::digest(key);
    if let Some(cached) = state.credentials.key(&digest) {
        return Ok(cached);
    }
    let prefix = tokens::api_key_prefix(key).ok_or_else(invalid)?;
    let row: Option<KeyRow> =
        db_run!(&state.db, pool => sqlx::query_as(KEY_BY_PREFIX).bind(prefix).fetch_optional(pool).await)?;
    let row = row.filter(|r| tokens::digests_match(&r.secret_hash, &digest)).ok_or_else(invalid)?;
    let scopes = ScopeSet::parse([row.scopes.as_str()]).map_err(AppError::internal)?;
    let cached = CachedKey {
        id: row.id.into(),
        workspace_id: row.workspace_id.into(),
        name: row.name,
        scopes,
        revoked: row.revoked_at.is_some(),
        agent: row.agent_id.map(|id| CachedAgent {
            id: id.into(),
            code: row.agent_code.unwrap_or_default(),
            active: row.agent_active.unwrap_or(false),
        }),
    };
    state.credentials.put_key(digest, cached.clone());
    Ok(cached)
}

/// What an agent's client says about itself besides its key: the agent code (must match the key's agent)
/// and the device it runs on.
#[derive(Debug, Clone, Copy, Default)]
pub struct AgentClaim<'a> {
    /// `X-Agent-Code` (or `agent_code` in a Socket.IO handshake).
    pub code: Option<&'a str>,
    /// `X-Device-Id` (or `device_id`).
    pub device: Option<&'a str>,
}

fn check_rate(state: &AppState, principal: &Principal) -> Result<(), AppError> {
    state
        .limits
        .check_credential(principal.credential_id())
        .map_err(|retry_after_secs| AppError::RateLimited { retry_after_secs })
}

/// Authenticates an API key presented outside HTTP headers (a Socket.IO handshake), with the same checks
/// and rate limit as a request.
pub async fn authenticate_api_key(state: &AppState, key: &str, agent: AgentClaim<'_>) -> Result<Principal, AppError> {
    let principal = from_api_key(state, key, agent, false).await?;
    check_rate(state, &principal)?;
    Ok(principal)
}

/// Authenticates a user's access token presented outside HTTP headers.
pub async fn authenticate_token(state: &AppState, token: &str) -> Result<Principal, AppError> {
    let principal = from_access_token(state, token).await?;
    check_rate(state, &principal)?;
    Ok(principal)
}

async fn from_api_key(
    state: &AppState,
    key: &str,
    claim: AgentClaim<'_>,
    write_header: bool,
) -> Result<Principal, AppError> {
    let k = check_api_key(state, key).await?;
    if k.revoked {
        return Err(AppError::unauthenticated("API_KEY_REVOKED", "The API key has been revoked"));
    }
    if write_header && !k.scopes.allows(Permission::ContactsWrite) {
        return Err(AppError::unauthenticated(
            "INVALID_API_KEY",
            "X-Contacts-Write-Key must be a key with the contacts:write scope",
        ));
    }
    if let Some(code) = claim.code
        && k.agent.as_ref().is_none_or(|a| a.code != code)
    {
        return Err(AppError::unauthenticated("AGENT_MISMATCH", "X-Agent-Code does not match this API key's agent"));
    }
    let device = match claim.device {
        Some(raw) => Some(DeviceCode::parse("X-Device-Id", raw).map_err(|e| AppError::BadRequest {
            code: "INVALID_HEADER",
            message: "Invalid X-Device-Id header".into(),
            fields: vec![e],
        })?),
        None => None,
    };
    if let Some(agent) = &k.agent {
        if !agent.active {
            return Err(AppError::Forbidden {
                code: "AGENT_INACTIVE",
                message: "This agent has been deactivated".into(),
            });
        }
        state.usage.touch_agent(k.workspace_id, agent.id, device.as_ref().map(DeviceCode::as_str));
    }
    state.usage.touch_key(k.id);
    Ok(Principal {
        workspace_id: k.workspace_id,
        actor: Actor::ApiKey {
            id: k.id,
            name: k.name,
            scopes: k.scopes,
            agent: k.agent.map(|a| AgentRef { id: a.id, code: a.code }),
            device,
        },
    })
}

#[derive(sqlx::FromRow)]
struct MemberRow {
    email: String,
    name: String,
    role: String,
    is_active: bool,
}

/// Loads a user's membership of a workspace, through the cache.
pub async fn membership(
    state: &AppState,
    user: UserId,
    workspace: WorkspaceId,
) -> Result<Option<CachedMember>, AppError> {
    if let Some(m) = state.credentials.member(user, workspace) {
        return Ok(m);
    }
    let row: Option<MemberRow> = db_run!(&state.db, pool => sqlx::query_as(
        "SELECT u.email, u.name, m.role, m.is_active FROM memberships m JOIN users u ON u.id = m.user_id \
         WHERE m.user_id = $1 AND m.workspace_id = $2",
    ).bind(user.0).bind(workspace.0).fetch_optional(pool).await)?;
    let member = match row {
        Some(r) => Some(CachedMember {
            role: r.role.parse().map_err(AppError::internal)?,
            email: r.email,
            name: r.name,
            active: r.is_active,
        }),
        None => None,
    };
    state.credentials.put_member(user, workspace, member.clone());
    Ok(member)
}

async fn from_access_token(state: &AppState, token: &str) -> Result<Principal, AppError> {
    let claims = state.jwt.verify(token).map_err(|e| match e {
        TokenError::Expired => AppError::unauthenticated("TOKEN_EXPIRED", "The access token has expired; refresh it"),
        TokenError::Invalid => AppError::unauthenticated("INVALID_TOKEN", "The access token is not valid"),
    })?;
    let (user, workspace) = (UserId(claims.sub), WorkspaceId(claims.ws));
    let member = membership(state, user, workspace).await?.ok_or_else(|| {
        AppError::unauthenticated("INVALID_TOKEN", "This account no longer has access to the workspace")
    })?;
    if !member.active {
        return Err(AppError::Forbidden {
            code: "ACCOUNT_INACTIVE",
            message: "This account has been deactivated".into(),
        });
    }
    Ok(Principal {
        workspace_id: workspace,
        actor: Actor::User { id: user, email: member.email, name: member.name, role: member.role },
    })
}
