//! WAL checkpoints for SQLite's write path, off the committing connection.
//!
//! SQLite checkpoints inside the commit that takes the WAL past 1,000 pages: that commit copies the WAL's
//! pages into the database file and `fsync`s it before it returns, so every few batches one writer (and
//! everyone waiting on its group commit) pays for all of them. The write path's pool turns that off
//! ([`crate::DbOptions::sqlite_autocheckpoint_pages`]) and this task checkpoints instead, on a connection of
//! its own, in `PASSIVE` mode (it never waits on, or blocks, readers and the writer): shortly after the
//! write path commits, and every second for commits made elsewhere (with nothing new in the WAL a
//! checkpoint is a read of its index). Other pools keep a high threshold as a bound should this fall behind.
//!
//! The WAL is still reset as usual: a writer starts again from the top of the file once a checkpoint has
//! copied everything and no reader needs it. Under sustained writes that never happens (a checkpoint beside a
//! commit every few milliseconds never reaches the end), so a burst leaves the file at its peak size — 470 to
//! 860 MB after 10 s of the agent benchmark — and SQLite never shrinks it. Once the write path has been quiet
//! for a second and the file is past [`TRUNCATE_ABOVE_BYTES`], the task checkpoints in `TRUNCATE` mode
//! instead: everything is copied and the file cut to nothing, holding this process's write turn (writers
//! queue for it, ~0.25 s for 600 MB, rather than meet SQLite's busy handler) and waiting at most
//! [`TRUNCATE_WAIT_FOR_READERS`] for readers of older snapshots (else it tries again a second later).
//! PostgreSQL checkpoints by itself; there this is a no-op.

use crate::Db;
use crate::pool::SqliteWriteTurn;
use sqlx::sqlite::SqlitePool;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

/// How long the task waits after a commit before it checkpoints: commits in between share the checkpoint
/// (a page written by several of them is copied once), and a burst of writes runs uninterrupted.
const GATHER: Duration = Duration::from_millis(100);
/// Checkpoints without a commit of the write path: commits of other pools.
const TICK: Duration = Duration::from_secs(1);
/// A WAL file past this size is cut back once the write path is quiet (SQLite's own `journal_size_limit`
/// would cut it inside a commit instead, on the write path).
pub const TRUNCATE_ABOVE_BYTES: u64 = 64 << 20;
/// How long a `TRUNCATE` checkpoint waits for readers of an older snapshot, the write turn held.
pub const TRUNCATE_WAIT_FOR_READERS: Duration = Duration::from_millis(100);

/// Handle of the checkpoint task of a SQLite write pool; the task ends when every clone is dropped.
#[derive(Debug, Clone)]
pub struct Checkpointer {
    committed: mpsc::Sender<()>,
    completed: Arc<AtomicU64>,
}

impl Checkpointer {
    /// Starts the task on the current runtime for a SQLite pool; `None` for PostgreSQL.
    pub fn spawn(db: &Db) -> Option<Self> {
        Self::spawn_truncating_above(db, TRUNCATE_ABOVE_BYTES)
    }

    fn spawn_truncating_above(db: &Db, truncate_above: u64) -> Option<Self> {
        let Db::Sqlite(pool) = db else { return None };
        let pool = pool.clone();
        let wal = wal_path(&pool);
        // One slot: a commit while a checkpoint is pending or running asks for the next one, once.
        let (committed, mut wake) = mpsc::channel::<()>(1);
        let completed = Arc::new(AtomicU64::new(0));
        let count = completed.clone();
        tokio::spawn(async move {
            loop {
                let quiet = match tokio::time::timeout(TICK, wake.recv()).await {
                    Ok(Some(())) => {
                        tokio::time::sleep(GATHER).await;
                        false
                    }
                    Ok(None) => break,
                    Err(_elapsed) => true,
                };
                // Closed at shutdown: nothing left to checkpoint from here (SQLite checkpoints as the last
                // connection closes).
                if pool.is_closed() {
                    break;
                }
                // The file's size only matters once writes have paused: no `stat` beside every commit.
                let wal_bytes = if quiet { std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0) } else { 0 };
                let checkpointed = if wal_bytes > truncate_above {
                    truncate(&pool).await.map(|((busy, wal_pages, copied), turn_held)| {
                        if busy == 0 {
                            let turn_ms = turn_held.as_millis();
                            tracing::info!(
                                wal_mib = wal_bytes >> 20,
                                turn_ms,
                                "WAL file cut back after a burst of writes"
                            );
                        }
                        (busy, wal_pages, copied)
                    })
                } else {
                    sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(&pool).await
                };
                match checkpointed {
                    Ok((_, wal_pages, copied)) => {
                        count.fetch_add(1, Ordering::Relaxed);
                        tracing::trace!(wal_pages, copied, "WAL checkpoint");
                    }
                    // The next commit asks again; a lasting failure shows in the WAL's size, not in writes.
                    Err(err) => tracing::warn!(error = %err, "WAL checkpoint failed"),
                }
            }
        });
        Some(Self { committed, completed })
    }

    /// Checkpoints run so far.
    pub fn completed(&self) -> u64 {
        self.completed.load(Ordering::Relaxed)
    }

    /// Notes a commit: a checkpoint follows shortly.
    pub fn committed(&self) {
        // Full: a checkpoint is already due and will include this commit.
        let _ = self.committed.try_send(());
    }
}

/// The WAL file next to the pool's database file.
fn wal_path(pool: &SqlitePool) -> PathBuf {
    let mut wal = pool.connect_options().get_filename().as_os_str().to_owned();
    wal.push("-wal");
    PathBuf::from(wal)
}

