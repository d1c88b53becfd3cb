//! Google HTTP API: connect (OAuth start and callback), connected accounts, sync trigger and status, and the
//! seed paths that map onto them (`/api/v1/auth/google/calendar`, `/api/v1/auth/calendar/connect`,
//! `/api/sync`, `/dashboard/api/calendar/refresh-tokens`).

use super::accounts::{self, AccountSettings, ConnectedAccount};
use super::connect::{self, Pending};
use super::state::{self, Counts};
use crate::auth::{Actor, Principal};
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::{AppJson, AppPath, AppQuery};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_domain::{Permission, WorkspaceId};
use switchboard_google::oauth::{AuthorizationRequest, Pkce};
use switchboard_store::db_run;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

/// The routes of this feature.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start))
        .routes(routes!(start_calendar))
        .routes(routes!(callback))
        .routes(routes!(calendar_callback))
        .routes(routes!(list_accounts))
        .routes(routes!(get_account, update_account, disconnect))
        .routes(routes!(account_sync))
        .routes(routes!(trigger))
        .routes(routes!(trigger_seed))
        .routes(routes!(refresh_tokens))
}

/// Query of the connect start.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct StartQuery {
    /// `contacts`, `calendar` or both, comma-separated (default: contacts; calendar for the calendar path).
    pub scopes: Option<String>,
    /// `true`: answer with a redirect to Google (browsers) instead of JSON.
    #[serde(default)]
    pub redirect: bool,
    /// Preselects this Google account on Google's chooser.
    pub login_hint: Option<String>,
}

/// Where to send the user to grant access.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuthorizationUrl {
    /// Google's consent page; valid for 10 minutes.
    pub authorization_url: String,
}

/// Start connecting a Google account (admin). Answers `{authorization_url}`, or redirects with `?redirect=true`.
#[utoipa::path(get, path = "/api/v1/auth/google", tag = "google", params(StartQuery),
    responses((status = 200, body = AuthorizationUrl), (status = 303), (status = 409, body = ErrorBody)))]
async fn start(
    State(state): State<AppState>,
    principal: Principal,
    AppQuery(q): AppQuery<StartQuery>,
) -> AppResult<Response> {
    begin(&state, &principal, &q, "contacts")
}

/// Start connecting a Google account for its calendar (seed-004 path; calendar scope by default).
#[utoipa::path(get, path = "/api/v1/auth/google/calendar", tag = "google", params(StartQuery),
    responses((status = 200, body = AuthorizationUrl), (status = 303), (status = 409, body = ErrorBody)))]
async fn start_calendar(
    State(state): State<AppState>,
    principal: Principal,
    AppQuery(q): AppQuery<StartQuery>,
) -> AppResult<Response> {
    begin(&state, &principal, &q, "calendar")
}

fn begin(state: &AppState, principal: &Principal, q: &StartQuery, default_scopes: &str) -> AppResult<Response> {
    principal.require(Permission::Admin)?;
    let client = state.google.client()?;
    let redirect_uri = redirect_url(state)?;
    let scopes = connect::scopes(q.scopes.as_deref(), default_scopes)?;
    let pkce = Pkce::generate();
    let (by, key) = match &principal.actor {
        Actor::User { id, .. } => (id.0, false),
        Actor::ApiKey { id, .. } => (id.0, true),
    };
    let pending = Pending::new(principal.workspace_id, by, key, pkce.verifier.clone());
    let url = client.authorization_url(&AuthorizationRequest {
        redirect_uri,
        scopes: &scopes,
        state: &pending.seal(&state.google.sealer),
        code_challenge: &pkce.challenge,
        login_hint: q.login_hint.as_deref(),
        include_granted_scopes: false,
    });
    if q.redirect {
        return Ok(Redirect::to(url.as_str()).into_response());
    }
    Ok(axum::Json(AuthorizationUrl { authorization_url: url.into() }).into_response())
}

fn redirect_url(state: &AppState) -> Result<&str, AppError> {
    state.config.google.redirect_url.as_deref().ok_or_else(|| AppError::Conflict {
        code: "GOOGLE_NOT_CONFIGURED",
        message: "SWITCHBOARD_GOOGLE_REDIRECT_URL is not set (see docs/google.md)".into(),
        fields: Vec::new(),
    })
}

