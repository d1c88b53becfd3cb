//! Connecting to SQLite or PostgreSQL from a URL, and running the migrations of that dialect.

use crate::StoreError;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use std::str::FromStr;
use std::time::Duration;

/// Which database engine a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file (the default).
    Sqlite,
    /// PostgreSQL server (several instances may share it).
    Postgres,
}

impl Backend {
    /// A short name for logs and `/health`.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// The connection pool: exactly one backend per process.
#[derive(Debug, Clone)]
pub enum Db {
    /// SQLite pool.
    Sqlite(SqlitePool),
    /// PostgreSQL pool.
    Postgres(PgPool),
}

/// An open write transaction on either backend. Commit it explicitly; dropping it rolls back. `'c` is the
/// connection it runs on: `'static` when it owns one from the pool ([`Db::begin`]), borrowed from a
/// [`crate::WarmConn`] otherwise.
#[derive(Debug)]
pub enum Tx<'c> {
    /// SQLite transaction (started with `BEGIN IMMEDIATE`), and this process's turn to write the file.
    Sqlite(sqlx::Transaction<'c, sqlx::Sqlite>, SqliteWriteTurn),
    /// PostgreSQL transaction.
    Postgres(sqlx::Transaction<'c, sqlx::Postgres>),
}

/// This process's turn to write one SQLite file, held for a transaction's life.
///
/// SQLite lets one transaction write at a time and makes the others wait in its busy handler, which sleeps
/// 1, 2, 5, 10, 15… ms between tries: a contact write that met the usage flush or the device heartbeat lost
/// 18 ms or more to a lock held for one. The process's own writers (the group-commit writers, the main
/// pool's transactions, and the checkpointer when it cuts the WAL back) therefore queue on an async mutex per
/// file first, woken the moment the previous one ends, in arrival order. Other processes on the file (CLI
/// commands) still meet the busy handler.
#[derive(Debug)]
pub struct SqliteWriteTurn(#[allow(dead_code)] tokio::sync::OwnedMutexGuard<()>);

impl SqliteWriteTurn {
    pub(crate) async fn take(pool: &SqlitePool) -> Result<Self, sqlx::Error> {
        static TURNS: std::sync::LazyLock<
            std::sync::Mutex<std::collections::HashMap<std::path::PathBuf, std::sync::Arc<tokio::sync::Mutex<()>>>>,
        > = std::sync::LazyLock::new(Default::default);
        let options = pool.connect_options();
        let gate =
            TURNS.lock().expect("SQLite write turns").entry(options.get_filename().to_path_buf()).or_default().clone();
        // As long as a request waits for a connection: a writer stuck longer fails, as it did when SQLite's
        // busy timeout (as long) ran out.
        match tokio::time::timeout(pool.options().get_acquire_timeout(), gate.lock_owned()).await {
            Ok(guard) => Ok(Self(guard)),
            Err(_) => Err(sqlx::Error::PoolTimedOut),
        }
    }
}

/// A borrowed connection of either backend: inside a [`Tx`] or checked out of the pool. Query helpers take
/// `&mut Conn` so the same function serves the write path (in a transaction) and the read path.
#[derive(Debug)]
pub enum Conn<'a> {
    /// SQLite connection.
    Sqlite(&'a mut sqlx::SqliteConnection),
    /// PostgreSQL connection.
    Postgres(&'a mut sqlx::PgConnection),
}

/// A connection checked out of the pool, returned when dropped.
#[derive(Debug)]
pub enum PooledConn {
    /// SQLite connection.
    Sqlite(sqlx::pool::PoolConnection<sqlx::Sqlite>),
    /// PostgreSQL connection.
    Postgres(sqlx::pool::PoolConnection<sqlx::Postgres>),
}

impl Conn<'_> {
    /// The backend this connection talks to.
    pub fn backend(&self) -> Backend {
        match self {
            Conn::Sqlite(_) => Backend::Sqlite,
            Conn::Postgres(_) => Backend::Postgres,
        }
    }
}

impl PooledConn {
    /// Borrows the connection for query helpers.
    pub fn conn(&mut self) -> Conn<'_> {
        match self {
            PooledConn::Sqlite(c) => Conn::Sqlite(c),
            PooledConn::Postgres(c) => Conn::Postgres(c),
        }
    }
}

impl Tx<'_> {
    /// Borrows the transaction's connection for query helpers.
    pub fn conn(&mut self) -> Conn<'_> {
        match self {
            Tx::Sqlite(tx, _) => Conn::Sqlite(tx),
            Tx::Postgres(tx) => Conn::Postgres(tx),
        }
    }

