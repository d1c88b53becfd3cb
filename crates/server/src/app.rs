//! Building and running the application: connect, migrate, check secrets, bootstrap, bind, serve.

use crate::auth::cache::CredentialCache;
use crate::auth::jwt::JwtKeys;
use crate::auth::rate_limit::RateLimits;
use crate::auth::usage::UsageTracker;
use crate::config::Config;
use crate::config::secrets::ServerKeys;
use crate::error::AppError;
use crate::http::{EdgeSettings, edge_layer_fn, fallback_not_found, method_not_allowed};
use crate::openapi::{ApiDoc, add_auth_aliases};
use crate::state::{AppState, Shared};
use crate::workspaces::{self, BootstrapCredentials};
use anyhow::Context;
use axum::Router;
use axum::ServiceExt as _;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, Method};
use axum::response::IntoResponse;
use axum::serve::ListenerExt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard_store::{Backend, Db, DbOptions};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::Layer;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{DefaultPredicate, Predicate, SizeAbove};
use tower_http::cors::{AllowOrigin, Any, CorsLayer};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

/// Creates the data directory when the database is SQLite (its default file lives there).
fn create_data_dir_for_sqlite(config: &Config) -> anyhow::Result<()> {
    if config.database_url.starts_with("sqlite:") {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create data directory {}", config.data_dir.display()))?;
    }
    Ok(())
}

/// Connects to the configured database and applies pending migrations.
pub async fn connect_and_migrate(config: &Config) -> anyhow::Result<Db> {
    create_data_dir_for_sqlite(config)?;
    let db = connect(config, &db_options(config)).await?;
    db.migrate().await.context("database migration failed")?;
    let filled = crate::contacts::store::backfill_directory_keys(&db).await.context("cannot fill directory keys")?;
    if filled > 0 {
        tracing::info!(rows = filled, "filled the directory keys of existing contacts and numbers");
    }
    Ok(db)
}

/// Pages of WAL past which a commit of the main pool checkpoints on SQLite: a bound, not the usual way. The
/// writers' `Checkpointer` checkpoints shortly after their commits and every second, so these commits (a
/// sync saving its page token, sessions, usage) do not copy the WAL into the database file on the way.
const MAIN_POOL_AUTOCHECKPOINT_PAGES: u32 = 10_000;

/// The main pool's settings for `config` (the writers' pool starts from these).
pub fn db_options(config: &Config) -> DbOptions {
    DbOptions {
        max_connections: config.database_max_connections,
        sqlite_autocheckpoint_pages: MAIN_POOL_AUTOCHECKPOINT_PAGES,
        sqlite_mmap_bytes: u64::from(config.sqlite_mmap_mib) * 1024 * 1024,
        ..DbOptions::default()
    }
}

/// The settings of the pool of caller lookups and phone directories ([`crate::state::Shared::lookup_db`]):
/// on PostgreSQL, generic plans (ADR 0009) and half the main pool's connections.
pub fn lookup_db_options(config: &Config) -> DbOptions {
    DbOptions {
        max_connections: (config.database_max_connections / 2).max(2),
        postgres_generic_plans: true,
        ..db_options(config)
    }
}

/// The pool of caller lookups and phone directories: its own on PostgreSQL (generic plans), the main pool
/// on SQLite (where statements are planned as they are prepared anyway).
async fn connect_lookup_db(config: &Config, db: &Db) -> anyhow::Result<Db> {
    Ok(match db.backend() {
        Backend::Sqlite => db.clone(),
        Backend::Postgres => connect(config, &lookup_db_options(config)).await?,
    })
}

/// A pool on the configured database, with a message that names it (password masked) when it fails.
async fn connect(config: &Config, options: &DbOptions) -> anyhow::Result<Db> {
    Db::connect(&config.database_url, options)
        .await
        .with_context(|| format!("cannot connect to the database ({})", redact_url(&config.database_url)))
}

/// A database URL with any password replaced, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// The application, built and bound, not yet serving.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    router: Router,
    io: socketioxide::SocketIo,
    bootstrap: Option<BootstrapCredentials>,
    /// Held while serving on SQLite: a second `serve` on the same file refuses to start.
    _serve_lock: Option<std::fs::File>,
}