/// What Google sends the browser back with.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    /// Granted scopes, space-separated.
    pub scope: Option<String>,
    /// `access_denied` when the user declined.
    pub error: Option<String>,
}

/// Google's redirect after consent: exchanges the code, stores the tokens encrypted, and starts the first
/// sync. No credential: the signed `state` names the workspace and who started the connection.
#[utoipa::path(get, path = "/api/v1/auth/google/callback", tag = "google", params(CallbackQuery),
    responses((status = 201, body = ConnectedAccount), (status = 400, body = ErrorBody)))]
async fn callback(State(state): State<AppState>, headers: HeaderMap, AppQuery(q): AppQuery<CallbackQuery>) -> Response {
    respond(&headers, finish(&state, q).await)
}

/// The seed-004 callback path (same as `/api/v1/auth/google/callback`).
#[utoipa::path(get, path = "/api/v1/auth/calendar/connect", tag = "google", params(CallbackQuery),
    responses((status = 201, body = ConnectedAccount), (status = 400, body = ErrorBody)))]
async fn calendar_callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    AppQuery(q): AppQuery<CallbackQuery>,
) -> Response {
    respond(&headers, finish(&state, q).await)
}

async fn finish(state: &AppState, q: CallbackQuery) -> AppResult<ConnectedAccount> {
    let client = state.google.client()?;
    let pending = Pending::open(&state.google.sealer, q.state.as_deref().unwrap_or_default())?;
    if let Some(error) = q.error {
        let message = match error.as_str() {
            "access_denied" => "Access was not granted on Google's consent screen".to_owned(),
            other => format!("Google did not grant access: {other}"),
        };
        return Err(AppError::bad_request("GOOGLE_CONSENT_DENIED", message));
    }
    let code =
        q.code.as_deref().filter(|c| !c.is_empty()).ok_or_else(|| AppError::invalid_query("code", "is required"))?;
    still_allowed(state, &pending).await?;
    let tokens = client.exchange_code(code, &pending.verifier, redirect_url(state)?).await.map_err(|e| {
        tracing::warn!(error = %e, "Google code exchange failed");
        AppError::bad_request("GOOGLE_EXCHANGE_FAILED", format!("Google refused the sign-in: {e}"))
    })?;
    let email = tokens.id_token.as_deref().and_then(connect::email_from_id_token).ok_or_else(|| {
        AppError::bad_request(
            "GOOGLE_NO_EMAIL",
            "Google did not say which account was connected (no email in the id_token)",
        )
    })?;
    let scopes = tokens.scope.clone().or(q.scope).unwrap_or_default();
    let expires_at = accounts::access_expiry(&tokens);
    let account = accounts::connect(
        &state.db,
        &state.google.sealer,
        accounts::Connection {
            workspace: WorkspaceId(pending.workspace),
            user: pending.user(),
            email: &email,
            scopes: &scopes,
            refresh_token: tokens.refresh_token.as_deref(),
            access_token: &tokens.access_token,
            expires_at,
        },
    )
    .await?;
    state.google.forget(account.id);
    state.google.wake.notify_one();
    tracing::info!(account = %account.account_email, workspace = %pending.workspace, "Google account connected");
    Ok(account)
}

/// The connection's starter must still be an active admin (or an unrevoked admin key) of the workspace.
async fn still_allowed(state: &AppState, pending: &Pending) -> AppResult<()> {
    let allowed: bool = if pending.key {
        let scopes: Option<String> = db_run!(&state.db, pool => sqlx::query_scalar(
            "SELECT scopes FROM api_keys WHERE id = $1 AND workspace_id = $2 AND revoked_at IS NULL",
        ).bind(pending.by).bind(pending.workspace).fetch_optional(pool).await)?;
        scopes.is_some_and(|s| s.split(' ').any(|x| x == "admin"))
    } else {
        let role: Option<String> = db_run!(&state.db, pool => sqlx::query_scalar(
            "SELECT role FROM memberships WHERE user_id = $1 AND workspace_id = $2 AND is_active = $3",
        ).bind(pending.by).bind(pending.workspace).bind(true).fetch_optional(pool).await)?;
        matches!(role.as_deref(), Some("admin" | "owner"))
    };
    if allowed {
        Ok(())
    } else {
        Err(AppError::forbidden("The user who started this connection is no longer an admin of the workspace"))
    }
}

