//! Workspaces (tenants) and the first-start bootstrap.

use crate::auth::{password, tokens};
use crate::config::Config;
use crate::error::AppError;
use chrono::{DateTime, Utc};
use serde::Serialize;
use switchboard_domain::{Email, PersonName, Role, ScopeSet, Slug, WorkspaceId, WorkspaceName};
use switchboard_store::{Db, StoreError, Tx, db_run, tx_run};

/// A workspace as the API shows it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Workspace {
    /// Id.
    pub id: uuid::Uuid,
    /// Display name.
    pub name: String,
    /// URL-safe short name.
    pub slug: String,
    /// IANA time zone.
    pub timezone: String,
    /// The change-feed version (the highest version any change has).
    pub version: i64,
    /// Created at.
    pub created_at: DateTime<Utc>,
}

const WORKSPACE_COLUMNS: &str = "id, name, slug, timezone, version, created_at";

/// Inserts a workspace in an open transaction.
pub async fn insert(tx: &mut Tx<'_>, name: &WorkspaceName, slug: &Slug) -> Result<Workspace, StoreError> {
    let ws = Workspace {
        id: WorkspaceId::new().0,
        name: name.as_str().to_owned(),
        slug: slug.as_str().to_owned(),
        timezone: "UTC".to_owned(),
        version: 0,
        created_at: Utc::now(),
    };
    let settings = sqlx::types::Json(serde_json::json!({ "default_region": "US" }));
    tx_run!(tx, conn => sqlx::query(
        "INSERT INTO workspaces (id, name, slug, timezone, version, purged_through_version, settings, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 0, 0, $5, $6, $6)",
    ).bind(ws.id).bind(&ws.name).bind(&ws.slug).bind(&ws.timezone).bind(&settings).bind(ws.created_at)
    .execute(&mut **conn).await.map(|r| r.rows_affected())).map_err(StoreError::from_sqlx)?;
    Ok(ws)
}

/// The parts of a workspace's `settings` JSON that the server acts on. Unknown keys are kept in the
/// database and ignored here; missing keys take the defaults.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct WorkspaceSettings {
    /// Region for phone numbers written without a country code (ISO 3166 alpha-2, default `US`).
    #[serde(default)]
    pub default_region: Option<String>,
    /// Shortest internal extension (digits, default 2).
    #[serde(default)]
    pub extension_min_digits: Option<u8>,
    /// Longest internal extension (digits, default 6).
    #[serde(default)]
    pub extension_max_digits: Option<u8>,
    /// Caller lookup: the fewest trailing digits a partial match may share (7–15, default 7). A number is
    /// never matched on fewer; exact E.164 matches and internal extensions compare whole numbers.
    #[serde(default)]
    pub lookup_min_digits: Option<u8>,
    /// Desk phones: dialled before every public number for an outside line, e.g. `9` (default none).
    #[serde(default)]
    pub dial_outside_line: Option<String>,
    /// Desk phones: the international prefix (default the region's: `011` in the US and Canada, `00` in
    /// most other countries).
    #[serde(default)]
    pub dial_international_prefix: Option<String>,
    /// Desk phones: how domestic numbers are dialled: `national` (default; UK `02079460958`, US
    /// `4155550100`), `international` (like foreign numbers), or digits to put before the national number
    /// (`1` → US `14155550100`).
    #[serde(default)]
    pub dial_domestic: Option<String>,
    /// Grandstream phone books: the phone account numbers are dialled from (0–5 for accounts 1–6, default 0).
    #[serde(default)]
    pub grandstream_account_index: Option<u8>,
}

impl WorkspaceSettings {
    /// How phone numbers of this workspace are parsed. An unusable stored region falls back to US
    /// (settings are validated when written; this only guards against hand-edited rows).
    pub fn phone_policy(&self) -> switchboard_domain::PhonePolicy {
        let mut policy = switchboard_domain::PhonePolicy::default();
        if let Some(region) =
            self.default_region.as_deref().and_then(|r| switchboard_domain::Region::parse("default_region", r).ok())
        {
            policy.region = region;
        }
        let (lo, hi) = (self.extension_min_digits.unwrap_or(2), self.extension_max_digits.unwrap_or(6));
        if lo >= 1 && lo <= hi && hi <= 10 {
            policy.extension_digits = lo..=hi;
        }
        policy
    }