/// On SQLite, one `serve` process per database file: the change feed and realtime pushes of a second
/// process would never see the first one's commits (no NOTIFY). CLI commands do not take this lock. Taken
/// before connecting, so a second server refuses with this message instead of racing the first one's
/// connection setup (switching a new file to WAL fails at once with "database is locked").
fn lock_sqlite_for_serving(config: &Config) -> anyhow::Result<Option<std::fs::File>> {
    let Some(database) = switchboard_store::sqlite_file(&config.database_url)? else { return Ok(None) };
    create_data_dir_for_sqlite(config)?;
    let path = database.with_extension("serve.lock");
    let file =
        std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).with_context(|| {
            format!("cannot create {} beside the database (does its directory exist?)", path.display())
        })?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another `switchboard serve` is already running on this SQLite database ({}). SQLite supports one \
             server process; stop the other one, or use PostgreSQL (DATABASE_URL=postgres://…) to run several \
             instances",
            database.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => Err(e).with_context(|| format!("cannot lock {}", path.display())),
    }
}

impl Application {
    /// Connects, migrates, loads and checks the secrets, runs the first-start bootstrap, and binds.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let serve_lock = lock_sqlite_for_serving(&config)?;
        let db = connect_and_migrate(&config).await?;
        let keys = ServerKeys::load(config.jwt_secret.as_ref(), config.secret_key.as_ref(), &config.data_dir)
            .context("cannot load the server's secret keys")?;
        let (jwt_fp, enc_fp) = keys.fingerprints();
        workspaces::check_key_fingerprints(&db, &jwt_fp, &enc_fp).await.map_err(anyhow::Error::msg)?;
        let bootstrap = workspaces::bootstrap(&db, &config).await.map_err(app_error)?;
        let listener =
            TcpListener::bind(config.bind).await.with_context(|| format!("cannot listen on {}", config.bind))?;
        let state = Self::shared_state(config, db, &keys).await?;
        let (router, _, io) = build_router(state.clone());
        Ok(Self { listener, state, router, io, bootstrap, _serve_lock: serve_lock })
    }

    /// The shared state without an HTTP server, for commands that run server work in this process (e.g.
    /// `switchboard sync google`): connects, migrates, checks the secrets and starts the write path. No
    /// bootstrap and no SQLite serve lock: a running server and such a command coordinate through the
    /// database (sync leases, the change feed it tails).
    pub async fn worker_state(config: Config) -> anyhow::Result<AppState> {
        let db = connect_and_migrate(&config).await?;
        let keys = ServerKeys::load(config.jwt_secret.as_ref(), config.secret_key.as_ref(), &config.data_dir)
            .context("cannot load the server's secret keys")?;
        let (jwt_fp, enc_fp) = keys.fingerprints();
        workspaces::check_key_fingerprints(&db, &jwt_fp, &enc_fp).await.map_err(anyhow::Error::msg)?;
        Self::shared_state(config, db, &keys).await
    }

    async fn shared_state(config: Config, db: Db, keys: &ServerKeys) -> anyhow::Result<AppState> {
        // Beside the connecting below; awaited before the first request can come.
        let phone_metadata = tokio::task::spawn_blocking(switchboard_domain::phone::warm_up);
        let feed = Arc::new(crate::feed::tail::Feed::default());
        let writer_settings = crate::feed::writer::WriterSettings {
            idempotency_ttl: config.idempotency_ttl,
            mutation_ttl: config.mutation_ttl,
            slow_write_log: config.slow_write_log,
        };
        let writers = crate::feed::writer::Writers::start(
            &config.database_url,
            &db_options(&config),
            writer_settings,
            feed.clone(),
        )
        .await
        .context("cannot start the write path")?;
        let google = crate::google::Google::new(&config, crate::config::sealed::Sealer::new(&keys.encryption))?;
        let lookup_db = connect_lookup_db(&config, &db).await?;
        phone_metadata.await.context("loading the phone-number metadata failed")?;
        Ok(AppState::new(Shared {
            lookup_db,
            google,
            writers,
            feed,
            connections: Default::default(),
            instance_id: uuid::Uuid::now_v7(),
            jwt: JwtKeys::new(&keys.jwt, config.access_token_ttl),
            credentials: CredentialCache::new(config.credential_cache_ttl),
            usage: UsageTracker::default(),
            limits: RateLimits::new(config.rate_limit_per_minute, config.login_rate_limit_per_minute),
            metrics: crate::ops::prometheus(),
            started_at: Instant::now(),
            db,
            config,
        }))
    }

    /// The bound address (the real port when configured with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener has an address")
    }

    /// What the first start created, when this start created it.
    pub fn bootstrap_credentials(&self) -> Option<&BootstrapCredentials> {
        self.bootstrap.as_ref()
    }

    /// The shared state (tests use its database handle).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then drains in-flight requests, flushes batched usage and closes
    /// the database.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let _serve_lock = self._serve_lock;
        let stop = CancellationToken::new();
        let background = tokio::spawn(background_tasks(self.state.clone(), stop.clone()));
        let fan_out =
            tokio::spawn(crate::realtime::socket::fan_out(self.io.clone(), self.state.feed.clone(), stop.clone()));
        let heartbeat = tokio::spawn(crate::realtime::heartbeat(self.state.clone(), stop.clone()));
        let google = tokio::spawn(crate::google::worker::run(self.state.clone(), stop.clone()));
        let service = trim_trailing_slash(self.router);
        let io = self.io.clone();
        // Sockets stay open indefinitely: close them when the stop signal comes, so draining can finish.
        let shutdown = async move {
            shutdown.await;
            io.close().await;
        };
        // Responses and Socket.IO frames are small writes: without TCP_NODELAY, a write made while an earlier
        // one is unacknowledged waits for the peer's delayed ACK (up to 40 ms on Linux).
        let listener = self.listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "cannot set TCP_NODELAY on an accepted connection");
            }
        });
        let result = axum::serve(listener, service.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(shutdown)
            .await;
        stop.cancel();
        let _ = tokio::join!(background, fan_out, heartbeat, google);
        self.state.lookup_db.close().await;
        self.state.db.close().await;
        result.context("server error")
    }
}