/// JSON for API clients; a small page for a browser that arrives from Google.
fn respond(headers: &HeaderMap, result: AppResult<ConnectedAccount>) -> Response {
    let wants_html = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    match (result, wants_html) {
        (Ok(account), false) => (StatusCode::CREATED, axum::Json(account)).into_response(),
        (Err(e), false) => e.into_response(),
        (Ok(account), true) => Html(page(
            "Google account connected",
            &format!(
                "{} is connected; its contacts are syncing now. You can close this window.",
                account.account_email
            ),
        ))
        .into_response(),
        (Err(e), true) => {
            let status = e.status();
            (status, Html(page("Google account not connected", &e.to_string()))).into_response()
        }
    }
}

fn page(title: &str, message: &str) -> String {
    let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title></head>\
         <body style=\"font-family:sans-serif;max-width:40em;margin:4em auto\"><h1>{t}</h1><p>{m}</p></body></html>",
        t = esc(title),
        m = esc(message)
    )
}

/// A connected account with its sync status.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccountView {
    #[serde(flatten)]
    pub account: ConnectedAccount,
    /// The People sync, when the contacts scope was granted.
    pub contacts_sync: Option<SyncStatus>,
    /// What does not work with what Google granted (e.g. the contacts scope was left unticked).
    pub warnings: Vec<String>,
}

fn view(account: ConnectedAccount, contacts_sync: Option<SyncStatus>) -> AccountView {
    let mut warnings = Vec::new();
    if !account.has_scope(switchboard_google::oauth::scope::CONTACTS) {
        warnings.push(
            "Google did not grant access to contacts, so contacts do not sync; reconnect with the contacts scope \
             and leave it ticked on Google's consent screen"
                .to_owned(),
        );
    }
    if account.status == "reauth_required" {
        warnings.push("Google refused the stored authorisation; reconnect this account to resume syncing".to_owned());
    }
    AccountView { account, contacts_sync, warnings }
}

/// List the workspace's connected accounts (never their tokens).
#[utoipa::path(get, path = "/api/v1/connected-accounts", tag = "google",
    responses((status = 200, body = Vec<AccountView>), (status = 403, body = ErrorBody)))]
async fn list_accounts(State(state): State<AppState>, principal: Principal) -> AppResult<axum::Json<Vec<AccountView>>> {
    principal.require(Permission::Admin)?;
    let mut out = Vec::new();
    for account in accounts::list(&state.db, principal.workspace_id).await? {
        let contacts_sync = sync_status(&state, &account).await?;
        out.push(view(account, contacts_sync));
    }
    Ok(axum::Json(out))
}

/// One connected account.
#[utoipa::path(get, path = "/api/v1/connected-accounts/{id}", tag = "google", params(("id" = Uuid, Path)),
    responses((status = 200, body = AccountView), (status = 404, body = ErrorBody)))]
async fn get_account(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
) -> AppResult<axum::Json<AccountView>> {
    principal.require(Permission::Admin)?;
    let account = accounts::get(&state.db, principal.workspace_id, id).await?;
    let contacts_sync = sync_status(&state, &account).await?;
    Ok(axum::Json(view(account, contacts_sync)))
}

/// Change an account's sync settings: which contacts go to Google (`all`, `label` with `label`, `none`) and
/// its write rate.
#[utoipa::path(patch, path = "/api/v1/connected-accounts/{id}", tag = "google", params(("id" = Uuid, Path)),
    request_body = AccountSettings,
    responses((status = 200, body = ConnectedAccount), (status = 422, body = ErrorBody)))]
async fn update_account(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
    AppJson(settings): AppJson<AccountSettings>,
) -> AppResult<axum::Json<ConnectedAccount>> {
    principal.require(Permission::Admin)?;
    let account = accounts::update_settings(&state.db, principal.workspace_id, id, &settings).await?;
    state.google.forget(id);
    Ok(axum::Json(account))
}

