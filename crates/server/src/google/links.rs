//! `external_links`: which Google person a contact is, the etag we last saw or wrote, and the fields as last
//! exchanged (the base of the per-field merge, `mapping`).
//!
//! A link changes in the same transaction as its contact (the writer applies [`LinkWrite`]s with their
//! items): a sync that stops between the two cannot leave a contact without its link (which would
//! duplicate it on the next run) or a link pointing at a contact that was never written.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use std::collections::{BTreeMap, BTreeSet};
use switchboard_domain::{ContactFields, WorkspaceId};
use switchboard_store::{Backend, Conn, Db, JsonText, Script, conn_run, db_run, statement};
use uuid::Uuid;

/// One contact's link to an account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Link {
    pub account_id: Uuid,
    pub entity_id: Uuid,
    /// `people/c…`; `None` while the contact has never reached Google (a failed create).
    pub remote_id: Option<String>,
    pub remote_etag: Option<String>,
    /// The synced fields as last exchanged with Google.
    pub synced: Option<Json<ContactFields>>,
    /// The full sync that last saw the person.
    pub seen_run: Option<Uuid>,
    pub last_synced_at: Option<DateTime<Utc>>,
    /// Why pushing this contact failed for good, if it did.
    pub error: Option<String>,
}

/// What a write item does to a link, applied only when the item applies.
#[derive(Debug, Clone)]
pub enum LinkWrite {
    /// Insert or replace the link of `(account_id, entity_id)`.
    Upsert(Box<Link>),
    /// Insert the link of a contact created in the same transaction to a remote that has no link (the
    /// writer checked under the sync's lease): as `Upsert`, without looking for old rows to replace.
    Insert(Box<Link>),
    /// Remove the link of `(account_id, entity_id)`.
    Delete { account_id: Uuid, entity_id: Uuid },
}

const LINK_COLUMNS: &str = "account_id, entity_id, remote_id, remote_etag, synced, seen_run, last_synced_at, error";

/// Applies link writes inside an open transaction, in a few statements whatever their number (a page of a
/// full sync writes hundreds): the accounts are locked ([`lock_accounts`]), then the [`statements`] run.
pub async fn apply(conn: &mut Conn<'_>, ws: WorkspaceId, writes: &[&LinkWrite]) -> Result<(), sqlx::Error> {
    lock_accounts(conn, ws, writes).await?;
    let mut script = Script::separate(conn.backend());
    statements(&mut script, ws, writes);
    script.run(conn).await
}

/// Locks the account of every link these writes insert ([`lock_account`]); before their [`statements`], in the
/// same transaction.
pub async fn lock_accounts(conn: &mut Conn<'_>, ws: WorkspaceId, writes: &[&LinkWrite]) -> Result<(), sqlx::Error> {
    let accounts: BTreeSet<Uuid> = writes
        .iter()
        .filter_map(|w| match w {
            LinkWrite::Upsert(l) | LinkWrite::Insert(l) => Some(l.account_id),
            LinkWrite::Delete { .. } => None,
        })
        .collect();
    for account in accounts {
        lock_account(conn, ws, account).await?;
    }
    Ok(())
}