    /// The fewest trailing digits a caller lookup may match on. An out-of-range stored value falls back to
    /// the default (this only guards against hand-edited rows).
    pub fn lookup_min_digits(&self) -> u8 {
        self.lookup_min_digits
            .filter(|n| switchboard_domain::lookup::MIN_DIGITS.contains(n))
            .unwrap_or(switchboard_domain::lookup::DEFAULT_MIN_DIGITS)
    }

    /// How desk phones dial this workspace's numbers. Unusable stored values fall back to the region's
    /// defaults (settings are validated when written; this only guards against hand-edited rows).
    pub fn dial_settings(&self) -> switchboard_domain::directory::DialSettings {
        use switchboard_domain::directory::{DialSettings, DomesticDialing};
        let defaults = DialSettings::for_region(self.phone_policy().region);
        let mut dial = defaults.clone();
        if let Some(v) = &self.dial_outside_line {
            dial.outside_line = v.trim().to_owned();
        }
        if let Some(v) = self.dial_international_prefix.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            dial.international_prefix = v.to_owned();
        }
        match self.dial_domestic.as_deref().map(str::trim) {
            None | Some("" | "national") => {}
            Some("international") => dial.domestic = DomesticDialing::International,
            Some(prefix) => dial.domestic = DomesticDialing::NationalWithPrefix(prefix.to_owned()),
        }
        if dial.validate().is_ok() { dial } else { defaults }
    }

    /// The Grandstream account index (0–5).
    pub fn grandstream_account_index(&self) -> u8 {
        self.grandstream_account_index.filter(|i| *i <= 5).unwrap_or(0)
    }
}

/// A workspace's settings, through the short-lived cache.
pub async fn settings(
    state: &crate::state::AppState,
    ws: WorkspaceId,
) -> Result<std::sync::Arc<WorkspaceSettings>, AppError> {
    if let Some(s) = state.credentials.settings(ws) {
        return Ok(s);
    }
    let raw: Option<sqlx::types::Json<serde_json::Value>> = db_run!(&state.db, pool => sqlx::query_scalar(
        "SELECT settings FROM workspaces WHERE id = $1",
    ).bind(ws.0).fetch_optional(pool).await)?;
    let raw = raw.ok_or(AppError::NotFound)?.0;
    let settings: WorkspaceSettings = serde_json::from_value(raw).map_err(AppError::internal)?;
    let settings = std::sync::Arc::new(settings);
    state.credentials.put_settings(ws, settings.clone());
    Ok(settings)
}

/// Finds a workspace by slug.
pub async fn find_by_slug(db: &Db, slug: &str) -> Result<Option<Workspace>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE slug = $1"));
    Ok(db_run!(db, pool => sqlx::query_as(sql).bind(slug).fetch_optional(pool).await)?)
}

/// Finds a workspace by id.
pub async fn find(db: &Db, id: WorkspaceId) -> Result<Option<Workspace>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE id = $1"));
    Ok(db_run!(db, pool => sqlx::query_as(sql).bind(id.0).fetch_optional(pool).await)?)
}

/// Resolves a workspace given as slug or id (CLI).
pub async fn resolve(db: &Db, slug_or_id: &str) -> Result<Workspace, AppError> {
    if let Ok(id) = slug_or_id.parse::<WorkspaceId>()
        && let Some(ws) = find(db, id).await?
    {
        return Ok(ws);
    }
    find_by_slug(db, slug_or_id).await?.ok_or(AppError::NotFound)
}

/// Lists all workspaces (CLI).
pub async fn list_all(db: &Db) -> Result<Vec<Workspace>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {WORKSPACE_COLUMNS} FROM workspaces ORDER BY created_at"));
    Ok(db_run!(db, pool => sqlx::query_as(sql).fetch_all(pool).await)?)
}

/// Creates a workspace (CLI `admin create-workspace`).
pub async fn create(db: &Db, name: &str, slug: Option<&str>) -> Result<Workspace, AppError> {
    let name = WorkspaceName::parse("name", name).map_err(|e| AppError::Validation(vec![e]))?;
    let slug = match slug {
        Some(s) => Slug::parse("slug", s).map_err(|e| AppError::Validation(vec![e]))?,
        None => Slug::from_name(name.as_str()),
    };
    let mut tx = db.begin().await?;
    let ws = insert(&mut tx, &name, &slug).await.map_err(|e| match e {
        StoreError::Conflict(_) => AppError::Conflict {
            code: "ALREADY_EXISTS",
            message: format!("a workspace with slug '{}' already exists", slug.as_str()),
            fields: vec![switchboard_domain::FieldError::new("slug", "is taken")],
        },
        other => other.into(),
    })?;
    tx.commit().await?;
    Ok(ws)
}