/// Disconnect: revokes the grant at Google (best effort: a Google outage does not keep the tokens here) and
/// deletes the tokens, sync state and links. Contacts stay.
#[utoipa::path(delete, path = "/api/v1/connected-accounts/{id}", tag = "google", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn disconnect(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
) -> AppResult<StatusCode> {
    principal.require(Permission::Admin)?;
    accounts::get(&state.db, principal.workspace_id, id).await?;
    if let (Ok(client), Ok(tokens)) =
        (state.google.client(), accounts::tokens(&state.db, &state.google.sealer, id).await)
        && let Some(refresh) = tokens.refresh_token
        && let Err(e) = client.revoke(&refresh).await
    {
        tracing::warn!(account = %id, error = %e, "could not revoke the grant at Google; deleting the tokens anyway");
    }
    accounts::delete(&state.db, principal.workspace_id, id).await?;
    state.google.forget(id);
    Ok(StatusCode::NO_CONTENT)
}

/// An account's People sync as the status endpoints show it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SyncStatus {
    pub account_id: Uuid,
    pub account_email: String,
    /// `idle`, `syncing` or `error`.
    pub status: String,
    /// Google refused the stored grant: syncs are stopped until the account is reconnected.
    pub reauth_required: bool,
    pub last_full_sync_at: Option<DateTime<Utc>>,
    pub last_incremental_sync_at: Option<DateTime<Utc>>,
    /// Since the account was connected.
    pub counts: Counts,
    pub last_error: Option<String>,
    pub next_run_at: Option<DateTime<Utc>>,
    /// The run in progress or requested.
    pub run_id: Option<Uuid>,
    /// Contacts linked to a Google person.
    pub linked_contacts: i64,
    /// Contacts Google refused (the error is on each contact's link).
    pub failed_contacts: i64,
}

/// The People sync of every connected account of the workspace (`GET /api/status`).
pub async fn workspace_statuses(state: &AppState, ws: WorkspaceId) -> AppResult<Vec<SyncStatus>> {
    let mut out = Vec::new();
    for account in accounts::list(&state.db, ws).await? {
        out.extend(sync_status(state, &account).await?);
    }
    Ok(out)
}

async fn sync_status(state: &AppState, account: &ConnectedAccount) -> AppResult<Option<SyncStatus>> {
    let Some(st) = state::get(&state.db, account.id, state::PEOPLE).await? else { return Ok(None) };
    let (linked, failed) = super::links::counts(&state.db, account.id).await?;
    let leased = st.locked_until.is_some_and(|t| t > Utc::now());
    let status = match st.status.as_str() {
        _ if leased => "syncing",
        "error" => "error",
        _ => "idle",
    };
    Ok(Some(SyncStatus {
        account_id: account.id,
        account_email: account.account_email.clone(),
        status: status.to_owned(),
        reauth_required: account.status == "reauth_required",
        last_full_sync_at: st.last_full_sync_at,
        last_incremental_sync_at: st.last_incremental_sync_at,
        counts: st.counts.0,
        last_error: st.last_error.or_else(|| account.last_error.clone()),
        next_run_at: (account.status == "active").then_some(st.next_run_at).flatten(),
        run_id: st.run_id,
        linked_contacts: linked,
        failed_contacts: failed,
    }))
}

/// An account's People sync status.
#[utoipa::path(get, path = "/api/v1/connected-accounts/{id}/sync", tag = "google", params(("id" = Uuid, Path)),
    responses((status = 200, body = SyncStatus), (status = 404, body = ErrorBody)))]
async fn account_sync(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
) -> AppResult<axum::Json<SyncStatus>> {
    principal.require(Permission::GoogleSync)?;
    let account = accounts::get(&state.db, principal.workspace_id, id).await?;
    sync_status(&state, &account).await?.map(axum::Json).ok_or(AppError::NotFound)
}

/// Body of a sync trigger.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TriggerRequest {
    /// Only this account (default: every account of the workspace that syncs contacts).
    #[serde(default)]
    pub account_id: Option<Uuid>,
    /// Download everything again and reconcile, instead of an incremental sync.
    #[serde(default)]
    pub full: bool,
}

/// Runs that were started.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Triggered {
    pub runs: Vec<TriggeredRun>,
}

/// One account's run.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TriggeredRun {
    pub account_id: Uuid,
    pub run_id: Uuid,
}

/// Sync now (202 with the run ids; follow them in `GET /api/v1/connected-accounts/{id}/sync`).
#[utoipa::path(post, path = "/api/v1/sync/google", tag = "google", request_body = TriggerRequest,
    responses((status = 202, body = Triggered), (status = 409, body = ErrorBody)))]