/// The statements of link writes: the final state of each contact's link is computed first, then the old rows
/// of those contacts and of the remote ids being linked (a person re-linked after a merge) are deleted
/// (`Insert`s have none), and the new rows inserted. Their accounts must be locked first ([`lock_accounts`]).
pub fn statements(script: &mut Script, ws: WorkspaceId, writes: &[&LinkWrite]) {
    // account → entity → its link afterwards (None: no link) and whether old rows may exist, later writes
    // winning.
    let mut finals: BTreeMap<Uuid, BTreeMap<Uuid, (Option<&Link>, bool)>> = BTreeMap::new();
    for write in writes {
        let (account, entity, link, fresh) = match write {
            LinkWrite::Upsert(l) => (l.account_id, l.entity_id, Some(&**l), false),
            LinkWrite::Insert(l) => (l.account_id, l.entity_id, Some(&**l), true),
            LinkWrite::Delete { account_id, entity_id } => (*account_id, *entity_id, None, false),
        };
        let entities = finals.entry(account).or_default();
        // Written twice: only the last write is kept, and it clears old rows like an upsert (an earlier
        // write may have been one).
        let fresh = fresh && !entities.contains_key(&entity);
        entities.insert(entity, (link, fresh));
    }
    for (account, entities) in finals {
        let ids: Vec<Uuid> = entities.iter().filter(|(_, (_, fresh))| !fresh).map(|(id, _)| *id).collect();
        let links: Vec<&Link> = entities.values().filter_map(|(l, _)| *l).collect();
        let remotes: Vec<&str> = entities
            .values()
            .filter(|(_, fresh)| !fresh)
            .filter_map(|(l, _)| l.and_then(|l| l.remote_id.as_deref()))
            .collect();
        for chunk in ids.chunks(1_000) {
            let marks = switchboard_store::numbered_placeholders(2, chunk.len());
            let sql = format!("DELETE FROM external_links WHERE account_id = $1 AND entity_id IN ({marks})");
            statement!(script, sql, q => {
                q = q.bind(account);
                for id in chunk {
                    q = q.bind(*id);
                }
                q
            });
        }
        for chunk in remotes.chunks(1_000) {
            let marks = switchboard_store::numbered_placeholders(2, chunk.len());
            let sql = format!("DELETE FROM external_links WHERE account_id = $1 AND remote_id IN ({marks})");
            statement!(script, sql, q => {
                q = q.bind(account);
                for remote in chunk {
                    q = q.bind(*remote);
                }
                q
            });
        }
        const COLS: usize = 11;
        for chunk in links.chunks(500) {
            let rows = switchboard_store::value_rows(script.backend(), chunk.len(), COLS);
            let sql = format!(
                "INSERT INTO external_links (account_id, entity_id, workspace_id, entity_type, remote_id, \
                 remote_etag, synced, seen_run, last_synced_at, error, error_at) VALUES {rows}"
            );
            statement!(script, sql, q => {
                for l in chunk {
                    q = q.bind(l.account_id).bind(l.entity_id).bind(ws.0).bind("contact").bind(&l.remote_id)
                        .bind(&l.remote_etag).bind(l.synced.as_ref().map(|s| JsonText(&s.0)))
                        .bind(l.seen_run).bind(l.last_synced_at)
                        .bind(&l.error).bind(l.error.as_ref().map(|_| Utc::now()));
                }
                q
            });
        }
    }
}

/// Holds the account against deletion until the transaction ends, once per write instead of a foreign-key
/// check per row (docs/adr/0007-foreign-keys.md): PostgreSQL's `FOR KEY SHARE` is the lock such a check takes,
/// and SQLite has one writer at a time. An account that is gone, or of another workspace, fails the write
/// (`RowNotFound`) before any link is inserted.
async fn lock_account(conn: &mut Conn<'_>, ws: WorkspaceId, account: Uuid) -> Result<(), sqlx::Error> {
    let sql = match conn.backend() {
        Backend::Postgres => "SELECT 1 FROM connected_accounts WHERE id = $1 AND workspace_id = $2 FOR KEY SHARE",
        Backend::Sqlite => "SELECT 1 FROM connected_accounts WHERE id = $1 AND workspace_id = $2",
    };
    conn_run!(conn, c => sqlx::query(sql).bind(account).bind(ws.0).fetch_one(&mut **c).await.map(drop))
}

/// Writes links that change no contact (a person seen unchanged, an error recorded), in one transaction.
pub async fn write_alone(db: &Db, ws: WorkspaceId, writes: &[LinkWrite]) -> Result<(), sqlx::Error> {
    if writes.is_empty() {
        return Ok(());
    }
    let mut tx = db.begin().await?;
    let refs: Vec<&LinkWrite> = writes.iter().collect();
    apply(&mut tx.conn(), ws, &refs).await?;
    tx.commit().await
}

/// The links of these remote ids.
pub async fn by_remote(db: &Db, account: Uuid, remote_ids: &[&str]) -> Result<Vec<Link>, sqlx::Error> {
    links_where(db, account, "remote_id", remote_ids).await
}

/// The links of these contacts.
pub async fn by_entity(db: &Db, account: Uuid, entity_ids: &[Uuid]) -> Result<Vec<Link>, sqlx::Error> {
    links_where(db, account, "entity_id", entity_ids).await
}

/// The account's links whose `column` is one of `values`, 500 values per statement.
async fn links_where<T>(db: &Db, account: Uuid, column: &str, values: &[T]) -> Result<Vec<Link>, sqlx::Error>
where
    T: Copy
        + Send
        + for<'q> sqlx::Encode<'q, sqlx::Sqlite>
        + sqlx::Type<sqlx::Sqlite>
        + for<'q> sqlx::Encode<'q, sqlx::Postgres>
        + sqlx::Type<sqlx::Postgres>,
{
    let mut out = Vec::with_capacity(values.len());
    for chunk in values.chunks(500) {
        let marks = switchboard_store::numbered_placeholders(2, chunk.len());
        let sql = format!("SELECT {LINK_COLUMNS} FROM external_links WHERE account_id = $1 AND {column} IN ({marks})");
        let rows: Vec<Link> = db_run!(db, pool => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(account);
            for value in chunk {
                q = q.bind(*value);
            }
            q.fetch_all(pool).await
        })?;
        out.extend(rows);
    }
    Ok(out)
}