    /// Commits the transaction.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            // The turn passes on once the commit is done.
            Tx::Sqlite(tx, _turn) => tx.commit().await,
            Tx::Postgres(tx) => tx.commit().await,
        }
    }
}

/// Pool settings that come from configuration.
#[derive(Debug, Clone)]
pub struct DbOptions {
    /// Maximum connections (PostgreSQL; SQLite uses it for readers too).
    pub max_connections: u32,
    /// How long a request waits for a free connection before failing.
    pub acquire_timeout: Duration,
    /// How long SQLite waits on a locked database before giving up.
    pub sqlite_busy_timeout: Duration,
    /// SQLite's page cache per connection, in KiB (SQLite's default is 2,000 KiB).
    pub sqlite_cache_kib: u32,
    /// SQLite checkpoints the WAL inside the commit that takes it past this many pages (SQLite's default:
    /// 1,000); 0 never does, leaving it to a [`crate::Checkpointer`]. That commit copies pages into the
    /// database file and `fsync`s it before it returns: on the write path that held up every few batches.
    pub sqlite_autocheckpoint_pages: u32,
    /// Statement journals and temporary tables in memory (`temp_store = MEMORY`): the write path's
    /// multi-row statements journal more than the 64 KiB SQLite keeps in memory before spilling to a file.
    pub sqlite_temp_store_memory: bool,
    /// `mmap_size`: how many bytes of the file (from its start) SQLite reads through a memory map rather
    /// than `read()` into each connection's page cache. 0 (SQLite's default) maps nothing.
    pub sqlite_mmap_bytes: u64,
    /// PostgreSQL plans each prepared statement once, for any parameters, and reuses that plan
    /// (`plan_cache_mode = force_generic_plan`) instead of planning every execution for its parameters. Only
    /// for pools whose statements have one plan that is right whatever the parameters (ADR 0009).
    pub postgres_generic_plans: bool,
    /// PostgreSQL avoids whole-table scans where an index serves (`enable_seqscan = off`), for pools whose
    /// statements all find rows by key. A plan cached on a connection while a table was nearly empty (a
    /// fresh database) scans the table, and keeps scanning it as it grows until statistics change (the
    /// next ANALYZE): on the write path that was a full scan of `contacts` per batch (ADR 0002).
    pub postgres_keyed_plans: bool,
}

impl Default for DbOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
            sqlite_busy_timeout: Duration::from_secs(5),
            sqlite_cache_kib: 2_000,
            sqlite_autocheckpoint_pages: 1_000,
            sqlite_temp_store_memory: false,
            sqlite_mmap_bytes: 0,
            postgres_generic_plans: false,
            postgres_keyed_plans: false,
        }
    }
}

/// Connection counts for the `/metrics` gauges.
#[derive(Debug, Clone, Copy)]
pub struct PoolStats {
    /// Open connections.
    pub size: u32,
    /// Open, idle connections.
    pub idle: u32,
    /// Configured maximum.
    pub max: u32,
}

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// A pooled connection idle for longer than this is pinged before it is handed out.
pub(crate) const PING_AFTER_IDLE: Duration = Duration::from_secs(10);

/// sqlx pings every connection on every checkout by default: one more database round trip (PostgreSQL) or
/// worker-thread hop (SQLite) per request, and the writer's transactions pay it too. A connection that was
/// in use moments ago is alive; one idle for a while (the database may have restarted) is checked first, as
/// connection pools such as HikariCP do. A connection that broke while in use is closed by sqlx on error.
async fn ping_if_idle<C: sqlx::Connection>(
    conn: &mut C,
    meta: sqlx::pool::PoolConnectionMetadata,
) -> Result<bool, sqlx::Error> {
    if meta.idle_for > PING_AFTER_IDLE {
        conn.ping().await?;
    }
    Ok(true)
}

