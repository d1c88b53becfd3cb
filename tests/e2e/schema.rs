//! The SQLite and PostgreSQL migrations produce the same tables, columns, foreign keys and indexes.

use crate::helpers::{Backend, TestDb};
use std::collections::BTreeSet;
use switchboard_store::Db;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgres_schemas_match() {
    let sqlite = TestDb::new(Backend::Sqlite).await;
    let postgres = TestDb::new(Backend::Postgres).await;
    let (lite, pg) = (schema(&sqlite.url).await, schema(&postgres.url).await);
    assert!(lite.iter().any(|c| c == "workspaces.version"), "{lite:?}");
    assert!(lite.iter().any(|c| c == "connected_accounts.workspace_id -> workspaces ON DELETE CASCADE"), "{lite:?}");
    assert!(lite.iter().any(|c| c == "index contacts.contacts_directory"), "{lite:?}");
    let only_lite: Vec<_> = lite.difference(&pg).collect();
    let only_pg: Vec<_> = pg.difference(&lite).collect();
    assert!(
        only_lite.is_empty() && only_pg.is_empty(),
        "only in SQLite: {only_lite:?}; only in PostgreSQL: {only_pg:?}"
    );
}

/// Every `table.column`, every foreign key as `table.column -> table ON DELETE action`, and every index as
/// `index table.name` (not those behind a primary key or UNIQUE constraint, which each database names its
/// own way).
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
    let indexes: Vec<(String, String)> = match &db {
        Db::Sqlite(pool) => sqlx::query_as(
            "SELECT tbl_name, name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
        )
        .fetch_all(pool)
        .await
        .unwrap(),
        Db::Postgres(pool) => sqlx::query_as(
            "SELECT t.relname::text, i.relname::text FROM pg_index x \
             JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid \
             JOIN pg_namespace n ON n.oid = t.relnamespace \
             WHERE n.nspname = 'public' AND t.relname NOT LIKE '\\_sqlx%' \
             AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)",
        )
        .fetch_all(pool)
        .await
        .unwrap(),
    };
    db.close().await;
    let indexes = indexes.into_iter().map(|(t, i)| format!("index {t}.{i}"));
    let columns = rows.into_iter().map(|(t, c)| format!("{t}.{c}"));
    columns
        .chain(foreign.into_iter().map(|(t, c, r, d)| format!("{t}.{c} -> {r} ON DELETE {d}")))
        .chain(indexes)
        .collect()
}
