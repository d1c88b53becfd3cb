//! The SQL of contacts. Every function takes a [`Conn`], so the writer calls them inside its transaction
//! and readers on a pooled connection; every query is scoped by workspace.

use super::Contact;
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use std::collections::BTreeSet;
use switchboard_domain::{ContactFields, EmailEntry, Field, PhoneEntry, WorkspaceId};
use switchboard_store::{Conn, conn_run};
use uuid::Uuid;

/// A bind parameter of a dynamically built query (filters, `IN` lists).
#[derive(Debug, Clone)]
pub enum Param {
    Uuid(Uuid),
    Int(i64),
    Text(String),
    Time(DateTime<Utc>),
}

/// Binds `params` in order onto a query of either backend.
macro_rules! bind_params {
    ($query:expr, $params:expr) => {{
        let mut q = $query;
        for p in $params {
            q = match p {
                Param::Uuid(v) => q.bind(*v),
                Param::Int(v) => q.bind(*v),
                Param::Text(v) => q.bind(v.clone()),
                Param::Time(v) => q.bind(*v),
            };
        }
        q
    }};
}

#[derive(sqlx::FromRow)]
struct ContactRow {
    id: Uuid,
    given_name: Option<String>,
    family_name: Option<String>,
    nickname: Option<String>,
    company: Option<String>,
    job_title: Option<String>,
    department: Option<String>,
    notes: Option<String>,
    labels: sqlx::types::Json<Vec<String>>,
    phones: sqlx::types::Json<Vec<PhoneEntry>>,
    emails: sqlx::types::Json<Vec<EmailEntry>>,
    source: String,
    created_by: String,
    version: i64,
    deleted_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<ContactRow> for Contact {
    fn from(r: ContactRow) -> Self {
        let fields = ContactFields {
            given_name: r.given_name,
            family_name: r.family_name,
            nickname: r.nickname,
            company: r.company,
            job_title: r.job_title,
            department: r.department,
            notes: r.notes,
            labels: r.labels.0,
            phones: r.phones.0,
            emails: r.emails.0,
        };
        Contact {
            id: r.id,
            display_name: fields.display_name(),
            fields,
            source: r.source,
            created_by: r.created_by,
            version: r.version,
            deleted: r.deleted_at.is_some(),
            deleted_at: r.deleted_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// The contact columns over alias `c`.
pub const COLUMNS: &str = "c.id, c.given_name, c.family_name, c.nickname, c.company, c.job_title, c.department, \
     c.notes, c.labels, c.phones, c.emails, c.source, c.created_by, c.version, c.deleted_at, c.created_at, c.updated_at";

/// `$first, $first+1, …` for `n` parameters.
pub fn placeholders(first: usize, n: usize) -> String {
    (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// Contacts of `ws` matching `condition` (SQL over alias `c`, using parameters from `$2`), in the order
/// and limit `tail` gives (e.g. `ORDER BY c.version LIMIT $3`). One statement: phones and emails come
/// from the row's read copies.
pub async fn select(
    conn: &mut Conn<'_>,
    ws: WorkspaceId,
    condition: &str,
    tail: &str,
    params: &[Param],
) -> Result<Vec<Contact>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM contacts c WHERE c.workspace_id = $1 AND ({condition}) {tail}");
    let rows: Vec<ContactRow> = conn_run!(conn, c => {
        let q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(ws.0);
        bind_params!(q, params).fetch_all(&mut **c).await
    })?;
    Ok(rows.into_iter().map(Contact::from).collect())
}

/// A row of the delta statement: the workspace columns, and a contact unless the workspace has none to send.
struct DeltaRow {
    ws_version: i64,
    ws_purged: i64,
    contact: Option<ContactRow>,
}

impl<'r, R: sqlx::Row> sqlx::FromRow<'r, R> for DeltaRow
where
    ContactRow: sqlx::FromRow<'r, R>,
    &'r str: sqlx::ColumnIndex<R>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<Uuid>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
        let id: Option<Uuid> = row.try_get("id")?;
        Ok(Self {
            ws_version: row.try_get("ws_version")?,
            ws_purged: row.try_get("ws_purged")?,
            contact: if id.is_some() { Some(ContactRow::from_row(row)?) } else { None },
        })
    }
}

/// A delta page read in one statement: the workspace's version and purge line, and its contacts changed
/// after `after` in version order (at most `limit`). One statement means one snapshot: every change up to
/// the returned version is visible in the returned rows. `None` when the workspace does not exist.
pub async fn delta(
    conn: &mut Conn<'_>,
    ws: WorkspaceId,
    after: i64,
    limit: i64,
) -> Result<Option<(i64, i64, Vec<Contact>)>, sqlx::Error> {
    let sql = format!(
        "SELECT w.version AS ws_version, w.purged_through_version AS ws_purged, {COLUMNS} \
         FROM workspaces w LEFT JOIN contacts c ON c.workspace_id = w.id AND c.version > $2 \
         WHERE w.id = $1 ORDER BY c.version LIMIT $3"
    );
    let rows: Vec<DeltaRow> = conn_run!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(ws.0).bind(after).bind(limit).fetch_all(&mut **c).await)?;
    let Some(first) = rows.first() else { return Ok(None) };
    let (version, purged) = (first.ws_version, first.ws_purged);
    let contacts = rows.into_iter().filter_map(|r| r.contact).map(Contact::from).collect();
    Ok(Some((version, purged, contacts)))
}

/// One contact of `ws`, tombstones included.
pub async fn get(conn: &mut Conn<'_>, ws: WorkspaceId, id: Uuid) -> Result<Option<Contact>, sqlx::Error> {
    Ok(select(conn, ws, "c.id = $2", "", &[Param::Uuid(id)]).await?.pop())
}

/// Inserts a new contact row and its children.
pub async fn insert(conn: &mut Conn<'_>, ws: WorkspaceId, contact: &Contact) -> Result<(), sqlx::Error> {
    let f = &contact.fields;
    let (labels, phones, emails) = (Json(&f.labels), Json(&f.phones), Json(&f.emails));
    conn_run!(conn, c => sqlx::query(
        "INSERT INTO contacts (id, workspace_id, given_name, family_name, nickname, company, job_title, department, \
         notes, labels, phones, emails, source, created_by, version, deleted_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, NULL, $16, $16)",
    )
    .bind(contact.id).bind(ws.0).bind(&f.given_name).bind(&f.family_name).bind(&f.nickname).bind(&f.company)
    .bind(&f.job_title).bind(&f.department).bind(&f.notes).bind(labels).bind(phones).bind(emails)
    .bind(&contact.source).bind(&contact.created_by).bind(contact.version).bind(contact.created_at)
    .execute(&mut **c).await.map(|r| r.rows_affected()))?;
    insert_phones(conn, ws, contact.id, &f.phones).await?;
    insert_emails(conn, ws, contact.id, &f.emails).await
}

/// Writes the new field values of an existing contact with its new version.
pub async fn update(
    conn: &mut Conn<'_>,
    ws: WorkspaceId,
    id: Uuid,
    fields: &ContactFields,
    changed: &BTreeSet<Field>,
    version: i64,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let (labels, phones, emails) = (Json(&fields.labels), Json(&fields.phones), Json(&fields.emails));
    conn_run!(conn, c => sqlx::query(
        "UPDATE contacts SET given_name = $3, family_name = $4, nickname = $5, company = $6, job_title = $7, \
         department = $8, notes = $9, labels = $10, phones = $11, emails = $12, version = $13, updated_at = $14 \
         WHERE workspace_id = $1 AND id = $2",
    )
    .bind(ws.0).bind(id).bind(&fields.given_name).bind(&fields.family_name).bind(&fields.nickname)
    .bind(&fields.company).bind(&fields.job_title).bind(&fields.department).bind(&fields.notes).bind(labels)
    .bind(phones).bind(emails).bind(version).bind(now)
    .execute(&mut **c).await.map(|r| r.rows_affected()))?;
    if changed.contains(&Field::Phones) {
        conn_run!(conn, c => sqlx::query("DELETE FROM contact_phones WHERE contact_id = $1").bind(id)
            .execute(&mut **c).await.map(|r| r.rows_affected()))?;
        insert_phones(conn, ws, id, &fields.phones).await?;
    }
    if changed.contains(&Field::Emails) {
        conn_run!(conn, c => sqlx::query("DELETE FROM contact_emails WHERE contact_id = $1").bind(id)
            .execute(&mut **c).await.map(|r| r.rows_affected()))?;
        insert_emails(conn, ws, id, &fields.emails).await?;
    }
    Ok(())
}

/// Marks a contact deleted (the row stays as a tombstone until retention purges it).
pub async fn tombstone(
    conn: &mut Conn<'_>,
    ws: WorkspaceId,
    id: Uuid,
    version: i64,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    conn_run!(conn, c => sqlx::query(
        "UPDATE contacts SET deleted_at = $3, version = $4, updated_at = $3 WHERE workspace_id = $1 AND id = $2",
    ).bind(ws.0).bind(id).bind(now).bind(version).execute(&mut **c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

async fn insert_phones(
    conn: &mut Conn<'_>,
    ws: WorkspaceId,
    id: Uuid,
    phones: &[PhoneEntry],
) -> Result<(), sqlx::Error> {
    conn_run!(conn, c => {
        for (i, p) in phones.iter().enumerate() {
            sqlx::query(
                "INSERT INTO contact_phones (contact_id, position, workspace_id, raw, e164, extension, digits, kind) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(id).bind(i as i32).bind(ws.0).bind(&p.raw).bind(&p.e164).bind(&p.extension).bind(&p.digits)
            .bind(&p.kind).execute(&mut **c).await?;
        }
        Ok::<(), sqlx::Error>(())
    })
}

async fn insert_emails(
    conn: &mut Conn<'_>,
    ws: WorkspaceId,
    id: Uuid,
    emails: &[EmailEntry],
) -> Result<(), sqlx::Error> {
    conn_run!(conn, c => {
        for (i, e) in emails.iter().enumerate() {
            sqlx::query(
                "INSERT INTO contact_emails (contact_id, position, workspace_id, address, kind) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id).bind(i as i32).bind(ws.0).bind(&e.address).bind(&e.kind).execute(&mut **c).await?;
        }
        Ok::<(), sqlx::Error>(())
    })
}