fn app_error(e: AppError) -> anyhow::Error {
    match e {
        AppError::Validation(fields) => {
            anyhow::anyhow!(
                "invalid configuration: {}",
                fields.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
            )
        }
        other => anyhow::anyhow!("{other}"),
    }
}

/// Periodic work of this instance: follow the change feed, flush usage, sweep rate-limiter state, and
/// hourly housekeeping (purge old tombstones and expired idempotency records).
async fn background_tasks(state: AppState, stop: CancellationToken) {
    let tailer = tokio::spawn(crate::feed::tail::run(
        state.db.clone(),
        state.feed.clone(),
        state.config.feed_poll_interval,
        stop.clone(),
    ));
    let mut tick = tokio::time::interval(state.config.usage_flush_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_housekeeping: Option<Instant> = None;
    let mut sweeps = 0u32;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => break,
        }
        if let Err(e) = state.usage.flush(&state.db).await {
            tracing::warn!(error = %e, "could not write usage times; will retry");
        }
        sweeps = sweeps.wrapping_add(1);
        if sweeps.is_multiple_of(12) {
            state.limits.sweep();
        }
        if last_housekeeping.is_none_or(|t| t.elapsed() >= Duration::from_secs(3600)) {
            last_housekeeping = Some(Instant::now());
            housekeeping(&state).await;
        }
    }
    if let Err(e) = state.usage.flush(&state.db).await {
        tracing::warn!(error = %e, "could not write usage times at shutdown");
    }
    let _ = tailer.await;
}

/// Purges tombstones past retention and expired idempotency records. Failures are logged and retried
/// at the next run; nothing depends on them having happened.
pub async fn housekeeping(state: &AppState) {
    match crate::sync::purge_tombstones(&state.db, state.config.tombstone_retention).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(purged = n, "purged old tombstones"),
        Err(e) => tracing::warn!(error = %e, "could not purge tombstones"),
    }
    if let Err(e) = crate::feed::idempotency::purge_expired(&state.db).await {
        tracing::warn!(error = %e, "could not purge expired idempotency records");
    }
}

