//! The store's building blocks on both databases, against a migrated database of each (no server).

use crate::db_tests;
use crate::helpers::{Backend, TestDb};
use switchboard_store::{Db, DbOptions, Script, statement};

db_tests!(a_combined_script_writes_every_part_in_one_statement, a_script_with_an_unencodable_value_writes_nothing);

async fn scratch(backend: Backend) -> Db {
    let db = Db::connect(&TestDb::new(backend).await.url, &DbOptions::default()).await.unwrap();
    db.migrate().await.unwrap();
    let mut tx = db.begin().await.unwrap();
    switchboard_store::tx_run!(&mut tx, c => {
        sqlx::query("CREATE TABLE scratch_a (id BIGINT PRIMARY KEY, label TEXT NOT NULL)").execute(&mut **c).await.map(|_| ())
    })
    .unwrap();
    switchboard_store::tx_run!(&mut tx, c => {
        sqlx::query("CREATE TABLE scratch_b (id BIGINT PRIMARY KEY, a_id BIGINT NOT NULL, note TEXT)")
            .execute(&mut **c)
            .await
            .map(|_| ())
    })
    .unwrap();
    tx.commit().await.unwrap();
    db
}

async fn rows(db: &Db, table: &str) -> Vec<(i64, String)> {
    let sql = match table {
        "scratch_a" => "SELECT id, label FROM scratch_a ORDER BY id",
        _ => "SELECT id, COALESCE(note, '-') || '@' || CAST(a_id AS TEXT) FROM scratch_b ORDER BY id",
    };
    switchboard_store::db_run!(db, pool => sqlx::query_as(sql).fetch_all(pool).await).unwrap()
}

/// Statements with numbered and anonymous placeholders, text with `$` and `?` in it, and (PostgreSQL) a SELECT
/// part: one round trip writes them all, each value in its place. A parameter used twice or out of order is
/// renumbered on PostgreSQL and refused on SQLite (where combined parameters bind in order).
async fn a_combined_script_writes_every_part_in_one_statement(backend: Backend) {
    let db = scratch(backend).await;
    let backend = db.backend();
    let mut script = Script::combined(backend);
    let rows_sql = switchboard_store::value_rows(backend, 2, 2);
    statement!(&mut script, format!("INSERT INTO scratch_a (id, label) VALUES {rows_sql}"), q => {
        q.bind(1_i64).bind("costs $3? no").bind(2_i64).bind("two")
    });
    statement!(&mut script, "INSERT INTO scratch_b (id, a_id, note) VALUES ($1, $2, $3), ($4, $5, NULL)".to_owned(), q => {
        q.bind(10_i64).bind(1_i64).bind("it's $1 'quoted'").bind(11_i64).bind(1_i64)
    });
    if backend == switchboard_store::Backend::Postgres {
        statement!(&mut script, "SELECT pg_notify('scratch', $1)".to_owned(), q => q.bind("ping"));
    }
    statement!(&mut script, "INSERT INTO scratch_a (id, label) VALUES ($1, $2 || '-' || $3)".to_owned(), q => {
        q.bind(3_i64).bind("three").bind("x")
    });
    let statements = script.into_statements();
    assert_eq!(statements.len(), 1, "one statement");
    let mut conn = db.acquire().await.unwrap();
    switchboard_store::run_all(&mut conn.conn(), statements).await.unwrap();
    drop(conn);
    assert_eq!(
        rows(&db, "scratch_a").await,
        [(1, "costs $3? no".to_owned()), (2, "two".to_owned()), (3, "three-x".to_owned())]
    );
    assert_eq!(rows(&db, "scratch_b").await, [(10, "it's $1 'quoted'@1".to_owned()), (11, "-@1".to_owned())]);

    let mut script = Script::combined(backend);
    statement!(&mut script, "INSERT INTO scratch_a (id, label) VALUES ($2, $1 || '-' || $1)".to_owned(), q => {
        q.bind("five").bind(5_i64)
    });
    let mut conn = db.acquire().await.unwrap();
    let result = script.run(&mut conn.conn()).await;
    drop(conn);
    match backend {
        switchboard_store::Backend::Postgres => {
            result.unwrap();
            assert_eq!(rows(&db, "scratch_a").await.last().unwrap(), &(5, "five-five".to_owned()));
            switchboard_store::db_run!(&db, pool => sqlx::query("DELETE FROM scratch_a WHERE id = 5").execute(pool).await.map(|_| ())).unwrap();
        }
        switchboard_store::Backend::Sqlite => {
            let err = result.unwrap_err().to_string();
            assert!(err.contains("once each, in order: found $2 where $1 was expected"), "{err}");
        }
    }

    // The same statements, separately: one each, the same rows.
    let mut script = Script::separate(backend);
    statement!(&mut script, "INSERT INTO scratch_a (id, label) VALUES ($1, $2)".to_owned(), q => q.bind(4_i64).bind("four"));
    statement!(&mut script, "INSERT INTO scratch_b (id, a_id, note) VALUES ($1, $2, $3)".to_owned(), q => {
        q.bind(12_i64).bind(4_i64).bind("n")
    });
    let statements = script.into_statements();
    assert_eq!(statements.len(), 2);
    let mut conn = db.acquire().await.unwrap();
    switchboard_store::run_all(&mut conn.conn(), statements).await.unwrap();
    drop(conn);
    assert_eq!(rows(&db, "scratch_a").await.len(), 4);
    assert_eq!(rows(&db, "scratch_b").await.last().unwrap(), &(12, "n@4".to_owned()));
    db.close().await;
}

/// A value that cannot be encoded fails the whole combined statement, in a transaction that then rolls back.
async fn a_script_with_an_unencodable_value_writes_nothing(backend: Backend) {
    struct Unencodable;
    impl serde::Serialize for Unencodable {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("cannot be written"))
        }
    }
    let db = scratch(backend).await;
    let mut script = Script::combined(db.backend());
    statement!(&mut script, "INSERT INTO scratch_a (id, label) VALUES ($1, $2)".to_owned(), q => q.bind(1_i64).bind("one"));
    statement!(&mut script, "INSERT INTO scratch_a (id, label) VALUES ($1, $2)".to_owned(), q => {
        q.bind(2_i64).bind(sqlx::types::Json(Unencodable))
    });
    let mut tx = db.begin().await.unwrap();
    let err = switchboard_store::run_all(&mut tx.conn(), script.into_statements()).await.unwrap_err();
    assert!(matches!(err, sqlx::Error::Encode(_)), "{err:?}");
    drop(tx);
    assert!(rows(&db, "scratch_a").await.is_empty(), "nothing written");
    db.close().await;
}