impl Db {
    /// Connects to `url` (`sqlite://path` or `postgres://…`). SQLite files are created when missing and
    /// run in WAL mode with a busy timeout and foreign keys enforced.
    pub async fn connect(url: &str, opts: &DbOptions) -> Result<Db, StoreError> {
        match backend_of(url)? {
            Backend::Sqlite => {
                let options = SqliteConnectOptions::from_str(url)?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    // WAL + NORMAL is durable against application crashes and is SQLite's recommended pair.
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(opts.sqlite_busy_timeout)
                    .pragma("cache_size", format!("-{}", opts.sqlite_cache_kib))
                    .pragma("wal_autocheckpoint", opts.sqlite_autocheckpoint_pages.to_string())
                    .pragma("mmap_size", opts.sqlite_mmap_bytes.to_string())
                    .foreign_keys(true);
                let options =
                    if opts.sqlite_temp_store_memory { options.pragma("temp_store", "memory") } else { options };
                // A file that another process is switching to WAL at this moment answers "database is locked"
                // at once, without waiting on the busy timeout: try again within that timeout.
                let deadline = std::time::Instant::now() + opts.sqlite_busy_timeout;
                loop {
                    let connected = SqlitePoolOptions::new()
                        .max_connections(opts.max_connections.max(2))
                        .acquire_timeout(opts.acquire_timeout)
                        .test_before_acquire(false)
                        .before_acquire(|conn, meta| Box::pin(ping_if_idle(conn, meta)))
                        .connect_with(options.clone())
                        .await;
                    match connected {
                        Ok(pool) => return Ok(Db::Sqlite(pool)),
                        Err(e) if is_sqlite_busy(&e) && std::time::Instant::now() < deadline => {
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            Backend::Postgres => {
                let options = PgConnectOptions::from_str(url)?.application_name("switchboard");
                let (generic_plans, keyed_plans) = (opts.postgres_generic_plans, opts.postgres_keyed_plans);
                let pool = PgPoolOptions::new()
                    .max_connections(opts.max_connections)
                    .acquire_timeout(opts.acquire_timeout)
                    .test_before_acquire(false)
                    .before_acquire(|conn, meta| Box::pin(ping_if_idle(conn, meta)))
                    // A `SET` once per connection rather than the `options` startup parameter, which
                    // connection poolers such as PgBouncer refuse by default.
                    .after_connect(move |conn, _| {
                        Box::pin(async move {
                            if generic_plans {
                                sqlx::Executor::execute(&mut *conn, "SET plan_cache_mode = force_generic_plan").await?;
                            }
                            if keyed_plans {
                                // JIT off too: a scan that must happen anyway is costed past `jit_above_cost`, and
                                // compiling it took ~100 ms on every run.
                                sqlx::Executor::execute(&mut *conn, "SET enable_seqscan = off").await?;
                                sqlx::Executor::execute(&mut *conn, "SET jit = off").await?;
                            }
                            Ok(())
                        })
                    })
                    .connect_with(options)
                    .await?;
                Ok(Db::Postgres(pool))
            }
        }
    }

    /// Begins a write transaction. On SQLite it takes the write lock up front (`BEGIN IMMEDIATE`), so
    /// two writers wait on the busy timeout instead of failing when a read lock would need upgrading.
    pub async fn begin(&self) -> Result<Tx<'static>, sqlx::Error> {
        Ok(match self {
            Db::Sqlite(pool) => {
                let turn = SqliteWriteTurn::take(pool).await?;
                Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?, turn)
            }
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    /// Checks a connection out of the pool (for several reads in a row).
    pub async fn acquire(&self) -> Result<PooledConn, sqlx::Error> {
        Ok(match self {
            Db::Sqlite(pool) => PooledConn::Sqlite(pool.acquire().await?),
            Db::Postgres(pool) => PooledConn::Postgres(pool.acquire().await?),
        })
    }

    /// The backend this pool talks to.
    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies pending migrations of this backend's dialect. Safe to call from several instances at
    /// once: sqlx takes an advisory lock on PostgreSQL, and SQLite serialises writers.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Db::Sqlite(pool) => {
                // sqlx's SQLite migrator takes no lock, so two processes starting together on a new file
                // could both try to create the tables: serialise them with a lock file beside the database.
                let path = pool.connect_options().get_filename().with_extension("migrate.lock");
                let lock = tokio::task::spawn_blocking(move || -> std::io::Result<std::fs::File> {
                    let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(path)?;
                    file.lock()?;
                    Ok(file)
                })
                .await
                .map_err(|e| sqlx::Error::Io(std::io::Error::other(e)))?
                .map_err(sqlx::Error::Io)?;
                let result = SQLITE_MIGRATOR.run(pool).await;
                drop(lock);
                result?
            }
            Db::Postgres(pool) => POSTGRES_MIGRATOR.run(pool).await?,
        }
        Ok(())
    }

    /// A cheap round trip, bounded by `timeout`: is the database reachable right now?
    pub async fn ping(&self, timeout: Duration) -> bool {
        let check = async { crate::db_run!(self, pool => sqlx::query("SELECT 1").execute(pool).await.is_ok()) };
        tokio::time::timeout(timeout, check).await.unwrap_or(false)
    }

    /// Pool statistics for metrics.
    pub fn stats(&self) -> PoolStats {
        let (size, idle, max) = crate::db_run!(self, pool => {
            (pool.size(), pool.num_idle() as u32, pool.options().get_max_connections())
        });
        PoolStats { size, idle, max }
    }

    /// Closes every connection (graceful shutdown).
    pub async fn close(&self) {
        crate::db_run!(self, pool => pool.close().await)
    }
}

/// Picks the backend from a URL's scheme, with a clear error for anything else.
pub fn backend_of(url: &str) -> Result<Backend, StoreError> {
    let scheme = url.split(':').next().unwrap_or_default();
    match scheme {
        "sqlite" => Ok(Backend::Sqlite),
        "postgres" | "postgresql" => Ok(Backend::Postgres),
        _ => Err(StoreError::Database(sqlx::Error::Configuration(
            format!(
                "unsupported database URL scheme '{scheme}': use sqlite://path/to/file.db or postgres://user@host/db"
            )
            .into(),
        ))),
    }
}

/// SQLite's `SQLITE_BUSY` ("database is locked"), extended codes included.
fn is_sqlite_busy(e: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = e else { return false };
    db.code().and_then(|c| c.parse::<i32>().ok()).is_some_and(|c| c & 0xff == 5)
}

/// The file a SQLite database URL opens, or `None` for PostgreSQL and in-memory SQLite.
pub fn sqlite_file(url: &str) -> Result<Option<std::path::PathBuf>, StoreError> {
    if backend_of(url)? != Backend::Sqlite {
        return Ok(None);
    }
    let options = SqliteConnectOptions::from_str(url)?;
    let file = options.get_filename();
    // sqlx names an in-memory database `file:sqlx-in-memory-N` (or keeps `:memory:`); `mode=memory` too.
    let in_memory = file.to_str().is_some_and(|f| f == ":memory:" || f.starts_with("file:sqlx-in-memory-"))
        || url.contains("mode=memory");
    Ok((!in_memory).then(|| file.to_path_buf()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_file_names_the_file_of_a_file_database_only() {
        let file = |url| sqlite_file(url).unwrap();
        assert_eq!(file("sqlite:///var/lib/sb/switchboard.db"), Some("/var/lib/sb/switchboard.db".into()));
        assert_eq!(file("sqlite://data/x.db?mode=rwc"), Some("data/x.db".into()));
        assert_eq!(file("sqlite::memory:"), None);
        assert_eq!(file("sqlite://x.db?mode=memory"), None);
        assert_eq!(file("postgres://u@localhost/db"), None);
        assert!(sqlite_file("mysql://x").is_err());
    }

    /// The bundled SQLite is built with the query planner stability guarantee (`.cargo/config.toml`):
    /// without it cached statements are re-prepared whenever their bound values change.
    #[tokio::test]
    async fn sqlite_keeps_prepared_plans() {
        let db = Db::connect("sqlite::memory:", &DbOptions::default()).await.unwrap();
        let Db::Sqlite(pool) = &db else { unreachable!() };
        let found: Option<String> = sqlx::query_scalar(
            "SELECT compile_options FROM pragma_compile_options WHERE compile_options = 'ENABLE_QPSG'",
        )
        .fetch_optional(pool)
        .await
        .unwrap();
        assert_eq!(found.as_deref(), Some("ENABLE_QPSG"), "build with .cargo/config.toml's LIBSQLITE3_FLAGS");
    }

    /// Every connection of a pool gets the configured page cache (negative: KiB, SQLite's convention).
    #[tokio::test]
    async fn sqlite_page_cache_is_configurable() {
        let opts = DbOptions { sqlite_cache_kib: 32 * 1024, ..DbOptions::default() };
        let db = Db::connect("sqlite::memory:", &opts).await.unwrap();
        let Db::Sqlite(pool) = &db else { unreachable!() };
        let size: i64 = sqlx::query_scalar("PRAGMA cache_size").fetch_one(pool).await.unwrap();
        assert_eq!(size, -32 * 1024);
        let db = Db::connect("sqlite::memory:", &DbOptions::default()).await.unwrap();
        let Db::Sqlite(pool) = &db else { unreachable!() };
        let size: i64 = sqlx::query_scalar("PRAGMA cache_size").fetch_one(pool).await.unwrap();
        assert_eq!(size, -2_000, "SQLite's default");
    }

    /// Every connection of a pool maps the configured share of a database file; none by default.
    #[tokio::test]
    async fn sqlite_memory_map_is_configurable() {
        let dir = crate::test_files::TestDir::new("mmap");
        let url = dir.sqlite_url("mmap.db");
        let mmap_size = |db: &Db| {
            let Db::Sqlite(pool) = db else { unreachable!() };
            let pool = pool.clone();
            async move { sqlx::query_scalar::<_, i64>("PRAGMA mmap_size").fetch_one(&pool).await.unwrap() }
        };
        let db = Db::connect(&url, &DbOptions { sqlite_mmap_bytes: 64 << 20, ..DbOptions::default() }).await.unwrap();
        assert_eq!(mmap_size(&db).await, 64 << 20);
        db.close().await;
        let db = Db::connect(&url, &DbOptions::default()).await.unwrap();
        assert_eq!(mmap_size(&db).await, 0, "SQLite's default");
        db.close().await;
    }

    /// Processes that open a new SQLite file at the same moment (a server starting and a CLI command) all
    /// connect: switching the file to WAL can fail at once with "database is locked" (SQLite does not wait on
    /// its busy timeout there), and `connect` tries again within that timeout.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_new_file_opened_at_once_by_several_connects() {
        let dir = crate::test_files::TestDir::new("race");
        for round in 0..20 {
            let url = dir.sqlite_url(&format!("race-{round}.db"));
            let connects: Vec<_> = (0..4)
                .map(|_| {
                    let url = url.clone();
                    tokio::spawn(async move { Db::connect(&url, &DbOptions::default()).await })
                })
                .collect();
            for connect in connects {
                let db = connect.await.unwrap().unwrap_or_else(|e| panic!("round {round}: {e}"));
                db.close().await;
            }
        }
    }

    /// This process's writers of one SQLite file take turns, whichever pool they use: a second transaction
    /// waits for the first to end and starts as soon as it commits; one that waits longer than its pool's
    /// acquire timeout fails as a timeout (not SQLite's "database is locked" after its busy timeout).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_writers_take_turns_across_pools() {
        let dir = crate::test_files::TestDir::new("turns");
        let url = dir.sqlite_url("turns.db");
        let first = Db::connect(&url, &DbOptions::default()).await.unwrap();
        let impatient =
            Db::connect(&url, &DbOptions { acquire_timeout: Duration::from_millis(200), ..DbOptions::default() })
                .await
                .unwrap();
        let patient = Db::connect(&url, &DbOptions::default()).await.unwrap();
        let mut tx = first.begin().await.unwrap();
        crate::tx_run!(&mut tx, c => sqlx::query("CREATE TABLE t (n INTEGER)").execute(&mut **c).await.map(|_| ()))
            .unwrap();

        assert!(matches!(impatient.begin().await, Err(sqlx::Error::PoolTimedOut)));

        let waiter = tokio::spawn(async move {
            let started = std::time::Instant::now();
            let mut tx = patient.begin().await.unwrap();
            let waited = started.elapsed();
            crate::tx_run!(&mut tx, c => sqlx::query("INSERT INTO t VALUES (2)").execute(&mut **c).await.map(|_| ()))
                .unwrap();
            tx.commit().await.unwrap();
            waited
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        crate::tx_run!(&mut tx, c => sqlx::query("INSERT INTO t VALUES (1)").execute(&mut **c).await.map(|_| ()))
            .unwrap();
        tx.commit().await.unwrap();
        assert!(waiter.await.unwrap() >= Duration::from_millis(100), "the second writer waited for the first");
        let Db::Sqlite(pool) = &first else { unreachable!() };
        let rows: Vec<i64> = sqlx::query_scalar("SELECT n FROM t ORDER BY rowid").fetch_all(pool).await.unwrap();
        assert_eq!(rows, [1, 2], "in turn");
        for db in [first, impatient] {
            db.close().await;
        }
    }
}
