//! The database under switchboard: one pool type for SQLite and PostgreSQL, migrations for both dialects,
//! and the [`db_run!`] macro that runs one SQL text on whichever backend is configured.
//!
//! SQL is written once with `$1`-style placeholders, which both backends accept (sqlx binds SQLite's
//! `$N` by number). Column types are chosen so the same Rust types decode on both (see
//! `docs/adr/0001-storage.md`). The few places where the dialects differ branch on [`Db::backend`].

mod bound;
mod checkpoint;
mod json_text;
mod pool;
#[cfg(test)]
mod test_files;
mod warm;

pub use bound::{Binder, Bound, Script, Step, run_all, run_overlapped};
pub use checkpoint::Checkpointer;
pub use json_text::JsonText;
pub use pool::{Backend, Conn, Db, DbOptions, PoolStats, PooledConn, SqliteWriteTurn, Tx, backend_of, sqlite_file};
pub use sqlx;
pub use warm::{WarmConn, WarmPool};

/// Runs `$body` with `$pool` bound to the concrete pool of whichever backend `$db` is.
///
/// The body is compiled once per backend, so queries, row types and transactions are type-checked for
/// both, while the source exists once:
///
/// ```ignore
/// let n: i64 = db_run!(&db, pool => {
///     sqlx::query_scalar("SELECT COUNT(*) FROM workspaces").fetch_one(pool).await?
/// });
/// ```
#[macro_export]
macro_rules! db_run {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::Db::Sqlite($pool) => $body,
            $crate::Db::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` with `$conn` bound to the open transaction of a [`Tx`] (`&mut Tx` in, a
/// `&mut sqlx::Transaction` of the concrete backend inside). Helpers that take `&mut Tx` compose into one
/// transaction without being generic over the backend:
///
/// ```ignore
/// tx_run!(tx, conn => sqlx::query("UPDATE …").bind(id).execute(&mut **conn).await)?;
/// ```
#[macro_export]
macro_rules! tx_run {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            $crate::Tx::Sqlite($conn, _) => $body,
            $crate::Tx::Postgres($conn) => $body,
        }
    };
}

/// Runs `$body` with `$c` bound to the concrete connection of a [`Conn`] (`&mut Conn` in; inside, use
/// `&mut **c` as the executor).
#[macro_export]
macro_rules! conn_run {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::Conn::Sqlite($c) => $body,
            $crate::Conn::Postgres($c) => $body,
        }
    };
}

/// Placeholders for `n` generated parameters numbered from `first`: `$first, …` on PostgreSQL, `?, …` on
/// SQLite. sqlx binds SQLite's `$N` by looking each name up (quadratic in the parameter count), which
/// dominates a multi-row statement with thousands of parameters; anonymous `?` bind by position. A
/// statement must use one style throughout, so use this only where every parameter is generated.
pub fn placeholders(backend: Backend, first: usize, n: usize) -> String {
    let mut out = String::with_capacity(n * 7);
    push_placeholders(&mut out, backend, first, n);
    out
}

/// `$first, $first+1, …` for `n` parameters, for statements that mix them with fixed `$1`-style ones.
pub fn numbered_placeholders(first: usize, n: usize) -> String {
    placeholders(Backend::Postgres, first, n)
}

/// `(…), (…)` for `rows` rows of `cols` generated parameters (see [`placeholders`]).
pub fn value_rows(backend: Backend, rows: usize, cols: usize) -> String {
    // Written into one buffer: a multi-row write has thousands of parameters, and a string per parameter
    // was a visible part of the writer's time.
    let mut out = String::with_capacity(rows * (cols * 7 + 4));
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        push_placeholders(&mut out, backend, r * cols + 1, cols);
        out.push(')');
    }
    out
}

fn push_placeholders(out: &mut String, backend: Backend, first: usize, n: usize) {
    use std::fmt::Write;
    for i in first..first + n {
        if i > first {
            out.push_str(", ");
        }
        match backend {
            Backend::Sqlite => out.push('?'),
            Backend::Postgres => write!(out, "${i}").expect("writing to a String"),
        }
    }
}

/// A storage failure, split the way callers need to react to it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row does not exist (or belongs to another workspace: callers must not tell the difference).
    #[error("not found")]
    NotFound,
    /// A uniqueness constraint was violated; the payload names the constraint or column when known.
    #[error("already exists: {0}")]
    Conflict(String),
    /// The database could not be reached or failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// A migration failed.
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// Maps sqlx errors: missing rows become `NotFound`, unique violations `Conflict`.
    pub fn from_sqlx(err: sqlx::Error) -> Self {
        match err {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(ref db) if db.is_unique_violation() => {
                StoreError::Conflict(db.constraint().unwrap_or(db.message()).to_owned())
            }
            other => StoreError::Database(other),
        }
    }
}

#[cfg(test)]
mod placeholder_tests {
    use super::*;

    #[test]
    fn placeholders_number_from_first_or_are_anonymous_on_sqlite() {
        assert_eq!(numbered_placeholders(3, 3), "$3, $4, $5");
        assert_eq!(placeholders(Backend::Sqlite, 3, 3), "?, ?, ?");
        assert_eq!(placeholders(Backend::Postgres, 1, 0), "");
        assert_eq!(value_rows(Backend::Postgres, 2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(value_rows(Backend::Sqlite, 2, 2), "(?, ?), (?, ?)");
    }
}
