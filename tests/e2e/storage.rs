//! The store's building blocks on both databases, against a migrated database of each (no server).

use crate::db_tests;
use crate::helpers::{Backend, TestDb};
use switchboard_store::{Db, DbOptions, Script, statement};

db_tests!(
    a_combined_script_writes_every_part_in_one_statement,
    a_script_with_an_unencodable_value_writes_nothing,
    a_keyed_pool_finds_rows_by_key_in_a_tiny_table,
    written_contacts_read_back_every_kind_of_value
);

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

/// The plan a pool's connection makes for a lookup by key in a table of a few wide rows (a fresh database),
/// the way a connection caches it for a prepared statement: PostgreSQL's generic plan scans the whole table
/// (it expects ten of about ten rows), which a cached statement then keeps doing as the table grows; a keyed
/// pool (the writers') uses the index. SQLite uses the key either way.
async fn a_keyed_pool_finds_rows_by_key_in_a_tiny_table(backend: Backend) {
    let url = TestDb::new(backend).await.url;
    let plain = Db::connect(&url, &DbOptions::default()).await.unwrap();
    let keyed = Db::connect(&url, &DbOptions { postgres_keyed_plans: true, ..DbOptions::default() }).await.unwrap();
    for sql in [
        "CREATE TABLE wide (id BIGINT PRIMARY KEY, body CHAR(600) NOT NULL)",
        "INSERT INTO wide (id, body) VALUES (1, 'a'), (2, 'b'), (3, 'c')",
    ] {
        switchboard_store::db_run!(&plain, pool => sqlx::query(sql).execute(pool).await.map(|_| ())).unwrap();
    }
    let plan = |db: &Db| {
        let db = db.clone();
        async move {
            let lines: Vec<String> = match &db {
                Db::Postgres(pool) => {
                    let mut conn = pool.acquire().await.unwrap();
                    for sql in [
                        "SET plan_cache_mode = force_generic_plan",
                        "PREPARE by_key(bigint[]) AS SELECT * FROM wide WHERE id = ANY($1)",
                    ] {
                        sqlx::raw_sql(sql).execute(&mut *conn).await.unwrap();
                    }
                    let plan = sqlx::query_scalar("EXPLAIN EXECUTE by_key('{2}')").fetch_all(&mut *conn).await.unwrap();
                    sqlx::raw_sql("DEALLOCATE by_key; RESET plan_cache_mode").execute(&mut *conn).await.unwrap();
                    let jit: String = sqlx::query_scalar("SHOW jit").fetch_one(&mut *conn).await.unwrap();
                    plan.into_iter().chain([format!("jit {jit}")]).collect()
                }
                Db::Sqlite(pool) => {
                    let rows: Vec<(i64, i64, i64, String)> =
                        sqlx::query_as("EXPLAIN QUERY PLAN SELECT * FROM wide WHERE id IN (2)")
                            .fetch_all(pool)
                            .await
                            .unwrap();
                    rows.into_iter().map(|r| r.3).collect()
                }
            };
            lines.join("\n")
        }
    };
    let (plain_plan, keyed_plan) = (plan(&plain).await, plan(&keyed).await);
    match backend {
        Backend::Postgres => {
            assert!(plain_plan.contains("Seq Scan on wide"), "the case this guards against: {plain_plan}");
            assert!(keyed_plan.contains("Index Scan") && !keyed_plan.contains("Seq Scan"), "{keyed_plan}");
            assert!(keyed_plan.contains("jit off") && plain_plan.contains("jit on"), "{plain_plan}\n{keyed_plan}");
        }
        Backend::Sqlite => {
            for plan in [&plain_plan, &keyed_plan] {
                assert!(plan.starts_with("SEARCH wide USING"), "{plan}");
            }
        }
    }
    plain.close().await;
    keyed.close().await;
}

/// PostgreSQL's multi-row statements bind one array per column (`UNNEST`), so their text is the same for one
/// row or many; SQLite keeps `VALUES` rows. Through the writer (two contacts, likely one batch), every kind of
/// value reads back as written — NULLs, empty lists, quotes, non-ASCII — with its number and address rows and
/// its feed row.
async fn written_contacts_read_back_every_kind_of_value(backend: Backend) {
    let app = crate::helpers::TestApp::spawn(backend).await;
    let full = serde_json::json!({
        "given_name": "Zoë", "family_name": "O'Brien", "nickname": "Z", "company": "Acme; DROP TABLE",
        "job_title": "CTO", "department": "R&D", "notes": "line 1\nline 2", "labels": ["vip", "ünïcode"],
        "phones": [{"value": "+1 212 555 0100", "type": "work"}, {"value": "101"}],
        "emails": [{"address": "zoe@example.com"}]
    });
    let sparse = serde_json::json!({"phones": [{"value": "+44 20 7946 0000"}]});
    let (a, b) = tokio::join!(
        app.post("/api/v1/contacts", &app.api_key, &full).send(),
        app.post("/api/v1/contacts", &app.api_key, &sparse).send()
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (201, 201));
    let (a, b): (serde_json::Value, serde_json::Value) = (a.json().await.unwrap(), b.json().await.unwrap());
    for (sent, created) in [(&full, &a), (&sparse, &b)] {
        let id = created["id"].as_str().unwrap();
        let read: serde_json::Value =
            app.get(&format!("/api/v1/contacts/{id}"), &app.api_key).send().await.unwrap().json().await.unwrap();
        assert_eq!(&read, created, "the stored contact reads back as the write answered");
        for field in ["given_name", "family_name", "nickname", "company", "job_title", "department", "notes", "labels"]
        {
            let stored = read.get(field).filter(|v| !v.is_null() && *v != &serde_json::json!([]));
            assert_eq!(stored, sent.get(field), "{field}: {read}");
        }
        assert_eq!(read["phones"].as_array().unwrap().len(), sent["phones"].as_array().unwrap().len(), "{read}");
        let history: serde_json::Value = app
            .get(&format!("/api/v1/contacts/{id}/history"), &app.api_key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(history["results"].as_array().unwrap().len(), 1, "one feed row: {history}");
    }
    assert_eq!(a["emails"][0]["address"], "zoe@example.com");
    assert_eq!(a["phones"][1]["extension"], serde_json::Value::Null, "{a}");
    assert!(b["emails"].as_array().unwrap().is_empty(), "{b}");
    let count = |table: &'static str| {
        let db = app.db.clone();
        async move {
            let sql = format!("SELECT count(*) FROM {table}");
            switchboard_store::db_run!(&db, pool =>
                sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)).fetch_one(pool).await)
            .unwrap()
        }
    };
    assert_eq!((count("contact_phones").await, count("contact_emails").await), (3, 1));
    let found: Option<String> = switchboard_store::db_run!(&app.db, pool => sqlx::query_scalar(
        "SELECT c.family_name FROM contact_phones p JOIN contacts c ON c.id = p.contact_id WHERE p.e164 = '+12125550100'",
    ).fetch_optional(pool).await)
    .unwrap()
    .flatten();
    assert_eq!(found.as_deref(), Some("O'Brien"));
}
