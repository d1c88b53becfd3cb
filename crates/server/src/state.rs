//! The state every handler shares.

use crate::auth::cache::CredentialCache;
use crate::auth::jwt::JwtKeys;
use crate::auth::rate_limit::RateLimits;
use crate::auth::usage::UsageTracker;
use crate::config::Config;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;
use std::time::Instant;
use switchboard_store::Db;

/// Shared, cheaply cloneable application state.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// What [`AppState`] holds.
pub struct Shared {
    /// The database.
    pub db: Db,
    /// The pool of the hot read paths, caller lookup and phone directories: on PostgreSQL its connections
    /// plan each statement once (generic plans, ADR 0009), as planning was most of these reads' time;
    /// every statement run through it must have one plan that suits any parameters. The main pool on SQLite.
    pub lookup_db: Db,
    /// The resolved configuration.
    pub config: Config,
    /// Access-token keys.
    pub jwt: JwtKeys,
    /// Checked credentials.
    pub credentials: CredentialCache,
    /// Batched last-used / last-seen times.
    pub usage: UsageTracker,
    /// Rate limiters.
    pub limits: RateLimits,
    /// Prometheus registry handle for `/metrics`.
    pub metrics: PrometheusHandle,
    /// When this instance started.
    pub started_at: Instant,
    /// This process's id among instances sharing the database.
    pub instance_id: uuid::Uuid,
    /// The group-committing writers of synced entities.
    pub writers: crate::feed::writer::Writers,
    /// Committed changes, fanned out to this instance's realtime consumers.
    pub feed: Arc<crate::feed::tail::Feed>,
    /// This instance's open device sockets.
    pub connections: crate::realtime::Connections,
    /// Google accounts: the client, token sessions, and the sync worker's wake-up.
    pub google: crate::google::Google,
}

impl AppState {
    /// Wraps the shared parts.
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}
