//! Google (ARCHITECTURE §7, docs/google.md): connecting accounts and two-way Google Contacts sync.
//!
//! - [`accounts`]: connected accounts, their encrypted tokens and settings.
//! - [`connect`]: the OAuth `state`, scopes and the account's email.
//! - [`state`]: per-account sync state, runs, counts and the lease.
//! - [`links`]: which contact is which Google person, and the fields as last exchanged.
//! - [`people`]: the inbound and outbound People sync and how fields map.
//! - [`worker`]: when accounts sync (interval, trigger, contact changes) and under which lease.
//! - [`routes`]: the HTTP API.

pub mod accounts;
pub mod connect;
pub mod links;
pub mod people;
pub mod routes;
pub mod state;
pub mod worker;

use crate::config::Config;
use crate::config::sealed::Sealer;
use crate::error::AppError;
use crate::feed::Author;
use crate::state::AppState;
use accounts::ConnectedAccount;
use governor::{DefaultDirectRateLimiter as DefaultDirectLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use switchboard_domain::{PhonePolicy, WorkspaceId};
use switchboard_google::{ClientConfig, GoogleClient, GoogleError, Session, TokenSet};
use tokio::sync::Notify;
use uuid::Uuid;

/// This instance's Google machinery: one HTTP client, each account's token session and write pacing, and
/// the signal that wakes the sync worker.
pub struct Google {
    /// The client; `None` when no OAuth client is configured (connecting is refused with a message).
    client: Option<GoogleClient>,
    /// Encrypts tokens at rest and the OAuth state.
    pub sealer: Sealer,
    sessions: Mutex<HashMap<Uuid, Arc<Session>>>,
    pacers: Mutex<HashMap<Uuid, Arc<DefaultDirectLimiter>>>,
    /// Wakes the worker (a trigger, a contact change).
    pub wake: Notify,
}

impl Google {
    /// Builds the client from the configuration.
    pub fn new(config: &Config, sealer: Sealer) -> anyhow::Result<Self> {
        let g = &config.google;
        let client = match (&g.client_id, &g.client_secret) {
            (Some(id), Some(secret)) => {
                let mut c = ClientConfig::new(id.clone(), secret.expose().to_owned());
                c.base_url = g.base_url.clone();
                c.timeout = g.request_timeout;
                Some(GoogleClient::new(c).map_err(|e| anyhow::anyhow!("invalid Google settings: {e}"))?)
            }
            _ => None,
        };
        Ok(Self { client, sealer, sessions: Mutex::default(), pacers: Mutex::default(), wake: Notify::new() })
    }

    /// The client, or a clear error when the server has no OAuth client configured.
    pub fn client(&self) -> Result<&GoogleClient, AppError> {
        self.client.as_ref().ok_or_else(|| AppError::Conflict {
            code: "GOOGLE_NOT_CONFIGURED",
            message: "Google is not configured on this server: set SWITCHBOARD_GOOGLE_CLIENT_ID, \
                      SWITCHBOARD_GOOGLE_CLIENT_SECRET and SWITCHBOARD_GOOGLE_REDIRECT_URL (see docs/google.md)"
                .into(),
            fields: Vec::new(),
        })
    }

    /// Whether an OAuth client is configured.
    pub fn is_configured(&self) -> bool {
        self.client.is_some()
    }

    /// The account's token session, loading its tokens on first use.
    pub async fn session(&self, db: &switchboard_store::Db, account: Uuid) -> Result<Arc<Session>, AppError> {
        if let Some(s) = self.sessions.lock().expect("sessions lock").get(&account) {
            return Ok(s.clone());
        }
        let stored = accounts::tokens(db, &self.sealer, account).await?;
        let refresh_token = stored.refresh_token.ok_or_else(|| AppError::Conflict {
            code: "GOOGLE_REAUTH_REQUIRED",
            message: "Reconnect this Google account".into(),
            fields: Vec::new(),
        })?;
        let access_token =
            stored.access.map(|(token, expires_at)| switchboard_google::AccessToken { token, expires_at });
        let session = Arc::new(Session::new(TokenSet { refresh_token, access_token, scope: None }));
        Ok(self.sessions.lock().expect("sessions lock").entry(account).or_insert(session).clone())
    }

    /// Forgets an account's session (reconnected, disconnected, or its grant refused).
    pub fn forget(&self, account: Uuid) {
        self.sessions.lock().expect("sessions lock").remove(&account);
        self.pacers.lock().expect("pacers lock").remove(&account);
    }

    /// The account's write pacer: `per_minute` writes, evenly spread; `None` when unlimited.
    fn pacer(&self, account: Uuid, per_minute: u32) -> Option<Arc<DefaultDirectLimiter>> {
        let per_minute = NonZeroU32::new(per_minute)?;
        let mut pacers = self.pacers.lock().expect("pacers lock");
        Some(
            pacers
                .entry(account)
                .or_insert_with(|| {
                    Arc::new(RateLimiter::direct(Quota::per_minute(per_minute).allow_burst(NonZeroU32::MIN)))
                })
                .clone(),
        )
    }
}

/// Why a sync of an account stopped.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("Google: {0}")]
    Google(#[from] GoogleError),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("{0}")]
    App(#[from] AppError),
    #[error("the account does not sync contacts")]
    NotSyncing,
    #[error("another instance holds this account's sync lease")]
    LeaseLost,
}

/// One account's sync, as the inbound and outbound passes see it.
pub struct AccountRun<'a> {
    pub app: &'a AppState,
    pub account: ConnectedAccount,
    pub ws: WorkspaceId,
    pub session: Arc<Session>,
    pub policy: PhonePolicy,
    /// This instance's lease holder id.
    pub holder: Uuid,
    /// Told after each inbound page (the CLI's progress bar).
    pub progress: Option<&'a (dyn Fn(Progress) + Sync)>,
}

/// How far an inbound run is.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// People read so far in this run.
    pub people: u64,
    /// Google's count of people in the whole listing, when it gives one.
    pub total: Option<u32>,
    /// Pages read so far.
    pub pages: u32,
}

