//! The SQLite and PostgreSQL migrations produce the same tables and columns.

use crate::helpers::{Backend, TestDb};
use std::collections::BTreeSet;
use switchboard_store::Db;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgres_schemas_match() {
    let sqlite = TestDb::new(Backend::Sqlite).await;
    let postgres = TestDb::new(Backend::Postgres).await;
    let (lite, pg) = (columns(&sqlite.url).await, columns(&postgres.url).await);
    assert!(lite.iter().any(|c| c == "workspaces.version"), "{lite:?}");
    let only_lite: Vec<_> = lite.difference(&pg).collect();
    let only_pg: Vec<_> = pg.difference(&lite).collect();
    assert!(
        only_lite.is_empty() && only_pg.is_empty(),
        "only in SQLite: {only_lite:?}; only in PostgreSQL: {only_pg:?}"
    );
}

async fn columns(url: &str) -> BTreeSet<String> {
    let db = Db::connect(url, &Default::default()).await.unwrap();
    db.migrate().await.unwrap();
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
    rows.into_iter().map(|(t, c)| format!("{t}.{c}")).collect()
}