/// A `TRUNCATE` checkpoint: `(busy, WAL pages, pages copied)` as SQLite reports them (busy 1 when a reader
/// kept it from finishing within [`TRUNCATE_WAIT_FOR_READERS`]), and how long it held the write turn.
async fn truncate(pool: &SqlitePool) -> Result<((i64, i64, i64), Duration), sqlx::Error> {
    // The connection first, then the turn: writers hold their connection while they wait for the turn.
    let mut conn = pool.acquire().await?;
    // Copy what is left (and `fsync` the database file) without the turn; with it, only the cut remains.
    let _: (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(&mut *conn).await?;
    // The shorter busy timeout stays with this connection, so it is closed afterwards rather than returned.
    conn.close_on_drop();
    let wait = TRUNCATE_WAIT_FOR_READERS.as_millis();
    sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA busy_timeout = {wait}"))).execute(&mut *conn).await?;
    let _turn = SqliteWriteTurn::take(pool).await?;
    let turn_taken = std::time::Instant::now();
    let result = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(&mut *conn).await?;
    Ok((result, turn_taken.elapsed()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DbOptions;

    const PAGE: u64 = 4096;

    fn file_pages(path: &std::path::Path) -> u64 {
        std::fs::metadata(path).map(|m| m.len() / PAGE).unwrap_or(0)
    }

    /// Inserts `rows` rows of about one page each into `t`, in one commit.
    async fn insert_pages(pool: &SqlitePool, rows: u32) {
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
             INSERT INTO t SELECT randomblob(4000) FROM n",
        )
        .bind(rows)
        .execute(pool)
        .await
        .unwrap();
    }

    /// The write path's connections leave checkpoints to the task: without it the WAL keeps every page
    /// written and the database file stays empty; the task copies them into the file, and the next
    /// writes start the WAL over from the top instead of growing it.
    #[tokio::test]
    async fn checkpoints_happen_off_the_committing_connection() {
        let dir = crate::test_files::TestDir::new("ckpt");
        let path = dir.path("ckpt.db");
        let wal = dir.path("ckpt.db-wal");
        let url = dir.sqlite_url("ckpt.db");
        let opts = DbOptions { sqlite_autocheckpoint_pages: 0, sqlite_temp_store_memory: true, ..DbOptions::default() };
        let db = Db::connect(&url, &opts).await.unwrap();
        let Db::Sqlite(pool) = &db else { unreachable!() };
        let setting: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint").fetch_one(pool).await.unwrap();
        assert_eq!(setting, 0);
        let temp_store: i64 = sqlx::query_scalar("PRAGMA temp_store").fetch_one(pool).await.unwrap();
        assert_eq!(temp_store, 2, "MEMORY");

        sqlx::query("CREATE TABLE t (x BLOB)").execute(pool).await.unwrap();
        // 20 commits of 100 rows of one page each: about 2,000 pages, twice SQLite's checkpoint threshold.
        let write = || async {
            for _ in 0..20 {
                insert_pages(pool, 100).await;
            }
        };
        write().await;
        let wal_after_first = file_pages(&wal);
        assert!(wal_after_first >= 2_000, "the WAL holds every page: {wal_after_first}");
        assert!(file_pages(&path) < 100, "no commit checkpointed: {} pages in the file", file_pages(&path));

        let checkpointer = Checkpointer::spawn(&db).expect("SQLite");
        checkpointer.committed();
        let mut waited = Duration::ZERO;
        while checkpointer.completed() == 0 {
            assert!(waited < Duration::from_secs(10), "the task checkpointed");
            tokio::time::sleep(Duration::from_millis(20)).await;
            waited += Duration::from_millis(20);
        }
        assert!(file_pages(&path) >= 2_000, "the WAL was copied into the file: {}", file_pages(&path));
        write().await;
        let wal_after_second = file_pages(&wal);
        assert!(wal_after_second <= wal_after_first + 10, "reused, not grown: {wal_after_first} → {wal_after_second}");
        db.close().await;
    }

    /// Once the write path is quiet, a WAL file past the limit is copied into the database and cut to nothing,
    /// but not while a writer of this process holds the write turn.
    #[tokio::test]
    async fn a_large_wal_is_cut_back_once_writes_stop() {
        let dir = crate::test_files::TestDir::new("ckpt-truncate");
        let (path, wal) = (dir.path("t.db"), dir.path("t.db-wal"));
        let opts = DbOptions { sqlite_autocheckpoint_pages: 0, ..DbOptions::default() };
        let db = Db::connect(&dir.sqlite_url("t.db"), &opts).await.unwrap();
        let Db::Sqlite(pool) = &db else { unreachable!() };
        sqlx::query("CREATE TABLE t (x BLOB)").execute(pool).await.unwrap();
        // About 1,000 pages (4 MB) in the WAL.
        insert_pages(pool, 1_000).await;
        assert!(file_pages(&wal) >= 1_000, "the WAL holds the rows: {} pages", file_pages(&wal));

        let mut writing = db.begin().await.unwrap();
        let _checkpointer = Checkpointer::spawn_truncating_above(&db, 1 << 20).expect("SQLite");
        tokio::time::sleep(TICK * 2).await;
        assert!(file_pages(&wal) >= 1_000, "not cut while a writer holds the turn: {} pages", file_pages(&wal));
        crate::tx_run!(&mut writing, c => sqlx::query("INSERT INTO t VALUES (x'00')").execute(&mut **c).await.map(|_| ()))
            .unwrap();
        writing.commit().await.unwrap();

        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0) > 0 {
            assert!(std::time::Instant::now() < deadline, "the WAL was cut back: {} pages", file_pages(&wal));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(file_pages(&path) >= 1_000, "its pages are in the database file: {}", file_pages(&path));
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t").fetch_one(pool).await.unwrap();
        assert_eq!(rows, 1_001, "nothing lost");
        db.close().await;
    }
}
