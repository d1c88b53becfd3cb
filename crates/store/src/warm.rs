//! Connections for a writer that commits back to back, handed out most recently returned first.
//!
//! sqlx's pool hands its idle connections out in turn (a queue). That costs SQLite's write path: a
//! connection keeps its page cache only while no other connection commits in between, so the write path's
//! connections taking turns each began every transaction with an empty cache and read its pages again,
//! mostly from the WAL (whose frames the memory map does not cover). Returned here, the connection that
//! committed last begins the next transaction with its cache intact: +12 % requests/s in the agent
//! benchmark (bench/README.md). On PostgreSQL it saves the pool's bookkeeping and nothing else.
//!
//! Connections kept here stay checked out of the pool; at most `keep` of them, so the pool always has one
//! for others (the `Checkpointer` shares the write path's pool). The pool retires a connection older than its
//! `max_lifetime` when it comes back; a connection kept here longer than that goes back to the pool instead of
//! the stack, so the write path's connections are renewed as the pool's others are.

use crate::pool::{PING_AFTER_IDLE, SqliteWriteTurn};
use crate::{Db, PooledConn, Tx};
use sqlx::Connection;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The write path's connections: checked out of `db`, returned to a stack.
#[derive(Debug)]
pub struct WarmPool {
    db: Db,
    keep: usize,
    /// The pool's `max_lifetime`: a connection kept longer is handed back to the pool, which closes it.
    max_lifetime: Option<Duration>,
    /// Idle connections, the most recently returned last.
    idle: Mutex<Vec<Kept>>,
}

#[derive(Debug)]
struct Kept {
    conn: PooledConn,
    /// When this pool took it out of `db` (its age is at least that).
    taken: Instant,
    returned: Instant,
}

impl WarmPool {
    /// Connections of `db`, at most `keep` of them idle here (the rest go back to `db`).
    pub fn new(db: Db, keep: usize) -> Self {
        let max_lifetime = match &db {
            Db::Sqlite(pool) => pool.options().get_max_lifetime(),
            Db::Postgres(pool) => pool.options().get_max_lifetime(),
        };
        Self { db, keep, max_lifetime, idle: Mutex::new(Vec::new()) }
    }

    /// The connection returned last, else one from the pool. One that sat idle longer than the pool would
    /// let it is pinged first, as the pool would (a PostgreSQL server may have dropped it meanwhile).
    pub async fn acquire(&self) -> Result<WarmConn<'_>, sqlx::Error> {
        let kept = self.idle.lock().expect("warm pool lock").pop();
        if let Some(Kept { mut conn, taken, returned }) = kept {
            if returned.elapsed() <= PING_AFTER_IDLE || ping(&mut conn).await.is_ok() {
                return Ok(WarmConn { conn: Some(conn), taken, home: self });
            }
            close_on_drop(&mut conn);
        }
        Ok(WarmConn { conn: Some(self.db.acquire().await?), taken: Instant::now(), home: self })
    }

    /// Idle connections kept here (for tests and gauges).
    pub fn idle(&self) -> usize {
        self.idle.lock().expect("warm pool lock").len()
    }
}

/// A connection of a [`WarmPool`]; back to it when dropped (unless [`WarmConn::discard`]ed).
#[derive(Debug)]
pub struct WarmConn<'a> {
    conn: Option<PooledConn>,
    taken: Instant,
    home: &'a WarmPool,
}

impl WarmConn<'_> {
    /// Begins a write transaction on this connection, as [`Db::begin`] does on a pooled one (on SQLite:
    /// this process's write turn, then `BEGIN IMMEDIATE`).
    pub async fn begin(&mut self) -> Result<Tx<'_>, sqlx::Error> {
        let conn = self.conn.as_mut().expect("a WarmConn holds its connection until dropped");
        Ok(match (&self.home.db, conn) {
            (Db::Sqlite(pool), PooledConn::Sqlite(c)) => {
                let turn = SqliteWriteTurn::take(pool).await?;
                Tx::Sqlite(c.begin_with("BEGIN IMMEDIATE").await?, turn)
            }
            (Db::Postgres(_), PooledConn::Postgres(c)) => Tx::Postgres(c.begin().await?),
            _ => unreachable!("a WarmPool's connections come from its own pool"),
        })
    }

    /// Closes the connection instead of keeping it, e.g. after an error that may have left it unusable.
    pub fn discard(mut self) {
        if let Some(conn) = self.conn.as_mut() {
            close_on_drop(conn);
        }
        drop(self.conn.take());
    }
}

impl Drop for WarmConn<'_> {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        let expired = self.home.max_lifetime.is_some_and(|lifetime| self.taken.elapsed() >= lifetime);
        let mut idle = self.home.idle.lock().expect("warm pool lock");
        if idle.len() < self.home.keep && !expired {
            idle.push(Kept { conn, taken: self.taken, returned: Instant::now() });
        }
        // Otherwise `conn` drops here, back into the pool (which closes it if it is past its lifetime).
    }
}