/// The full router and the OpenAPI document it serves.
pub fn build_router(state: AppState) -> (Router, utoipa::openapi::OpenApi, socketioxide::SocketIo) {
    let (api, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(crate::auth::routes::router())
        .merge(crate::users::routes::router())
        .merge(crate::api_keys::routes::router())
        .merge(crate::directory::token_routes::router())
        .merge(crate::directory::routes::router())
        .merge(crate::agents::routes::router())
        .merge(crate::contacts::routes::router())
        .merge(crate::contacts::agent::router())
        .merge(crate::feed::routes::router())
        .merge(crate::google::routes::router())
        .merge(crate::sync::routes::router())
        .merge(crate::lookup::routes::router())
        .merge(crate::realtime::sse::router())
        .merge(crate::ops::router())
        .split_for_parts();
    add_auth_aliases(&mut doc);
    let (socket_layer, io) = crate::realtime::socket::layer(state.clone());
    let config = &state.config;
    let edge = Arc::new(EdgeSettings {
        allowed_hosts: config.allowed_hosts.iter().map(|h| h.to_ascii_lowercase()).collect(),
        request_timeout: config.request_timeout,
        max_body_bytes: config.max_body_bytes,
    });
    let router = api
        .merge(crate::auth::routes::v1_aliases())
        .merge(SwaggerUi::new("/api/docs").url("/api/openapi.json", doc.clone()))
        .fallback(fallback_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state.clone())
        .layer(CatchPanicLayer::custom(|_| AppError::Internal("handler panicked".into()).into_response()))
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        // Small JSON answers (most of them) are not worth compressing; large pages are, quickly.
        .layer(
            CompressionLayer::new()
                .quality(tower_http::CompressionLevel::Fastest)
                .compress_when(DefaultPredicate::new().and(SizeAbove::new(1024))),
        )
        .layer(cors(&config.cors_allowed_origins))
        .layer(axum::middleware::from_fn(edge_layer_fn(edge)))
        // Outermost: Socket.IO's long-polling requests wait ~25 s by design, so the request timeout,
        // compression and access metrics of the JSON API must not apply to them.
        .layer(socket_layer);
    (router, doc, io)
}

fn cors(origins: &[String]) -> CorsLayer {
    let base = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE, Method::OPTIONS])
        .allow_headers(Any)
        .expose_headers(Any)
        .max_age(Duration::from_secs(600));
    if origins.iter().any(|o| o == "*") {
        base.allow_origin(Any)
    } else {
        let list: Vec<HeaderValue> = origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
        base.allow_origin(AllowOrigin::list(list))
    }
}

/// Treats `/path/` as `/path` (ARCHITECTURE §5), except under the docs UI, whose assets live below a
/// trailing slash. Hand-written because tower-http's NormalizePath cannot exempt a prefix, and trimming
/// the docs path would loop on the UI's own redirect.
fn trim_trailing_slash(
    router: Router,
) -> impl tower::Service<Request, Response = axum::response::Response, Error = std::convert::Infallible, Future: Send>
+ Clone
+ Send
+ 'static {
    tower::util::MapRequestLayer::new(|mut req: Request| {
        let path = req.uri().path();
        if path.len() > 1 && path.ends_with('/') && !path.starts_with("/api/docs") {
            let trimmed = path.trim_end_matches('/');
            let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
            let new = match req.uri().query() {
                Some(q) => format!("{trimmed}?{q}"),
                None => trimmed.to_owned(),
            };
            if let Ok(uri) = new.parse() {
                *req.uri_mut() = uri;
            }
        }
        req
    })
    .layer(router)
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn database_passwords_are_masked() {
        assert_eq!(redact_url("postgres://sb:hunter2@db:5432/sb"), "postgres://sb:***@db:5432/sb");
        assert_eq!(redact_url("postgres://sb@db/sb"), "postgres://sb@db/sb");
        assert_eq!(redact_url("sqlite://./data/switchboard.db"), "sqlite://./data/switchboard.db");
    }
}
