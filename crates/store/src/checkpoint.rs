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
//! copied everything and no reader needs it. PostgreSQL checkpoints by itself; there this is a no-op.

use crate::Db;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

/// How long the task waits after a commit before it checkpoints: commits in between share the checkpoint
/// (a page written by several of them is copied once), and a burst of writes runs uninterrupted.
const GATHER: Duration = Duration::from_millis(100);
/// Checkpoints without a commit of the write path: commits of other pools.
const TICK: Duration = Duration::from_secs(1);

/// Handle of the checkpoint task of a SQLite write pool; the task ends when every clone is dropped.
#[derive(Debug, Clone)]
pub struct Checkpointer {
    committed: mpsc::Sender<()>,
    completed: Arc<AtomicU64>,
}

impl Checkpointer {
    /// Starts the task on the current runtime for a SQLite pool; `None` for PostgreSQL.
    pub fn spawn(db: &Db) -> Option<Self> {
        let Db::Sqlite(pool) = db else { return None };
        let pool = pool.clone();
        // One slot: a commit while a checkpoint is pending or running asks for the next one, once.
        let (committed, mut wake) = mpsc::channel::<()>(1);
        let completed = Arc::new(AtomicU64::new(0));
        let count = completed.clone();
        tokio::spawn(async move {
            loop {
                match tokio::time::timeout(TICK, wake.recv()).await {
                    Ok(Some(())) => tokio::time::sleep(GATHER).await,
                    Ok(None) => break,
                    Err(_elapsed) => {}
                }
                // Closed at shutdown: nothing left to checkpoint from here (SQLite checkpoints as the last
                // connection closes).
                if pool.is_closed() {
                    break;
                }
                let result: Result<(i64, i64, i64), sqlx::Error> =
                    sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(&pool).await;
                match result {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DbOptions;

    const PAGE: u64 = 4096;

    fn file_pages(path: &std::path::Path) -> u64 {
        std::fs::metadata(path).map(|m| m.len() / PAGE).unwrap_or(0)
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
                sqlx::query(
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100) \
                     INSERT INTO t SELECT randomblob(4000) FROM n",
                )
                .execute(pool)
                .await
                .unwrap();
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
}