async fn ping(conn: &mut PooledConn) -> Result<(), sqlx::Error> {
    match conn {
        PooledConn::Sqlite(c) => c.ping().await,
        PooledConn::Postgres(c) => c.ping().await,
    }
}

fn close_on_drop(conn: &mut PooledConn) {
    match conn {
        PooledConn::Sqlite(c) => c.close_on_drop(),
        PooledConn::Postgres(c) => c.close_on_drop(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DbOptions, tx_run};

    async fn marked(conn: &mut WarmConn<'_>) -> bool {
        let Some(PooledConn::Sqlite(c)) = conn.conn.as_mut() else { unreachable!() };
        has_mark(c).await
    }

    async fn has_mark(conn: &mut sqlx::SqliteConnection) -> bool {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM temp.sqlite_master WHERE name = 'mark'")
            .fetch_one(conn)
            .await
            .unwrap();
        n == 1
    }

    /// Marks the connection (a temporary table exists only on the connection that made it) in a committed
    /// write transaction.
    async fn mark(conn: &mut WarmConn<'_>) {
        let mut tx = conn.begin().await.unwrap();
        tx_run!(&mut tx, c => sqlx::query("CREATE TEMP TABLE IF NOT EXISTS mark (n)").execute(&mut **c).await.map(|_| ()))
            .unwrap();
        tx.commit().await.unwrap();
    }

    /// A pool of `sqlite` with two connections open and idle (so sqlx's queue would hand out the other one).
    async fn two_open(dir: &crate::test_files::TestDir) -> Db {
        let db = Db::connect(&dir.sqlite_url("warm.db"), &DbOptions { max_connections: 4, ..DbOptions::default() })
            .await
            .unwrap();
        let (a, b) = (db.acquire().await.unwrap(), db.acquire().await.unwrap());
        drop((a, b));
        db
    }

    #[tokio::test]
    async fn the_connection_returned_last_is_handed_out_next() {
        let dir = crate::test_files::TestDir::new("warm-next");
        let db = two_open(&dir).await;
        let warm = WarmPool::new(db.clone(), 3);
        let mut first = warm.acquire().await.unwrap();
        mark(&mut first).await;
        drop(first);
        for round in 0..3 {
            let mut again = warm.acquire().await.unwrap();
            assert!(marked(&mut again).await, "round {round}: the marked connection again");
            mark(&mut again).await;
        }
        // sqlx's own queue would have handed out the other connection.
        let PooledConn::Sqlite(mut other) = db.acquire().await.unwrap() else { unreachable!() };
        assert!(!has_mark(&mut other).await, "the pool's next connection is another one");
        drop((other, warm));
        db.close().await;
    }

    #[tokio::test]
    async fn at_most_keep_connections_stay_out_of_the_pool() {
        let dir = crate::test_files::TestDir::new("warm-keep");
        let db = two_open(&dir).await;
        let warm = WarmPool::new(db.clone(), 1);
        let (a, b) = (warm.acquire().await.unwrap(), warm.acquire().await.unwrap());
        drop((a, b));
        assert_eq!(warm.idle(), 1);
        // sqlx returns a dropped connection from a task of its own.
        let deadline = Instant::now() + Duration::from_secs(5);
        while db.stats().idle < 1 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(db.stats().idle, 1, "the other went back to the pool");
        drop(warm);
        db.close().await;
    }

    #[tokio::test]
    async fn a_discarded_connection_is_not_handed_out_again() {
        let dir = crate::test_files::TestDir::new("warm-discard");
        let db = two_open(&dir).await;
        let warm = WarmPool::new(db.clone(), 3);
        let mut conn = warm.acquire().await.unwrap();
        mark(&mut conn).await;
        conn.discard();
        assert_eq!(warm.idle(), 0);
        for _ in 0..3 {
            let mut next = warm.acquire().await.unwrap();
            assert!(!marked(&mut next).await, "a connection that was never marked");
        }
        drop(warm);
        db.close().await;
    }

    #[tokio::test]
    async fn a_connection_past_the_pools_lifetime_goes_back_to_the_pool() {
        let dir = crate::test_files::TestDir::new("warm-lifetime");
        let db = two_open(&dir).await;
        let mut warm = WarmPool::new(db.clone(), 3);
        assert_eq!(
            warm.max_lifetime,
            Some(Duration::from_secs(30 * 60)),
            "sqlx's default lifetime, read from the pool"
        );
        warm.max_lifetime = Some(Duration::from_millis(50));
        drop(warm.acquire().await.unwrap());
        assert_eq!(warm.idle(), 1, "young: kept");
        let conn = warm.acquire().await.unwrap();
        tokio::time::sleep(Duration::from_millis(60)).await;
        drop(conn);
        assert_eq!(warm.idle(), 0, "past the lifetime: handed back to the pool, not kept");
        drop(warm);
        db.close().await;
    }
}