async fn trigger(
    State(state): State<AppState>,
    principal: Principal,
    body: axum::body::Bytes,
) -> AppResult<(StatusCode, axum::Json<Triggered>)> {
    start_runs(&state, &principal, trigger_body(&body)?).await
}

/// Sync now (seed-000 path; same as `POST /api/v1/sync/google`).
#[utoipa::path(post, path = "/api/sync", tag = "google", request_body = TriggerRequest,
    responses((status = 202, body = Triggered), (status = 409, body = ErrorBody)))]
async fn trigger_seed(
    State(state): State<AppState>,
    principal: Principal,
    body: axum::body::Bytes,
) -> AppResult<(StatusCode, axum::Json<Triggered>)> {
    start_runs(&state, &principal, trigger_body(&body)?).await
}

/// The body is optional: empty means every account, incremental.
fn trigger_body(bytes: &[u8]) -> AppResult<TriggerRequest> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(TriggerRequest::default());
    }
    crate::http::parse_json(bytes)
}

async fn start_runs(
    state: &AppState,
    principal: &Principal,
    req: TriggerRequest,
) -> AppResult<(StatusCode, axum::Json<Triggered>)> {
    principal.require(Permission::GoogleSync)?;
    state.google.client()?;
    let mut runs = Vec::new();
    for account in accounts::list(&state.db, principal.workspace_id).await? {
        if req.account_id.is_some_and(|id| id != account.id) || account.status != "active" {
            continue;
        }
        if let Some(run_id) = state::request_run(&state.db, account.id, req.full).await? {
            runs.push(TriggeredRun { account_id: account.id, run_id });
        }
    }
    if runs.is_empty() {
        return Err(match req.account_id {
            Some(_) => AppError::NotFound,
            None => AppError::Conflict {
                code: "NO_GOOGLE_ACCOUNT",
                message: "No connected Google account syncs contacts; connect one with GET /api/v1/auth/google".into(),
                fields: Vec::new(),
            },
        });
    }
    state.google.wake.notify_one();
    Ok((StatusCode::ACCEPTED, axum::Json(Triggered { runs })))
}

/// One account's token refresh.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenRefresh {
    pub account_id: Uuid,
    pub account_email: String,
    /// `refreshed`, `reauth_required` or `error`.
    pub status: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
}

/// Refresh every connected account's access token now and report each one (seed-004 dashboard path).
#[utoipa::path(post, path = "/dashboard/api/calendar/refresh-tokens", tag = "google",
    responses((status = 200, body = Vec<TokenRefresh>), (status = 403, body = ErrorBody)))]
async fn refresh_tokens(
    State(state): State<AppState>,
    principal: Principal,
) -> AppResult<axum::Json<Vec<TokenRefresh>>> {
    principal.require(Permission::Admin)?;
    let client = state.google.client()?;
    let mut out = Vec::new();
    for account in accounts::list(&state.db, principal.workspace_id).await? {
        let mut report = TokenRefresh {
            account_id: account.id,
            account_email: account.account_email.clone(),
            status: "error".into(),
            expires_at: None,
            error: None,
        };
        let tokens = accounts::tokens(&state.db, &state.google.sealer, account.id).await?;
        match tokens.refresh_token {
            None => report.status = "reauth_required".into(),
            Some(refresh) => match client.refresh(&refresh).await {
                Ok(t) => {
                    let expires = accounts::access_expiry(&t);
                    accounts::save_tokens(
                        &state.db,
                        &state.google.sealer,
                        account.id,
                        &t.access_token,
                        expires,
                        t.refresh_token.as_deref(),
                    )
                    .await?;
                    state.google.forget(account.id);
                    report.status = "refreshed".into();
                    report.expires_at = Some(expires);
                }
                Err(e) if e.is_invalid_grant() => {
                    let message = accounts::REAUTH_MESSAGE;
                    accounts::mark_reauth_required(&state.db, account.id, message).await?;
                    state.google.forget(account.id);
                    report.status = "reauth_required".into();
                    report.error = Some(message.into());
                }
                Err(e) => report.error = Some(e.to_string()),
            },
        }
        out.push(report);
    }
    Ok(axum::Json(out))
}
