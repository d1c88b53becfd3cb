//! Statements bound ahead of running them, so that building one overlaps the database running the one before.
//!
//! A write batch of a few hundred contacts is a handful of multi-row statements, and binding one (encoding
//! thousands of values, serialising JSON columns) is CPU work of the same order as the database's work for the
//! statement before it. Run one after the other, the writer thread and the database take turns on the same
//! cores; with [`run_overlapped`] the next statement is built while the database runs the current one.

use crate::pool::{Backend, Conn};
use std::collections::VecDeque;

/// A statement with its values bound (sqlx encodes at `bind`), for a connection of the backend it was built
/// for. Build one with a [`Script`].
pub enum Bound {
    Sqlite(sqlx::query::Query<'static, sqlx::Sqlite, <sqlx::Sqlite as sqlx::Database>::Arguments>),
    Postgres(sqlx::query::Query<'static, sqlx::Postgres, <sqlx::Postgres as sqlx::Database>::Arguments>),
    /// A statement of a [`Script`] with a value that could not be encoded: running it fails with that error.
    Unencodable(sqlx::error::BoxDynError),
}

impl Bound {
    /// Runs the statement on `conn`; the rows it affected.
    pub async fn execute(self, conn: &mut Conn<'_>) -> Result<u64, sqlx::Error> {
        match (self, conn) {
            (Bound::Sqlite(q), Conn::Sqlite(c)) => q.execute(&mut **c).await.map(|r| r.rows_affected()),
            (Bound::Postgres(q), Conn::Postgres(c)) => q.execute(&mut **c).await.map(|r| r.rows_affected()),
            (Bound::Unencodable(e), _) => Err(sqlx::Error::Encode(e)),
            (bound, conn) => Err(sqlx::Error::Protocol(format!(
                "a statement built for {:?} cannot run on {:?}",
                bound.backend().expect("matched above"),
                conn.backend()
            ))),
        }
    }

    fn backend(&self) -> Option<Backend> {
        match self {
            Bound::Sqlite(_) => Some(Backend::Sqlite),
            Bound::Postgres(_) => Some(Backend::Postgres),
            Bound::Unencodable(_) => None,
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

/// Statements built into one place, to run either one by one ([`Script::separate`]) or as **one round trip**
/// ([`Script::combined`]): SQLite runs `a; b; c` in one call to its connection's thread, PostgreSQL one
/// statement `WITH s0 AS (a), s1 AS (b) SELECT …` (data-modifying CTEs). A small write batch is a handful of
/// statements, and under load each round trip waits for a core (SQLite: a hand-off to sqlx's connection thread
/// and back; PostgreSQL: the backend process and back): one trip instead of five or six is what keeps a batch
/// short.
///
/// Append statements with [`statement!`](crate::statement), written with `$1`-style placeholders numbered
/// from 1 (or anonymous `?` on SQLite, see [`placeholders`](crate::placeholders)); a combined script
/// renumbers them (on SQLite each parameter must then appear once, in order: see `renumber`). The parts of a
/// combined script all see the database as it was before it (PostgreSQL runs them as one statement, in no set
/// order), so only combine statements that touch different rows and do not read what another part writes —
/// inserts and upserts of new state, not a delete and a re-insert of one key.
/// A combined script has one statement's parameter limit (32,766 on SQLite): it is meant for small writes.
pub struct Script {
    backend: Backend,
    combine: bool,
    /// Finished statements (separate mode).
    done: Vec<Bound>,
    /// The combined statement's parts, renumbered.
    parts: Vec<String>,
    /// PostgreSQL: the parts that are `SELECT`s (run only when the final query reads them).
    selects: Vec<usize>,
    sqlite: <sqlx::Sqlite as sqlx::Database>::Arguments,
    postgres: <sqlx::Postgres as sqlx::Database>::Arguments,
    /// Parameters bound to the combined statement so far.
    params: usize,
    /// The first value that could not be encoded: the script fails with it when run.
    error: Option<sqlx::error::BoxDynError>,
}

/// Binds values to the statement being appended to a [`Script`] (the `q` of [`statement!`](crate::statement)):
/// `q = q.bind(a).bind(b)`, as with a sqlx query.
pub struct Binder<'s, DB: sqlx::Database> {
    args: &'s mut DB::Arguments,
    error: &'s mut Option<sqlx::error::BoxDynError>,
    count: usize,
}

impl<'s, DB: sqlx::Database> Binder<'s, DB> {
    fn new(args: &'s mut DB::Arguments, error: &'s mut Option<sqlx::error::BoxDynError>) -> Self {
        Self { args, error, count: 0 }
    }

    /// Binds the next parameter (encoded now, like sqlx's `Query::bind`).
    pub fn bind<'t, T>(mut self, value: T) -> Self
    where
        T: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    {
        use sqlx::Arguments;
        if let Err(e) = self.args.add(value) {
            self.error.get_or_insert(e);
        }
        self.count += 1;
        self
    }

    fn count(&self) -> usize {
        self.count
    }
}

/// Appends a statement of `$sql` (a `String`) to `$script` (`&mut Script`): inside `$body`, `$q` is a
/// [`Binder`] to bind values to, and the body evaluates to it. The body is compiled once per backend, so
/// queries are type-checked for both while the source exists once (like [`conn_run!`](crate::conn_run)).
#[macro_export]
macro_rules! statement {
    ($script:expr, $sql:expr, $q:ident => $body:expr) => {{
        let script: &mut $crate::Script = $script;
        let sql: String = $sql;
        match script.backend() {
            #[allow(unused_mut)]
            $crate::Backend::Sqlite => script.sqlite_statement(sql, |mut $q| $body),
            #[allow(unused_mut)]
            $crate::Backend::Postgres => script.postgres_statement(sql, |mut $q| $body),
        }
    }};
}

impl Script {
    /// Statements to run one by one ([`Script::into_statements`]).
    pub fn separate(backend: Backend) -> Self {
        Self::new(backend, false)
    }

    /// Statements to run as one ([`Script::run`]).
    pub fn combined(backend: Backend) -> Self {
        Self::new(backend, true)
    }

    fn new(backend: Backend, combine: bool) -> Self {
        Self {
            backend,
            combine,
            done: Vec::new(),
            parts: Vec::new(),
            selects: Vec::new(),
            sqlite: Default::default(),
            postgres: Default::default(),
            params: 0,
            error: None,
        }
    }

    /// The backend the statements are written for.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The SQLite form of [`statement!`](crate::statement) (the macro picks it by backend).
    ///
    /// # Panics
    /// On a PostgreSQL script.
    #[doc(hidden)]
    pub fn sqlite_statement(
        &mut self,
        sql: String,
        bind: impl for<'s> FnOnce(Binder<'s, sqlx::Sqlite>) -> Binder<'s, sqlx::Sqlite>,
    ) {
        assert_eq!(self.backend, Backend::Sqlite, "a SQLite statement in a PostgreSQL script: {sql}");
        let count = bind(Binder::new(&mut self.sqlite, &mut self.error)).count();
        self.end_statement(sql, count);
    }

    /// Appends a statement written for PostgreSQL only, for what SQLite has no form of: arrays bound whole
    /// (`UNNEST($2::text[], …)`, `= ANY($1)`, with `sqlx::postgres::PgBindIterExt::bind_iter`), which keep a
    /// statement's text the same whatever the number of rows, so sqlx's statement cache serves it.
    ///
    /// # Panics
    /// On a SQLite script: the caller picks this form by [`Script::backend`].
    pub fn postgres_statement(
        &mut self,
        sql: String,
        bind: impl for<'s> FnOnce(Binder<'s, sqlx::Postgres>) -> Binder<'s, sqlx::Postgres>,
    ) {
        assert_eq!(self.backend, Backend::Postgres, "a PostgreSQL statement in a SQLite script: {sql}");
        let count = bind(Binder::new(&mut self.postgres, &mut self.error)).count();
        self.end_statement(sql, count);
    }

    fn end_statement(&mut self, sql: String, count: usize) {
        if !self.combine {
            let (sqlite, postgres) = (std::mem::take(&mut self.sqlite), std::mem::take(&mut self.postgres));
            let bound = match (self.error.take(), self.backend) {
                (Some(e), _) => Bound::Unencodable(e),
                (None, Backend::Sqlite) => Bound::Sqlite(sqlx::query_with(sqlx::AssertSqlSafe(sql), sqlite)),
                (None, Backend::Postgres) => Bound::Postgres(sqlx::query_with(sqlx::AssertSqlSafe(sql), postgres)),
            };
            self.done.push(bound);
            return;
        }
        let part = match renumber(&sql, self.backend, self.params) {
            Ok(part) => part,
            Err(message) => {
                self.error.get_or_insert(message.into());
                sql
            }
        };
        if self.backend == Backend::Postgres && part.trim_start().starts_with("SELECT") {
            self.selects.push(self.parts.len());
        }
        self.parts.push(part);
        self.params += count;
    }

    /// The statements, in order (a combined script is one).
    pub fn into_statements(mut self) -> Vec<Bound> {
        if self.parts.is_empty() {
            return self.done;
        }
        let bound = match (self.error.take(), self.backend) {
            (Some(e), _) => Bound::Unencodable(e),
            (None, Backend::Sqlite) => {
                let sql = self.parts.join(";\n");
                Bound::Sqlite(sqlx::query_with(sqlx::AssertSqlSafe(sql), self.sqlite))
            }
            (None, Backend::Postgres) => {
                use std::fmt::Write;
                let mut sql = String::from("WITH ");
                for (i, part) in self.parts.iter().enumerate() {
                    if i > 0 {
                        sql.push_str(",\n");
                    }
                    write!(sql, "s{i} AS ({part})").expect("writing to a String");
                }
                // Data-modifying parts always run; a SELECT part only when the query reads it.
                let reads: Vec<String> = self.selects.iter().map(|i| format!("(SELECT count(*) FROM s{i})")).collect();
                sql.push_str("\nSELECT ");
                sql.push_str(if reads.is_empty() { "1" } else { "" });
                sql.push_str(&reads.join(" + "));
                Bound::Postgres(sqlx::query_with(sqlx::AssertSqlSafe(sql), self.postgres))
            }
        };
        self.done.push(bound);
        self.done
    }

    /// Runs the statements in order, stopping at the first error.
    pub async fn run(self, conn: &mut Conn<'_>) -> Result<(), sqlx::Error> {
        run_all(conn, self.into_statements()).await
    }
}

/// The SQL of one statement as part of a combined one whose earlier parts bound `offset` parameters.
///
/// PostgreSQL: `$n` becomes `$(offset + n)`. SQLite: every parameter becomes an anonymous `?`, which sqlx binds
/// in order across the statements of one call (a numbered `?NNN` would leave lower-numbered slots of the
/// statement unnamed, and sqlx binds those as anonymous ones, shifting everything after); so on SQLite a part
/// must use each of its parameters once, in order (`$1, $2, …` or `?`), else this is an error. Quoted text and
/// identifiers are left alone.
fn renumber(sql: &str, backend: Backend, offset: usize) -> Result<String, String> {
    let mut out = String::with_capacity(sql.len() + sql.len() / 4);
    let bytes = sql.as_bytes();
    let (mut i, mut seen) = (0, 0);
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'\'' | b'"' => {
                // Copy the quoted run as is (a doubled quote inside simply ends and restarts it).
                let end = sql[i + 1..].find(c as char).map_or(bytes.len(), |j| i + 1 + j + 1);
                out.push_str(&sql[i..end]);
                i = end;
            }
            b'$' | b'?' => {
                let digits = bytes[i + 1..].iter().take_while(|b| b.is_ascii_digit()).count();
                let n: Option<usize> = (digits > 0).then(|| sql[i + 1..i + 1 + digits].parse().expect("digits"));
                match (backend, n) {
                    (Backend::Postgres, Some(n)) => {
                        out.push('$');
                        out.push_str(&(offset + n).to_string());
                    }
                    (Backend::Sqlite, n) if c == b'?' || n.is_some() => {
                        seen += 1;
                        if n.is_some_and(|n| n != seen) {
                            return Err(format!(
                                "a statement combined on SQLite must use its parameters once each, in order: \
                                 found {} where ${seen} was expected in: {sql}",
                                &sql[i..i + 1 + digits]
                            ));
                        }
                        out.push('?');
                    }
                    _ => out.push_str(&sql[i..i + 1 + digits]),
                }
                i += 1 + digits;
            }
            _ => {
                let next = sql[i..].find(['\'', '"', '$', '?']).map_or(bytes.len(), |j| i + j);
                out.push_str(&sql[i..next]);
                i = next;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Db, DbOptions};

    fn insert(backend: Backend, n: i64) -> Bound {
        let mut script = Script::separate(backend);
        crate::statement!(&mut script, "INSERT INTO t (n) VALUES ($1)".to_owned(), q => q.bind(n));
        script.into_statements().pop().expect("one statement")
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
        let mut script = Script::separate(Backend::Sqlite);
        crate::statement!(&mut script, sql, q => q);
        script.run(&mut conn).await.unwrap();

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
