//! The SQLite and PostgreSQL migrations produce the same tables, columns and foreign keys.

use crate::helpers::{Backend, TestDb};
use std::collections::BTreeSet;
use switchboard_store::Db;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgres_schemas_match() {
    let sqlite = TestDb::new(Backend::Sqlite).await;
    let postgres = TestDb::new(Backend::Postgres).await;
    let (lite, pg) = (schema(&sqlite.url).await, schema(&postgres.url).await);
    assert!(lite.iter().any(|c| c == "workspaces.version"), "{lite:?}");
    assert!(lite.iter().any(|c| c == "contacts.workspace_id -> workspaces ON DELETE CASCADE"), "{lite:?}");
    let only_lite: Vec<_> = lite.difference(&pg).collect();
    let only_pg: Vec<_> = pg.difference(&lite).collect();
    assert!(
        only_lite.is_empty() && only_pg.is_empty(),
        "only in SQLite: {only_lite:?}; only in PostgreSQL: {only_pg:?}"
    );
}

/// Every `table.column`, and every foreign key as `table.column -> table ON DELETE action`.
async fn schema(url: &str) -> BTreeSet<String> {
    let db = Db::connect(url, &Default::default()).await.unwrap();
    db.migrate().await.unwrap();
    let foreign: Vec<(String, String, String, String)> = match &db {
        Db::Sqlite(pool) => sqlx::query_as(
            "SELECT m.name, f.\"from\", f.\"table\", f.on_delete FROM sqlite_master m \
             JOIN pragma_foreign_key_list(m.name) f WHERE m.type = 'table'",
        )
        .fetch_all(pool)
        .await
        .unwrap(),
        Db::Postgres(pool) => sqlx::query_as(
            "SELECT c.conrelid::regclass::text, a.attname::text, c.confrelid::regclass::text, \
             CASE c.confdeltype WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL' WHEN 'r' THEN 'RESTRICT' \
             WHEN 'd' THEN 'SET DEFAULT' ELSE 'NO ACTION' END \
             FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey) \
             WHERE c.contype = 'f'",
        )
        .fetch_all(pool)
        .await
        .unwrap(),
    };
    let rows: Vec<(String, String)> = match &db {
        Db::Sqlite(pool) => sqlx::query_as(
            "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '\\_sqlx%' ESCAPE '\\'",
        )
        .fetch_all(pool)
        .await
        .unwrap(),
        Db::Postgres(pool) => sqlx::query_as(
            "SELECT table_name::text, column_name::text FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name NOT LIKE '\\_sqlx%'",
        )
        .fetch_all(pool)
        .await
        .unwrap(),
    };
    db.close().await;
    let columns = rows.into_iter().map(|(t, c)| format!("{t}.{c}"));
    columns.chain(foreign.into_iter().map(|(t, c, r, d)| format!("{t}.{c} -> {r} ON DELETE {d}"))).collect()
}