/// What the first start prints, once.
#[derive(Debug, Clone)]
pub struct BootstrapCredentials {
    /// The new workspace.
    pub workspace: Workspace,
    /// The owner's login email.
    pub email: String,
    /// The owner's generated password.
    pub password: String,
    /// The first API key, with every scope.
    pub api_key: String,
}

/// On a database with no workspace, creates the default workspace, its owner and a first API key.
/// Guarded by a marker row: when several instances start together, exactly one creates them (the others'
/// inserts of the marker wait on its commit and then do nothing).
pub async fn bootstrap(db: &Db, config: &Config) -> Result<Option<BootstrapCredentials>, AppError> {
    let email = Email::parse("bootstrap_owner_email", &config.bootstrap_owner_email)
        .map_err(|e| AppError::Validation(vec![e]))?;
    let name = WorkspaceName::parse("bootstrap_workspace_name", &config.bootstrap_workspace_name)
        .map_err(|e| AppError::Validation(vec![e]))?;
    let password = tokens::generate_password();
    let password_hash = tokio::task::spawn_blocking({
        let p = password.clone();
        move || password::hash(&p)
    })
    .await
    .map_err(AppError::internal)?;

    let mut tx = db.begin().await?;
    let now = Utc::now();
    let claimed = tx_run!(&mut tx, conn => sqlx::query(
        "INSERT INTO app_meta (key, value, updated_at) VALUES ('bootstrap', $1, $2) ON CONFLICT (key) DO NOTHING",
    ).bind(now.to_rfc3339()).bind(now).execute(&mut **conn).await.map(|r| r.rows_affected()))?
        == 1;
    if !claimed {
        return Ok(None);
    }
    let existing: i64 = tx_run!(&mut tx, conn => sqlx::query_scalar("SELECT COUNT(*) FROM workspaces")
        .fetch_one(&mut **conn).await)?;
    if existing > 0 {
        tx.commit().await?;
        return Ok(None);
    }
    let workspace = insert(&mut tx, &name, &Slug::from_name(name.as_str())).await?;
    let ws_id = WorkspaceId(workspace.id);
    let user =
        crate::users::insert_user(&mut tx, &email, &PersonName::parse("name", "Owner").expect("valid"), &password_hash)
            .await?;
    crate::users::insert_membership(&mut tx, ws_id, user, Role::Owner).await?;
    let (_, api_key) =
        crate::api_keys::insert(&mut tx, ws_id, "bootstrap key", &ScopeSet::all(), None, Some(user)).await?;
    tx.commit().await?;
    Ok(Some(BootstrapCredentials { workspace, email: email.as_str().to_owned(), password, api_key }))
}

/// Records the key fingerprints on first start and compares them afterwards, so that instances given
/// different secrets fail loudly at start-up instead of rejecting each other's tokens at random.
pub async fn check_key_fingerprints(db: &Db, jwt: &str, encryption: &str) -> Result<(), String> {
    for (key, value, setting) in [
        ("jwt_key_fingerprint", jwt, "SWITCHBOARD_JWT_SECRET (or <data-dir>/jwt.key)"),
        ("secret_key_fingerprint", encryption, "SWITCHBOARD_SECRET_KEY (or <data-dir>/secret.key)"),
    ] {
        let now = Utc::now();
        let stored: String = db_run!(db, pool => async {
            sqlx::query("INSERT INTO app_meta (key, value, updated_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING")
                .bind(key).bind(value).bind(now).execute(pool).await?;
            sqlx::query_scalar("SELECT value FROM app_meta WHERE key = $1").bind(key).fetch_one(pool).await
        }.await).map_err(|e| format!("cannot read key fingerprints: {e}"))?;
        if stored != value {
            return Err(format!(
                "this instance's {setting} differs from the one this database was set up with \
                 (fingerprint {value}, database has {stored}). Every instance sharing a database must be \
                 given the same secrets: copy the key files or set the environment variable on all of them"
            ));
        }
    }
    Ok(())
}