impl AccountRun<'_> {
    /// The Google client (configured: runs only start when it is).
    pub fn google(&self) -> &GoogleClient {
        self.app.google.client.as_ref().expect("syncs run only with a configured client")
    }

    /// The origin of changes this account brings in.
    pub fn origin(&self) -> String {
        format!("google:{}", self.account.account_email)
    }

    /// Who the changes this account brings in are by.
    pub fn author(&self) -> Author {
        Author {
            kind: "system",
            id: Some(self.account.id),
            label: self.origin(),
            credential_id: self.account.id,
            device: None,
            origin: self.origin(),
        }
    }

    /// Writes refreshed tokens (encrypted) when the session has new ones.
    pub async fn save_tokens(&self) -> Result<(), SyncError> {
        if let Some(t) = self.session.take_refreshed().await
            && let Some(access) = &t.access_token
        {
            accounts::save_tokens(
                &self.app.db,
                &self.app.google.sealer,
                self.account.id,
                &access.token,
                access.expires_at,
                Some(&t.refresh_token),
            )
            .await?;
        }
        Ok(())
    }

    /// The counts stored so far.
    pub async fn counts(&self) -> Result<state::Counts, SyncError> {
        Ok(state::get(&self.app.db, self.account.id, state::PEOPLE).await?.map(|s| s.counts.0).unwrap_or_default())
    }

    /// Extends this instance's lease between pages; a lost lease stops the run.
    pub async fn renew_lease(&self) -> Result<(), SyncError> {
        let ttl = self.app.config.google.lease;
        if state::acquire(&self.app.db, self.account.id, state::PEOPLE, self.holder, ttl).await? {
            Ok(())
        } else {
            Err(SyncError::LeaseLost)
        }
    }

    /// The lease the sync's contact writes must hold.
    pub fn lease(&self) -> state::LeaseGuard {
        state::LeaseGuard {
            account_id: self.account.id,
            resource: state::PEOPLE,
            holder: self.holder,
            ttl: self.app.config.google.lease,
        }
    }

    /// Waits for the account's next write slot.
    pub async fn pace(&self) {
        let per_minute = self.account.settings.0.writes_per_minute.unwrap_or(self.app.config.google.writes_per_minute);
        if let Some(pacer) = self.app.google.pacer(self.account.id, per_minute) {
            pacer.until_ready().await;
        }
    }
}