/// Whether any contact is linked to a person of `account`.
pub async fn has_remote_links(db: &Db, account: Uuid) -> Result<bool, sqlx::Error> {
    db_run!(db, pool => sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM external_links WHERE account_id = $1 AND remote_id IS NOT NULL)",
    ).bind(account).fetch_one(pool).await)
}

/// Whether the workspace has a live contact not linked to `account` (one pass over its contacts).
pub async fn has_unlinked(db: &Db, ws: WorkspaceId, account: Uuid) -> Result<bool, sqlx::Error> {
    db_run!(db, pool => sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM contacts c WHERE c.workspace_id = $1 AND c.deleted_at IS NULL AND NOT EXISTS \
         (SELECT 1 FROM external_links l WHERE l.account_id = $2 AND l.entity_id = c.id))",
    ).bind(ws.0).bind(account).fetch_one(pool).await)
}

/// Live contacts of the workspace not linked to `account` that have one of these email addresses or E.164
/// numbers: the candidates for a Google person seen for the first time (the same person already here, e.g.
/// imported before the account was connected). Returns (address or number, contact) pairs.
pub async fn unlinked_candidates(
    db: &Db,
    ws: WorkspaceId,
    account: Uuid,
    emails: &[&str],
    numbers: &[&str],
) -> Result<(Vec<(String, Uuid)>, Vec<(String, Uuid)>), sqlx::Error> {
    let mut found = (Vec::new(), Vec::new());
    for (table, column, values, out) in
        [("contact_emails", "address", emails, &mut found.0), ("contact_phones", "e164", numbers, &mut found.1)]
    {
        for chunk in values.chunks(500) {
            let marks = switchboard_store::numbered_placeholders(3, chunk.len());
            let sql = format!(
                "SELECT x.{column}, x.contact_id FROM {table} x JOIN contacts c ON c.id = x.contact_id \
                 WHERE x.workspace_id = $1 AND x.{column} IN ({marks}) AND c.deleted_at IS NULL AND NOT EXISTS \
                 (SELECT 1 FROM external_links l WHERE l.account_id = $2 AND l.entity_id = x.contact_id) \
                 ORDER BY x.contact_id"
            );
            let rows: Vec<(String, Uuid)> = db_run!(db, pool => {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(ws.0).bind(account);
                for v in chunk {
                    q = q.bind(*v);
                }
                q.fetch_all(pool).await
            })?;
            out.extend(rows);
        }
    }
    Ok(found)
}

/// Links a full sync did not see: their people are gone from Google. Links written after the run started
/// (contacts pushed meanwhile) are not among them.
pub async fn unseen(db: &Db, account: Uuid, run: Uuid, started: DateTime<Utc>) -> Result<Vec<Link>, sqlx::Error> {
    let sql = format!(
        "SELECT {LINK_COLUMNS} FROM external_links WHERE account_id = $1 AND remote_id IS NOT NULL \
         AND (seen_run IS NULL OR seen_run <> $2) AND (last_synced_at IS NULL OR last_synced_at < $3)"
    );
    Ok(db_run!(db, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(account).bind(run).bind(started)
        .fetch_all(pool).await)?)
}

/// Marks people as seen by a full sync without changing anything else.
pub async fn mark_seen(db: &Db, account: Uuid, run: Uuid, remote_ids: &[&str]) -> Result<(), sqlx::Error> {
    for chunk in remote_ids.chunks(500) {
        let marks = switchboard_store::numbered_placeholders(3, chunk.len());
        let sql = format!("UPDATE external_links SET seen_run = $2 WHERE account_id = $1 AND remote_id IN ({marks})");
        db_run!(db, pool => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account).bind(run);
            for id in chunk {
                q = q.bind(*id);
            }
            q.execute(pool).await.map(|_| ())
        })?;
    }
    Ok(())
}

/// How many contacts are linked to the account, and how many of them failed to push.
pub async fn counts(db: &Db, account: Uuid) -> Result<(i64, i64), sqlx::Error> {
    db_run!(db, pool => sqlx::query_as(
        "SELECT COUNT(remote_id), COUNT(error) FROM external_links WHERE account_id = $1",
    ).bind(account).fetch_one(pool).await)
}
