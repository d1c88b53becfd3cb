//! Statements bound ahead of running them, so that building one overlaps the database running the one before.
//!
//! A write batch of a few hundred contacts is a handful of multi-row statements, and binding one (encoding
//! thousands of values, serialising JSON columns) is CPU work of the same order as the database's work for the
//! statement before it. Run one after the other, the writer thread and the database take turns on the same
//! cores; with [`run_overlapped`] the next statement is built while the database runs the current one.

use crate::pool::{Backend, Conn};
use std::collections::VecDeque;

/// A statement with its values bound (sqlx encodes at `bind`), for a connection of the backend it was built
/// for. Build one with [`bound!`](crate::bound).
pub enum Bound {
    Sqlite(sqlx::query::Query<'static, sqlx::Sqlite, <sqlx::Sqlite as sqlx::Database>::Arguments>),
    Postgres(sqlx::query::Query<'static, sqlx::Postgres, <sqlx::Postgres as sqlx::Database>::Arguments>),
}

/// Builds a [`Bound`] statement of `$sql` (a `String`) for `$backend`: inside `$body`, `$q` is the (mutable)
/// query to bind values to, and the body evaluates to it. The body is compiled once per backend, like
/// [`conn_run!`](crate::conn_run).
#[macro_export]
macro_rules! bound {
    ($backend:expr, $sql:expr, $q:ident => $body:expr) => {
        match $backend {
            $crate::Backend::Sqlite => {
                #[allow(unused_mut)]
                let mut $q = $crate::sqlx::query::<$crate::sqlx::Sqlite>($crate::sqlx::AssertSqlSafe($sql));
                $crate::Bound::Sqlite($body)
            }
            $crate::Backend::Postgres => {
                #[allow(unused_mut)]
                let mut $q = $crate::sqlx::query::<$crate::sqlx::Postgres>($crate::sqlx::AssertSqlSafe($sql));
                $crate::Bound::Postgres($body)
            }
        }
    };
}

impl Bound {
    /// Runs the statement on `conn`; the rows it affected.
    pub async fn execute(self, conn: &mut Conn<'_>) -> Result<u64, sqlx::Error> {
        match (self, conn) {
            (Bound::Sqlite(q), Conn::Sqlite(c)) => q.execute(&mut **c).await.map(|r| r.rows_affected()),
            (Bound::Postgres(q), Conn::Postgres(c)) => q.execute(&mut **c).await.map(|r| r.rows_affected()),
            (bound, conn) => Err(sqlx::Error::Protocol(format!(
                "a statement built for {:?} cannot run on {:?}",
                bound.backend(),
                conn.backend()
            ))),
        }
    }

    fn backend(&self) -> Backend {
        match self {
            Bound::Sqlite(_) => Backend::Sqlite,
            Bound::Postgres(_) => Backend::Postgres,
        }
    }
}

/// Runs statements one after the other, stopping at the first error.
pub async fn run_all(conn: &mut Conn<'_>, statements: Vec<Bound>) -> Result<(), sqlx::Error> {
    for statement in statements {
        statement.execute(conn).await?;
    }
    Ok(())
}

/// One part of a write: builds its statements (none, one, or one per chunk of rows) when called.
pub type Step<'a> = Box<dyn FnOnce() -> Vec<Bound> + Send + 'a>;

/// Runs the statements of `steps` in order, stopping at the first error. While the database runs the last
/// statement built so far, the next step builds its statements on this task: the statement's request has been
/// sent by then (its future is polled first and waits for the answer), so the two overlap.
pub async fn run_overlapped(conn: &mut Conn<'_>, steps: Vec<Step<'_>>) -> Result<(), sqlx::Error> {
    let mut steps = steps.into_iter();
    let mut ready: VecDeque<Bound> = VecDeque::new();
    loop {
        let Some(current) = ready.pop_front() else {
            match steps.next() {
                Some(step) => {
                    ready.extend(step());
                    continue;
                }
                None => return Ok(()),
            }
        };
        if ready.is_empty()
            && let Some(step) = steps.next()
        {
            let (done, next) = tokio::join!(current.execute(conn), async move { step() });
            done?;
            ready.extend(next);
        } else {
            current.execute(conn).await?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Db, DbOptions};

    fn insert(backend: Backend, n: i64) -> Bound {
        crate::bound!(backend, "INSERT INTO t (n) VALUES ($1)".to_owned(), q => q.bind(n))
    }

    async fn rows(conn: &mut Conn<'_>) -> Vec<i64> {
        crate::conn_run!(conn, c => sqlx::query_scalar("SELECT n FROM t ORDER BY seq").fetch_all(&mut **c).await)
            .unwrap()
    }

    /// One connection to an in-memory database (each connection of the pool would have its own).
    #[tokio::test]
    async fn steps_run_in_order_and_stop_at_the_first_error() {
        let db = Db::connect("sqlite::memory:", &DbOptions::default()).await.unwrap();
        let mut pooled = db.acquire().await.unwrap();
        let mut conn = pooled.conn();
        let sql = "CREATE TABLE t (seq INTEGER PRIMARY KEY AUTOINCREMENT, n INTEGER NOT NULL UNIQUE)".to_owned();
        crate::bound!(Backend::Sqlite, sql, q => q).execute(&mut conn).await.unwrap();

        let sqlite = Backend::Sqlite;
        let steps: Vec<Step> = vec![
            Box::new(move || vec![insert(sqlite, 1), insert(sqlite, 2)]),
            Box::new(Vec::new),
            Box::new(move || vec![insert(sqlite, 3)]),
        ];
        run_overlapped(&mut conn, steps).await.unwrap();
        assert_eq!(rows(&mut conn).await, [1, 2, 3], "every statement, in step order");

        let steps: Vec<Step> = vec![
            Box::new(move || vec![insert(sqlite, 4)]),
            Box::new(move || vec![insert(sqlite, 1)]),
            Box::new(move || vec![insert(sqlite, 5)]),
        ];
        let err = run_overlapped(&mut conn, steps).await.unwrap_err();
        assert!(matches!(err, sqlx::Error::Database(_)), "{err:?}");
        assert_eq!(rows(&mut conn).await, [1, 2, 3, 4], "nothing after the failed statement runs");

        let err = insert(Backend::Postgres, 6).execute(&mut conn).await.unwrap_err();
        assert!(err.to_string().contains("built for Postgres cannot run on Sqlite"), "{err}");
    }
}
